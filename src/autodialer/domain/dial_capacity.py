"""Whether a campaign's target, lines and PBX link let a call go out now: the rules the engine plans with, and the
snapshot record eligibility judges a number's "live" holds from.

These hold every number of a campaign alike and end when the PBX's state changes, not at a time: an agent hangs up,
a call of ours ends and frees a line, the AMI link logs in again. So they never give a next time.

The rules, one place for both users:

* ``agents_free``: a target's agents able to take one more call. ``dialing.plan_dials`` counts a task's free
  agents with it at each turn (``PacingInput.free``, which progressive pacing dials on) and eligibility's
  ``TARGET_BUSY`` hold is this being 0. An extension is one agent (its device when the PBX shows it free), held by
  a call of ours that reserved it; a queue is its members able to take a call less the calls already needing one
  (``services/queue_demand.py``: callers waiting or ringing members, our calls on their way there).
* ``lines_free``: a campaign's lines (maxCountChannels) less its calls in flight; ``plan_dials``' per-task capacity.
* ``link_block``: the PBX link down (not logged in or not re-synced: nothing is known to be free, an Originate would
  be refused) or dispatch paused after the PBX refused Originates for reasons of its own (shutting down, no right);
  ``services/dial_rounds.py`` plans nothing while it says so.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum

from autodialer.domain.live_state import AgentState


def agents_free(able: frozenset[str], reserved: Set[str], demand: int = 0) -> int:
    """Agents of a target able to take one more call: ``able`` (who the PBX says can take a call) not held by a call
    of ours (``reserved``), less ``demand`` (a queue's calls already needing a member; 0 for an extension)."""
    # Counted, not built: the intersection walks the smaller set (a plan asks once per start of a 2,500-member queue).
    held = len(able.intersection(reserved)) if reserved else 0
    return max(0, len(able) - held - demand)


def lines_free(limit: int, in_use: int) -> int:
    """A campaign's lines (maxCountChannels) not taken by its calls in flight."""
    return max(0, limit - in_use)


class LinkBlock(StrEnum):
    DOWN = "down"  # not logged in, or logged in but agents not re-synced yet
    PAUSED = "paused"  # the PBX refused Originates for reasons of its own: none placed until ``paused_until``


def link_block(connected: bool, paused_until: float, now: float) -> LinkBlock | None:
    """Why no call may go out over the PBX link at ``now``; None: it may. A reconnect's re-sync lifts a pause
    sooner (reconciliation clears ``paused_until``)."""
    if not connected:
        return LinkBlock.DOWN
    if now < paused_until:
        return LinkBlock.PAUSED
    return None


@dataclass(frozen=True, slots=True)
class TargetLoad:
    """A campaign's target (an extension or a queue) as the engine sees it now."""

    target: str  # the inner number
    is_queue: bool
    able: frozenset[str]  # agents the PBX says can take a call (an extension: its device, when free)
    reserved: frozenset[str]  # agents held by our calls in flight
    demand: int = 0  # a queue: calls already needing one of its members
    # What the wallboard shows of its agent (an extension) or its members (a queue), for the words; empty: unknown.
    states: tuple[AgentState, ...] = ()
    # The campaign's pacing reserves no agent (power, predictive): how many calls go out is its policy's decision,
    # which may dial ahead of busy agents, so no agent hold is given (the lines and the link still hold).
    paced: bool = False

    @property
    def free(self) -> int:
        return agents_free(self.able, self.reserved, self.demand)


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """The PBX link as the engine sees it (connected: what it plans on) and as people see it (state, since, error)."""

    connected: bool
    state: str = ""  # the AMI client's word: connecting, connected, waiting, …
    since: float | None = None  # when ``state`` began
    last_error: str | None = None
    paused_since: float = 0.0
    paused_until: float = 0.0  # dispatch paused after a PBX refusal until then (0: not paused)
    pause_reason: str | None = None  # what the PBX said when it refused

    def block(self, now: float) -> LinkBlock | None:
        return link_block(self.connected, self.paused_until, now)


@dataclass(frozen=True, slots=True)
class DialConditions:
    """What holds a campaign's numbers alike, now: a small frozen snapshot the services build from the engine's
    state (services/live_conditions.py)."""

    link: LinkFacts
    lines_limit: int  # maxCountChannels
    lines_in_use: int  # the campaign's calls in flight
    target: TargetLoad | None  # None: a poll campaign (no agent needed)
