"""The typed API a FastAGI handler uses for one call, and the errors it raises.

Exception tree::

    AGIError                 anything that stops an AGI command from giving a usable answer
    ├── AGIHangup            the channel is gone: 511, result -1 after HANGUP, or the socket is closed
    ├── AGICommandError      Asterisk rejected the command: 510 (unknown) or 520 (usage), any other non-200
    └── AGICommandFailed     200 result=-1 on a live channel (e.g. STREAM FILE of a missing file); a -1 on a
                             channel not yet known dead is checked with CHANNEL STATUS first (see _checked)

Hangups are facts, not failures of ours: ``hung_up`` turns true when Asterisk sends ``HANGUP`` or after our
own ``HANGUP`` command. Commands are still sent after that, because some work on a dead channel
(``GET VARIABLE`` returned DIALSTATUS after ``HANGUP`` in trace 02); Asterisk answers the others with 511,
which becomes AGIHangup. ``hangup()`` never raises for an already dead channel.

Digit results: STREAM FILE and WAIT FOR DIGIT return the ASCII code of the key (``result=49`` is ``"1"``,
0 means none); GET DATA returns the digits themselves (``result=35`` is ``"35"``; ``result=`` is none).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from autodialer.protocols.agi import (
    DEAD_CHANNEL,
    SUCCESS,
    Command,
    CommandResult,
    Environment,
)


class AGIError(Exception):
    """Base of the FastAGI adapter errors; ``result`` is Asterisk's answer when there was one."""

    error_id = "agi-error"

    def __init__(self, message: str, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class AGIHangup(AGIError):
    error_id = "agi-hangup"


class AGICommandError(AGIError):
    error_id = "agi-command-rejected"


class AGICommandFailed(AGIError):
    error_id = "agi-command-failed"


class CommandRunner(Protocol):
    """What AGICall needs from the session that owns the socket."""

    @property
    def hung_up(self) -> bool: ...

    def mark_hung_up(self) -> None: ...

    async def execute(self, command: Command) -> CommandResult:
        """Send ``command`` and return its result; raise AGIHangup if the connection is or gets closed."""
        ...


class AGICall:
    """One FastAGI call: the environment Asterisk sent and the commands a handler may run on it."""

    def __init__(self, env: Environment, runner: CommandRunner) -> None:
        self.env = env
        self.args = env.args
        self._runner = runner

    @property
    def hung_up(self) -> bool:
        return self._runner.hung_up

    @property
    def uniqueid(self) -> str:
        return self.env.uniqueid

    @property
    def channel(self) -> str:
        return self.env.channel

    async def command(self, name: str, *args: str) -> CommandResult:
        """Run any AGI command. Raises AGIHangup on 511 and AGICommandError on other non-200 answers."""
        result = await self._runner.execute(Command.build(name, *args))
        if result.code == DEAD_CHANNEL:
            self._runner.mark_hung_up()
            raise AGIHangup(f"{name}: channel is dead", result)
        if result.code != SUCCESS:
            raise AGICommandError(f"{name}: {result.text.splitlines()[0]}", result)
        return result

    async def _checked(self, name: str, *args: str) -> CommandResult:
        """A command whose negative result means failure: AGIHangup if the channel is gone, else AGICommandFailed.

        A hangup during the command (STREAM FILE, WAIT FOR DIGIT, GET DATA, ANSWER) gives ``200 result=-1`` first;
        res_agi's run_agi notices the hangup only on its next loop turn and writes ``HANGUP`` as a separate line
        after it (trace 02: ``200 result=-1`` of EXEC Dial, then ``HANGUP`` before the next result). So a -1 on a
        channel not yet known dead is followed by ``CHANNEL STATUS``: res_agi answers it with 511 once it marked
        the channel dead (whatever AGISIGHUP says), and with the channel state while it is alive, e.g. after a
        STREAM FILE of a missing file (trace 07: ``200 result=-1 endpos=0`` on a live channel).
        """
        result = await self.command(name, *args)
        if (result.result or "").startswith("-"):
            if self.hung_up or await self._channel_gone():
                raise AGIHangup(f"{name}: channel hung up", result)
            raise AGICommandFailed(f"{name}: failed ({result.text})", result)
        return result

    async def _channel_gone(self) -> bool:
        """Whether the channel is dead: CHANNEL STATUS is refused (511) on a dead channel only."""
        try:
            await self.command("CHANNEL STATUS")
        except AGIHangup:  # 511, or the connection is gone
            return True
        except AGICommandError:  # a peer without CHANNEL STATUS: no news
            pass
        return self.hung_up

    async def answer(self) -> None:
        await self._checked("ANSWER")

    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        """Play ``name``; return the key that interrupted it (None if it played out) and the end position."""
        result = await self._checked("STREAM FILE", name, escape_digits)
        endpos = result.extras.get("endpos", "0")
        return _ascii_digit(result), int(endpos) if endpos.isdigit() else 0

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None:
        """Play ``file`` and collect up to ``max_digits`` keys; None when nothing was pressed."""
        result = await self._checked("GET DATA", file, str(timeout_ms), str(max_digits))
        return result.result or None

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key (``timeout_ms`` -1 waits forever); None on timeout."""
        return _ascii_digit(await self._checked("WAIT FOR DIGIT", str(timeout_ms)))

    async def exec(self, app: str, *args: str) -> int:
        """Run a dialplan application (args joined with ``,``) and return its result; EXEC Dial gives -1
        when the caller hung up during the bridge, which is an answer here, not an error."""
        options = (",".join(args),) if args else ()
        result = await self.command("EXEC", app, *options)
        return result.result_int() or 0

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set. Works on a dead channel."""
        return _variable(await self.command("GET VARIABLE", name))

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate ``expression`` (e.g. ``${CALLERID(num)}``) with functions, as the dialplan would."""
        extra = (channel,) if channel else ()
        return _variable(await self.command("GET FULL VARIABLE", expression, *extra))

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, str(level))

    async def hangup(self) -> None:
        """Hang the channel up. A channel that is already gone is not an error."""
        with contextlib.suppress(AGIHangup):
            await self.command("HANGUP")
        self._runner.mark_hung_up()


def _ascii_digit(result: CommandResult) -> str | None:
    code = result.result_int() or 0
    return chr(code) if 0 < code < 128 else None


def _variable(result: CommandResult) -> str | None:
    return result.data if result.result == "1" else None
