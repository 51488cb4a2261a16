"""Predictive pacing on call centres nobody tuned it on: random scenarios, checked against the cap and progressive.

Draws ``--count`` scenarios from ``--seed`` (agents 3-60, answer rates 8-70% with a change through the day or not,
uniform/lognormal/exponential ring times, lognormal or exponential talk, fixed or random wrap-up, caps of 3 or 5%,
2 or 3 s before abandoning) and runs each like ``pacing.py`` does: predictive, then progressive on the same seed.
A scenario is flagged when predictive exceeds the cap or talks less than progressive.

    .venv/bin/python benchmarks/pacing_unseen.py [--seed 11] [--count 12] [--hours 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pacing_scenario import Scenario, parse
from pacing_sim import simulate

from autodialer.domain.pacing import PredictivePacing, ProgressivePacing


def random_scenario(rng: random.Random, index: int, hours: float) -> Scenario:
    agents = rng.choice([3, 8, 15, 30, 60])
    p = round(rng.uniform(0.08, 0.7), 2)
    steps = [[0, p]] if rng.random() < 0.5 else [[0, p], [rng.choice([1, 2]), round(rng.uniform(0.08, 0.7), 2)]]
    low = rng.uniform(1, 6)
    raw: dict[str, Any] = {
        "name": f"unseen-{index}",
        "agents": agents,
        "hours": hours,
        "seed": rng.randrange(1000),
        "answer_probability": steps,
        "ring_to_answer_s": rng.choice(
            [
                {"uniform": [low, low + rng.uniform(3, 25)]},
                {"lognormal_mean": rng.uniform(5, 15), "sigma": 0.5},
                {"exponential_mean": rng.uniform(4, 12)},
            ]
        ),
        "failure_after_s": {
            "mix": [[rng.uniform(0.3, 0.8), {"fixed": rng.choice([20, 30, 45])}], [0.3, {"uniform": [1, 6]}]]
        },
        "talk_s": rng.choice(
            [
                {"lognormal_mean": rng.uniform(40, 300), "sigma": rng.uniform(0.3, 1.2)},
                {"exponential_mean": rng.uniform(40, 250)},
            ]
        ),
        "wrap_s": rng.choice([0, 5, {"uniform": [3, 30]}, {"exponential_mean": 12}]),
        "abandon_after_s": rng.choice([2, 2, 3]),
        "max_abandon_rate": rng.choice([0.03, 0.03, 0.05]),
    }
    raw["lines"] = max(3 * agents, int(agents * 1.5 / min(p for _, p in steps)))
    return parse(raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for index in range(args.count):
        scenario = random_scenario(rng, index, args.hours)
        paced = simulate(scenario, PredictivePacing(scenario.max_abandon_rate, scenario.abandon_after_s))
        progressive = simulate(scenario, ProgressivePacing())
        bound = scenario.bound_talk_min_per_agent_hour
        ok = (
            paced.abandon_rate <= scenario.max_abandon_rate
            and paced.talk_min_per_agent_hour >= progressive.talk_min_per_agent_hour
        )
        rows.append(
            {
                "scenario": scenario.name,
                "agents": scenario.agents,
                "fraction_of_bound": round(paced.talk_min_per_agent_hour / bound, 4),
                "abandon_rate": round(paced.abandon_rate, 4),
                "max_abandon_rate": scenario.max_abandon_rate,
                "progressive_fraction_of_bound": round(progressive.talk_min_per_agent_hour / bound, 4),
                "ok": ok,
            }
        )
        r = rows[-1]
        print(
            f"{scenario.name:>10}: {scenario.agents:2d} agents, answer {[p for _, p in scenario.answer_steps]}, "
            f"predictive {100 * r['fraction_of_bound']:5.1f}% of the bound, abandoned {100 * r['abandon_rate']:.2f}% "
            f"(cap {100 * scenario.max_abandon_rate:g}%), progressive {100 * r['progressive_fraction_of_bound']:5.1f}%"
            + ("" if ok else "   <-- over the cap or below progressive"),
            flush=True,
        )
    failed = [r["scenario"] for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)}/{len(rows)} within the cap and at least progressive")
    if args.json:
        print(json.dumps({"scenarios": rows, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
