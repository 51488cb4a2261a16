"""The simulated PBX core: shared state plus the channel lifecycle primitives every app builds on.

Lifecycle rules taken from the traces (README §6 and traces 02-07, 11):
* `hangup_request(ch, cause)` is a hangup from outside the channel's own thread (far end BYE, the other Local
  half going away, AMI Hangup): `HangupRequest` with the Q.850 cause.
* `soft_hangup(ch, flag)` is `SoftHangupRequest`; its Cause is Asterisk's soft-hangup flag (16 when the PBX loop
  ends, 32 for an explicit AGI/AMI hangup), not a Q.850 cause.
* `destroy(ch)` is the final `Hangup`. Destroying one Local half first queues a `HangupRequest` with the same
  cause on the other half, then reports its own `Hangup`.
* A channel running dialplan (`run_pbx`) gets one `SoftHangupRequest 16` when its PBX loop ends, unless the
  Hangup() application already sent it; then it is destroyed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from . import dial_variables, topology
from .bridges import Bridges
from .channels import CAUSE_TEXT, RINGING, SOFT_APPUNLOAD, SOFT_SHUTDOWN, STATE_DESC, UP, Channel, ChannelRegistry
from .clock import SimClock
from .config import EmployeeConfig, SimulatorConfig
from .devices import DeviceStates
from .dialplan import Dialplan, substitute
from .dialplan_functions import call_function, run_hangup_handlers
from .events import EventBus, Fields
from .scenario import Scenario

log = logging.getLogger(__name__)

HANGUP = "hangup"  # an app result meaning: stop the PBX loop


class PBX:
    def __init__(self, config: SimulatorConfig, scenario: Scenario, clock: SimClock) -> None:
        self.config = config
        # Employees by extension (static, like the config): a dial looks its target up here, not by a scan of them all.
        self.employees: dict[str, EmployeeConfig] = {}
        for employee in config.employees:
            self.employees.setdefault(employee.exten, employee)  # the first of a repeated extension, as a scan found
        self.scenario = scenario
        self.clock = clock
        self.bus = EventBus()
        if config.dialplan_path:
            self.dialplan = Dialplan.from_file(config.dialplan_path)
        else:
            self.dialplan = Dialplan() if config.dialplan_text is None else Dialplan(config.dialplan_text)
        if config.extra_dialplan:
            self.dialplan.load(config.extra_dialplan)
        topology.complete(self.dialplan, config)
        self.channels = ChannelRegistry(
            clock.now(), config.uniqueid_counter_start, config.local_counter_start, config.pjsip_counter_start
        )
        self.bridges = Bridges(self)
        self.devices = DeviceStates(self)
        self.db: dict[str, dict[str, str]] = {}
        self.global_vars: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []  # every Originate received, wazo-mock style
        self._request_of: dict[str, dict[str, Any]] = {}  # ChannelId (the call's Linkedid) -> its entry above
        self.prompts: list[tuple[str, str]] = []  # (channel name, sound file) for every file streamed
        self.agi_sessions = 0
        self._callids: dict[str, str] = {}  # linkedid -> "[C-%08x]", as CHANNEL(callid) shows it
        self.started_at = clock.now()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_originate = 0.0
        from .queues import Queues  # late: queues needs the PBX helpers defined here

        self.queues = Queues(self)

    # --- plumbing -----------------------------------------------------------------------------------------
    def emit(self, name: str, fields: Fields) -> None:
        self.bus.emit(name, fields)

    def unwanted(self, name: str) -> bool:
        """True when no subscriber takes an event called `name` (a VarSet to a dialer): it is counted, and its
        producer need not build it."""
        if self.bus.wanted(name):
            return False
        self.bus.count += 1
        return True

    def chan_event(self, name: str, ch: Channel, extra: Fields | tuple[tuple[str, str], ...] = ()) -> None:
        if not self.unwanted(name):
            self.bus.emit(name, [*ch.fields(), *extra])

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task failed", exc_info=task.exception())

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def hang_up_all(self) -> None:
        """ast_softhangup_all at the start of a core stop/restart: every channel gets SoftHangupRequest Cause 4
        (AST_SOFTHANGUP_SHUTDOWN) and then hangs up as its application returns, with the usual events."""
        for ch in list(self.channels.live.values()):
            self.soft_hangup(ch, SOFT_SHUTDOWN)

    def reset(self) -> None:
        """Forget every call without a single event, as a PBX restart does (the sessions are gone anyway)."""
        for task in list(self._tasks):
            task.cancel()
        for ch in list(self.channels.live.values()):
            ch.destroyed = ch.hungup = True
        self.channels.clear()
        for device in self.devices.state:
            self.devices.state[device] = "NOT_INUSE"
        self.queues.recount()
        for queue in self.queues.queues.values():
            queue.callers.clear()
        self.started_at = self.clock.now()

    async def originate_slot(self) -> None:
        """Wait for this originate's turn when `originate_rate` caps throughput (Asterisk's ~850/s, README §7).

        Slots are handed out in arrival order, one every 1/rate simulated seconds.
        """
        rate = self.config.originate_rate
        if not rate:
            return
        now = self.clock.now()
        slot = max(now, self._next_originate)
        self._next_originate = slot + 1.0 / rate
        await self.clock.sleep(slot - now)

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    # --- variables ----------------------------------------------------------------------------------------
    def set_var(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        self.chan_event("VarSet", ch, [("Variable", name), ("Value", value)])

    def lookup(self, ch: Channel) -> dict[str, str]:
        values = dict(self.global_vars)
        values.update(ch.variables)
        values.update(
            {
                "EXTEN": ch.exten,
                "CONTEXT": ch.context,
                "CHANNEL": ch.name,
                "UNIQUEID": ch.uniqueid,
                "HANGUPCAUSE": str(ch.hangup_cause),
                "CALLERID(num)": ch.caller_num,
                "CALLERID(name)": ch.caller_name,
                "LINKEDID": ch.linkedid,
                "CHANNEL(state)": "Up" if ch.state == UP else "Down",
                "CHANNEL(uniqueid)": ch.uniqueid,
                "CHANNEL(linkedid)": ch.linkedid,
                "CHANNEL(callid)": self.callid(ch),
                "EPOCH": str(int(self.clock.now())),
            }
        )
        return values

    def callid(self, ch: Channel) -> str:
        """The log call id of the call (`[C-00000003]`, spec §3.4 verboseCallId); one per Linkedid here."""
        if ch.linkedid not in self._callids:
            self._callids[ch.linkedid] = f"[C-{len(self._callids) + 1:08x}]"
        return self._callids[ch.linkedid]

    def get_var(self, ch: Channel, name: str) -> str | None:
        if name.startswith("${") and name.endswith("}"):
            name = name[2:-1]
        return self.lookup(ch).get(name)

    def expand(self, ch: Channel, text: str) -> str:
        return substitute(text, self.lookup(ch), lambda name, args: call_function(self, ch, name, args))

    # --- lifecycle events ---------------------------------------------------------------------------------
    def new_state(self, ch: Channel, state: int) -> None:
        if ch.state == state:
            return
        self.channels.set_state(ch, state)
        if state == UP and ch.answered_at is None:
            ch.answered_at = self.clock.now()
        self.chan_event("Newstate", ch)
        if ch.tech == "Local":
            self._local_state(ch, state)
        else:
            self.devices.channel_changed(ch)
        ch.poke()

    def _local_state(self, ch: Channel, state: int) -> None:
        # ;2 answering answers ;1 (the originated side); each half's ringing/answer shows on the Local device.
        if state == UP or (state == RINGING and ch.half == 1):
            self.devices.local(ch, "INUSE")
        peer = ch.peer
        if state == UP and ch.half == 2 and peer is not None and not peer.destroyed and peer.state != UP:
            self.new_state(peer, UP)

    def new_exten(self, ch: Channel, app: str, data: str) -> None:
        ch.app, ch.app_data = app, data
        self.chan_event("Newexten", ch, [("Extension", ch.exten), ("Application", app), ("AppData", data)])

    def new_callerid(self, ch: Channel) -> None:
        self.chan_event("NewCallerid", ch, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def new_connected_line(self, ch: Channel) -> None:
        self.chan_event("NewConnectedLine", ch)

    def hangup_request(self, ch: Channel, cause: int) -> None:
        if ch.destroyed:
            return
        if cause:
            ch.hangup_cause = cause
        dial_variables.rtp_quality(self, ch)
        self.chan_event("HangupRequest", ch, [("Cause", str(cause)), *self._tech_cause(ch)])
        ch.hungup = True
        ch.poke()

    @staticmethod
    def _tech_cause(ch: Channel) -> list[tuple[str, str]]:
        return [] if ch.tech_cause is None else [("TechCause", str(ch.tech_cause))]

    def record_originate(self, record: dict[str, Any]) -> None:
        self.requests.append(record)
        if record.get("channel_id"):
            self._request_of[record["channel_id"]] = record

    def forget_requests(self) -> None:
        self.requests.clear()
        self._request_of.clear()

    def note_hangup_action(self, ch: Channel, cause: int) -> None:
        """An AMI Hangup of ``ch``: added to the record of the Originate whose call it belongs to (its Linkedid)."""
        record = self._request_of.get(ch.linkedid)
        if record is not None:
            state = STATE_DESC.get(ch.state, str(ch.state))
            record["hangups"].append({"time": self.clock.now(), "channel": ch.name, "state": state, "cause": cause})

    def soft_hangup(self, ch: Channel, flag: int) -> None:
        if ch.destroyed:
            return
        self.chan_event("SoftHangupRequest", ch, [("Cause", str(flag))])
        ch.hungup = True
        ch.poke()

    def destroy(self, ch: Channel) -> None:
        if ch.destroyed:
            return
        if ch.hangup_handlers:  # ast_hangup runs them first, before the other Local half hears of it
            run_hangup_handlers(self, ch)
        dial_variables.rtp_quality(self, ch)
        ch.destroyed = ch.hungup = True
        peer = ch.peer
        if peer is not None and not peer.destroyed:
            if ch.half == 2 and "DIALSTATUS" in ch.variables:  # core_local tells ;1 how ;2's Dial ended
                self.set_var(peer, "CHANLOCALSTATUS", ch.variables["DIALSTATUS"])
            self.hangup_request(peer, ch.hangup_cause)
        cause = ch.hangup_cause
        self.chan_event(
            "Hangup",
            ch,
            [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")), *self._tech_cause(ch)],
        )
        self.channels.remove(ch)
        self.devices.channel_gone(ch)
        ch.poke()

    # --- dialplan -----------------------------------------------------------------------------------------
    async def run_pbx(self, ch: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Run dialplan on `ch` from (context, exten, priority) until an app hangs up or the plan ends."""
        from .applications import run_application

        ch.context, ch.exten, ch.priority = context, exten, priority
        try:
            while not ch.hungup:
                step = self.enter_step(ch)
                if step is None:
                    break
                if await run_application(self, ch, *step) == HANGUP:
                    break
                ch.priority += 1
        finally:
            self.end_pbx(ch)

    def enter_step(self, ch: Channel) -> tuple[str, str] | None:
        """The application and expanded data at the channel's dialplan position (announced with Newexten), None
        when there is nothing there: the dialplan ends."""
        ext = self.dialplan.find(ch.context, ch.exten)
        step = ext.steps.get(ch.priority) if ext else None
        if step is None:
            return None
        data = self.expand(ch, step.data)
        self.new_exten(ch, step.app, data)
        return step.app, data

    def end_pbx(self, ch: Channel) -> None:
        if ch.destroyed:
            return
        if not ch.pbx_soft_hangup_sent:
            ch.pbx_soft_hangup_sent = True
            self.soft_hangup(ch, SOFT_APPUNLOAD)
        if ch.bridge is not None:
            self.bridges.leave(ch)
        self.destroy(ch)
