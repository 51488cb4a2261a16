"""The simulator reads Originate ``Variable:`` headers as manager.c does (AST_STANDARD_APP_ARGS, then name=value),
so whatever value the production gateway sends arrives unchanged, and raw separators behave as on Asterisk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from autodialer.adapters.asterisk.pbx_gateway import GatewayConfig, originate_action
from autodialer.services.ports import OriginateRequest
from autodialer.simulator.originate import separate_args, variable_pairs


def test_asterisk_splitting_rules() -> None:
    assert separate_args('A=1,B="x,y",C=f(a,b),D=[p,q],E=a\\,b') == ["A=1", "B=x,y", "C=f(a,b)", "D=[p,q]", "E=a,b"]
    assert separate_args("") == [""]
    assert variable_pairs("  A=1,noequals,=nameless,B=") == [("A", "1"), ("B", "")]
    assert variable_pairs('Q=\\"quoted\\"') == [("Q", '"quoted"')]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_a_value_the_gateway_sends_arrives_unchanged(value: str) -> None:
    request = OriginateRequest("c-1", "5551003", "201", "connect", 30, "Dialer", variables={"CRM_NOTE": value})
    action = originate_action(request, GatewayConfig())
    received = dict(pair for name, header in action.fields if name == "Variable" for pair in variable_pairs(header))
    assert received["CRM_NOTE"] == value
    assert received["DIALER_MODE"] == "connect" and received["DIALER_CALL_ID"] == "c-1"
