"""FastAGIServer over loopback TCP against a fake Asterisk built on the protocol's ASTERISK role.

The recorded sessions (traces 02, 06, 07) are replayed: the fake Asterisk sends the recorded environment,
expects the recorded command lines byte for byte and answers with the recorded results and HANGUP notices;
the handlers are written the way the lab's script behaved and check every answer they get.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tests.asterisk_fixtures import TRACES

from autodialer.adapters.asterisk.agi_call import AGICall, AGICommandError, AGIHangup
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer, route_key
from autodialer.protocols.agi import (
    ASTERISK_TO_SERVER,
    SERVER_TO_ASTERISK,
    AGIConnection,
    Command,
    CommandResult,
    ConnectionClosed,
    Environment,
    HangupNotice,
    Role,
    TranscriptSession,
    parse_transcript,
)

STEP = 2.0  # generous per-step bound so a broken server fails the test instead of hanging it


class FakeAsterisk:
    """One AGI() invocation as Asterisk performs it: connect, send env, answer commands, never close first."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = AGIConnection(Role.ASTERISK)
        self.closed_by_server = False

    @classmethod
    async def connect(cls, port: int) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, item: Environment | CommandResult | HangupNotice) -> None:
        self.writer.write(self.conn.send(item))
        await self.writer.drain()

    async def next_command(self) -> Command | None:
        """The next command line, or None when the server closed the socket."""
        async with asyncio.timeout(STEP):
            while True:
                event = self.conn.next_event()
                if isinstance(event, Command):
                    return event
                if isinstance(event, ConnectionClosed):
                    self.closed_by_server = True
                    return None
                data = await self.reader.read(4096)
                self.conn.receive_data(data)

    async def expect_close(self) -> None:
        command = await self.next_command()
        assert command is None, f"expected the server to close, got {command}"

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[FastAGIServer]:
    srv = FastAGIServer(port=0, hangup_grace=0.05, env_timeout=0.2, stop_timeout=0.5)
    await srv.start()
    yield srv
    await srv.stop()


def env(script: str = "connect", *args: str, uniqueid: str = "dlr-test") -> Environment:
    return Environment(
        {
            "agi_network": "yes",
            "agi_network_script": script,
            "agi_request": f"agi://127.0.0.1:4573/{script}",
            "agi_channel": "Local/5551001@dialer-out-00000001;1",
            "agi_uniqueid": uniqueid,
            "agi_accountcode": "",
        },
        args,
    )


# ---- replay of the recorded sessions -------------------------------------------------------------------


def _sessions() -> dict[str, TranscriptSession]:
    found = [s for p in sorted(TRACES.glob("*.agi.txt")) for s in parse_transcript(p.read_text())]
    return {s.title.split(" from")[0].rsplit(" ", 1)[-1]: s for s in found}


SESSIONS = _sessions()


async def replay(port: int, session: TranscriptSession) -> FakeAsterisk:
    """Play Asterisk's side of ``session`` and check each command the server sends against the record."""
    fake = await FakeAsterisk.connect(port)
    lines = list(session.lines)
    env_end = next(i for i, (d, line) in enumerate(lines) if d == ASTERISK_TO_SERVER and line == "")
    probe = AGIConnection(Role.SERVER)
    probe.receive_data(session.bytes_from(ASTERISK_TO_SERVER))
    recorded_env = probe.next_event()
    assert isinstance(recorded_env, Environment)
    await fake.send(recorded_env)
    for direction, line in lines[env_end + 1 :]:
        if direction == SERVER_TO_ASTERISK:
            command = await fake.next_command()
            assert command is not None and command.raw == line
        elif line == "HANGUP":
            await fake.send(HangupNotice())
        else:
            await fake.send(CommandResult.parse(line))
    await fake.expect_close()  # promptly: the recorded script took 5 s to give up, we must not
    await fake.close()
    return fake


async def connect_like_the_lab(call: AGICall, seen: list[object]) -> None:
    await call.verbose(f"dialer: bridging to {call.args[0]}", 1)
    seen.append(await call.get_variable("CAMPAIGN_ID"))
    timeout = call.args[1].removeprefix("bridge") or "20"
    seen.append(await call.exec("Dial", f"PJSIP/{call.args[0]}", timeout))
    seen.append(await call.get_variable("DIALSTATUS"))
    seen.append(await call.get_variable("HANGUPCAUSE"))
    await call.hangup()
    seen.append(call.hung_up)
    seen.append(await call.get_variable("DIALSTATUS"))  # still works on the dead channel


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("#1", ["42", -1, "ANSWER", "16", True, "ANSWER"]),
        ("#2", ["42", 0, "BUSY", "17", True, "BUSY"]),
        ("#3", ["42", 0, "NOANSWER", "0", True, "NOANSWER"]),
    ],
)
async def test_replays_the_recorded_connect_sessions(
    server: FastAGIServer, number: str, expected: list[object]
) -> None:
    seen: list[object] = []
    server.route("/connect", lambda call: connect_like_the_lab(call, seen))
    await replay(server.port, SESSIONS[number])
    assert seen == expected


async def poll_like_the_lab(call: AGICall, seen: list[object]) -> None:
    assert call.args == ("201", "poll")
    await call.answer()
    seen.append(await call.stream_file("dialer-prompt", "0123456789*#"))
    digits = await call.get_data("dialer-prompt", 6000, 2)
    seen.append(digits)
    seen.append(await call.wait_for_digit(5000))
    await call.set_variable("POLL_RESULT", digits or "")
    seen.append(await call.get_full_variable("${POLL_RESULT}-${CHANNEL}"))
    seen.append(await call.stream_file("dialer-thanks"))
    # The raw command, as the lab's script sent it: stream_file() would check a -1 with CHANNEL STATUS, which
    # the recorded session does not contain (tests/adapters/test_agi_fidelity_hangup.py covers that).
    missing = await call.command("STREAM FILE", "no-such-file", "")
    assert (missing.result, missing.extras) == ("-1", {"endpos": "0"})
    with pytest.raises(AGICommandError) as rejected:
        await call.command("BOGUS COMMAND")
    assert rejected.value.result is not None and rejected.value.result.code == 510
    await call.hangup()
    with pytest.raises(AGIHangup):
        await call.stream_file("dialer-thanks")
    seen.append("done")


async def test_replays_the_recorded_poll_session(server: FastAGIServer) -> None:
    seen: list[object] = []
    server.route("connect", lambda call: poll_like_the_lab(call, seen))
    await replay(server.port, SESSIONS["#4"])
    assert seen == [("1", 7520), "35", "#", "35-Local/5551002@dialer-out-000007d9;1", (None, 8000), "done"]


# ---- hangups, bad peers, bad handlers ------------------------------------------------------------------


async def start_call(
    server: FastAGIServer, handler: Callable[[AGICall], Awaitable[None]], script: str = "connect"
) -> FakeAsterisk:
    server.route(script, handler)
    fake = await FakeAsterisk.connect(server.port)
    await fake.send(env(script, "201"))
    return fake


async def test_hangup_between_command_and_511_raises_agihangup_and_closes(server: FastAGIServer) -> None:
    outcome: list[object] = []

    async def handler(call: AGICall) -> None:
        try:
            await call.stream_file("long-prompt", "#")
        except AGIHangup:
            outcome.append(call.hung_up)
            raise

    fake = await start_call(server, handler)
    assert (await fake.next_command()) == Command.build("STREAM FILE", "long-prompt", "#")
    await fake.send(HangupNotice())
    await fake.send(CommandResult.dead_channel())
    await fake.expect_close()
    assert outcome == [True]
    await fake.close()


async def test_result_minus_one_after_hangup_notice_is_a_hangup(server: FastAGIServer) -> None:
    outcome: list[str] = []

    async def handler(call: AGICall) -> None:
        try:
            await call.wait_for_digit(5000)
        except AGIHangup:
            outcome.append("hangup")

    fake = await start_call(server, handler)
    await fake.next_command()
    await fake.send(HangupNotice())
    await fake.send(CommandResult.success(-1))
    await fake.expect_close()
    assert outcome == ["hangup"]
    await fake.close()


async def test_peer_closing_mid_command_fails_the_command(server: FastAGIServer) -> None:
    outcome: list[str] = []
    finished = asyncio.Event()

    async def handler(call: AGICall) -> None:
        try:
            await call.exec("Dial", "PJSIP/201", "20")
        except AGIHangup:
            outcome.append("hangup")
        finished.set()

    fake = await start_call(server, handler)
    await fake.next_command()
    await fake.close()
    async with asyncio.timeout(STEP):
        await finished.wait()
    assert outcome == ["hangup"]


async def test_hangup_before_environment_is_complete_never_runs_a_handler(server: FastAGIServer) -> None:
    called: list[AGICall] = []

    async def handler(call: AGICall) -> None:
        called.append(call)

    server.route("connect", handler)
    fake = await FakeAsterisk.connect(server.port)
    fake.writer.write(b"agi_network: yes\nagi_network_script: connect\n")
    await fake.writer.drain()
    await fake.close()
    # The server is still healthy: the next call is served.
    second = await start_call(server, handler)
    await second.expect_close()
    await second.close()
    assert len(called) == 1


async def test_silent_peer_is_dropped_after_env_timeout(server: FastAGIServer) -> None:
    fake = await FakeAsterisk.connect(server.port)
    await fake.expect_close()
    await fake.close()


async def test_unknown_route_is_logged_and_closed_cleanly(
    server: FastAGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("connect", lambda call: asyncio.sleep(0))
    fake = await FakeAsterisk.connect(server.port)
    await fake.send(env("nosuch", uniqueid="dlr-unrouted"))
    await fake.expect_close()
    await fake.close()
    assert any("no route" in r.getMessage() and "dlr-unrouted" in r.getMessage() for r in caplog.records)


async def test_handler_exception_is_logged_with_uniqueid_and_server_survives(
    server: FastAGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(call: AGICall) -> None:
        await call.answer()
        raise RuntimeError("bug in handler")

    fake = await start_call(server, broken)
    await fake.next_command()
    await fake.send(CommandResult.success(0))
    await fake.expect_close()
    await fake.close()
    failed = [r for r in caplog.records if r.exc_info and "dlr-test" in r.getMessage()]
    assert failed and "bug in handler" in str(failed[0].exc_info[1] if failed[0].exc_info else "")
    fake = await start_call(server, broken)
    assert (await fake.next_command()) == Command.build("ANSWER")
    await fake.close()


async def test_socket_is_closed_right_after_the_hangup_command(server: FastAGIServer) -> None:
    async def handler(call: AGICall) -> None:
        await call.hangup()

    fake = await start_call(server, handler)
    assert (await fake.next_command()) == Command.build("HANGUP")
    await fake.send(CommandResult.success(1))
    await fake.expect_close()
    await fake.close()


async def test_handler_ignoring_the_hangup_is_cut_off_after_the_grace(server: FastAGIServer) -> None:
    cancelled = asyncio.Event()

    async def stubborn(call: AGICall) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    fake = await start_call(server, stubborn)
    await fake.send(HangupNotice())  # Asterisk never closes the socket itself
    await fake.expect_close()
    assert cancelled.is_set()
    await fake.close()


async def test_garbage_from_asterisk_ends_the_call(server: FastAGIServer) -> None:
    outcome: list[str] = []

    async def handler(call: AGICall) -> None:
        try:
            await call.answer()
        except AGIHangup:
            outcome.append("hangup")

    fake = await start_call(server, handler)
    await fake.next_command()
    fake.writer.write(b"this is not AGI\n")
    await fake.writer.drain()
    await fake.expect_close()
    assert outcome == ["hangup"]
    await fake.close()


async def test_route_is_taken_from_agi_request_when_network_script_is_missing(server: FastAGIServer) -> None:
    called: list[tuple[str, ...]] = []

    async def handler(call: AGICall) -> None:
        called.append(call.args)

    server.route("/poll/", handler)
    fake = await FakeAsterisk.connect(server.port)
    await fake.send(Environment({"agi_request": "agi://127.0.0.1:4573/poll?campaign=7"}, ("a", "b")))
    await fake.expect_close()
    await fake.close()
    assert called == [("a", "b")]
    assert route_key("poll?x=1") == route_key("/poll") == "/poll"


async def test_wire_trace_is_opt_in(server: FastAGIServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="autodialer.agi.wire")

    async def handler(call: AGICall) -> None:
        await call.verbose("hello there")

    fake = await start_call(server, handler)
    await fake.next_command()
    await fake.send(CommandResult.success(1))
    await fake.expect_close()
    await fake.close()
    wire = [r.getMessage() for r in caplog.records if r.name == "autodialer.agi.wire"]
    assert any("S->A" in m and "VERBOSE" in m for m in wire)
    assert any("A->S" in m and "200 result=1" in m for m in wire)


async def test_stop_waits_for_running_calls_then_cancels() -> None:
    srv = FastAGIServer(port=0, hangup_grace=0.05)
    await srv.start()
    finished: list[str] = []

    async def quick(call: AGICall) -> None:
        await call.verbose("bye")
        finished.append("quick")

    async def forever(call: AGICall) -> None:
        await asyncio.Event().wait()

    srv.route("quick", quick)
    srv.route("forever", forever)
    slow_fake = await FakeAsterisk.connect(srv.port)
    await slow_fake.send(env("forever"))
    quick_fake = await FakeAsterisk.connect(srv.port)
    await quick_fake.send(env("quick"))
    await quick_fake.next_command()
    async with asyncio.timeout(STEP):
        while srv.active_calls < 2:
            await asyncio.sleep(0)
    stopping = asyncio.create_task(srv.stop(timeout=0.1))
    await quick_fake.send(CommandResult.success(1))
    await quick_fake.expect_close()
    await slow_fake.expect_close()
    await stopping
    assert finished == ["quick"]
    assert srv.active_calls == 0
    with pytest.raises(OSError):
        await FakeAsterisk.connect(srv.port)
    await quick_fake.close()
    await slow_fake.close()


async def test_a_burst_of_answered_calls_is_queued_while_the_loop_is_busy(server: FastAGIServer) -> None:
    # Each answered call opens a connection (up to ~400/s). While our loop is busy nothing is accepted; with
    # asyncio's default backlog (100) the kernel then drops the SYNs of the rest and each customer waits for TCP's
    # retry after 1 s. 300 connects made while the loop cannot accept (they block it) must all complete at once.
    sockets = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # a drop would block 1 s or more
            sockets.append(s)
    finally:
        for s in sockets:
            s.close()
    assert len(sockets) == 300
