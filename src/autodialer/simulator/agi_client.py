"""The Asterisk side of FastAGI: connect to the AGI server, send the environment, run its commands.

Behaviour from traces 02, 06, 07 (README §6 FastAGI):
* the environment block lists agi_network .. agi_threadid, then agi_arg_N;
* every command is reported as AGIExecStart/AGIExecEnd on the channel;
* when the channel is hung up, a bare `HANGUP` line is sent once: before the answer to the first command that
  started on the dead channel, or at once if the server is idle waiting;
* on a dead channel only VERBOSE, GET/SET VARIABLE, GET FULL VARIABLE, DATABASE and NOOP work; the rest get 511;
* the channel is torn down only when the AGI server closes the socket, never by us.
DTMF digits received while no command reads them stay queued on the channel (a lenient simplification).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from autodialer.protocols.agi import AGIConnection, AGIProtocolError, Command, CommandResult, Environment, HangupNotice
from autodialer.protocols.agi import Role as AGIRole

from .agi_commands import DEAD_OK, execute
from .channels import Channel, Waiter
from .dialplan import split_args
from .pbx import HANGUP

if TYPE_CHECKING:
    from .pbx import PBX

log = logging.getLogger(__name__)


@dataclass
class AGISession:
    pbx: PBX
    ch: Channel
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    conn: AGIConnection
    notice_sent: bool = False
    _read: asyncio.Task[bytes] | None = None
    _dead_since: float | None = None

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def send_notice(self) -> None:
        if not self.notice_sent:
            self.notice_sent = True
            self.write(self.conn.send(HangupNotice()))

    async def next_command(self) -> Command | None:
        """The next command line, or None when the server closed; sends HANGUP if the channel dies meanwhile."""
        while True:
            for event in self.conn.events():
                if isinstance(event, Command):
                    return event
                return None  # ConnectionClosed
            if self._read is None:
                self._read = asyncio.ensure_future(self.reader.read(65536))
            wake = Waiter()
            self.ch.watchers.add(wake)
            timeout = None
            try:
                if self.ch.hungup:
                    self.send_notice()
                    timeout = self._grace_left()
                either: set[asyncio.Future[Any]] = {self._read, wake.future}
                await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.ch.watchers.discard(wake)
                wake.future.cancel()
            if timeout is not None and not self._read.done() and self._grace_left() <= 0:
                log.info(
                    "FastAGI server kept %s open %.0f s after the hangup; closing",
                    self.ch.name,
                    self.pbx.config.agi_hangup_grace_s,
                )
                return None
            if self._read.done():
                try:
                    data = self._read.result()
                except (ConnectionError, OSError):
                    data = b""
                self._read = None
                self.conn.receive_data(data)

    def _grace_left(self) -> float:
        """Real seconds until we stop waiting for the server's close (a safety net Asterisk itself lacks)."""
        loop = asyncio.get_running_loop()
        if self._dead_since is None:
            self._dead_since = loop.time()
        return self._dead_since + self.pbx.clock.real(self.pbx.config.agi_hangup_grace_s) - loop.time()

    def close(self) -> None:
        if self._read is not None:
            self._read.cancel()
        self.writer.close()


def agi_target(pbx: PBX, url: str) -> tuple[str, int, str, str]:
    """(host, port, script, request-url) with the configured host/port override applied."""
    parts = urlsplit(url)
    host = pbx.config.agi_host or parts.hostname or "127.0.0.1"
    port = pbx.config.agi_port or parts.port or 4573
    script = parts.path.lstrip("/")
    return host, port, script, url


def environment(pbx: PBX, ch: Channel, script: str, request: str, args: list[str]) -> Environment:
    variables = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": request,
        "agi_channel": ch.name,
        "agi_language": ch.language,
        "agi_type": ch.tech,
        "agi_uniqueid": ch.uniqueid,
        "agi_version": "22.10.1",
        "agi_callerid": ch.caller_num,
        "agi_calleridname": ch.caller_name,
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "unknown",
        "agi_rdnis": "unknown",
        "agi_context": ch.context,
        "agi_extension": ch.exten,
        "agi_priority": str(ch.priority),
        "agi_enhanced": "0.0",
        "agi_accountcode": ch.accountcode,
        "agi_threadid": str(random.getrandbits(47)),
    }
    return Environment(variables, tuple(args))


def result_text(cmd: Command, res: CommandResult) -> str:
    if res.code != 200:
        return res.text.split(" ", 1)[1] if " " in res.text else res.text
    if cmd.matches("EXEC"):
        return "Success" if res.result == "0" else "Unknown Result"
    return "Failure" if res.result == "-1" and cmd.matches("STREAM FILE") else "Success"


async def run_agi(pbx: PBX, ch: Channel, data: str) -> str:
    """The AGI() application."""
    args = split_args(data)
    host, port, script, request = agi_target(pbx, args[0] if args else "")
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        log.info("FastAGI %s:%s refused for %s", host, port, ch.name)
        pbx.set_var(ch, "AGISTATUS", "FAILURE")
        return HANGUP
    pbx.agi_sessions += 1
    session = AGISession(pbx, ch, reader, writer, AGIConnection(AGIRole.ASTERISK))
    ch.in_agi = True
    try:
        session.write(session.conn.send(environment(pbx, ch, script, request, args[1:])))
        while True:
            cmd = await session.next_command()
            if cmd is None:
                break
            await _run_command(session, cmd)
    except (AGIProtocolError, ConnectionError) as exc:
        log.info("FastAGI session for %s ended: %s", ch.name, exc)
    finally:
        ch.in_agi = False
        session.close()
    if ch.hungup:
        pbx.set_var(ch, "AGISTATUS", "HANGUP")
        return HANGUP
    pbx.set_var(ch, "AGISTATUS", "SUCCESS")
    return ""


async def _run_command(session: AGISession, cmd: Command) -> None:
    pbx, ch = session.pbx, session.ch
    dead_at_start = ch.hungup
    command_id = str(random.getrandbits(31))
    head = [("CommandId", command_id), ("Command", cmd.raw)]
    pbx.chan_event("AGIExecStart", ch, head)
    if dead_at_start and cmd.argv and not any(cmd.matches(name) for name in DEAD_OK):
        res = CommandResult.dead_channel()
    else:
        res = await execute(pbx, ch, cmd)
    if dead_at_start:
        session.send_notice()
    text = result_text(cmd, res)
    # res_agi reports a handler failure's result value as the code (trace 07: ResultCode -1, Result Failure).
    code = res.result if text == "Failure" and res.result is not None else str(res.code)
    pbx.chan_event("AGIExecEnd", ch, [*head, ("ResultCode", code), ("Result", text)])
    session.write(session.conn.send(res))
