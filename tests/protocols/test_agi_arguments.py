"""AGI argument splitting (Asterisk's parse_args) and quoting: tables, a C-faithful oracle and round trips."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from autodialer.protocols.agi import (
    MAX_KEPT_ARGS,
    AGIProtocolError,
    Command,
    CommandResult,
    Environment,
    encode_command,
    join_arguments,
    quote_argument,
    split_arguments,
)


def c_parse_args(s: str) -> tuple[str, ...]:
    """A literal transcription of res_agi.c parse_args(): in-place writes through ``cur``, NUL-terminated."""
    buf = [*s, "\0"]
    starts: list[int] = []
    cur = 0
    quoted = escaped = False
    whitespace = True
    for ch in s:
        normal = False
        if ch == '"':
            if escaped:
                normal = True
            else:
                quoted = not quoted
                if quoted and whitespace:
                    starts.append(cur)
                    whitespace = False
                escaped = False
        elif ch in " \t":
            if not quoted and not escaped:
                whitespace = True
                buf[cur] = "\0"
                cur += 1
            else:
                normal = True
        elif ch == "\\":
            if escaped:
                normal = True
            else:
                escaped = True
        else:
            normal = True
        if normal:
            if whitespace:
                starts.append(cur)
                whitespace = False
            buf[cur] = ch
            cur += 1
            escaped = False
    buf[cur] = "\0"
    text = "".join(buf)
    return tuple(text[start : text.index("\0", start)] for start in starts)


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ("ANSWER", ("ANSWER",)),
        ("", ()),
        (" \t ", ()),
        ("a  b\tc", ("a", "b", "c")),
        ('VERBOSE "dialer: bridging to 201" 1', ("VERBOSE", "dialer: bridging to 201", "1")),
        ('STREAM FILE dialer-thanks ""', ("STREAM", "FILE", "dialer-thanks", "")),
        ('""', ("",)),
        ('a"b c"d', ("ab cd",)),
        ("a\\ b", ("a b",)),
        ('"x\\"y"', ('x"y',)),
        ("\\\\", ("\\",)),
        ("\\a", ("a",)),
        ("x\\", ("x",)),
        ('"unterminated x', ("unterminated x",)),
        ("ANSWER\r", ("ANSWER\r",)),
        ("EXEC Dial PJSIP/201,20", ("EXEC", "Dial", "PJSIP/201,20")),
    ],
)
def test_split_arguments_follows_asterisk(line: str, argv: tuple[str, ...]) -> None:
    assert split_arguments(line) == argv
    assert c_parse_args(line) == argv


def test_split_arguments_keeps_at_most_127_arguments() -> None:
    words = [f"w{i}" for i in range(200)]
    assert split_arguments(" ".join(words)) == tuple(words[:MAX_KEPT_ARGS])
    assert split_arguments(" ".join(['""'] * 130)) == ("",) * MAX_KEPT_ARGS


LINE_CHARS = st.sampled_from(list(' \t"\\ab*#\r{$é'))


@given(st.text(alphabet=LINE_CHARS, max_size=60))
@example('a"" b')
@example('\\" x')
def test_split_arguments_matches_the_c_transcription(line: str) -> None:
    assert split_arguments(line) == c_parse_args(line)


ARG = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=12)


@given(st.lists(ARG, min_size=1, max_size=MAX_KEPT_ARGS))
@example(["", "a b", 'q"', "\\", '\\"', "\t"])
def test_join_then_split_round_trips(argv: list[str]) -> None:
    assert split_arguments(join_arguments(argv)) == tuple(argv)


@given(st.text(alphabet=st.sampled_from(list(' \t"\\ab*#{$é')), min_size=1, max_size=60))
def test_encode_of_parse_round_trips(line: str) -> None:
    command = Command.parse(line)
    if not command.argv:
        return
    again = Command.parse(join_arguments(command.argv))
    assert again.argv == command.argv
    assert Command.parse(again.raw) == again


@pytest.mark.parametrize(
    ("arg", "written"),
    [
        ("", '""'),
        ("dialer-prompt", "dialer-prompt"),
        ("PJSIP/201,20", "PJSIP/201,20"),
        ("${POLL_RESULT}-${CHANNEL}", "${POLL_RESULT}-${CHANNEL}"),
        ("${CALLERID(num)}", "${CALLERID(num)}"),
        ("0123456789*#", '"0123456789*#"'),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\x", '"C:\\\\x"'),
        ("tab\there", '"tab\there"'),
    ],
)
def test_quote_argument(arg: str, written: str) -> None:
    assert quote_argument(arg) == written


def test_encode_command_matches_the_contract_example() -> None:
    assert encode_command("STREAM FILE", "dialer-prompt", "0123456789*#") == (
        b'STREAM FILE dialer-prompt "0123456789*#"\n'
    )
    assert encode_command("ANSWER") == b"ANSWER\n"
    assert Command.build("GET VARIABLE", "X").argv == ("GET", "VARIABLE", "X")


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "\n"])
def test_line_breaks_and_nul_are_refused_everywhere(bad: str) -> None:
    with pytest.raises(AGIProtocolError):
        encode_command("SET VARIABLE", "X", bad)
    with pytest.raises(AGIProtocolError):
        quote_argument(bad)
    with pytest.raises(AGIProtocolError):
        Command(("VERBOSE", "x"), bad).encode()
    with pytest.raises(AGIProtocolError):
        Environment({"agi_channel": bad}).encode()
    with pytest.raises(AGIProtocolError):
        Environment({}, (bad,)).encode()
    with pytest.raises(AGIProtocolError):
        CommandResult.success(1, bad).encode()


@pytest.mark.parametrize("name", ["", "GET  VARIABLE", "GET VARIABLE ", 'SAY "x"', "a\nb"])
def test_command_names_must_be_bare_words(name: str) -> None:
    with pytest.raises(AGIProtocolError):
        Command.build(name)


def test_too_many_arguments_are_refused_not_truncated() -> None:
    with pytest.raises(AGIProtocolError):
        join_arguments(["x"] * (MAX_KEPT_ARGS + 1))


def test_command_matching_is_case_insensitive_on_words() -> None:
    cmd = Command.parse("get variable CAMPAIGN_ID")
    assert cmd.matches("GET VARIABLE")
    assert not cmd.matches("GET FULL VARIABLE")
    assert cmd.args_after("GET VARIABLE") == ("CAMPAIGN_ID",)
    assert not Command.parse("GET").matches("GET VARIABLE")
