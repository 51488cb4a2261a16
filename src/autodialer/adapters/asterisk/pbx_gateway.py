"""CallControl over AMI: async Originate through a Local channel, hangup, live-call listing, and call events.

Every call is ``Originate Channel: Local/<dial_number>@<outgoing_context>`` with ``Async: true`` and our call id as
``ChannelId`` (so it is the Uniqueid/Linkedid of every channel of the call, README §6) and ``<call_id>-2`` as
``OtherChannelId`` (the ;2 half). When the customer answers, ;1 continues at ``<connect_context>,<inner_num>,1``,
which hands the call to our FastAGI server (docs/dialplan.md).

Invariants: every field we put on the wire is validated first (no CR/LF/control characters, dialplan tokens only
where they become part of a dial string), so a request can never inject AMI headers or reroute the call. A refused
Originate leaves nothing tracked and says whose fault it was: OriginateRejected for a refusal about the call
(manager.c action_originate: "Extension does not exist." …), PbxUnavailable for one about the PBX (process_message:
"Asterisk is shutting down", "Permission denied"; not logged in; any text we do not know). An Originate written
whose answer is lost (link dropped, timeout) raises OriginateUnconfirmed and stays tracked: the PBX may run it. An
accepted one produces exactly one terminal call event later (call_tracking.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from autodialer.adapters.asterisk import answer_marks, call_tracking
from autodialer.adapters.asterisk.ami_errors import AMINotConnected
from autodialer.adapters.asterisk.ami_link import AMILink
from autodialer.adapters.asterisk.call_tracking import CallTracker
from autodialer.domain.call_events import CallEnded, CallEvent, CustomerFailed
from autodialer.protocols.ami import Action, Event, ListResult
from autodialer.services.ports import (
    CallMarks,
    LiveCall,
    OriginateRejected,
    OriginateRequest,
    OriginateUnconfirmed,
    PbxUnavailable,
)
from autodialer.services.stale_marks import AnswerMark

log = logging.getLogger(__name__)

# Asterisk keeps uniqueids in AST_MAX_UNIQUEID (150) bytes with the NUL; ";2"/"-2" must still fit.
MAX_CALL_ID = 147
_CALL_ID = re.compile(r"[A-Za-z0-9._:-]+")
# What may become part of a dial string or an extension: digits, letters and the DTMF symbols.
_DIAL_TOKEN = re.compile(r"[0-9A-Za-z+*#]+")
_CONTEXT = re.compile(r"[A-Za-z0-9_.-]+")
_VARIABLE_NAME = re.compile(r"_{0,2}[A-Za-z][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MODES = frozenset({"connect", "poll"})

# Session filters for the AMI client (``AMIClient(event_filters=EVENT_FILTERS)``): drop the per-call noise nobody
# reads (README §7: 79 of 175 events of an answered call are VarSet). ``Filter`` needs the "system" write class;
# without it the client logs the refusal and drops them itself; the read classes and eventfilter lines of
# docs/dialplan.md keep them away anyway. Past the first four: "call" events no consumer here reads
# (call_tracking, availability_state, queue_callers): bridges, caller-id and connected-line updates, hangup
# requests (Hangup carries the cause), AGI steps and DTMF (a poll reads its keys over FastAGI): 47 of the 109
# events a queue call sent us. A filter is a regular expression searched in the event's text, so none may match
# the "Event: <name>" line of an event that is read ("Event: Hangup" would drop HangupRequest and Hangup alike):
# test_event_filters holds that, and that the recorded traces teach the same with and without them.
EVENT_FILTERS = (
    "!Event: VarSet",
    "!Event: RTCPSent",
    "!Event: RTCPReceived",
    "!Event: Newexten",
    "!Event: NewConnectedLine",
    "!Event: NewCallerid",
    "!Event: BridgeCreate",
    "!Event: BridgeEnter",
    "!Event: BridgeLeave",
    "!Event: BridgeDestroy",
    "!Event: LocalBridge",
    "!Event: HangupRequest",
    "!Event: AGIExecStart",
    "!Event: AGIExecEnd",
    "!Event: DTMFBegin",
    "!Event: DTMFEnd",
)

OUR_VARIABLES = ("DIALER_CALL_ID", "DIALER_MODE")

# manager.c action_originate's refusals that are about the call we asked for (its channel, extension, priority,
# timeout, ids): the number gets a verdict. Every other refusal (process_message: "Asterisk is shutting down",
# "Permission denied"; "Originate failed" when no thread could be started; texts of later versions) is about the PBX.
CALL_REFUSALS = (
    "Extension does not exist",
    "Invalid channel",
    "Channel not specified",
    "Invalid priority",
    "Invalid timeout",
    "Uniqueid length exceeds",
    "Originate Access Forbidden",
    "Originate with 'Exten' requires",
)


def refusal_is_about_the_call(message: str) -> bool:
    return message.strip().startswith(CALL_REFUSALS)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    outgoing_context: str = "dialer-out"
    connect_context: str = "dialer-connect"
    live_call_variables: tuple[str, ...] = OUR_VARIABLES
    # How long a failed Originate waits for channel events that OriginateResponse overtook (call_tracking).
    failure_channel_grace_s: float = 2.0


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{what}: {value!r} is not allowed here")
    return value


def _plain(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{what}: control characters are not allowed")
    return value


# manager.c splits each "Variable:" value with AST_STANDARD_APP_ARGS (app.c __ast_app_separate_args): "," separates
# name=value pairs outside quotes/brackets, '"' and "\\" are removed, and "\\" makes the next character literal.
_ARGS_SPECIAL = re.compile(r'([\\,"()\[\]])')


def _variable_value(value: str) -> str:
    """``value`` as one Originate ``Variable:`` value that Asterisk stores unchanged (no split, nothing removed)."""
    return _ARGS_SPECIAL.sub(r"\\\1", value)


def originate_variables(request: OriginateRequest) -> dict[str, str]:
    """The channel variables the Originate sets on both Local halves (before wire escaping)."""
    return {"DIALER_MODE": request.mode, "DIALER_CALL_ID": request.call_id, **request.variables}


def originate_action(request: OriginateRequest, config: GatewayConfig) -> Action:
    """The Originate action for ``request``; raises ValueError for anything unsafe or out of range."""
    call_id = _check(request.call_id, _CALL_ID, "call_id")
    if len(call_id) > MAX_CALL_ID:
        raise ValueError(f"call_id: longer than {MAX_CALL_ID} characters")
    if request.mode not in MODES:
        raise ValueError(f"mode: {request.mode!r} is not one of {sorted(MODES)}")
    if request.timeout_s <= 0:
        raise ValueError("timeout_s: must be positive")
    dial = _check(request.dial_number, _DIAL_TOKEN, "dial_number")
    inner = _check(request.inner_num, _DIAL_TOKEN, "inner_num")
    out_ctx = _check(config.outgoing_context, _CONTEXT, "outgoing_context")
    connect_ctx = _check(config.connect_context, _CONTEXT, "connect_context")
    fields = [
        ("Channel", f"Local/{dial}@{out_ctx}"),
        ("Context", connect_ctx),
        ("Exten", inner),
        ("Priority", "1"),
        ("Timeout", str(request.timeout_s * 1000)),
        ("CallerID", _plain(request.caller_id, "caller_id")),
        ("Async", "true"),
        ("ChannelId", call_id),
        ("OtherChannelId", f"{call_id}-2"),
    ]
    for name, value in originate_variables(request).items():
        name = _check(name, _VARIABLE_NAME, "variable name")
        fields.append(("Variable", f"{name}={_variable_value(_plain(value, name))}"))
    return Action.build("Originate", fields)


class AsteriskPbxGateway:
    """Implements services.ports.CallControl. Feed it the AMI events named in ``EVENT_NAMES`` with ``handle_event``
    (any other event changes nothing)."""

    EVENT_NAMES = call_tracking.EVENT_NAMES  # Newchannel (pending hangups) and OriginateResponse are among them

    def __init__(self, ami: AMILink, config: GatewayConfig | None = None) -> None:
        self._ami = ami
        self._config = config or GatewayConfig()
        self._tracker = CallTracker()
        self._callbacks: list[Callable[[CallEvent], None]] = []
        self._pending_hangups: dict[str, int] = {}  # call id -> cause, for calls with no channel yet
        self._variables: dict[str, dict[str, str]] = {}  # call id -> the live_call_variables we originated with
        self._missing: set[str] = set()  # tracked calls the last CoreShowChannels did not list
        self._tasks: set[asyncio.Task[None]] = set()
        self._overdue: dict[str, asyncio.TimerHandle] = {}  # failed Originates waiting for their channels

    # ---- CallControl

    def on_call_event(self, callback: Callable[[CallEvent], None]) -> None:
        self._callbacks.append(callback)

    async def originate(self, request: OriginateRequest) -> None:
        try:
            action = originate_action(request, self._config)
        except ValueError as e:
            raise OriginateRejected(f"invalid-request: {e}") from e
        if not self._ami.is_connected():
            raise PbxUnavailable("pbx-not-connected")
        # Track before sending: the first channel events can arrive before the response is handed to us.
        self._tracker.expect(request.call_id)
        sent = originate_variables(request)
        self._variables[request.call_id] = {k: sent[k] for k in self._config.live_call_variables if k in sent}
        try:
            response = await self._ami.send_action(action)
        except AMINotConnected as e:  # nothing was written
            self._untrack(request.call_id)
            raise PbxUnavailable("pbx-not-connected") from e
        except (ConnectionError, TimeoutError) as e:
            # Written, answer lost: Asterisk may have queued it. Still tracked, so its events are heard if it runs;
            # the caller's reconciliation adopts it if the PBX lists it, and otherwise knows it never ran.
            reason = "pbx-timeout" if isinstance(e, TimeoutError) else "pbx-link-lost"
            raise OriginateUnconfirmed(reason) from e
        if not response.is_success:
            self._untrack(request.call_id)
            message = response.message or response.status or "originate refused"
            if refusal_is_about_the_call(message):
                raise OriginateRejected(message)
            raise PbxUnavailable(message)
        self._tracker.expect(request.call_id, response.action_id)
        log.info("originate queued: call %s to %s, then %s", request.call_id, request.dial_number, request.inner_num)

    async def hangup(self, call_id: str, cause: int = 16) -> None:
        channels = self._tracker.live_channels(call_id) or await self._channels_from_pbx(call_id)
        if not channels and self._tracker.is_tracking(call_id):
            # Originate queued but no channel yet: hang up each channel as soon as it appears.
            self._pending_hangups[call_id] = cause
            return
        await self._hangup_channels(channels, cause)

    async def live_calls(self) -> Sequence[LiveCall]:
        """Our calls the PBX lists now. A link that is down or does not answer is a ConnectionError (the port's
        one error for "cannot tell now"), so callers never have to know the AMI client's timeout type."""
        candidates = self._tracker.calls_with_channels()
        try:
            result = await self._ami.send_list_action(Action.build("CoreShowChannels"))
        except TimeoutError as e:
            raise ConnectionError(f"CoreShowChannels got no answer: {e}") from e
        groups: dict[str, list[Event]] = {}
        for item in result.items:
            linked = item.get("Linkedid")
            if linked:
                groups.setdefault(linked, []).append(item)
        calls: list[LiveCall] = []
        for linked, channels in groups.items():
            call = self._known_call(linked, channels) or await self._our_call(linked, channels)
            if call is not None:
                calls.append(call)
        self._forget_vanished(candidates - set(groups))
        return calls

    async def call_marks(self, call_ids: Sequence[str]) -> CallMarks:
        """Of ``call_ids``, those the dialplan marked answered in AstDB by the customer and by an employee
        (answer_marks.py); a family is None when the connect context does not write its mark. All three questions
        go out together: one round trip."""
        if not call_ids:
            return CallMarks(frozenset(), frozenset())
        try:
            dialplan, customer, employee = await asyncio.gather(
                self._ami.send_list_action(
                    Action.build("ShowDialPlan", [("Context", _plain(self._config.connect_context, "context"))])
                ),
                self._ami.send_list_action(Action.build("DBGetTree", [("Family", answer_marks.FAMILY)])),
                self._ami.send_list_action(Action.build("DBGetTree", [("Family", answer_marks.AGENT_FAMILY)])),
            )
        except TimeoutError as e:
            raise ConnectionError(f"ShowDialPlan/DBGetTree got no answer: {e}") from e
        wanted = frozenset(call_ids)

        def marked(family: str, tree: ListResult) -> frozenset[str] | None:
            if not dialplan.response.is_success or not answer_marks.dialplan_marks(dialplan.items, family):
                return None
            # DBGetTree of a family with no key is "Response: Error, Database entry not found": no marks.
            return answer_marks.marked_calls(tree.items, family) & wanted

        return CallMarks(marked(answer_marks.FAMILY, customer), marked(answer_marks.AGENT_FAMILY, employee))

    async def answer_marks(self) -> Sequence[AnswerMark]:
        """Every answer mark the PBX holds, of both kinds (services/stale_marks.py): two DBGetTree, one round trip."""
        try:
            customer, employee = await asyncio.gather(
                self._ami.send_list_action(Action.build("DBGetTree", [("Family", answer_marks.FAMILY)])),
                self._ami.send_list_action(Action.build("DBGetTree", [("Family", answer_marks.AGENT_FAMILY)])),
            )
        except TimeoutError as e:
            raise ConnectionError(f"DBGetTree got no answer: {e}") from e
        # A family with no key answers "Response: Error, Database entry not found": no marks.
        return [AnswerMark("customer", c) for c in sorted(answer_marks.marked_calls(customer.items))] + [
            AnswerMark("employee", c)
            for c in sorted(answer_marks.marked_calls(employee.items, answer_marks.AGENT_FAMILY))
        ]

    # ---- fed by the AMI client

    def handle_event(self, event: Event | ListResult) -> None:
        """Fold one AMI event; deliver the call events it completes, in arrival order."""
        if not isinstance(event, Event):
            return
        call_id = self._tracker.originate_call_id(event) if event.name == "OriginateResponse" else None
        call_events = self._tracker.feed(event)
        if call_events:
            self._deliver(call_events)
        if call_id is not None and self._tracker.awaiting_channels(call_id) and call_id not in self._overdue:
            grace = self._config.failure_channel_grace_s
            self._overdue[call_id] = asyncio.get_running_loop().call_later(grace, self._channels_overdue, call_id)
        if event.name == "Newchannel":
            cause = self._pending_hangups.get(event.get("Linkedid") or "")
            channel = event.get("Channel")
            if cause is not None and channel:
                self._spawn(self._hangup_quietly(channel, cause))

    # ---- helpers

    def _deliver(self, call_events: list[CallEvent]) -> None:
        for call_event in call_events:
            if isinstance(call_event, (CallEnded, CustomerFailed)):
                self._pending_hangups.pop(call_event.call_id, None)
                self._variables.pop(call_event.call_id, None)
                timer = self._overdue.pop(call_event.call_id, None)
                if timer is not None:
                    timer.cancel()
            for callback in list(self._callbacks):
                callback(call_event)

    def _untrack(self, call_id: str) -> None:
        self._tracker.forget(call_id)
        self._variables.pop(call_id, None)

    def _channels_overdue(self, call_id: str) -> None:
        self._overdue.pop(call_id, None)
        self._deliver(self._tracker.channels_overdue(call_id))

    async def _hangup_channels(self, channels: Iterable[str], cause: int) -> None:
        # One Hangup per exact channel name: names are known from Newchannel/CoreShowChannels, and an exact name
        # cannot match another call the way a regular expression over "Local/<number>@…" could.
        for channel in channels:
            response = await self._ami.send_action(
                Action.build("Hangup", [("Channel", _plain(channel, "channel")), ("Cause", str(cause))])
            )
            if not response.is_success:
                log.debug("hangup %s: %s", channel, response.message)  # already gone: fine

    async def _hangup_quietly(self, channel: str, cause: int) -> None:
        try:
            await self._hangup_channels((channel,), cause)
        except (ConnectionError, TimeoutError) as e:  # the link is gone, and so is the call with it
            log.warning("hangup %s failed: %s", channel, e)

    async def _channels_from_pbx(self, call_id: str) -> tuple[str, ...]:
        if not self._ami.is_connected():
            return ()
        result = await self._ami.send_list_action(Action.build("CoreShowChannels"))
        return tuple(c for i in result.items if i.get("Linkedid") == call_id and (c := i.get("Channel")))

    def _forget_vanished(self, missing: set[str]) -> None:
        """Stop tracking calls whose end we missed (the link was down when they hung up). A call must be missing
        from two listings in a row: a Hangup event can still be on its way when the channel is already unlisted."""
        for call_id in missing & self._missing:
            log.info("call %s is gone from the PBX without a Hangup we saw: no longer tracked", call_id)
            self._tracker.forget(call_id)
            self._variables.pop(call_id, None)
            self._pending_hangups.pop(call_id, None)
        self._missing = missing - self._missing

    def _known_call(self, linked: str, channels: list[Event]) -> LiveCall | None:
        """A call we originated in this process: no need to ask the PBX whose it is."""
        if not self._tracker.is_tracking(linked):
            return None
        first = min(channels, key=lambda c: c.get("Uniqueid") != linked)
        variables = self._variables.get(linked, {})
        return LiveCall(
            linked,
            first.get("Channel") or "",
            first.get("ChannelStateDesc") or "",
            dict(variables),
            agent_connected=_agent_connected(linked, channels),
        )

    async def _our_call(self, linked: str, channels: list[Event]) -> LiveCall | None:
        """The call if its ;1 or ;2 half carries DIALER_CALL_ID equal to its Linkedid, else None.

        Only those halves carry the Originate variables, and only they have the Uniqueids we chose (ChannelId and
        OtherChannelId), so other people's calls cost one Getvar at most."""
        halves = [c for c in channels if c.get("Uniqueid") in (linked, f"{linked}-2")]
        halves.sort(key=lambda c: c.get("Uniqueid") != linked)
        for item in halves:
            channel = item.get("Channel") or ""
            variables = await self._get_variables(channel)
            if variables.get("DIALER_CALL_ID") == linked:
                state = item.get("ChannelStateDesc") or ""
                live = {uid: name for c in channels if (uid := c.get("Uniqueid")) and (name := c.get("Channel"))}
                self._tracker.adopt(linked, live, answered=state == "Up")
                return LiveCall(linked, channel, state, variables, agent_connected=_agent_connected(linked, channels))
        return None

    async def _get_variables(self, channel: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in self._config.live_call_variables:
            response = await self._ami.send_action(Action.build("Getvar", [("Channel", channel), ("Variable", name)]))
            if not response.is_success:
                return values  # the channel is gone
            value = response.get("Value")
            if value:
                values[name] = value
        return values

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _agent_connected(linked: str, channels: list[Event]) -> bool:
    """The originated half (;1, Uniqueid = our call id) sits in a bridge: the connect step's Dial was answered.

    Before that ;1 only runs the FastAGI connect step (the customer is bridged to ;2, not to ;1)."""
    return any(c.get("Uniqueid") == linked and c.get("BridgeId") for c in channels)
