"""A hangup during a FastAGI command, with the bytes in the order res_agi writes them.

When the channel hangs up while STREAM FILE, WAIT FOR DIGIT, GET DATA or ANSWER runs, res_agi first answers the
command (``200 result=-1 endpos=N`` for STREAM FILE) and only on its next loop turn notices the hangup and writes
``HANGUP`` as a line of its own (run_agi: ``needhup`` -> ``ast_agi_send(..., "HANGUP\\n")``); trace 02 shows it
after EXEC Dial's ``200 result=-1``, as a separate write 0.2 ms later. A server that reads the -1 before that line
arrives must not call the channel alive and the prompt unplayable. A -1 on a live channel (trace 07: STREAM FILE
of a missing file, ``200 result=-1 endpos=0``, no HANGUP) is still a failure of the command.

The fake Asterisk here writes raw bytes over loopback TCP and sends each line in its own write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from autodialer.adapters.asterisk.agi_call import AGICall, AGICommandFailed, AGIHangup
from autodialer.adapters.asterisk.agi_channel import AGIChannel
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer

STEP = 2.0
ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: poll\n"
    b"agi_request: agi://127.0.0.1:4573/poll\n"
    b"agi_channel: Local/5551002@dialer-out-000007d9;1\n"
    b"agi_uniqueid: dlr-24ba40ef071d\n"
    b"agi_accountcode: \n"
    b"agi_arg_1: 201\n"
    b"agi_arg_2: poll\n"
    b"\n"
)


@pytest.fixture
async def server() -> AsyncIterator[FastAGIServer]:
    srv = FastAGIServer(port=0, hangup_grace=0.5, env_timeout=0.5, stop_timeout=0.5)
    await srv.start()
    yield srv
    await srv.stop()


class RawAsterisk:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        await writer.drain()
        return cls(reader, writer)

    async def expect(self, line: bytes) -> None:
        async with asyncio.timeout(STEP):
            assert await self.reader.readline() == line

    async def write(self, *lines: bytes) -> None:
        for line in lines:  # one write per ast_agi_send
            self.writer.write(line)
            await self.writer.drain()
            await asyncio.sleep(0.01)

    async def expect_close(self) -> None:
        async with asyncio.timeout(STEP):
            assert await self.reader.read() == b""
        self.writer.close()
        await self.writer.wait_closed()


async def test_hangup_during_stream_file_is_a_hangup_even_when_the_notice_comes_after_the_result(
    server: FastAGIServer,
) -> None:
    seen: list[object] = []

    async def handler(call: AGICall) -> None:
        channel = AGIChannel(call)
        seen.append(await channel.stream_file("dialer-prompt", "0123456789*#"))
        seen.append(channel.hung_up)

    server.route("/poll", handler)
    pbx = await RawAsterisk.connect(server.port)
    await pbx.expect(b'STREAM FILE dialer-prompt "0123456789*#"\n')
    await pbx.write(b"200 result=-1 endpos=4000\n")
    await pbx.expect(b"CHANNEL STATUS\n")
    await pbx.write(b"HANGUP\n", b"511 Command Not Permitted on a dead channel or intercept routine\n")
    await pbx.expect_close()
    assert seen == [(None, 0), True]


async def test_a_dead_channel_is_recognised_by_the_511_even_without_a_hangup_line(server: FastAGIServer) -> None:
    """AGISIGHUP=no suppresses the HANGUP line, not the 511 for channel commands on a dead channel."""
    outcome: list[object] = []

    async def handler(call: AGICall) -> None:
        try:
            await call.wait_for_digit(5000)
        except AGIHangup as exc:
            outcome.append(("hangup", exc.result.text if exc.result else None, call.hung_up))

    server.route("/poll", handler)
    pbx = await RawAsterisk.connect(server.port)
    await pbx.expect(b"WAIT FOR DIGIT 5000\n")
    await pbx.write(b"200 result=-1\n")
    await pbx.expect(b"CHANNEL STATUS\n")
    await pbx.write(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    await pbx.expect_close()
    assert outcome == [("hangup", "200 result=-1", True)]


async def test_missing_file_on_a_live_channel_is_still_a_failed_command(server: FastAGIServer) -> None:
    outcome: list[object] = []

    async def handler(call: AGICall) -> None:
        try:
            await call.stream_file("no-such-file")
        except AGICommandFailed as exc:
            outcome.append(("failed", exc.result.extras if exc.result else None, call.hung_up))
        await call.hangup()

    server.route("/poll", handler)
    pbx = await RawAsterisk.connect(server.port)
    await pbx.expect(b'STREAM FILE no-such-file ""\n')
    await pbx.write(b"200 result=-1 endpos=0\n")  # trace 07
    await pbx.expect(b"CHANNEL STATUS\n")
    await pbx.write(b"200 result=6\n")  # res_agi handle_channelstatus: AST_STATE_UP
    await pbx.expect(b"HANGUP\n")
    await pbx.write(b"200 result=1\n")
    await pbx.expect_close()
    assert outcome == [("failed", {"endpos": "0"}, False)]
