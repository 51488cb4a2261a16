"""Pacing benchmark: talk-minutes per agent-hour and abandonment, predictive against progressive and the bound.

Runs the scenario twice on the same seed (so both meet the same customers in the same order), once with
``PredictivePacing`` (or ``--mode power``) and once with ``ProgressivePacing``, through the production planning
path (``dialing.plan_dials``) on a virtual clock (``pacing_sim``), and prints both figures, the abandonment rate
(abandoned / answered, the FTC/Ofcom measure) and the bound 60·talk/(talk+wrap) an agent who never waits would reach.

    .venv/bin/python benchmarks/pacing.py --scenario benchmarks/scenarios/pacing/S-20.json [--agents N] [--json]
        [--headroom]

With ``--min-ring S`` (at least 15, the legal minimum) predictive also ends ringing calls that rang S seconds when
their customer would likely find no agent, as the engine does for a campaign given ``pacing.min_ring_s``
(``PredictivePacing.calls_to_end``); without it, as a campaign's default, no ringing call is ended.

``--headroom`` also runs the predictive rule with knowledge no dialer has (``pacing_oracle``): each busy agent's
exact free time (``oracle_agents``), then also each ringing call's outcome and answer time (``oracle_calls``), to
show what the learned model loses and what the answer process itself costs.

With ``--json`` the last line is one JSON object: talk_min_per_agent_hour, abandon_rate,
progressive_talk_min_per_agent_hour, bound_talk_min_per_agent_hour, and more (fraction of the bound, counts,
ended_ringing: the ringing calls predictive ended).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pacing_oracle import LEVELS, simulate_oracle
from pacing_scenario import Scenario, add_scenario_arguments, scenario_from
from pacing_sim import Outcome, simulate

from autodialer.domain.pacing import MIN_RING_S, PacingPolicy, PowerPacing, PredictivePacing, ProgressivePacing


def policy_for(mode: str, scenario: Scenario, lines_per_agent: float) -> PacingPolicy:
    if mode == "power":
        return PowerPacing(lines_per_agent)
    if mode == "progressive":
        return ProgressivePacing()
    return PredictivePacing(scenario.max_abandon_rate, scenario.abandon_after_s)


def report(scenario: Scenario, mode: str, paced: Outcome, progressive: Outcome, seconds: float) -> dict[str, object]:
    bound = scenario.bound_talk_min_per_agent_hour
    return {
        "scenario": scenario.name,
        "mode": mode,
        "agents": scenario.agents,
        "hours": scenario.hours,
        "seed": scenario.seed,
        "talk_min_per_agent_hour": round(paced.talk_min_per_agent_hour, 2),
        "abandon_rate": round(paced.abandon_rate, 4),
        "progressive_talk_min_per_agent_hour": round(progressive.talk_min_per_agent_hour, 2),
        "bound_talk_min_per_agent_hour": round(bound, 2),
        "fraction_of_bound": round(paced.talk_min_per_agent_hour / bound, 4),
        "progressive_fraction_of_bound": round(progressive.talk_min_per_agent_hour / bound, 4),
        "max_abandon_rate": scenario.max_abandon_rate,
        "calls": paced.calls,
        "answered": paced.answered,
        "abandoned": paced.abandoned,
        "max_lines_in_use": paced.max_lines,
        "line_limit": scenario.lines,
        "progressive_calls": progressive.calls,
        "ended_ringing": paced.ended,
        "seconds": round(seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_scenario_arguments(parser)
    parser.add_argument("--mode", choices=["predictive", "power", "progressive"], default="predictive")
    parser.add_argument("--lines-per-agent", type=float, default=1.5, help="power mode's lines per free agent")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    parser.add_argument(
        "--min-ring",
        type=float,
        default=None,
        help="end ringing calls after this many seconds (a campaign's pacing.min_ring_s; default: never, as a "
        "campaign's default)",
    )
    parser.add_argument("--headroom", action="store_true", help="also run the rule with exact agents, then calls")
    args = parser.parse_args()
    scenario = scenario_from(parser, args, "pacing")
    started = time.perf_counter()
    if args.min_ring is not None and args.min_ring < MIN_RING_S:
        parser.error(f"--min-ring: at least {MIN_RING_S:g} s (the legal minimum)")
    paced = simulate(scenario, policy_for(args.mode, scenario, args.lines_per_agent), args.min_ring)
    progressive = simulate(scenario, ProgressivePacing())
    oracles = {level: simulate_oracle(scenario, level) for level in (LEVELS if args.headroom else ())}
    result = report(scenario, args.mode, paced, progressive, time.perf_counter() - started)
    bound = scenario.bound_talk_min_per_agent_hour
    for level, out in oracles.items():
        result[f"oracle_{level}_fraction_of_bound"] = round(out.talk_min_per_agent_hour / bound, 4)
        result[f"oracle_{level}_abandon_rate"] = round(out.abandon_rate, 4)
    print(
        f"{scenario.name}: {scenario.agents} agents, {scenario.hours:g} h, seed {scenario.seed}, "
        f"line limit {scenario.lines}\n"
        f"  {args.mode:<12} {result['talk_min_per_agent_hour']:6.2f} talk-min/agent-hour "
        f"({100 * paced.talk_min_per_agent_hour / scenario.bound_talk_min_per_agent_hour:5.1f}% of the bound), "
        f"abandoned {paced.abandoned}/{paced.answered} = {100 * paced.abandon_rate:.2f}% "
        f"(cap {100 * scenario.max_abandon_rate:g}%), {paced.calls} calls, {paced.ended} ended ringing\n"
        f"  {'progressive':<12} {result['progressive_talk_min_per_agent_hour']:6.2f} talk-min/agent-hour "
        f"({100 * progressive.talk_min_per_agent_hour / scenario.bound_talk_min_per_agent_hour:5.1f}% of the bound), "
        f"{progressive.calls} calls\n"
        f"  {'bound':<12} {result['bound_talk_min_per_agent_hour']:6.2f} = 60·talk/(talk+wrap)\n"
        f"  ({result['seconds']} s)"
    )
    for level, out in oracles.items():
        print(
            f"  oracle {level:<6} {out.talk_min_per_agent_hour:6.2f} talk-min/agent-hour "
            f"({100 * out.talk_min_per_agent_hour / bound:5.1f}% of the bound), "
            f"abandoned {100 * out.abandon_rate:.2f}%: the same rule knowing "
            + ("each busy agent's free time" if level == "agents" else "that and each ringing call's fate")
        )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
