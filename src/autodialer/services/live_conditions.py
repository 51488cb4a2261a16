"""LiveConditions: a campaign's target, lines and PBX link as the running engine sees them now, as the frozen
snapshot eligibility judges its live holds from (domain/dial_capacity.DialConditions).

Built from what the engine already keeps, with the same reads a planning round makes: the availability view (who
can take a call; a queue's load), the calls in flight (the agents they hold, a queue's demand through
``queue_demand.target_loads``, the campaign's lines in use), the engine's dispatch pause, and for the words the
wallboard's reads (each agent's state, the link's state, since when and its last error). Synchronous and cheap:
dict reads on the event loop, no store access, no lock (a read between two engine steps, like the wallboard's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from autodialer.domain.campaigns import Campaign, TargetKind
from autodialer.domain.dial_capacity import DialConditions, LinkFacts, TargetLoad
from autodialer.domain.live_state import agent_state
from autodialer.services.dialer_store import Attempt
from autodialer.services.engine_state import PbxPause
from autodialer.services.ports import AgentRoster, AvailabilityView, PbxLinkView
from autodialer.services.queue_demand import target_loads


class EngineReads(Protocol):
    """The dialer engine, as the live conditions read it."""

    def calls_now(self) -> Sequence[Attempt]: ...

    def reserved_agents(self) -> frozenset[str]: ...

    def is_paced(self, attempt: Attempt) -> bool: ...

    def dispatch_pause(self) -> PbxPause: ...


class LiveConditions:
    def __init__(
        self,
        engine: EngineReads,
        availability: AvailabilityView,
        roster: AgentRoster | None = None,
        link: PbxLinkView | None = None,
    ) -> None:
        self._engine = engine
        self._availability = availability
        self._roster = roster
        self._link = link

    def conditions(self, campaign: Campaign) -> DialConditions:
        in_flight = self._engine.calls_now()
        return DialConditions(
            link=self._link_facts(),
            lines_limit=campaign.lines,
            lines_in_use=sum(1 for a in in_flight if a.task_id == campaign.id),
            target=None if campaign.target.kind is TargetKind.POLL else self._target(campaign, in_flight),
        )

    def _link_facts(self) -> LinkFacts:
        pause = self._engine.dispatch_pause()
        shown = self._link.link() if self._link is not None else None
        return LinkFacts(
            connected=self._availability.is_connected(),  # what the planning round decides on
            state=shown.state if shown is not None else "",
            since=shown.since if shown is not None else None,
            last_error=shown.last_error if shown is not None else None,
            paused_since=pause.since,
            paused_until=pause.until,
            pause_reason=pause.reason,
        )

    def _target(self, campaign: Campaign, in_flight: Sequence[Attempt]) -> TargetLoad:
        inner = campaign.target.value
        free, demand = target_loads([inner], self._availability, in_flight, self._engine.is_paced)
        reserved = self._engine.reserved_agents()
        is_queue = inner in demand
        agents = self._roster.agents() if self._roster is not None else ()
        shown = tuple(
            agent_state(a.pbx_state, a.agent in reserved)
            for a in agents
            if (inner in a.queues if is_queue else a.extension == inner)
        )
        return TargetLoad(
            target=inner,
            is_queue=is_queue,
            able=free[inner],
            reserved=reserved,
            demand=demand.get(inner, 0),
            states=shown,
            paced=not campaign.pacing.reserves_agents,
        )
