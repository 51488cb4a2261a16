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

Ringing calls the plan ends (``DialPlan.ends``) are noted here (``ending``) before the engine hangs them up: the
next rounds no longer count them as ringing (nor end them twice), their failure is a no-answer of ours
(``ended_by_us``: whatever the PBX reports for a leg we hung up, a customer who never answered, retried as a
no-answer) and the policy hears ``CallCutOff`` (censored: not answered within r s) instead of ``CallFailed``. A
customer who answered in the milliseconds before our Hangup reached the PBX was cut off after answering: the policy
counts it abandoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerOutcome,
)
from autodialer.domain.dialing import AgentPool, TaskSlice
from autodialer.domain.pacing import (
    PROGRESSIVE,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallCutOff,
    CallFailed,
    PacingPolicy,
    TalkEnded,
)
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS, PacingSettings, build_policy
from autodialer.services.dialer_store import Attempt, DialTask

# Q.850 19 "User alerting, no answer": the cause our Hangup gives a call we end while it rings, and the one Asterisk
# gives a call whose Originate timed out ringing (README §6 of the recorded traces): both are the same no-answer.
NO_ANSWER_CAUSE = 19
NO_ANSWER_CAUSE_TEXT = "User alerting, no answer"
# What the PBX may report for a leg we hung up while it rang; anything more specific (busy, congestion …) came from
# the customer's side first and stands.
_OURS = frozenset({CustomerOutcome.NO_ANSWER, CustomerOutcome.FAILED})

E = TypeVar("E", bound=CallEvent)


@dataclass(slots=True)
class _Campaign:
    settings: PacingSettings
    policy: PacingPolicy


class PacingBook:
    def __init__(self, zone: str = "UTC") -> None:
        self._campaigns: dict[int, _Campaign] = {}
        self._connected_at: dict[str, float] = {}  # call id -> when an agent took it (paced or not: agents' talk)
        self._zone = zone  # the PBX's: predictive counts abandonment per local day
        self._ending: set[str] = set()  # calls the plan ended while they rang

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
        ringing: list[tuple[float, str]] = []
        waiting = 0
        for attempt in in_flight():
            if attempt.task_id != task.task_id or attempt.settled or not self.is_paced(attempt):
                continue
            if not attempt.answered:
                if attempt.call_id not in self._ending:
                    ringing.append((attempt.created_at, attempt.call_id))
            elif not attempt.agent_connected:
                waiting += 1
        ringing.sort()
        return replace(
            task,
            pacing=policy,
            ringing_since=tuple(at for at, _ in ringing),
            ringing_calls=tuple(call_id for _, call_id in ringing),
            waiting=waiting,
            min_ring_s=self.settings(task.task_id).ends_ringing_after,
        )

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

    # ---- ringing calls the plan ends

    def ending(self, call_id: str) -> None:
        """The plan ended this ringing call: the engine is hanging it up."""
        self._ending.add(call_id)

    def is_ending(self, call_id: str) -> bool:
        return call_id in self._ending

    def _no_longer_ending(self, call_id: str) -> bool:
        """Whether the plan had ended this call (forgotten now: its answer or failure has come)."""
        if call_id not in self._ending:
            return False
        self._ending.discard(call_id)
        return True

    def ended_by_us(self, event: E) -> E:
        """``event`` as the engine must apply it: a ringing call we hung up failed as a customer no-answer (cause 19,
        the Originate timeout's), whatever unclassified cause the PBX gave the leg we cut; else unchanged."""
        if (
            isinstance(event, CustomerFailed)
            and event.call_id in self._ending
            and not event.pbx_shutdown
            and event.outcome in _OURS
        ):
            return replace(
                event, outcome=CustomerOutcome.NO_ANSWER, cause=NO_ANSWER_CAUSE, cause_text=NO_ANSWER_CAUSE_TEXT
            )
        return event

    # ---- facts

    def observe(self, attempt: Attempt, event: CallEvent, now: float) -> None:
        """A call event of ``attempt`` (before the engine applies it): the facts its campaign's policy learns."""
        policy = self.policy(attempt.task_id)
        match event:
            case CustomerAnswered() if not attempt.answered:
                policy.observe(CallAnswered(now, max(0.0, now - attempt.created_at)))
                if self._no_longer_ending(attempt.call_id):
                    # Answered as our Hangup went out: the customer is cut off after answering, an abandoned call.
                    policy.observe(CallAbandoned(now))
            case CustomerFailed(pbx_shutdown=False) if self._no_longer_ending(attempt.call_id):
                policy.observe(CallCutOff(now, max(0.0, now - attempt.created_at)))
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
        self._ending &= live
