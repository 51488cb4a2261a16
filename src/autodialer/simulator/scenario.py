"""What the simulated people do: per-number customer behaviour and per-extension employee behaviour.

A scenario is plain data (JSON file or Python) and is consulted when a call reaches the person, so tests can
change it between calls. Outcomes and the SIP reply they stand for:

    answer       180, then 200 OK after `answer_after` s; optional BYE `hangup_after` s later; optional DTMF
    busy         486 after `reject_after` s          -> Hangup cause 17, DIALSTATUS BUSY
    congestion   503                                 -> cause 34, CONGESTION
    unallocated  404                                 -> cause 1, NOANSWER (sic, as Asterisk 22 reports it)
    noanswer     180 forever (until Dial/Originate timeout) -> cause 19
    noroute      no channel can be created           -> DIALSTATUS CHANUNAVAIL, cause 3
    dnd          (employees) rejects like busy, and the UserBuddyStatus DB key says so

JSON (the lab's is scenarios/lab.json; times in simulated seconds, `dtmf` offsets count from the answer)::

    {"default_customer": {"outcome": "answer", "answer_after": 1.0},
     "customers": {"5551002": {"answer_after": 1, "dtmf": [[0.7, "1"], [2.9, "#"]], "hangup_after": 8},
                   "5551486": {"outcome": "busy", "ring": false}, "5551005": {"amd": "MACHINE"}},
     "employees": {"201": {"answer_after": 1.5}, "202": {"outcome": "noanswer"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

OUTCOMES = ("answer", "busy", "congestion", "unallocated", "noanswer", "noroute", "dnd")
BEHAVIOUR_KEYS = frozenset(
    {"outcome", "answer_after", "hangup_after", "reject_after", "ring", "dtmf", "dtmf_duration_ms", "amd"}
)
SCENARIO_KEYS = frozenset({"customers", "employees", "default_customer", "default_employee"})


class ScenarioError(ValueError):
    """A scenario that cannot be played; the message names the entry and the rule."""


@dataclass(frozen=True)
class Behaviour:
    outcome: str = "answer"
    answer_after: float = 1.0
    hangup_after: float | None = None  # seconds after answer; None = wait for our BYE
    reject_after: float = 0.0
    ring: bool = True  # send 180 before answering
    dtmf: tuple[tuple[float, str], ...] = ()  # (seconds after answer, digit)
    dtmf_duration_ms: int = 280
    amd: str = "HUMAN"  # what AMD() concludes: HUMAN, MACHINE or NOTSURE

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")
        for _, digit in self.dtmf:
            if len(digit) != 1 or digit not in "0123456789*#ABCD":
                raise ValueError(f"bad DTMF digit {digit!r}")

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "behaviour") -> Behaviour:
        """A behaviour from its JSON object; ScenarioError names ``where`` and the key at fault."""
        if not isinstance(data, dict):
            raise ScenarioError(f'{where}: must be an object like {{"outcome": "busy"}}')
        unknown = sorted(set(data) - BEHAVIOUR_KEYS)
        if unknown:
            raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(BEHAVIOUR_KEYS))})")
        try:
            dtmf = data.get("dtmf", ())
            if isinstance(dtmf, str):  # "1,3,5,#" one per second after answer
                dtmf = [(1.0 + i, d) for i, d in enumerate(dtmf.replace(",", ""))]
            return cls(
                outcome=data.get("outcome", "answer"),
                answer_after=float(data.get("answer_after", 1.0)),
                hangup_after=None if data.get("hangup_after") is None else float(data["hangup_after"]),
                reject_after=float(data.get("reject_after", 0.0)),
                ring=bool(data.get("ring", True)),
                dtmf=tuple((float(t), str(d)) for t, d in dtmf),
                dtmf_duration_ms=int(data.get("dtmf_duration_ms", 280)),
                amd=str(data.get("amd", "HUMAN")),
            )
        except (TypeError, ValueError) as e:
            raise ScenarioError(f"{where}: {e}") from e

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "answer_after": self.answer_after,
            "hangup_after": self.hangup_after,
            "reject_after": self.reject_after,
            "ring": self.ring,
            "dtmf": [[t, d] for t, d in self.dtmf],
            "dtmf_duration_ms": self.dtmf_duration_ms,
            "amd": self.amd,
        }


@dataclass
class Scenario:
    customers: dict[str, Behaviour] = field(default_factory=dict)
    employees: dict[str, Behaviour] = field(default_factory=dict)
    default_customer: Behaviour = field(default_factory=Behaviour)
    default_employee: Behaviour = field(default_factory=lambda: Behaviour(answer_after=1.5))

    def customer(self, number: str) -> Behaviour:
        return self.customers.get(number, self.default_customer)

    def amd(self, number: str) -> tuple[str, str, float]:
        """(AMDSTATUS, AMDCAUSE, seconds AMD listens) for a customer, with the causes trace 08 showed."""
        status = self.customer(number).amd
        return {"MACHINE": ("MACHINE", "LONGGREETING-1500-1500", 2.5), "NOTSURE": ("NOTSURE", "TOOLONG-4900", 4.9)}.get(
            status, ("HUMAN", "HUMAN-500-500", 1.2)
        )

    def employee(self, exten: str) -> Behaviour:
        return self.employees.get(exten, self.default_employee)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        s = cls()
        s.update(data)
        return s

    def update(self, data: dict[str, Any]) -> None:
        """Merge a JSON-shaped dict: keys customers, employees, default_customer, default_employee.

        Checked whole before anything changes: a ScenarioError leaves the scenario as it was.
        """
        if not isinstance(data, dict):
            raise ScenarioError("scenario: must be a JSON object")
        unknown = sorted(set(data) - SCENARIO_KEYS)
        if unknown:
            raise ScenarioError(f"scenario: unknown key {unknown[0]!r} (known: {', '.join(sorted(SCENARIO_KEYS))})")
        people: dict[str, dict[str, Behaviour]] = {"customers": {}, "employees": {}}
        for kind, found in people.items():
            entries = data.get(kind, {})
            if not isinstance(entries, dict):
                raise ScenarioError(f"{kind}: must be an object of number -> behaviour")
            for who, b in entries.items():
                found[str(who)] = Behaviour.from_json(b, f"{kind}.{who}")
        defaults = {
            key: Behaviour.from_json(data[key], key) for key in ("default_customer", "default_employee") if key in data
        }
        self.customers.update(people["customers"])
        self.employees.update(people["employees"])
        self.default_customer = defaults.get("default_customer", self.default_customer)
        self.default_employee = defaults.get("default_employee", self.default_employee)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        return cls.from_json(read_scenario_file(path))

    def to_json(self) -> dict[str, Any]:
        return {
            "customers": {k: v.to_json() for k, v in self.customers.items()},
            "employees": {k: v.to_json() for k, v in self.employees.items()},
            "default_customer": self.default_customer.to_json(),
            "default_employee": self.default_employee.to_json(),
        }

    def with_employee(self, exten: str, **changes: Any) -> None:
        self.employees[exten] = replace(self.employee(exten), **changes)


def read_scenario_file(path: Path) -> dict[str, Any]:
    """A scenario file's JSON object; ScenarioError (naming the file) when it cannot be read or parsed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read it ({e.strerror or e})") from e
    except ValueError as e:
        raise ScenarioError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must hold a JSON object")
    return data


LAB_SCENARIO_PATH = Path(__file__).with_name("scenarios") / "lab.json"


def lab_scenario() -> Scenario:
    """The sipp behaviour of the recorded lab (README §3)."""
    return Scenario.load(LAB_SCENARIO_PATH)
