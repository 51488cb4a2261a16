"""The dialplan interpreter: Asterisk's pattern rules, priorities, hints and variable expansion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from autodialer.simulator.dialplan import Dialplan, split_args, substitute

PLAN = Dialplan()


def test_underscore_x_dot_needs_at_least_two_digits() -> None:
    # Trace 13: Originate to Exten 1 in [load-connect] (_X.) is rejected.
    assert not PLAN.exists("load-connect", "1")
    assert PLAN.exists("load-connect", "10")
    assert PLAN.exists("dialer-connect", "201")


def test_fixed_length_pattern() -> None:
    assert PLAN.exists("dialer-out", "5551001")
    assert not PLAN.exists("dialer-out", "7770000")
    assert not PLAN.exists("dialer-out", "55510011")
    assert not PLAN.exists("dialer-out", "555100")


def test_missing_priority_and_context() -> None:
    assert not PLAN.exists("dialer-connect", "201", 99)
    assert not PLAN.exists("no-such-context", "201")


def test_same_n_priorities_follow_each_other() -> None:
    ext = PLAN.find("dialer-out", "5551001")
    assert ext is not None
    assert [(p, s.app) for p, s in sorted(ext.steps.items())] == [(1, "NoOp"), (2, "Dial"), (3, "NoOp"), (4, "Hangup")]


def test_exact_extension_wins_over_pattern() -> None:
    plan = Dialplan("[c]\nexten => _X.,1,NoOp(pattern)\nexten => 42,1,NoOp(exact)\n")
    ext = plan.find("c", "42")
    assert ext is not None and ext.steps[1].data == "exact"


def test_hints_and_configurable_contexts() -> None:
    assert PLAN.hints() == [("internal", "201", "PJSIP/201"), ("internal", "202", "PJSIP/202")]
    plan = Dialplan("[my-out] ; comment\nexten => _9X.,1,Dial(PJSIP/${EXTEN:1}@trunk)\n")
    assert plan.exists("my-out", "912") and not plan.exists("my-out", "812")


def test_substitution_of_known_and_unknown_variables() -> None:
    assert substitute("a=${A} b=${B}", {"A": "1"}) == "a=1 b="
    assert split_args("agi://h/connect,201,bridge") == ["agi://h/connect", "201", "bridge"]


@given(st.text(alphabet="0123456789*#a", max_size=8))
def test_x_dot_matches_exactly_two_or_more_leading_digit_strings(exten: str) -> None:
    plan = Dialplan("[c]\nexten => _X.,1,NoOp()\n")
    expected = len(exten) >= 2 and exten[0].isdigit()
    assert plan.exists("c", exten) == expected


def test_configured_topology_is_added_to_the_dialplan() -> None:
    from autodialer.simulator import EmployeeConfig, QueueConfig, SimulatorConfig
    from autodialer.simulator.topology import complete

    plan = Dialplan()
    config = SimulatorConfig(
        employees=(EmployeeConfig("201"), EmployeeConfig("305")),
        queues=(QueueConfig("2200"), QueueConfig("3000", members=("305",))),
        outgoing_context="out-x",
        connect_context="connect-x",
    )
    complete(plan, config)
    assert ("internal", "305", "PJSIP/305") in plan.hints()
    assert plan.exists("internal", "3000") and plan.exists("out-x", "4951234567")
    step = plan.find("connect-x", "201")
    assert step is not None and step.steps[2].app == "AGI"
    assert len(plan.hints()) == 3  # the lab's own 201/202 hints are not duplicated
