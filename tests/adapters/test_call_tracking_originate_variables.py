"""Originate ``Variable:`` values as Asterisk 22 parses them.

manager.c (man_do_variable_value) splits each ``Variable:`` header value with AST_STANDARD_APP_ARGS, i.e.
app.c ``__ast_app_separate_args(buf, ',', remove_chars=1, ...)``: a "," outside quotes, parentheses and brackets
starts a new name=value pair, '"' characters are dropped, and a backslash is dropped while the character after it
is taken literally. Items without "=" are ignored. ``_asterisk_variables`` below is that code, line for line.
"""

from __future__ import annotations

import pytest

from autodialer.adapters.asterisk.pbx_gateway import GatewayConfig, originate_action
from autodialer.services.ports import OriginateRequest


def _separate_args(buf: str) -> list[str]:
    """app.c __ast_app_separate_args with delim ',' and remove_chars 1."""
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(buf):
        c = buf[i]
        if c == "(":
            paren += 1
        elif c == ")":
            paren = paren - 1 if paren else 0
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = bracket - 1 if bracket else 0
        elif c == '"':
            quote = not quote
            i += 1
            continue  # removed
        elif c == "\\":
            i += 1  # removed; the next character is literal
            if i < len(buf):
                current.append(buf[i])
            i += 1
            continue
        elif c == "," and not paren and not quote and not bracket:
            args.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    args.append("".join(current))
    return args


def _asterisk_variables(header_values: list[str]) -> dict[str, str]:
    """manager.c astman_get_variables: every Variable header, every name=value item of it."""
    out: dict[str, str] = {}
    for value in header_values:
        for item in _separate_args(value.lstrip(" \t")):
            name, sep, val = item.partition("=")
            if sep and name:
                out[name] = val
    return out


def _request(**variables: str) -> OriginateRequest:
    return OriginateRequest(
        call_id="c-1",
        dial_number="5551001",
        inner_num="201",
        mode="connect",
        timeout_s=30,
        caller_id="4930000000",
        variables=variables,
    )


def test_the_parser_port_reads_the_traced_originate_as_asterisk_did() -> None:
    # Trace 02: "Variable: DIALER_MODE=bridge" and "Variable: CAMPAIGN_ID=42" became ${DIALER_MODE}/${CAMPAIGN_ID}.
    assert _asterisk_variables(["DIALER_MODE=bridge", "CAMPAIGN_ID=42"]) == {
        "DIALER_MODE": "bridge",
        "CAMPAIGN_ID": "42",
    }
    assert _asterisk_variables(["A=1,B=2"]) == {"A": "1", "B": "2"}


@pytest.mark.parametrize(
    "value",
    [
        "Sales, 2nd floor",  # a comma would start a new variable " 2nd floor" (dropped: no "=")
        "x,DIALER_MODE=poll",  # ...or overwrite one of ours
        'say "hi"',  # quotes would vanish
        "C:\\dir\\file",  # backslashes would vanish
        "f(a,b) [c,d]",
        "",
        "plain 201",
    ],
)
def test_every_variable_reaches_the_channel_unchanged(value: str) -> None:
    action = originate_action(_request(DIALER_AGENT=value, DIALER_TASK_ID="7"), GatewayConfig())
    assert _asterisk_variables(action.get_all("Variable")) == {
        "DIALER_MODE": "connect",
        "DIALER_CALL_ID": "c-1",
        "DIALER_AGENT": value,
        "DIALER_TASK_ID": "7",
    }


def test_plain_values_are_sent_as_they_are() -> None:
    action = originate_action(_request(CAMPAIGN_ID="42"), GatewayConfig())
    assert action.get_all("Variable") == ["DIALER_MODE=connect", "DIALER_CALL_ID=c-1", "CAMPAIGN_ID=42"]
