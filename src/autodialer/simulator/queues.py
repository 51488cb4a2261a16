"""app_queue, ringall strategy: queue members, their status events, and the Queue() application.

Trace 12: QueueCallerJoin -> AgentCalled + DialBegin per available member -> the first member to answer gets
DialEnd ANSWER, the others DialEnd CANCEL and Hangup cause 26 ("Answered elsewhere") -> QueueCallerLeave ->
AgentConnect -> bridge -> AgentComplete (HoldTime/TalkTime, Reason caller|agent) when it ends. With
ringinuse=no a member whose device is in use or ringing is skipped; paused members are skipped too.
Member status changes (from DeviceStates) produce QueueMemberStatus and the `Queue:<q>_avail` device.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .channels import RINGING, SOFT_APPUNLOAD, UP, Channel, wait_any
from .config import QueueConfig
from .devices import MEMBER_STATUS
from .dial import Target, behaviour_for, dial_event, make_callee, update_connected_line
from .dialplan import split_args
from .endpoints import far_end
from .pbx import HANGUP

if TYPE_CHECKING:
    from .pbx import PBX


@dataclass
class Member:
    exten: str
    name: str
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.exten}"


@dataclass
class Queue:
    config: QueueConfig
    members: list[Member] = field(default_factory=list)
    callers: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0
    avail: str = "NOT_INUSE"

    @property
    def name(self) -> str:
        return self.config.name


class Queues:
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx
        now = int(pbx.clock.now())
        names = {e.exten: e.display_name for e in pbx.config.employees}
        self.queues = {
            q.name: Queue(q, [Member(m, names.get(m, m), login_time=now) for m in q.members]) for q in pbx.config.queues
        }

    # --- state events ------------------------------------------------------------------------------------
    def member_fields(self, queue: Queue, m: Member, *, listing: bool = False) -> list[tuple[str, str]]:
        status = str(MEMBER_STATUS.get(self._pbx.devices.get(m.interface), 0))
        head = (
            [("Queue", queue.name), ("Name", m.name), ("Location", m.interface)]
            if listing
            else [("Queue", queue.name), ("MemberName", m.name), ("Interface", m.interface)]
        )
        tail = [] if listing else [("Ringinuse", "1" if queue.config.ringinuse else "0")]
        return [
            *head,
            ("StateInterface", m.interface),
            ("Membership", "static"),
            ("Penalty", "0"),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", str(m.last_call)),
            ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)),
            ("InCall", "1" if m.in_call or self._answered_queue_call(m) else "0"),
            ("Status", status),
            ("Paused", "1" if m.paused else "0"),
            ("PausedReason", m.paused_reason),
            *tail,
            ("Wrapuptime", "0"),
        ]

    def _answered_queue_call(self, m: Member) -> bool:
        # Asterisk reports the member's state after AgentConnect, so an answered queue call already counts.
        live = self._pbx.channels.live.values()
        return any(c.queue_call and c.state == UP and c.device == m.interface for c in live)

    def member_state_changed(self, device: str) -> None:
        for queue in self.queues.values():
            for m in queue.members:
                if m.interface == device:
                    self._pbx.emit("QueueMemberStatus", self.member_fields(queue, m))
            self._refresh_avail(queue)

    def _available(self, queue: Queue, m: Member) -> bool:
        state = self._pbx.devices.get(m.interface)
        if m.paused or state in ("BUSY", "UNAVAILABLE", "INVALID"):
            return False
        return queue.config.ringinuse or state == "NOT_INUSE"

    def _refresh_avail(self, queue: Queue) -> None:
        new = "NOT_INUSE" if any(self._available(queue, m) for m in queue.members) else "INUSE"
        if new != queue.avail:
            queue.avail = new
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}_avail"), ("State", new)])

    def pause(self, queue_name: str | None, interface: str, paused: bool, reason: str = "") -> bool:
        found = False
        for queue in self.queues.values():
            if queue_name and queue.name != queue_name:
                continue
            for m in queue.members:
                if m.interface == interface or m.exten == interface:
                    found = True
                    m.paused, m.paused_reason = paused, reason if paused else ""
                    m.last_pause = int(self._pbx.clock.now())
                    self._pbx.emit("QueueMemberPause", self.member_fields(queue, m))
                    self._pbx.emit(
                        "DeviceStateChange",
                        [
                            ("Device", f"Queue:{queue.name}_pause_{m.interface}"),
                            ("State", "INUSE" if paused else "NOT_INUSE"),
                        ],
                    )
                    self._refresh_avail(queue)
        return found

    def device_states(self) -> list[tuple[str, str]]:
        out = [(f"Queue:{q.name}_avail", q.avail) for q in self.queues.values()]
        for q in self.queues.values():
            out += [(f"Queue:{q.name}_pause_{m.interface}", "INUSE" if m.paused else "NOT_INUSE") for m in q.members]
            out.append((f"Queue:{q.name}", "RINGING" if q.callers else "NOT_INUSE"))
        return out

    # --- the Queue() application ----------------------------------------------------------------------
    async def run(self, caller: Channel, data: str) -> str:
        args = split_args(data)
        queue = self.queues.get(args[0] if args else "")
        if queue is None:
            self._pbx.set_var(caller, "QUEUESTATUS", "UNKNOWN")
            return ""
        timeout = float(args[4]) if len(args) > 4 and args[4].strip() else None
        return await _QueueCall(self, queue, caller, timeout).run()

    def join(self, queue: Queue, caller: Channel) -> None:
        queue.callers.append(caller)
        if len(queue.callers) == 1:
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}"), ("State", "RINGING")])
        self._pbx.chan_event(
            "QueueCallerJoin",
            caller,
            [("Queue", queue.name), ("Position", str(len(queue.callers))), ("Count", str(len(queue.callers)))],
        )

    def leave(self, queue: Queue, caller: Channel, abandoned: bool = False, hold: int = 0) -> None:
        if caller not in queue.callers:
            return
        position = queue.callers.index(caller) + 1
        queue.callers.remove(caller)
        if not queue.callers:
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}"), ("State", "NOT_INUSE")])
        if abandoned:
            queue.abandoned += 1
            self._pbx.chan_event(
                "QueueCallerAbandon",
                caller,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("OriginalPosition", str(position)),
                    ("HoldTime", str(hold)),
                ],
            )
        self._pbx.chan_event(
            "QueueCallerLeave",
            caller,
            [("Queue", queue.name), ("Position", str(position)), ("Count", str(len(queue.callers)))],
        )


class _QueueCall:
    """One caller waiting in one queue."""

    def __init__(self, queues: Queues, queue: Queue, caller: Channel, timeout: float | None) -> None:
        self.q, self.queue, self.caller = queues, queue, caller
        self.pbx = queues._pbx
        self.loop = asyncio.get_running_loop()
        self.start = self.pbx.clock.now()
        self.losers: list[Channel] = []
        self.deadline = None if timeout is None else self.loop.time() + self.pbx.clock.real(timeout)

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.loop.time()

    async def run(self) -> str:
        self.q.join(self.queue, self.caller)
        while True:
            calls = self._ring_members()
            answered = await self._wait(calls) if calls else None
            if self.caller.hungup:
                if answered is not None:
                    # The member answered in the same instant the caller left: its leg is cleared too.
                    winner = answered[1]
                    winner.hangup_cause = 16
                    self.pbx.destroy(winner)
                self.q.leave(self.queue, self.caller, abandoned=True, hold=self._hold())
                return HANGUP
            if answered is not None:
                return await self._connect(*answered)
            left = self._left()
            if left is not None and left <= 0:
                self.q.leave(self.queue, self.caller)
                self.pbx.set_var(self.caller, "QUEUESTATUS", "TIMEOUT")
                return ""
            retry = self.pbx.clock.real(2.0)
            await wait_any([self.caller], retry if left is None else min(retry, left))

    def _hold(self) -> int:
        return int(self.pbx.clock.now() - self.start)

    def _ring_members(self) -> list[tuple[Member, Channel]]:
        calls = []
        for m in self.queue.members:
            if not self.q._available(self.queue, m):
                continue
            target = Target(m.exten, m.exten, m.exten)
            out = make_callee(self.pbx, self.caller, target, app="AppQueue")
            out.queue_call = True
            # AgentCalled already shows where the member will be and whom it will see; DialBegin does not yet.
            seen = {
                "DestConnectedLineNum": self.caller.caller_num,
                "DestConnectedLineName": self.caller.caller_name,
                "DestExten": self.caller.exten,
            }
            dest = [(k, seen.get(k, v)) for k, v in out.fields("Dest")]
            self.pbx.chan_event(
                "AgentCalled",
                self.caller,
                [*dest, ("Queue", self.queue.name), ("Interface", m.interface), ("MemberName", m.name)],
            )
            dial_event(self.pbx, "DialBegin", self.caller, out, [("DialString", m.interface)])
            out.connected_num, out.connected_name = self.caller.caller_num, self.caller.caller_name
            out.exten = self.caller.exten
            self.pbx.spawn(far_end(self.pbx, out, behaviour_for(self.pbx, target)))
            calls.append((m, out))
        return calls

    async def _wait(self, calls: list[tuple[Member, Channel]]) -> tuple[Member, Channel, float] | None:
        ring_end = self.loop.time() + self.pbx.clock.real(self.queue.config.timeout_s)
        rang: set[int] = set()
        t0 = self.pbx.clock.now()
        while True:
            for _, out in calls:
                if out.state == RINGING and id(out) not in rang:
                    rang.add(id(out))
                    self.pbx.new_exten(out, "AppQueue", "(Outgoing Line)")
                    self.pbx.new_connected_line(out)
                    dial_event(self.pbx, "DialState", self.caller, out, [("DialStatus", "RINGING")])
            winner = next(((m, o) for m, o in calls if o.state == UP), None)
            for m, out in [c for c in calls if c[1].hungup and (winner is None or c[1] is not winner[1])]:
                dial_event(self.pbx, "DialEnd", self.caller, out, [("DialStatus", "BUSY")])
                calls.remove((m, out))
                self.pbx.destroy(out)
            left = self._left()
            expired = self.loop.time() >= ring_end or (left is not None and left <= 0)
            if winner is not None or self.caller.hungup or expired or not calls:
                if winner is not None:
                    dial_event(self.pbx, "DialEnd", self.caller, winner[1], [("DialStatus", "ANSWER")])
                for m, out in calls:
                    if winner is None or out is not winner[1]:
                        if winner is None and not self.caller.hungup:
                            self.pbx.chan_event(
                                "AgentRingNoAnswer",
                                self.caller,
                                [
                                    *out.fields("Dest"),
                                    ("Queue", self.queue.name),
                                    ("Interface", m.interface),
                                    ("MemberName", m.name),
                                    ("RingTime", str(int(self.pbx.clock.now() - t0))),
                                ],
                            )
                        timed_out = winner is None and not self.caller.hungup
                        status = "NOANSWER" if timed_out else "CANCEL"
                        dial_event(self.pbx, "DialEnd", self.caller, out, [("DialStatus", status)])
                        if winner is not None:
                            self.losers.append(out)
                        out.hangup_cause = 26 if winner is not None else 0
                        self.pbx.destroy(out)
                if winner is None:
                    return None
                m, out = winner
                return m, out, self.pbx.clock.now() - t0
            budget = ring_end - self.loop.time()
            if left is not None:
                budget = min(budget, left)
            await wait_any([self.caller, *(o for _, o in calls)], budget)

    async def _connect(self, m: Member, out: Channel, ring_time: float) -> str:
        pbx, caller = self.pbx, self.caller
        hold = self._hold()
        update_connected_line(pbx, caller, out)
        for loser in self.losers:  # app_queue really reports the losers' CANCEL twice (trace 12)
            dial_event(pbx, "DialEnd", caller, loser, [("DialStatus", "CANCEL")])
        self.q.leave(self.queue, caller)
        pbx.chan_event(
            "AgentConnect",
            caller,
            [
                *out.fields("Dest"),
                ("Queue", self.queue.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(int(ring_time))),
            ],
        )
        pbx.set_var(caller, "QUEUESTATUS", "CONNECTED")
        if caller.state != UP:
            # ast_bridge_call answers a caller that is not up yet (Queue() itself never answers): a Local ;2 that
            # runs Queue() goes Up here, which answers its ;1 and so the Dial that reached the queue.
            pbx.new_state(caller, UP)
        bridge = pbx.bridges.create()
        pbx.bridges.enter(bridge, out)
        pbx.bridges.enter(bridge, caller)
        m.in_call = True
        talk_start = pbx.clock.now()
        while not caller.hungup and not out.hungup:
            await wait_any([caller, out], None)
        m.in_call = False
        m.calls_taken += 1
        m.last_call = int(pbx.clock.now())
        talk = int(pbx.clock.now() - talk_start)
        self.queue.completed += 1
        self.queue.holdtime, self.queue.talktime = hold, talk
        reason = "caller" if caller.hungup else "agent"
        pbx.chan_event(
            "AgentComplete",
            caller,
            [
                *out.fields("Dest"),
                ("Queue", self.queue.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", reason),
            ],
        )
        pbx.bridges.leave(caller)
        pbx.bridges.leave(out)
        if reason == "agent":
            caller.pbx_soft_hangup_sent = True
            pbx.soft_hangup(caller, SOFT_APPUNLOAD)
        if not caller.in_agi:
            pbx.end_pbx(caller)
        out.hangup_cause = 16
        pbx.destroy(out)
        return HANGUP
