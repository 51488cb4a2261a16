"""PBX-neutral facts about one outbound call, as the PBX adapter reports them to the engine.

The adapter (adapters/asterisk) turns AMI traffic into these; the engine never sees AMI. ``call_id`` is our own
attempt id: it travels into Asterisk as the Originate ChannelId, so it is the Uniqueid and Linkedid of every channel of
the call and ``agi_uniqueid`` in FastAGI. Events for one call arrive in the order the PBX reported them; an adapter
reports exactly one terminal event per call: ``CustomerFailed`` (never answered) or ``CallEnded`` (after answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CustomerOutcome(StrEnum):
    """Why the customer leg never answered. Asterisk 22 reports most of these only through Hangup causes
    (OriginateResponse Reason is 0 for busy, congestion and 404 alike), see tests/fixtures/asterisk/README.md §6."""

    BUSY = "busy"  # cause 17, DialStatus BUSY
    NO_ANSWER = "no_answer"  # rang until the Originate timeout (Reason 3, cause 19) or cause 18/19
    CONGESTION = "congestion"  # cause 34/42 etc., DialStatus CONGESTION
    UNALLOCATED = "unallocated"  # cause 1 (SIP 404): the number does not exist
    NO_ROUTE = "no_route"  # no dialplan route for the number: the outgoing Dial never started
    PROVIDER_UNAVAILABLE = "provider_unavailable"  # endpoint missing/unreachable (CHANUNAVAIL, cause 20/27/38)
    FAILED = "failed"  # anything else


@dataclass(frozen=True, slots=True)
class CustomerRinging:
    call_id: str


@dataclass(frozen=True, slots=True)
class CustomerAnswered:
    call_id: str
    linked_id: str
    channel: str  # the channel that runs our connect/poll logic (Local ;1 or the PJSIP channel)


@dataclass(frozen=True, slots=True)
class AgentConnected:
    """The connect step's Dial (or Queue) to the employee was answered: the customer talks to someone now.

    Known from AMI as well as from the FastAGI connect step, so a restart of ours during the conversation still
    knows the call did its job (the step that would have reported it died with us)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CustomerFailed:
    call_id: str
    outcome: CustomerOutcome
    cause: int | None  # Q.850 cause of the customer leg, None when no channel was ever created
    cause_text: str
    dial_status: str | None  # DialStatus of the outgoing Dial (MikoPBX outDialState), None if it never ran
    tech_cause: str | None = None  # the provider's own cause, "SIP 486 Busy Here"; None when the PBX gave none
    # The PBX hung the call up because it was shutting down (core stop/restart): nobody's answer, nobody's fault.
    pbx_shutdown: bool = False


@dataclass(frozen=True, slots=True)
class CallEnded:
    """Every channel of an answered call is gone."""

    call_id: str
    cause: int | None
    cause_text: str
    tech_cause: str | None = None  # the provider's own cause, "SIP 200 OK" after an answer; None if none given
    pbx_shutdown: bool = False  # as CustomerFailed.pbx_shutdown


CallEvent = CustomerRinging | CustomerAnswered | AgentConnected | CustomerFailed | CallEnded
