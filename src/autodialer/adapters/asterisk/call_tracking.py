"""Correlate the AMI events of our originated calls and turn them into domain call events. Pure: events in, events out.

A call is known by our call id, which we pass as the Originate ChannelId: it is the Uniqueid of the originated
channel (Local ;1, or the PJSIP channel of a direct originate), the Uniqueid in OriginateResponse, and the Linkedid
of every channel of the call (Local ;2, the trunk channel, the agent's channel). So channel events are matched on
Linkedid (DestLinkedid for Dial events that carry only Dest* fields) and OriginateResponse on Uniqueid, or ActionID.

Per call, exactly once and in this order: CustomerRinging (optional), then either CustomerFailed, or
CustomerAnswered and later CallEnded. The relative order of OriginateResponse and the channels' own events is not
fixed (README §6), so:

* answered = OriginateResponse Success, or the originated channel reaching Up, whichever comes first;
* failed = OriginateResponse Failure *and* every channel of the call gone, because the Hangup causes that name the
  outcome may arrive after the OriginateResponse (trace 03) or before it (trace 05);
* ended = answered and every channel gone.

Asterisk creates the originated channel before it can report the Originate's result, but it does not deliver the
two in that order: OriginateResponse is written to the AMI sessions directly, while channel events travel through
stasis and its manager router (trace 02: the response overtook ;1's Newstate Up). So a Failure with no channel seen
yet waits for the channels (a no-route call's Local pair still shows up and hangs up, and its causes decide the
outcome); only when none has come by the time the owner gives up (``channels_overdue``, after a grace period) is it
a call that never had a channel (``PJSIP/nosuchendpoint``, a refused channel request).

The provider's own cause ("SIP 486 Busy Here", MikoPBX's ``cause``) comes from our dialplan: the customer half's
hangup handler sends one ``UserEvent: DialerHangupCause`` per channel its Dial tried, before that half's Hangup
event, so it is known before the call can be finished (docs/dialplan.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerOutcome,
    CustomerRinging,
)
from autodialer.protocols.ami import Event

# OriginateResponse Reason (enum ast_control_frame_type): 3 ringing when the timeout hit, 4 answered, 5 busy,
# 8 congestion. Asterisk 22 says 0 for busy/congestion/404 alike; the Hangup cause tells them apart.
REASON_TIMEOUT = 3
REASON_BUSY = 5
REASON_CONGESTION = 8

_BUSY_CAUSES = frozenset({17})
_UNALLOCATED_CAUSES = frozenset({1, 22, 28})  # unallocated, number changed, invalid number format
_NO_ANSWER_CAUSES = frozenset({18, 19})
_CONGESTION_CAUSES = frozenset({34, 41, 42, 44, 47})
_UNAVAILABLE_CAUSES = frozenset({20, 27, 38, 66})  # subscriber absent, destination out of order, network down
# "No route to destination": chan_pjsip's request failure (endpoint unknown, no contact), which Dial copies to the
# calling channel. With no trunk leg seen it means the outgoing Dial ran but could not create the provider channel
# (DIALSTATUS CHANUNAVAIL); a dialplan without a route clears with 0 (plain Asterisk) or 16 (MikoPBX) instead.
_DIAL_UNAVAILABLE_CAUSE = 3
SOFTHANGUP_SHUTDOWN = "4"  # SoftHangupRequest Cause: AST_SOFTHANGUP_SHUTDOWN (include/asterisk/channel.h)

# The UserEvent our static dialplan sends from the customer half's hangup handler, one per channel its Dial
# tried: ``Peer`` (the provider channel) and ``TechCause`` (HANGUPCAUSE(<peer>,tech), URI-encoded) (docs/dialplan.md).
TECH_CAUSE_EVENT = "DialerHangupCause"


def customer_outcome(
    *, reason: int | None, cause: int | None, dial_status: str | None, had_channel: bool, had_customer_leg: bool
) -> CustomerOutcome:
    """Classify a customer leg that never answered (mapping of tests/fixtures/asterisk/README.md §6).

    The cause wins over the DialStatus: a Dial whose callee hangs up while ringing reports
    ``ast_hangup_cause_to_dial_status(cause)`` (main/dial.c), which knows only 17 BUSY, 34 CONGESTION, 3/20
    CHANUNAVAIL and says NOANSWER for every other cause: SIP 404 (cause 1), 500 (38), 502 (27), 480 (19) alike.
    So a NOANSWER DialStatus only decides when the cause names nothing more specific.
    """
    if not had_channel or dial_status == "CHANUNAVAIL":
        return CustomerOutcome.PROVIDER_UNAVAILABLE
    if not had_customer_leg:
        # The outgoing context never dialled anybody: no route for the number (cause 0 on plain Asterisk; MikoPBX
        # plays "cannot complete" first and clears normally), unless it could not even reach the provider.
        if cause in _UNAVAILABLE_CAUSES or cause == _DIAL_UNAVAILABLE_CAUSE:
            return CustomerOutcome.PROVIDER_UNAVAILABLE
        return CustomerOutcome.NO_ANSWER if reason == REASON_TIMEOUT else CustomerOutcome.NO_ROUTE
    if cause in _BUSY_CAUSES or dial_status == "BUSY" or reason == REASON_BUSY:
        return CustomerOutcome.BUSY
    if cause in _UNALLOCATED_CAUSES:
        return CustomerOutcome.UNALLOCATED
    if reason == REASON_TIMEOUT or cause in _NO_ANSWER_CAUSES:
        return CustomerOutcome.NO_ANSWER
    if cause in _CONGESTION_CAUSES:
        return CustomerOutcome.CONGESTION
    if cause in _UNAVAILABLE_CAUSES:
        return CustomerOutcome.PROVIDER_UNAVAILABLE
    if dial_status in {"NOANSWER", "CANCEL"}:
        return CustomerOutcome.NO_ANSWER
    if dial_status == "CONGESTION" or reason == REASON_CONGESTION:
        return CustomerOutcome.CONGESTION
    return CustomerOutcome.FAILED


# Bounds on what one call may make us keep (a dialplan that loops must not grow our memory).
_MAX_PEERS = 16
_MAX_TECH_CAUSE = 100  # the CRM's register for ``cause`` is 100 characters (spec: 1C register lengths)


def _is_local(channel: str | None) -> bool:
    return (channel or "").startswith("Local/")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Call:
    call_id: str
    action_id: str | None = None
    live: dict[str, str] = field(default_factory=dict)  # Uniqueid -> channel name, channels not yet hung up
    causes: dict[str, tuple[int | None, str]] = field(default_factory=dict)  # Uniqueid -> Hangup cause, text
    seen_channel: bool = False
    originated_channel: str | None = None
    customer_leg: str | None = None  # Uniqueid of the trunk channel that rings the customer
    dial_status: str | None = None
    originate_failed: bool = False
    reason: int | None = None
    ringing: bool = False
    answered: bool = False
    dialed: list[str] = field(default_factory=list)  # non-Local channels dialled by anything but ;1, in order
    tech_causes: dict[str, str] = field(default_factory=dict)  # provider channel -> its tech cause, as reported

    def tech_cause(self) -> str | None:
        """The tech cause of the provider channel dialled last (MikoPBX failover may try several), else the last
        one reported; None when the PBX reported none (func_hangupcause missing, no SIP response at all)."""
        if not self.tech_causes:
            return None
        order = {name: i for i, name in enumerate(self.dialed)}
        peers = list(self.tech_causes)
        last = max(range(len(peers)), key=lambda i: (order.get(peers[i], -1), i))
        return self.tech_causes[peers[last]]

    pbx_shutdown: bool = False  # a channel got SoftHangupRequest Cause 4: the PBX is shutting down

    def cause(self) -> tuple[int | None, str]:
        """The customer leg's cause; else the originated channel's; else the first one seen."""
        for uid in (self.customer_leg, self.call_id):
            if uid is not None and uid in self.causes:
                return self.causes[uid]
        return next(iter(self.causes.values()), (None, ""))


class CallTracker:
    """Feed every AMI event with ``feed``; register calls with ``expect`` before their Originate is sent."""

    def __init__(self) -> None:
        self._calls: dict[str, _Call] = {}
        self._by_action_id: dict[str, str] = {}

    def expect(self, call_id: str, action_id: str | None = None) -> None:
        """Start tracking ``call_id`` (also used to adopt a live call found after a restart)."""
        call = self._calls.setdefault(call_id, _Call(call_id))
        if action_id:
            call.action_id = action_id
            self._by_action_id[action_id] = call_id

    def adopt(self, call_id: str, live: dict[str, str], *, answered: bool) -> None:
        """Track a call found alive on the PBX (after our restart): its channels by Uniqueid, and whether the
        customer already answered. Nothing is reported for the past; the terminal event comes when it ends."""
        call = self._calls.setdefault(call_id, _Call(call_id))
        call.live.update(live)
        call.seen_channel = call.seen_channel or bool(live)
        call.answered = call.answered or answered
        call.ringing = call.ringing or answered

    def originate_call_id(self, response: Event) -> str | None:
        """Which tracked call an OriginateResponse answers (by Uniqueid, else by ActionID)."""
        call = self._call_for_originate(response)
        return call.call_id if call else None

    def awaiting_channels(self, call_id: str) -> bool:
        """The Originate failed before any of its channels was seen: call ``channels_overdue`` if none comes."""
        call = self._calls.get(call_id)
        return call is not None and call.originate_failed and not call.seen_channel

    def channels_overdue(self, call_id: str) -> list[CallEvent]:
        """Give up waiting for the channels of a failed Originate: report it as a call that never had one."""
        call = self._calls.get(call_id)
        if call is None or not self.awaiting_channels(call_id):
            return []
        out: list[CallEvent] = []
        self._finish_if_done(call, out, overdue=True)
        return out

    def forget(self, call_id: str) -> None:
        """Stop tracking without reporting (the Originate was rejected, so no event will follow)."""
        call = self._calls.pop(call_id, None)
        if call is not None and call.action_id is not None:
            self._by_action_id.pop(call.action_id, None)

    def calls_with_channels(self) -> set[str]:
        """Tracked calls that have had at least one channel (the others still wait for their Originate)."""
        return {c.call_id for c in self._calls.values() if c.seen_channel}

    def is_tracking(self, call_id: str) -> bool:
        return call_id in self._calls

    def live_channels(self, call_id: str) -> tuple[str, ...]:
        """Names of the call's channels that have not hung up yet, in creation order."""
        call = self._calls.get(call_id)
        return tuple(call.live.values()) if call else ()

    def feed(self, event: Event) -> list[CallEvent]:
        """Fold one event; return the call events it completes (usually none)."""
        name = event.name
        if name == "OriginateResponse":
            call = self._call_for_originate(event)
        else:
            linked = event.get("Linkedid") or event.get("DestLinkedid")
            call = self._calls.get(linked) if linked else None
        if call is None:
            return []
        out: list[CallEvent] = []
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, call, event, out)
        self._finish_if_done(call, out)
        return out

    def _call_for_originate(self, event: Event) -> _Call | None:
        call_id = event.get("Uniqueid")
        if call_id not in self._calls and event.action_id is not None:
            call_id = self._by_action_id.get(event.action_id)
        return self._calls.get(call_id) if call_id else None

    # ---- per event

    def _on_originate_response(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        call.reason = _int(event.get("Reason"))
        if (event.get("Response") or "").lower() == "success":
            self._answer(call, event.get("Channel") or call.originated_channel or "", out)
        else:
            call.originate_failed = True

    def _on_newchannel(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        uid, channel = event.get("Uniqueid"), event.get("Channel")
        if uid and channel:
            call.live[uid] = channel
            call.seen_channel = True
            if uid == call.call_id:
                call.originated_channel = channel

    def _on_newstate(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        state = event.get("ChannelStateDesc")
        if state == "Ringing":
            self._ring(call, out)
        elif state == "Up" and event.get("Uniqueid") == call.call_id:
            self._answer(call, event.get("Channel") or "", out)

    def _on_dial_begin(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        # The customer leg is the first non-Local channel dialled by anything but the originated channel: ;2 dials
        # the trunk, a direct originate has no caller at all, while the agent is dialled later from ;1 itself.
        dest = event.get("DestChannel")
        if dest and not _is_local(dest) and event.get("Uniqueid") != call.call_id:
            if call.customer_leg is None:
                call.customer_leg = event.get("DestUniqueid")
            if len(call.dialed) < _MAX_PEERS:
                call.dialed.append(dest)

    def _on_dial_state(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        if event.get("DialStatus") == "RINGING":
            self._ring(call, out)

    def _on_dial_end(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        if call.customer_leg is not None and event.get("DestUniqueid") == call.customer_leg:
            call.dial_status = event.get("DialStatus")
        elif event.get("Uniqueid") == call.call_id and event.get("DialStatus") == "ANSWER" and call.answered:
            # The originated channel (;1, running the connect step) dialled the employee, who answered.
            out.append(AgentConnected(call.call_id))

    def _on_user_event(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        if event.get("UserEvent") != TECH_CAUSE_EVENT:
            return
        peer, cause = event.get("Peer") or "", unquote(event.get("TechCause") or "").strip()
        if peer and cause and (peer in call.tech_causes or len(call.tech_causes) < _MAX_PEERS):
            call.tech_causes[peer] = cause[:_MAX_TECH_CAUSE]

    def _on_soft_hangup_request(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        # channel.c ast_softhangup_all (core stop/restart) publishes Cause AST_SOFTHANGUP_SHUTDOWN (4): the causes of
        # the hangups that follow say nothing about the customer.
        if event.get("Cause") == SOFTHANGUP_SHUTDOWN:
            call.pbx_shutdown = True

    def _on_hangup(self, call: _Call, event: Event, out: list[CallEvent]) -> None:
        uid = event.get("Uniqueid")
        if uid:
            call.live.pop(uid, None)
            call.causes[uid] = (_int(event.get("Cause")), event.get("Cause-txt") or "")

    # ---- transitions

    def _ring(self, call: _Call, out: list[CallEvent]) -> None:
        if not call.ringing and not call.answered:
            call.ringing = True
            out.append(CustomerRinging(call.call_id))

    def _answer(self, call: _Call, channel: str, out: list[CallEvent]) -> None:
        if not call.answered:
            call.answered = True
            out.append(CustomerAnswered(call.call_id, linked_id=call.call_id, channel=channel))

    def _finish_if_done(self, call: _Call, out: list[CallEvent], overdue: bool = False) -> None:
        if call.live:
            return
        if call.originate_failed and not call.seen_channel and not overdue:
            return  # its channels' events may still be on their way (module docstring)
        if call.answered and call.seen_channel:
            cause, text = call.cause()
            out.append(
                CallEnded(
                    call.call_id,
                    cause=cause,
                    cause_text=text,
                    tech_cause=call.tech_cause(),
                    pbx_shutdown=call.pbx_shutdown,
                )
            )
        elif call.originate_failed:
            cause, text = call.cause()
            outcome = customer_outcome(
                reason=call.reason,
                cause=cause,
                dial_status=call.dial_status,
                had_channel=call.seen_channel,
                had_customer_leg=call.customer_leg is not None,
            )
            out.append(
                CustomerFailed(
                    call.call_id, outcome, cause, text, call.dial_status, call.tech_cause(), call.pbx_shutdown
                )
            )
        else:
            return
        self.forget(call.call_id)


_HANDLERS = {
    "OriginateResponse": CallTracker._on_originate_response,
    "Newchannel": CallTracker._on_newchannel,
    "Newstate": CallTracker._on_newstate,
    "DialBegin": CallTracker._on_dial_begin,
    "DialState": CallTracker._on_dial_state,
    "DialEnd": CallTracker._on_dial_end,
    "Hangup": CallTracker._on_hangup,
    "UserEvent": CallTracker._on_user_event,
    "SoftHangupRequest": CallTracker._on_soft_hangup_request,
}
# What ``feed`` reads; it returns nothing for every other event.
EVENT_NAMES = frozenset(_HANDLERS)
