"""PacingBook: the engine's side of pacing: each campaign's policy object, what it sees of its calls, and the facts
it learns from.

A policy lives as long as its campaign's settings (``tasks.pacing``) stay the same: predictive learns online, so a
new object for every planning round would forget. For each planning round the book gives a campaign's slice its
policy, its own ringing calls (start times) and its answered customers still waiting for an agent, and gives every
paced target its ``AgentPool``: the members able to take a call plus the agents busy with our connected calls (whose
connect times say how long they have talked). Agents busy with calls that are not ours are not visible over AMI with
a start time: they are left out of ``logged_in``, which makes predictive dial as if there were fewer agents (never
more calls than it should). Wrap-up is not visible either: the model keeps its priors for it.

Facts (``pacing.CallAnswered`` …) come from the engine's call events and from the connect step's report that a
customer was abandoned (no agent within ``abandon_after_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from autodialer.domain.call_events import AgentConnected, CallEnded, CallEvent, CustomerAnswered, CustomerFailed
from autodialer.domain.dialing import AgentPool, TaskSlice
from autodialer.domain.pacing import (
    PROGRESSIVE,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    PacingPolicy,
    TalkEnded,
)
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS, PacingSettings, build_policy
from autodialer.services.dialer_store import Attempt, DialTask


@dataclass(slots=True)
class _Campaign:
    settings: PacingSettings
    policy: PacingPolicy


class PacingBook:
    def __init__(self, zone: str = "UTC") -> None:
        self._campaigns: dict[int, _Campaign] = {}
        self._connected_at: dict[str, float] = {}  # call id -> when an agent took it (paced or not: agents' talk)
        self._zone = zone  # the PBX's: predictive counts abandonment per local day

    # ---- campaigns

    def note_tasks(self, tasks: Sequence[DialTask]) -> None:
        """The open tasks as just read: a campaign whose settings changed gets a fresh policy; others keep theirs.

        A campaign that is not open now (paused, closed) keeps its policy too: its calls still end and teach it,
        and a resumed campaign goes on with what it learnt that day."""
        for task in tasks:
            current = self._campaigns.get(task.task_id)
            if current is None or current.settings != task.pacing:
                policy = PROGRESSIVE if task.pacing.reserves_agents else build_policy(task.pacing, self._zone)
                self._campaigns[task.task_id] = _Campaign(task.pacing, policy)

    def settings(self, task_id: int) -> PacingSettings:
        campaign = self._campaigns.get(task_id)
        return PROGRESSIVE_SETTINGS if campaign is None else campaign.settings

    def policy(self, task_id: int) -> PacingPolicy:
        campaign = self._campaigns.get(task_id)
        return PROGRESSIVE if campaign is None else campaign.policy

    def is_paced(self, attempt: Attempt) -> bool:
        """A call that reserved nobody and goes to the queue, for its campaign's policy to account for."""
        return (
            attempt.mode == "connect" and attempt.agent is None and not self.settings(attempt.task_id).reserves_agents
        )

    # ---- what a planning round sees

    def slice(self, task: TaskSlice, in_flight: Callable[[], Iterable[Attempt]]) -> TaskSlice:
        """``task`` with its policy, and for a paced campaign its own ringing calls and waiting customers."""
        policy = self.policy(task.task_id)
        if policy.reserves_agents:
            return task if task.pacing is policy else replace(task, pacing=policy)
        ringing: list[float] = []
        waiting = 0
        for attempt in in_flight():
            if attempt.task_id != task.task_id or attempt.settled or not self.is_paced(attempt):
                continue
            if not attempt.answered:
                ringing.append(attempt.created_at)
            elif not attempt.agent_connected:
                waiting += 1
        return replace(task, pacing=policy, ringing_since=tuple(sorted(ringing)), waiting=waiting)

    def agent_pools(
        self, tasks: Sequence[TaskSlice], free_agents: Mapping[str, frozenset[str]], in_flight: Iterable[Attempt]
    ) -> dict[str, AgentPool]:
        """For each target of a paced campaign: agents that can take calls (able + talking with our customers)."""
        targets = {t.inner_num for t in tasks if t.needs_agent and not t.pacing.reserves_agents}
        if not targets:
            return {}
        talking: dict[str, list[float]] = {inner: [] for inner in targets}
        for attempt in in_flight:
            at = self._connected_at.get(attempt.call_id)
            if at is not None and attempt.inner_num in talking:
                talking[attempt.inner_num].append(at)
        return {
            inner: AgentPool(len(free_agents.get(inner, frozenset())) + len(since), tuple(sorted(since)))
            for inner, since in talking.items()
        }

    # ---- facts

    def observe(self, attempt: Attempt, event: CallEvent, now: float) -> None:
        """A call event of ``attempt`` (before the engine applies it): the facts its campaign's policy learns."""
        policy = self.policy(attempt.task_id)
        match event:
            case CustomerAnswered() if not attempt.answered:
                policy.observe(CallAnswered(now, max(0.0, now - attempt.created_at)))
            case CustomerFailed(pbx_shutdown=False):
                policy.observe(CallFailed(now, max(0.0, now - attempt.created_at)))
            case AgentConnected() if attempt.call_id not in self._connected_at:
                self._connected_at[attempt.call_id] = now
                if self.is_paced(attempt):
                    policy.observe(CallConnected(now))
            case CallEnded():
                connected = self._connected_at.pop(attempt.call_id, None)
                if connected is not None:
                    policy.observe(TalkEnded(now, now - connected))
            case _:
                pass

    def abandoned(self, attempt: Attempt, now: float) -> None:
        """The connect step found no agent within abandon_after_s: the safe-harbor message is being played."""
        self.policy(attempt.task_id).observe(CallAbandoned(now))

    def prune(self, in_flight: Iterable[Attempt]) -> None:
        """Drop the connect times of calls no longer in flight (ended without a CallEnded we saw: lost, watchdog)."""
        live = {a.call_id for a in in_flight}
        for call_id in [c for c in self._connected_at if c not in live]:
            del self._connected_at[call_id]
