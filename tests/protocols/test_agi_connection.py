"""AGIConnection framing: environment, result shapes, HANGUP anywhere, bounds, EOF, send rules, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.protocols.agi import (
    NEED_DATA,
    AGIConnection,
    AGIProtocolError,
    Command,
    CommandResult,
    ConnectionClosed,
    Environment,
    Event,
    HangupNotice,
    Role,
)

ENV = b"agi_network: yes\nagi_network_script: poll?x=1\nagi_accountcode: \nagi_arg_1: 201\nagi_arg_2: poll\n\n"


def server(*commands: str, env: bytes = ENV) -> tuple[AGIConnection, list[Event]]:
    """A server-role connection that has read ``env`` and sent ``commands``."""
    conn = AGIConnection(Role.SERVER)
    if env:  # b"" would mean EOF
        conn.receive_data(env)
    events = list(conn.events())
    for raw in commands:
        conn.send(Command.parse(raw))
    return conn, events


def drain(conn: AGIConnection, data: bytes) -> list[Event]:
    conn.receive_data(data)
    return list(conn.events())


def test_environment_block() -> None:
    _, events = server()
    assert events == [
        Environment({"agi_network": "yes", "agi_network_script": "poll?x=1", "agi_accountcode": ""}, ("201", "poll"))
    ]
    env = events[0]
    assert isinstance(env, Environment)
    assert env.script == "/poll"
    assert env.get("network") == "yes"
    assert env.get("missing", "-") == "-"


@pytest.mark.parametrize(
    ("variables", "script"),
    [
        ({"agi_request": "agi://127.0.0.1:4573/connect?mode=x"}, "/connect"),
        ({"agi_request": "agi://h/a/b/"}, "/a/b"),
        ({"agi_network_script": "/connect", "agi_request": "agi://h/other"}, "/connect"),
        ({}, ""),
    ],
)
def test_environment_script_route(variables: dict[str, str], script: str) -> None:
    assert Environment(variables).script == script


def test_environment_args_are_ordered_by_number_and_colon_space_is_optional() -> None:
    _, events = server(env=b"agi_arg_2: b\nagi_arg_1: a\nagi_x:y\nagi_arg_10: j\n\n")
    assert events == [Environment({"agi_x": "y"}, ("a", "b", "j"))]


@pytest.mark.parametrize("bad", [b"not an env line\n\n", b": value\n\n", b"agi x: 1\n\n", b"HANGUP\n"])
def test_malformed_environment_is_a_protocol_error(bad: bytes) -> None:
    conn = AGIConnection(Role.SERVER)
    conn.receive_data(bad)
    with pytest.raises(AGIProtocolError):
        list(conn.events())


def test_environment_is_bounded() -> None:
    conn = AGIConnection(Role.SERVER, max_env_lines=3)
    conn.receive_data(b"a: 1\nb: 2\nc: 3\nd: 4\n")
    with pytest.raises(AGIProtocolError):
        conn.next_event()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=1", CommandResult(200, "1")),
        ("200 result=0 endpos=8000", CommandResult(200, "0", None, {"endpos": "8000"})),
        ("200 result= (timeout)", CommandResult(200, "", "timeout")),
        ("200 result=1 (a) b)", CommandResult(200, "1", "a) b")),
        ("200 result=1 ()", CommandResult(200, "1", "")),
        ("200 result=1 (digit) digit=5 endpos=100", CommandResult(200, "1", "digit", {"digit": "5", "endpos": "100"})),
        (
            "200 result=1 (speech) endpos=10 results=2 foo bar",
            CommandResult(200, "1", "speech", {"endpos": "10", "results": "2 foo bar"}),
        ),
        ("503 result=-2 Memory allocation failure", CommandResult(503, "-2")),
        ("510 Invalid or unknown command", CommandResult.invalid_command()),
        ("511 Command Not Permitted on a dead channel or intercept routine", CommandResult.dead_channel()),
        ("520 Invalid command syntax.  Proper usage not available.", CommandResult.usage_error()),
    ],
)
def test_result_line_shapes(line: str, expected: CommandResult) -> None:
    conn, _ = server("X")
    (result,) = drain(conn, line.encode() + b"\n")
    assert result == CommandResult(expected.code, expected.result, expected.data, expected.extras, line)
    assert result.text == line
    assert result.encode() == line.encode() + b"\n"


def test_multi_line_usage_result_is_one_event_even_with_hangup_like_lines_inside() -> None:
    conn, _ = server("GET DATA")
    block = (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
        b"HANGUP\n"
        b"200 result=1 is not the end either\n"
        b"520 End of proper usage.\n"
    )
    (result,) = drain(conn, block)
    assert isinstance(result, CommandResult)
    assert result.code == 520
    assert result.usage.startswith("Usage: GET DATA") and result.usage.endswith("not the end either")
    assert result.encode() == block
    assert CommandResult.parse(result.text) == result


def test_results_built_from_fields_alone_always_encode() -> None:
    for built in (CommandResult(503, "-2"), CommandResult(299), CommandResult(200)):
        conn, _ = server("X")
        assert drain(conn, built.encode()) == [built]
    assert CommandResult(503, "-2").text == "503 result=-2"


def test_usage_error_builder_round_trips() -> None:
    built = CommandResult.usage_error("Usage: ANSWER\n Answers the channel.")
    conn, _ = server("ANSWER x")
    assert drain(conn, built.encode()) == [built]


def test_multi_line_result_is_bounded() -> None:
    conn = AGIConnection(Role.SERVER, max_block_lines=5)
    conn.receive_data(ENV)
    list(conn.events())
    conn.send(Command.parse("X"))
    conn.receive_data(b"520-x\n" + b"line\n" * 10)
    with pytest.raises(AGIProtocolError):
        list(conn.events())


def test_hangup_between_command_and_result_does_not_disturb_matching() -> None:
    conn, _ = server("GET VARIABLE DIALSTATUS", "GET VARIABLE HANGUPCAUSE")
    assert conn.unanswered == 2
    events = drain(conn, b"HANGUP\n200 result=1 (ANSWER)\nHANGUP\n200 result=1 (16)\n")
    assert events == [
        HangupNotice(),
        CommandResult(200, "1", "ANSWER"),
        HangupNotice(),
        CommandResult(200, "1", "16"),
    ]
    assert conn.unanswered == 0


def test_hangup_with_no_command_outstanding_is_fine() -> None:
    conn, _ = server()
    assert drain(conn, b"HANGUP\n") == [HangupNotice()]


def test_result_without_command_is_an_error_and_errors_are_sticky() -> None:
    conn, _ = server()
    conn.receive_data(b"200 result=1\n")
    with pytest.raises(AGIProtocolError):
        conn.next_event()
    with pytest.raises(AGIProtocolError):
        conn.next_event()


@pytest.mark.parametrize(
    "bad", [b"hello\n", b"2000 result=1\n", b"200result=1\n", b"200 nothing\n", b"200 result=1 (x\n"]
)
def test_garbage_result_lines_are_protocol_errors(bad: bytes) -> None:
    conn, _ = server("X")
    conn.receive_data(bad)
    with pytest.raises(AGIProtocolError):
        list(conn.events())


@pytest.mark.parametrize("role", list(Role))
def test_line_length_is_bounded_with_or_without_newline(role: Role) -> None:
    for data in (b"x" * 101, b"x" * 101 + b"\n"):
        conn = AGIConnection(role, max_line_length=100)
        conn.receive_data(data)
        with pytest.raises(AGIProtocolError):
            list(conn.events())


@pytest.mark.parametrize("role", list(Role))
def test_nul_byte_is_a_protocol_error(role: Role) -> None:
    conn = AGIConnection(role)
    conn.receive_data(b"a\x00b\n")
    with pytest.raises(AGIProtocolError):
        list(conn.events())


def test_eof_before_environment_completes_is_a_clean_close() -> None:
    conn = AGIConnection(Role.SERVER)
    conn.receive_data(b"agi_network: yes\n")
    conn.receive_data(b"")
    assert list(conn.events()) == [ConnectionClosed()]
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")  # repeated EOF is harmless
    with pytest.raises(AGIProtocolError):
        conn.receive_data(b"more")


def test_eof_in_the_middle_of_a_line() -> None:
    conn, _ = server("X")
    conn.receive_data(b"200 resu")
    conn.receive_data(b"")
    with pytest.raises(AGIProtocolError):
        list(conn.events())
    # Asterisk's fgets() executes an unterminated last command line.
    asterisk = AGIConnection(Role.ASTERISK)
    asterisk.receive_data(b"ANSWER\nHANGUP")
    asterisk.receive_data(b"")
    assert list(asterisk.events()) == [Command.parse("ANSWER"), Command.parse("HANGUP"), ConnectionClosed()]


def test_cr_is_content_not_a_line_end() -> None:
    asterisk = AGIConnection(Role.ASTERISK)
    assert drain(asterisk, b"ANSWER\r\n") == [Command(("ANSWER\r",), "ANSWER\r")]


def test_non_utf8_bytes_survive_a_round_trip() -> None:
    env = Environment({"agi_calleridname": b"M\xfcller".decode("utf-8", "surrogateescape")})
    _, events = server(env=env.encode())
    assert events == [env]
    assert env.encode() == b"agi_calleridname: M\xfcller\n\n"


def test_asterisk_role_send_rules() -> None:
    conn = AGIConnection(Role.ASTERISK)
    with pytest.raises(AGIProtocolError):
        conn.send(HangupNotice())
    with pytest.raises(AGIProtocolError):
        conn.send(CommandResult.success(1))
    assert conn.send(Environment({"agi_network": "yes"}, ("a",))) == b"agi_network: yes\nagi_arg_1: a\n\n"
    with pytest.raises(AGIProtocolError):
        conn.send(Environment())
    with pytest.raises(AGIProtocolError):
        conn.send(CommandResult.success(1))  # nobody asked
    assert conn.send(HangupNotice()) == b"HANGUP\n"
    assert drain(conn, b"ANSWER\nNOOP\n") == [Command.parse("ANSWER"), Command.parse("NOOP")]
    assert conn.send(CommandResult.success(0)) == b"200 result=0\n"
    assert conn.send(CommandResult.invalid_command()) == b"510 Invalid or unknown command\n"
    assert conn.unanswered == 0
    with pytest.raises(AGIProtocolError):
        conn.send(Command.parse("ANSWER"))


def test_server_role_sends_commands_only() -> None:
    conn = AGIConnection(Role.SERVER)
    with pytest.raises(AGIProtocolError):
        conn.send(CommandResult.success(1))
    assert conn.send(Command.build("GET DATA", "dialer-prompt", "6000", "2")) == b"GET DATA dialer-prompt 6000 2\n"


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(200, "1 2"),
        CommandResult(200, "1", "x", {"k": "v)"}),
        CommandResult(510, text="511 wrong code"),
        CommandResult(520, text="520-a\n520 b\n520 c"),
        CommandResult(520, text="521-a\n520 b"),
    ],
)
def test_results_that_would_read_back_differently_are_refused(result: CommandResult) -> None:
    with pytest.raises(AGIProtocolError):
        result.encode()


KEY = st.from_regex(r"agi_[a-z]{1,12}", fullmatch=True)
VALUE = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=20)


@given(st.dictionaries(KEY, VALUE, max_size=25), st.lists(VALUE, max_size=10))
def test_environment_round_trips(variables: dict[str, str], args: list[str]) -> None:
    env = Environment(variables, tuple(args))
    _, events = server(env=env.encode())
    assert events == [env]


WORD = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00 ()="), max_size=8)


@given(
    st.one_of(st.none(), WORD),
    st.one_of(st.none(), st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"))),
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=6), WORD.filter(bool), max_size=3),
)
def test_success_results_round_trip(result: str | None, data: str | None, extras: dict[str, str]) -> None:
    built = CommandResult(200, result if result is not None else "", data, extras)
    conn, _ = server("X")
    assert drain(conn, built.encode()) == [built]


@given(st.binary(max_size=300), st.integers(0, 3))
def test_arbitrary_bytes_give_events_or_protocol_error_in_server_role(data: bytes, pending: int) -> None:
    conn, _ = server(*["X"] * pending, env=b"")
    _feed_garbage(conn, data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_events_or_protocol_error_in_asterisk_role(data: bytes) -> None:
    _feed_garbage(AGIConnection(Role.ASTERISK), data)


@given(
    st.lists(
        st.sampled_from([b"HANGUP\n", b"200 result=1 (x)\n", b"520-u\n", b"520 e\n", b"\n", b"a: b\n", b"("]),
        max_size=30,
    )
)
def test_plausible_line_soup_gives_events_or_protocol_error(lines: list[bytes]) -> None:
    conn, _ = server(*["X"] * 5, env=b"")
    _feed_garbage(conn, b"".join(lines))


def _feed_garbage(conn: AGIConnection, data: bytes) -> None:
    try:
        for i in range(0, len(data), 7):
            conn.receive_data(data[i : i + 7])
            for event in conn.events():
                assert isinstance(event, (Environment, Command, CommandResult, HangupNotice))
        conn.receive_data(b"")
        assert list(conn.events())[-1:] == [ConnectionClosed()]
    except AGIProtocolError:
        pass
