"""Headroom of a lever the dialer does not have: hanging up ringing calls that have rung the legal minimum.

``pacing_calibration.py`` shows that the calls answering last are the ones abandoned most (they meet the calls
placed after them), and no dialing rule knows at dial time which calls those will be. A dialer may end a call that
still rings once it has rung the regulators' minimum (FTC and Ofcom: 15 s), before the customer picks up. This probe
measures what that would buy, with the production ``PredictivePacing`` unchanged: after each plan, when a customer
answering now would find no agent with a risk above ``factor``·θ (θ: the policy's own threshold; ``factor`` below 1
is an absolute risk instead), the centre hangs up the oldest calls past ``min_ring_s``, as many as the expected
shortage plus one. The policy is not told of them (a hung-up call is neither answered nor failed), so its answer
rate is learned from calls that ended by themselves. Benchmark-only: the engine cannot hang up a ringing call on the
policy's word, and a hung-up number would go back to the list unblamed.

    .venv/bin/python benchmarks/pacing_hangup.py --scenario benchmarks/scenarios/pacing/S-20.json [--seed 2]
        [--min-ring 15] [--factor 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pacing_scenario import Scenario, add_scenario_arguments, scenario_from
from pacing_sim import ANSWER, FAIL, CallCentre, Outcome, simulate

from autodialer.domain.pacing import WARMUP_OUTCOMES, PacingInput, PredictivePacing


class HangupCentre(CallCentre):
    def __init__(self, scenario: Scenario, policy: PredictivePacing, min_ring_s: float, factor: float) -> None:
        super().__init__(scenario, policy)
        self.predictive = policy
        self.min_ring_s = min_ring_s
        self.factor = factor
        self.hung_up = 0
        self._gone: set[int] = set()  # hung-up calls whose answer or failure is still in the event heap

    def _handle(self, kind: int, key: int | str, now: float) -> None:
        if kind in (ANSWER, FAIL) and isinstance(key, int) and key in self._gone:
            self._gone.discard(key)
            return
        super()._handle(kind, key, now)

    def _plan(self, now: float) -> None:
        super()._plan(now)
        policy = self.predictive
        old = sorted((started, call) for call, started in self.ringing.items() if now - started >= self.min_ring_s)
        if not old or policy.model.answer.outcomes < WARMUP_OUTCOMES:
            return
        view = PacingInput(
            now,
            self.s.lines,
            0,
            tuple(self.ringing.values()),
            len(self.waiting),
            self.s.agents,
            len(self.free) - len(self.reserved),
            tuple(self.talking.values()),
            tuple(self.wrapping.values()),
        )
        outlook = policy._outlook(view)
        shortage, variance = outlook.mean[0], outlook.variance[0]
        risk = 0.5 * (1.0 + math.erf((shortage + 0.5) / math.sqrt(2.0 * (variance + 0.05))))
        limit = self.factor if self.factor < 1.0 else self.factor * policy.guard.threshold
        if risk <= limit:
            return
        for _, call in old[: max(1, round(shortage + 1.0))]:
            del self.ringing[call]
            self.calls.pop(call)
            self._gone.add(call)
            self.hung_up += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_scenario_arguments(parser)
    parser.add_argument("--min-ring", type=float, default=15.0, help="seconds a call rings before it may be ended")
    parser.add_argument("--factor", type=float, default=6.0, help="hang up above factor·θ (below 1: that risk)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scenario = scenario_from(parser, args, "pacing_hangup")
    started = time.perf_counter()
    centre = HangupCentre(
        scenario, PredictivePacing(scenario.max_abandon_rate, scenario.abandon_after_s), args.min_ring, args.factor
    )
    with_hangups = centre.run()
    plain = simulate(scenario, PredictivePacing(scenario.max_abandon_rate, scenario.abandon_after_s))
    bound = scenario.bound_talk_min_per_agent_hour

    def line(name: str, out: Outcome) -> str:
        return (
            f"  {name:<14} {100 * out.talk_min_per_agent_hour / bound:5.1f}% of the bound, "
            f"abandoned {100 * out.abandon_rate:.2f}%, {out.calls} calls"
        )

    print(f"{scenario.name}: {scenario.agents} agents, {scenario.hours:g} h, seed {scenario.seed}")
    print(line("hang-ups", with_hangups) + f", {centre.hung_up} hung up after {args.min_ring:g} s")
    print(line("predictive", plain))
    print(f"  ({time.perf_counter() - started:.1f} s)")
    if args.json:
        result = {
            "scenario": scenario.name,
            "agents": scenario.agents,
            "seed": scenario.seed,
            "fraction_of_bound": round(with_hangups.talk_min_per_agent_hour / bound, 4),
            "abandon_rate": round(with_hangups.abandon_rate, 4),
            "hung_up": centre.hung_up,
            "predictive_fraction_of_bound": round(plain.talk_min_per_agent_hour / bound, 4),
            "predictive_abandon_rate": round(plain.abandon_rate, 4),
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
