"""What the live wallboard shows, as records and the rules that name them. Pure: no clock, no I/O.

An agent is one person, named by the primary device of its extension's hint (``PJSIP/201``), as dialing names it.
Its state is one word: what the PBX says (free, ringing, talking, paused, unavailable) with one fact of ours on top:
a free agent we hold for a call whose customer is still being dialled is ``reserved``.

A call in flight is ``ringing`` until the customer answered, then ``talking`` (with the employee, or with the poll).

Abandoned (a call centre's word, and the pacing cap's): the customer answered a call that needs an employee and no
employee took it (nobody free, nobody answered, or the customer hung up while waiting). A poll call has no employee,
so it is never abandoned. ``is_abandoned`` is the one definition; the SQL store counts the same rows. It includes the
paced calls given the safe-harbor message (outcome ``abandoned``, which the pacing cap counts per day) and also a
progressive call whose reserved employee did not answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from autodialer.domain.mikopbx_results import ANSWER


class AgentState(StrEnum):
    FREE = "free"
    RESERVED = "reserved"
    RINGING = "ringing"
    TALKING = "talking"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


class CallPhase(StrEnum):
    RINGING = "ringing"
    TALKING = "talking"


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """One agent as the PBX describes it (never ``reserved``: that is ours, see ``agent_state``)."""

    agent: str  # primary device, e.g. PJSIP/201
    extension: str | None  # the extension whose hint names it; None for a queue member known only by its device
    pbx_state: AgentState
    queues: tuple[str, ...] = ()  # the queues it is a member of (their dialled numbers where known, else names)


@dataclass(frozen=True, slots=True)
class AgentView:
    agent: str
    extension: str | None
    state: AgentState
    queues: tuple[str, ...]


def agent_state(pbx_state: AgentState, reserved: bool) -> AgentState:
    """The word shown: a free agent held for one of our calls is reserved; any other state is the PBX's."""
    return AgentState.RESERVED if reserved and pbx_state is AgentState.FREE else pbx_state


def agent_views(facts: Iterable[AgentFacts], reserved: frozenset[str]) -> list[AgentView]:
    """Every agent with its shown state, by extension then device (a stable order for the wallboard)."""
    views = [AgentView(f.agent, f.extension, agent_state(f.pbx_state, f.agent in reserved), f.queues) for f in facts]
    return sorted(views, key=lambda v: (v.extension is None, v.extension or "", v.agent))


def count_agents(views: Iterable[AgentView]) -> dict[str, int]:
    """Agents by state word, every word present (0 when none)."""
    counts = {state.value: 0 for state in AgentState}
    for view in views:
        counts[view.state.value] += 1
    return counts


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    campaign_id: int
    phone: str
    agent: str | None
    mode: str  # connect | poll
    phase: CallPhase
    agent_connected: bool
    started_at: float
    ended: bool = False  # the last event of this call: it left the wallboard


def call_phase(answered: bool) -> CallPhase:
    return CallPhase.TALKING if answered else CallPhase.RINGING


def calls_by_campaign(calls: Iterable[CallView]) -> Mapping[int, tuple[int, int]]:
    """campaign id -> (ringing, talking)."""
    counts: dict[int, tuple[int, int]] = {}
    for call in calls:
        ringing, talking = counts.get(call.campaign_id, (0, 0))
        if call.phase is CallPhase.RINGING:
            ringing += 1
        else:
            talking += 1
        counts[call.campaign_id] = (ringing, talking)
    return counts


@dataclass(frozen=True, slots=True)
class NumberOutcome:
    """What a call did to its number: a final result, or a retry later (``result`` empty, ``retry_at`` set)."""

    campaign_id: int
    number_id: int
    phone: str
    call_id: str
    state: str  # the MikoPBX row state
    result: str  # "" while the number stays open
    count_try: int
    retry_at: float | None


@dataclass(frozen=True, slots=True)
class CampaignLive:
    """One campaign's wallboard line: its numbers and calls now, and how its calls went."""

    campaign_id: int
    name: str
    state: str  # active, paused, closed
    numbers_total: int
    numbers_open: int
    numbers_by_result: Mapping[str, int]
    calls_ringing: int
    calls_talking: int
    originates_last_minute: int
    attempts_ended: int
    answered: int
    abandoned: int
    answer_rate: float | None  # answered / ended attempts
    abandon_rate: float | None  # abandoned / answered (connect campaigns; polls are never abandoned)


def is_abandoned(*, mode: str, answered: bool, outcome: str | None, dial_status: str | None) -> bool:
    """An ended attempt whose customer answered a call needing an employee and whom no employee took.

    ``outcome`` is the attempt's result (a SUCCESS_* one means an employee talked), ``dial_status`` the Dial to the
    employee (ANSWER: an employee answered, e.g. before a restart cut the call)."""
    if mode != "connect" or not answered:
        return False
    return not (outcome or "").startswith("SUCCESS") and dial_status != ANSWER


def rate(part: int, whole: int) -> float | None:
    """part / whole; None when there is nothing to divide (no call answered yet is not a rate of 0)."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class PbxLink:
    """The AMI link as the wallboard shows it."""

    connected: bool  # logged in and re-synced: agents' states are known
    state: str  # stopped, connecting, connected, waiting, closed
    since: float | None  # when ``state`` began (seconds since the epoch)
    last_error: str | None
    logins: int  # successful logins since start
