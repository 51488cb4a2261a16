"""The simulator runs the production dialplan snippet (src/autodialer/dialplan) the way Asterisk would."""

from __future__ import annotations

from autodialer.dialplan import snippet
from autodialer.simulator.dialplan import Dialplan


def test_priority_labels_and_patterns_of_the_snippet() -> None:
    plan = Dialplan(snippet("asterisk"))
    connect = plan.find("dialer-connect", "1")  # a poll id: one digit, which _X. would not match
    assert connect is not None
    assert plan.priority_of("dialer-connect", "1", "poll") == 6
    assert plan.priority_of("dialer-connect", "1", "3") == 3
    assert plan.priority_of("dialer-connect", "1", "nosuchlabel") is None
    assert plan.find("dialer-out", "79522233446") is not None
    assert plan.find("dialer-out", "h") is None  # special extensions never match the snippet's patterns
