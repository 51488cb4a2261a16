"""Ports: what the services need from the outside world, as typing.Protocols.

Adapters implement them (adapters/asterisk for the PBX, adapters/db for storage, adapters/clock for time); tests
implement them with small fakes. Services import only this module and the domain, never an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autodialer.domain.call_events import CallEvent
from autodialer.domain.live_state import AgentFacts, PbxLink


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """A queue as its own events describe it: who could take a call, and who is already waiting for one.

    A queue is a capacity, not a set of agents to reserve: whom a caller reaches is the queue strategy's choice,
    and a ringall queue rings every member for the caller at its head, so no member can be set aside per call.
    """

    # Agents (primary devices, as free_agents names them) that can take a call: not in a call, not paused, not
    # unavailable, not on DND. A member ringing for a caller of this very queue counts: that ringing is the
    # queue serving demand already counted in ``callers``, and it ends with the member free again or connected.
    able: frozenset[str]
    # Callers waiting or ringing members in the queue now, by Linkedid (for our calls: our call id); a caller
    # only listed by QueueStatus (after a reconnect) is named by its Uniqueid.
    callers: frozenset[str]
    # Linkedids of callers the queue connected to a member (AgentConnect) whose call is not over yet.
    served: frozenset[str]


class AvailabilityView(Protocol):
    """Who can take a call right now, kept current from PBX events by the adapter."""

    def free_agents(self, inner_num: str) -> frozenset[str]:
        """Device interfaces (e.g. ``PJSIP/201``) that can take a call for this inner number now.

        An extension yields its own device when it is idle, reachable and not on DND; a queue yields its members that
        are not in use, not ringing, not paused and reachable. Unknown numbers and busy targets yield an empty set.
        The engine reserves an extension's agent per call so that tasks sharing a target never over-dial it; a
        queue it plans as a capacity (``queue_load``).
        """
        ...

    def queue_load(self, inner_num: str) -> QueueLoad | None:
        """The queue that ``inner_num`` (its number or name) reaches; None when it is not a queue."""
        ...

    def is_connected(self) -> bool:
        """False while the PBX link is down or re-syncing: nothing is known to be free then."""
        ...

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (synchronously, from the event loop) after any availability change or re-sync."""
        ...


class AgentRoster(Protocol):
    """Every agent the PBX knows and its state (the wallboard's view; dialing asks AvailabilityView)."""

    def agents(self) -> Sequence[AgentFacts]:
        """Empty while the PBX link is down or re-syncing: nothing is known then."""
        ...

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (synchronously, from the event loop) after any change or re-sync."""
        ...


class PbxLinkView(Protocol):
    """The PBX link's state for people (the wallboard, /status)."""

    def link(self) -> PbxLink: ...

    def on_link_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` synchronously after the link's state changed."""
        ...


class OriginateRejected(Exception):
    """The PBX refused this Originate for a reason about the call itself (no such extension, an invalid channel):
    the number gets its verdict (FAIL_ROUTE)."""

    error_id = "originate-rejected"


class PbxUnavailable(Exception):
    """The PBX did not take the Originate for a reason of its own: it is shutting down, the link is down or not
    logged in, the AMI user lacks a right. Nothing was dialled: the number stays queued as it was, and dispatching
    pauses until the PBX is back."""

    error_id = "pbx-unavailable"


class OriginateUnconfirmed(Exception):
    """The Originate was written but its answer never came (the link dropped, or no answer in time): the PBX may
    have queued the call. The attempt stays in flight for reconciliation to settle: adopted if the PBX lists the
    call, returned to the queue undialled if it does not."""

    error_id = "originate-unconfirmed"


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    call_id: str  # our attempt id; becomes ChannelId / Uniqueid / Linkedid
    dial_number: str  # what the outgoing context dials: dial prefix + digits
    inner_num: str  # extension / queue / poll id handed to the connect step
    mode: str  # "connect" or "poll"
    timeout_s: int
    caller_id: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str  # our attempt id (the ChannelId), taken from the channel's Linkedid/Uniqueid
    channel: str
    state: str  # ChannelStateDesc, e.g. "Up", "Ring"
    variables: Mapping[str, str] = field(default_factory=dict)
    # The answered customer is bridged to whoever the connect step dialed: an employee answered (M_DIALSTATUS
    # ANSWER), which an engine restarted mid-call cannot learn from the connect step it no longer runs.
    agent_connected: bool = False


@dataclass(frozen=True, slots=True)
class CallMarks:
    """The PBX's own record of which of some calls (calls it no longer lists) were answered, which the dialplan
    writes in AstDB whether or not we are alive to hear it (docs/dialplan.md): by the customer (``customer``) and by
    an employee the connect step dialled (``employee``). None: the installed dialplan writes no such mark, so a
    missing one proves nothing."""

    customer: frozenset[str] | None
    employee: frozenset[str] | None = None


class CallControl(Protocol):
    async def originate(self, request: OriginateRequest) -> None:
        """Queue the call (async Originate); once this returns the PBX has it, and the outcome arrives later as call
        events for ``request.call_id``. Raises OriginateRejected (refused, about the call), PbxUnavailable (refused
        or not sent, about the PBX) or OriginateUnconfirmed (sent, answer lost)."""
        ...

    async def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang up every channel of the call; a no-op for an unknown call."""
        ...

    async def live_calls(self) -> Sequence[LiveCall]:
        """Calls the PBX knows right now that carry one of our call ids (for reconciliation after a restart).

        Raises ConnectionError when the PBX cannot be asked now (link down, no answer)."""
        ...

    async def call_marks(self, call_ids: Sequence[str]) -> CallMarks:
        """Of ``call_ids`` (calls the PBX no longer lists), those whose customer, and those whose employee, answered
        by the PBX's own record (CallMarks), read in one round trip.

        Raises ConnectionError when the PBX cannot be asked now."""
        ...

    def on_call_event(self, callback: Callable[[CallEvent], None]) -> None:
        """Deliver every call event, in PBX arrival order, to ``callback``."""
        ...
