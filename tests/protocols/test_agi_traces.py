"""Every recorded FastAGI session (traces 02, 06, 07) fed to both roles: whole, byte by byte, in random splits.

The server role gets Asterisk's bytes (after the dialogue's commands were sent), the Asterisk role gets the
server's bytes. The events must not depend on how the bytes were split, and re-encoding the events must give
back exactly the bytes that were on the wire.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.asterisk_fixtures import TRACES

from autodialer.protocols.agi import (
    ASTERISK_TO_SERVER,
    SERVER_TO_ASTERISK,
    AGIConnection,
    Command,
    CommandResult,
    ConnectionClosed,
    Environment,
    Event,
    HangupNotice,
    Role,
    TranscriptSession,
    parse_transcript,
)


def _sessions() -> list[TranscriptSession]:
    return [s for path in sorted(TRACES.glob("*.agi.txt")) for s in parse_transcript(path.read_text())]


SESSIONS = _sessions()
IDS = [s.title.split(" from")[0].replace("FastAGI connection ", "") for s in SESSIONS]


def feed(conn: AGIConnection, chunks: list[bytes], eof: bool = True) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events.extend(conn.events())
    if eof:
        conn.receive_data(b"")
        events.extend(conn.events())
    return events


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [c for c in chunks if c]  # b"" would mean EOF


def server_events(session: TranscriptSession, chunks: list[bytes]) -> list[Event]:
    conn = AGIConnection(Role.SERVER)
    sent = b"".join(conn.send(Command.parse(line)) for line in session.lines_from(SERVER_TO_ASTERISK))
    assert sent == session.bytes_from(SERVER_TO_ASTERISK)
    return feed(conn, chunks)


def asterisk_events(chunks: list[bytes]) -> list[Event]:
    return feed(AGIConnection(Role.ASTERISK), chunks)


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("session", SESSIONS, ids=IDS)
def test_server_role_reads_asterisk_stream_identically_whole_and_bytewise(session: TranscriptSession) -> None:
    data = session.bytes_from(ASTERISK_TO_SERVER)
    whole = server_events(session, [data])
    assert server_events(session, bytewise(data)) == whole
    assert isinstance(whole[0], Environment)
    assert whole[-1] == ConnectionClosed()
    # One event per line after the environment block: results and HANGUP notices in wire order.
    after_env = session.lines_from(ASTERISK_TO_SERVER)[len(whole[0].variables) + len(whole[0].args) + 1 :]
    assert [e.text if isinstance(e, CommandResult) else "HANGUP" for e in whole[1:-1]] == list(after_env)
    results = [e for e in whole if isinstance(e, CommandResult)]
    assert len(results) == len(session.lines_from(SERVER_TO_ASTERISK))


@pytest.mark.parametrize("session", SESSIONS, ids=IDS)
def test_asterisk_role_reads_server_stream_identically_whole_and_bytewise(session: TranscriptSession) -> None:
    data = session.bytes_from(SERVER_TO_ASTERISK)
    whole = asterisk_events([data])
    assert asterisk_events(bytewise(data)) == whole
    commands = [e for e in whole if isinstance(e, Command)]
    assert [c.raw for c in commands] == list(session.lines_from(SERVER_TO_ASTERISK))
    # Our quoting writes exactly what the lab's server wrote, so a replay is byte-identical.
    assert [Command.build(c.argv[0], *c.argv[1:]).raw for c in commands] == [c.raw for c in commands]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_splits_give_identical_events_in_both_roles(data: st.DataObject) -> None:
    session = data.draw(st.sampled_from(SESSIONS))
    a2s = session.bytes_from(ASTERISK_TO_SERVER)
    s2a = session.bytes_from(SERVER_TO_ASTERISK)
    cuts_a = data.draw(st.lists(st.integers(0, len(a2s)), max_size=40))
    cuts_s = data.draw(st.lists(st.integers(0, len(s2a)), max_size=20))
    assert server_events(session, split(a2s, cuts_a)) == server_events(session, [a2s])
    assert asterisk_events(split(s2a, cuts_s)) == asterisk_events([s2a])


@pytest.mark.parametrize("session", SESSIONS, ids=IDS)
def test_interleaved_replay_rebuilds_both_byte_streams_exactly(session: TranscriptSession) -> None:
    """Play the dialogue in wire order through a server and an Asterisk connection back to back."""
    server = AGIConnection(Role.SERVER)
    asterisk = AGIConnection(Role.ASTERISK)
    wrote_by_asterisk = bytearray()
    server_saw: list[Event] = []
    env_lines: list[str] | None = []
    for direction, line in session.lines:
        if direction == SERVER_TO_ASTERISK:
            asterisk.receive_data(server.send(Command.parse(line)))
            assert list(asterisk.events()) == [Command.parse(line)]
            continue
        item: Environment | CommandResult | HangupNotice
        if env_lines is not None:
            env_lines.append(line)
            if line:
                continue
            item, env_lines = _environment_from(env_lines), None
        elif line == "HANGUP":
            item = HangupNotice()
        else:
            item = CommandResult.parse(line)
        chunk = asterisk.send(item)
        wrote_by_asterisk += chunk
        server.receive_data(chunk)
        server_saw.extend(server.events())
    assert bytes(wrote_by_asterisk) == session.bytes_from(ASTERISK_TO_SERVER)
    assert server_saw == server_events(session, [session.bytes_from(ASTERISK_TO_SERVER)])[:-1]
    assert server.unanswered == 0 and asterisk.unanswered == 0


def _environment_from(lines: list[str]) -> Environment:
    conn = AGIConnection(Role.SERVER)
    conn.receive_data("".join(line + "\n" for line in lines).encode())
    (env,) = list(conn.events())
    assert isinstance(env, Environment)
    return env


def _session(number: str) -> TranscriptSession:
    return next(s for s in SESSIONS if s.title.startswith(f"FastAGI connection #{number} "))


def test_trace_02_environment_and_results() -> None:
    events = server_events(_session("1"), [_session("1").bytes_from(ASTERISK_TO_SERVER)])
    env = events[0]
    assert isinstance(env, Environment)
    assert env.args == ("201", "bridge")
    assert env.variables["agi_accountcode"] == ""
    assert env.script == "/connect"
    assert env.uniqueid == "dlr-68c70912c8de"
    assert env.channel == "Local/5551001@dialer-out-000007d0;1"
    assert "agi_arg_1" not in env.variables
    assert events[1:4] == [
        CommandResult.success(1),
        CommandResult.success(1, "42"),
        CommandResult.success(-1),
    ]
    # GET VARIABLE DIALSTATUS: HANGUP arrives between the command and its result.
    assert events[4:6] == [HangupNotice(), CommandResult.success(1, "ANSWER")]
    assert events[7] == CommandResult.dead_channel()


def test_trace_07_stream_file_digit_and_get_full_variable() -> None:
    session = _session("4")
    events = server_events(session, [session.bytes_from(ASTERISK_TO_SERVER)])
    results = [e for e in events if isinstance(e, CommandResult)]
    assert results[1] == CommandResult(200, "49", None, {"endpos": "7520"})
    assert results[1].result_int() == 49
    assert results[5].data == "35-Local/5551002@dialer-out-000007d9;1"
    assert results[7] == CommandResult(200, "-1", None, {"endpos": "0"})
    assert results[8].code == 510 and results[8].text == "510 Invalid or unknown command"
    assert events[-3:] == [HangupNotice(), CommandResult.dead_channel(), ConnectionClosed()]
    commands = asterisk_events([session.bytes_from(SERVER_TO_ASTERISK)])
    assert commands[1] == Command(
        ("STREAM", "FILE", "dialer-prompt", "0123456789*#"), 'STREAM FILE dialer-prompt "0123456789*#"'
    )
    assert isinstance(commands[6], Command)
    assert commands[6].argv == ("STREAM", "FILE", "dialer-thanks", "")
