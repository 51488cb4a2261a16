"""The pacing benchmark's call centre is itself right: analytic figures on deterministic worlds, honest accounting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from pacing_oracle import LEVELS, OracleCentre, OraclePacing, simulate_oracle  # noqa: E402
from pacing_scenario import ScenarioError, parse  # noqa: E402
from pacing_sim import simulate  # noqa: E402

from autodialer.domain.pacing import PowerPacing, PredictivePacing, ProgressivePacing  # noqa: E402


def world(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "t",
        "agents": 3,
        "hours": 1,
        "seed": 7,
        "answer_probability": 1.0,
        "ring_to_answer_s": 0,
        "failure_after_s": 25,
        "talk_s": 100,
        "wrap_s": 20,
        "abandon_after_s": 2,
    }
    return base | overrides


def test_progressive_with_instant_answers_reaches_exactly_the_analytic_figure() -> None:
    scenario = parse(world())
    out = simulate(scenario, ProgressivePacing())
    # every agent: talk 100, wrap 20, redial at once: 30 whole cycles in the hour, 50 talk-minutes
    assert out.talk_min_per_agent_hour == pytest.approx(50.0)
    assert scenario.bound_talk_min_per_agent_hour == pytest.approx(50.0)
    assert (out.calls, out.answered, out.abandoned) == (90, 90, 0)


def test_progressive_waits_out_every_ring_and_failure() -> None:
    # half the calls fail after 10 s, answered ones ring 5 s: the expected cycle is 5 + 1·10 + 100 + 20 = 135 s
    out = simulate(
        parse(world(agents=40, hours=8, answer_probability=0.5, ring_to_answer_s=5, failure_after_s=10)),
        ProgressivePacing(),
    )
    assert out.talk_min_per_agent_hour == pytest.approx(60 * 100 / 135, rel=0.02)
    assert out.abandoned == 0


def test_two_lines_per_free_agent_abandon_exactly_every_second_answer() -> None:
    # one agent, power 2: both calls answer after 5 s, one talks, the other finds nobody within 2 s
    out = simulate(parse(world(agents=1, ring_to_answer_s=5, wrap_s=0)), PowerPacing(2.0))
    assert out.answered == 2 * out.connected
    assert out.abandon_rate == 0.5


def test_an_answered_customer_waits_for_the_next_free_agent_within_abandon_after() -> None:
    out = simulate(parse(world(agents=1, ring_to_answer_s=5, wrap_s=0, abandon_after_s=200)), PowerPacing(2.0))
    assert out.abandoned == 0
    assert out.waits and max(out.waits) == pytest.approx(100.0)  # the second customer waits out the first call


def test_a_run_is_reproducible_from_its_seed() -> None:
    scenario = parse(world(agents=2, hours=0.5, answer_probability=0.4, ring_to_answer_s={"uniform": [3, 9]}))
    assert simulate(scenario, ProgressivePacing()).talk_s == simulate(scenario, ProgressivePacing()).talk_s


def test_predictive_on_a_short_day_keeps_the_books_straight() -> None:
    s = world(agents=8, hours=0.5, answer_probability=[[0, 0.3], [0.25, 0.5]], ring_to_answer_s={"uniform": [3, 20]})
    s |= {"talk_s": {"lognormal_mean": 90, "sigma": 0.6}, "wrap_s": {"exponential_mean": 8}}
    out = simulate(parse(s), PredictivePacing())  # the simulation asserts its invariants as it runs
    assert out.connected + out.abandoned <= out.answered <= out.calls
    assert out.max_lines <= parse(s).lines


def test_ringing_calls_ended_after_the_minimum_keep_the_books_and_the_answer_rate_straight() -> None:
    s = world(agents=10, hours=1.5, answer_probability=0.3, ring_to_answer_s={"uniform": [3, 25]}, seed=3)
    s |= {"talk_s": {"lognormal_mean": 120, "sigma": 0.6}, "wrap_s": 10, "failure_after_s": 30}
    policy = PredictivePacing()
    out = simulate(parse(s), policy, 15.0)  # asserts that no call is ended before 15 s nor one reserving an agent
    assert out.ended > 100
    assert out.connected + out.abandoned <= out.answered <= out.calls - out.ended
    assert abs(policy.model.answer.p - 0.3) < 0.05  # learned from the ended calls as censored, not as failed
    assert simulate(parse(s), PredictivePacing()).ended == 0  # a campaign's default: no ringing call is ended


@pytest.mark.parametrize("level", LEVELS)
def test_the_oracle_knows_each_agents_free_time_and_each_calls_fate_before_they_happen(level: str) -> None:
    s = world(agents=6, hours=0.5, answer_probability=0.35, ring_to_answer_s={"uniform": [3, 20]})
    s |= {"talk_s": {"lognormal_mean": 60, "sigma": 0.8}, "wrap_s": {"uniform": [2, 15]}}
    scenario = parse(s)
    policy = OraclePacing(scenario, level)
    centre = OracleCentre(scenario, policy)
    out = centre.run()  # asserts at every answer, failure and end of wrap-up that the oracle had it right
    assert policy.centre is centre
    assert out.connected > 50
    assert centre.free_at.keys() <= set(centre.talking) | set(centre.wrapping)  # only agents busy at the end
    assert centre.answer_at.keys() == set(centre.ringing)


def test_knowing_the_ringing_calls_fate_dials_closer_to_the_bound() -> None:
    # the same rule with more knowledge: on S's call centre the calls' fate is worth several points
    s = world(agents=10, hours=1.5, answer_probability=0.3, ring_to_answer_s={"uniform": [3, 20]}, seed=3)
    s |= {"talk_s": {"lognormal_mean": 120, "sigma": 0.6}, "wrap_s": 10, "failure_after_s": 25}
    scenario = parse(s)
    # the dial rule alone (the oracle ends no ringing call)
    learned, exact = simulate(scenario, PredictivePacing(), None), simulate_oracle(scenario, "calls")
    assert exact.talk_s > 1.02 * learned.talk_s
    assert exact.abandon_rate <= 0.05


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"agents": 0}, "agents"),
        ({"answer_probability": [[1, 0.3]]}, "answer_probability"),
        ({"answer_probability": 1.5}, "answer_probability"),
        ({"talk_s": {"uniform": [5, 1]}}, "talk_s"),
        ({"wrap_s": {"gamma": 3}}, "wrap_s"),
        ({"failure_after_s": {"mix": [[0, 5]]}}, "failure_after_s"),
        ({"max_abandon_rate": 0.7}, "max_abandon_rate"),
    ],
)
def test_bad_scenarios_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError, match=f"^{field}:"):
        parse(world(**change))


def test_the_command_line_ends_with_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(world(hours=0.2, answer_probability=0.3, ring_to_answer_s={"uniform": [3, 20]})))
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "pacing.py"), "--scenario", str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("talk_min_per_agent_hour", "abandon_rate", "progressive_talk_min_per_agent_hour"):
        assert isinstance(result[key], float)
    assert result["bound_talk_min_per_agent_hour"] == pytest.approx(60 * 100 / 120)
    assert "oracle_calls_fraction_of_bound" not in result


def test_the_command_line_reports_the_headroom_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(world(hours=0.2, answer_probability=0.3, ring_to_answer_s={"uniform": [3, 20]})))
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "pacing.py"), "--scenario", str(path), "--json", "--headroom"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for level in LEVELS:
        assert 0.0 < result[f"oracle_{level}_fraction_of_bound"] <= 1.0
        assert 0.0 <= result[f"oracle_{level}_abandon_rate"] < 1.0
