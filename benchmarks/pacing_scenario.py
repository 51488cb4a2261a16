"""A pacing scenario: the hidden world the benchmark's customers and agents live in (read only by the simulation).

Format (JSON)::

    {"name": "S", "agents": 20, "hours": 8, "seed": 1,
     "answer_probability": 0.3,                       # or [[hour, p], ...], a step function through the day
     "ring_to_answer_s": {"uniform": [3, 20]},
     "failure_after_s": {"mix": [[0.6, {"fixed": 25}], [0.4, {"uniform": [1, 5]}]]},
     "talk_s": {"lognormal_mean": 120, "sigma": 0.6},
     "wrap_s": 10, "abandon_after_s": 2, "max_abandon_rate": 0.03}

A distribution is a number (fixed), ``{"fixed": x}``, ``{"uniform": [a, b]}``, ``{"lognormal_mean": m, "sigma": s}``
(the mean of the lognormal itself is m), ``{"exponential_mean": m}`` or ``{"mix": [[weight, distribution], ...]}``.
Optional: ``lines`` (the campaign's line limit, default three per agent). Bad input raises ``ScenarioError`` naming
the field and the rule.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Sampler = Callable[[random.Random], float]


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Distribution:
    sample: Sampler
    mean: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    agents: int
    hours: float
    seed: int
    answer_steps: tuple[tuple[float, float], ...]  # (from hour, p), sorted, first from hour 0
    ring_to_answer_s: Distribution
    failure_after_s: Distribution
    talk_s: Distribution
    wrap_s: Distribution
    abandon_after_s: float
    max_abandon_rate: float
    lines: int

    def answer_probability(self, hour: float) -> float:
        p = self.answer_steps[0][1]
        for start, value in self.answer_steps:
            if hour < start:
                break
            p = value
        return p

    @property
    def bound_talk_min_per_agent_hour(self) -> float:
        """60·talk/(talk+wrap): what an agent who never waits for a customer would talk."""
        return 60.0 * self.talk_s.mean / (self.talk_s.mean + self.wrap_s.mean)


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """``--scenario FILE`` and the overrides every pacing benchmark takes (``scenario_from`` reads them)."""
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--agents", type=int, help="override the scenario's agent count")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--hours", type=float, help="override the scenario's length")


def scenario_from(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str) -> Scenario:
    """The scenario ``add_scenario_arguments`` named, with its overrides; a bad file ends the run (exit 2) with
    ``name: <what is wrong>``."""
    try:
        return load(args.scenario, agents=args.agents, seed=args.seed, hours=args.hours)
    except ScenarioError as e:
        parser.exit(2, f"{name}: {e}\n")


def load(path: Path, **overrides: Any) -> Scenario:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ScenarioError(f"{path}: cannot read the scenario: {e}") from e
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a JSON object")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return parse(raw)


def parse(raw: dict[str, Any]) -> Scenario:
    agents = _number(raw, "agents", minimum=1, integer=True)
    return Scenario(
        name=str(raw.get("name", "unnamed")),
        agents=int(agents),
        hours=_number(raw, "hours", minimum=0.01),
        seed=int(_number(raw, "seed", minimum=0, integer=True, default=1)),
        answer_steps=_answer_steps(raw.get("answer_probability")),
        ring_to_answer_s=distribution(raw.get("ring_to_answer_s"), "ring_to_answer_s"),
        failure_after_s=distribution(raw.get("failure_after_s"), "failure_after_s"),
        talk_s=distribution(raw.get("talk_s"), "talk_s"),
        wrap_s=distribution(raw.get("wrap_s", 0), "wrap_s"),
        abandon_after_s=_number(raw, "abandon_after_s", minimum=0, default=2),
        max_abandon_rate=_number(raw, "max_abandon_rate", minimum=0.001, maximum=0.49, default=0.03),
        lines=int(_number(raw, "lines", minimum=1, integer=True, default=3 * agents)),
    )


def _number(
    raw: dict[str, Any],
    key: str,
    *,
    minimum: float,
    maximum: float = math.inf,
    integer: bool = False,
    default: float | None = None,
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{key}: must be a number")
    if integer and value != int(value):
        raise ScenarioError(f"{key}: must be a whole number")
    if not minimum <= value <= maximum:
        raise ScenarioError(f"{key}: must be from {minimum} to {maximum}")
    return float(value)


def _answer_steps(value: Any) -> tuple[tuple[float, float], ...]:
    field = "answer_probability"
    if isinstance(value, int | float) and not isinstance(value, bool):
        steps = [(0.0, float(value))]
    elif isinstance(value, list) and value and all(isinstance(s, list) and len(s) == 2 for s in value):
        steps = sorted((float(h), float(p)) for h, p in value)
        if steps[0][0] > 0:
            raise ScenarioError(f"{field}: the first step must start at hour 0")
    else:
        raise ScenarioError(f"{field}: must be a probability or a list of [hour, probability] steps")
    if not all(0.0 < p <= 1.0 for _, p in steps):
        raise ScenarioError(f"{field}: probabilities must be above 0 and at most 1")
    return tuple(steps)


def distribution(spec: Any, field: str) -> Distribution:
    """A sampler with its mean; ``field`` names the scenario key in errors."""
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        spec = {"fixed": spec}
    if not isinstance(spec, dict):
        raise ScenarioError(f"{field}: must be a number or a distribution object")
    if "fixed" in spec:
        x = _non_negative(spec["fixed"], field)
        return Distribution(lambda rng: x, x)
    if "uniform" in spec:
        bounds = spec["uniform"]
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise ScenarioError(f"{field}: uniform takes [low, high]")
        low, high = (_non_negative(b, field) for b in bounds)
        if high < low:
            raise ScenarioError(f"{field}: uniform needs low <= high")
        return Distribution(lambda rng: rng.uniform(low, high), (low + high) / 2)
    if "lognormal_mean" in spec:
        mean = _non_negative(spec["lognormal_mean"], field)
        sigma = _non_negative(spec.get("sigma", 0.5), field)
        if mean <= 0:
            raise ScenarioError(f"{field}: lognormal_mean must be above 0")
        mu = math.log(mean) - sigma * sigma / 2
        return Distribution(lambda rng: rng.lognormvariate(mu, sigma), mean)
    if "exponential_mean" in spec:
        mean = _non_negative(spec["exponential_mean"], field)
        if mean <= 0:
            raise ScenarioError(f"{field}: exponential_mean must be above 0")
        return Distribution(lambda rng: rng.expovariate(1 / mean), mean)
    if "mix" in spec:
        return _mix(spec["mix"], field)
    raise ScenarioError(f"{field}: use fixed, uniform, lognormal_mean+sigma, exponential_mean or mix")


def _mix(parts: Any, field: str) -> Distribution:
    if not (isinstance(parts, list) and parts and all(isinstance(p, list) and len(p) == 2 for p in parts)):
        raise ScenarioError(f"{field}: mix takes [[weight, distribution], ...]")
    weights = [_non_negative(w, field) for w, _ in parts]
    total = sum(weights)
    if total <= 0:
        raise ScenarioError(f"{field}: mix weights must add up to more than 0")
    components = [distribution(d, field) for _, d in parts]
    cumulative = [sum(weights[: i + 1]) / total for i in range(len(weights))]

    def sample(rng: random.Random) -> float:
        u = rng.random()
        for edge, component in zip(cumulative, components, strict=True):
            if u < edge:
                return component.sample(rng)
        return components[-1].sample(rng)

    return Distribution(sample, sum(w / total * c.mean for w, c in zip(weights, components, strict=True)))


def _non_negative(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ScenarioError(f"{field}: {value!r} is not a non-negative number")
    return float(value)
