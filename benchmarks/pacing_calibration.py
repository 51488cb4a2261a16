"""Does predictive pacing's per-call risk tell which calls will be abandoned? Predicted against realized, by bucket.

Runs a scenario like ``pacing.py`` (predictive only) and remembers, for each call the policy placed past its warm-up,
the risk the model gave it when it was placed and how many agents were free then. The calls of one round are alike
(each has all the others alongside), so each gets the risk of the round's last one, ``PacingOutlook.risk(n - 1)``,
read from the very outlook the policy computed (another outlook per round would perturb the run). Each answered call
is then counted as connected or abandoned. Printed: the realized abandonment of answered calls against the mean
predicted risk, by predicted-risk bucket, by free agents at dial time and by ring-to-answer time.

The rule dials up to θ, so the predicted risks bunch just under it; what the model misses shows as realized rates
that differ where the predicted ones do not.

    .venv/bin/python benchmarks/pacing_calibration.py --scenario benchmarks/scenarios/pacing/S-20.json [--seed 2]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pacing_scenario import Scenario, add_scenario_arguments, scenario_from
from pacing_sim import CallCentre

from autodialer.domain.pacing import PacingInput, PredictivePacing
from autodialer.domain.pacing_model import PacingOutlook


class RecordingPacing(PredictivePacing):
    """``PredictivePacing`` that keeps the risk of each call it asks for (None: warm-up, floor or backoff only)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario.max_abandon_rate, scenario.abandon_after_s)
        self._seen: PacingOutlook | None = None
        self.placed: list[tuple[float, int] | None] = []  # per call of the last answer, in dialing order

    def _outlook(self, view: PacingInput) -> PacingOutlook:
        self._seen = super()._outlook(view)
        return self._seen

    def calls_to_start(self, view: PacingInput) -> int:
        self._seen = None
        count = super().calls_to_start(view)
        seen = self._seen
        risk = None if seen is None or count == 0 else seen.risk(count - 1)  # each call with all the others
        self.placed = [None if risk is None else (risk, view.free) for _ in range(count)]
        return count


class RecordingCentre(CallCentre):
    def __init__(self, scenario: Scenario, policy: RecordingPacing) -> None:
        super().__init__(scenario, policy)
        self.recorder = policy
        self._placed: dict[int, tuple[float, int]] = {}
        self._ring_s: dict[int, float] = {}
        self.settled: list[tuple[float, int, float, bool]] = []  # risk, free at dial, ring s, abandoned

    def _dial(self, number_id: int, agent: str | None, now: float) -> None:
        super()._dial(number_id, agent, now)
        placed = self.recorder.placed.pop(0) if self.recorder.placed else None
        if placed is not None:
            self._placed[number_id] = placed

    def _answered(self, call_id: int, now: float) -> None:
        self._ring_s[call_id] = now - self.calls[call_id].started
        super()._answered(call_id, now)
        if call_id not in self.waiting:
            self._settle(call_id, abandoned=False)

    def _abandon(self, call_id: int, now: float) -> None:
        if call_id in self.waiting:
            self._settle(call_id, abandoned=True)
        super()._abandon(call_id, now)

    def _wrap_ended(self, agent: str, now: float) -> None:
        first = next(iter(self.waiting), None)
        super()._wrap_ended(agent, now)
        if first is not None and first not in self.waiting:
            self._settle(first, abandoned=False)

    def _settle(self, call_id: int, *, abandoned: bool) -> None:
        ring_s = self._ring_s.pop(call_id)
        placed = self._placed.pop(call_id, None)
        if placed is not None:
            self.settled.append((placed[0], placed[1], ring_s, abandoned))


def _table(title: str, rows: dict[str, list[float]]) -> None:
    print(f"  {title}: answered, realized abandonment, mean predicted risk")
    for label, (count, abandoned, risk) in rows.items():
        print(f"    {label:<14} {int(count):6d} {100 * abandoned / count:6.2f}% {100 * risk / count:6.2f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_scenario_arguments(parser)
    args = parser.parse_args()
    scenario = scenario_from(parser, args, "pacing_calibration")
    centre = RecordingCentre(scenario, RecordingPacing(scenario))
    out = centre.run()
    bound = scenario.bound_talk_min_per_agent_hour
    print(
        f"{scenario.name}: {scenario.agents} agents, {scenario.hours:g} h, seed {scenario.seed}: "
        f"{100 * out.talk_min_per_agent_hour / bound:.1f}% of the bound, abandoned {100 * out.abandon_rate:.2f}%, "
        f"{len(centre.settled)} answered calls placed by the model"
    )
    by_risk: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    by_free: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    by_ring: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    ring_cuts = sorted(ring for _, _, ring, _ in centre.settled)
    quartiles = [ring_cuts[len(ring_cuts) * q // 4] for q in (1, 2, 3)] if ring_cuts else []
    for risk, free, ring, abandoned in sorted(centre.settled):
        low = min(int(risk * 200), 6) / 2
        risk_label = f"{low:.1f}-{low + 0.5:.1f}%" if low < 3 else "3.0% and more"
        quartile = sum(ring > cut for cut in quartiles)
        for table, label in (
            (by_risk, risk_label),
            (by_free, str(min(free, 6))),
            (by_ring, f"quartile {quartile + 1}"),
        ):
            row = table[label]
            row[0] += 1
            row[1] += abandoned
            row[2] += risk
    _table("by predicted risk", by_risk)
    _table("by free agents when placed (6: 6 or more)", dict(sorted(by_free.items())))
    _table("by ring-to-answer time", dict(sorted(by_ring.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
