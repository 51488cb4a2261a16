"""Sans-IO FastAGI connection: bytes in, events out; events in, bytes out. No sockets, no clock.

Two roles share one framing (lines ended by ``\\n``):

* ``Role.SERVER`` (our FastAGI server) reads the environment block, then result lines and ``HANGUP``;
* ``Role.ASTERISK`` (the simulator) reads command lines and writes the environment, results and ``HANGUP``.

Invariants:

* any byte stream, however split across ``receive_data`` calls, yields the same events, or raises
  :class:`AGIProtocolError`, never anything else; after an error every ``next_event`` raises again;
* the receive buffer is bounded: a line longer than ``max_line_length`` is an error, not a memory leak;
* ``HangupNotice`` never consumes a result: results are matched to commands in FIFO order, and a result
  with no command waiting for it is an error (SERVER role). The ASTERISK role refuses to send a result
  nobody asked for, or anything before the environment.

Bytes are decoded as UTF-8 with ``surrogateescape``, so a caller-ID name in another charset survives the
round trip instead of killing the call. Only ``\\n`` ends a line; a ``\\r`` is kept as content, exactly as
Asterisk (which strips only the ``\\n``) would see it. At EOF the ASTERISK role treats an unterminated last
line as a command, because Asterisk's ``fgets`` would; the SERVER role calls it a protocol error.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from autodialer.protocols.agi.command import Command
from autodialer.protocols.agi.environment import Environment, EnvironmentBuilder
from autodialer.protocols.agi.errors import AGIProtocolError
from autodialer.protocols.agi.events import NEED_DATA, ConnectionClosed, Event, HangupNotice, NeedData
from autodialer.protocols.agi.results import CommandResult, parse_result_line, status_line

DEFAULT_MAX_LINE_LENGTH = 16 * 1024
DEFAULT_MAX_ENV_LINES = 512
DEFAULT_MAX_BLOCK_LINES = 1000


class Role(enum.Enum):
    SERVER = "server"
    ASTERISK = "asterisk"


class AGIConnection:
    """One FastAGI session seen from ``role``. Feed :meth:`receive_data`, drain :meth:`next_event`."""

    def __init__(
        self,
        role: Role,
        *,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        max_env_lines: int = DEFAULT_MAX_ENV_LINES,
        max_block_lines: int = DEFAULT_MAX_BLOCK_LINES,
    ) -> None:
        self.role = role
        self._max_line_length = max_line_length
        self._max_block_lines = max_block_lines
        self._buffer = bytearray()
        self._scan_from = 0  # bytes of _buffer already known to hold no newline
        self._eof = False
        self._closed_reported = False
        self._error: AGIProtocolError | None = None
        # Commands sent (SERVER) or received (ASTERISK) that still wait for their result.
        self._unanswered = 0
        self._env: EnvironmentBuilder | None = EnvironmentBuilder(max_env_lines) if role is Role.SERVER else None
        self._block: list[str] | None = None  # lines of a multi-line result (520-...) being read
        self._env_sent = False

    @property
    def unanswered(self) -> int:
        """How many commands still wait for a result."""
        return self._unanswered

    # ---- receiving -------------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; ``b""`` means the peer closed. Parsing happens in :meth:`next_event`."""
        if self._eof:
            if data:
                raise AGIProtocolError("data received after the connection was closed")
            return
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        """The next complete event, or ``NEED_DATA``. Raises AGIProtocolError on a framing violation."""
        if self._error is not None:
            raise AGIProtocolError(f"connection already failed: {self._error}") from self._error
        try:
            return self._next_event()
        except AGIProtocolError as exc:
            self._error = exc
            raise

    def events(self) -> Iterator[Event]:
        """Drain every event available now."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event

    def _next_event(self) -> Event | NeedData:
        while True:
            line = self._take_line()
            if line is None:
                return self._at_buffer_end()
            event = self._handle_line(line)
            if event is not None:
                return event

    def _take_line(self) -> str | None:
        end = self._buffer.find(b"\n", self._scan_from)
        if end < 0:
            self._scan_from = len(self._buffer)
            if len(self._buffer) > self._max_line_length:
                raise AGIProtocolError(f"line longer than {self._max_line_length} bytes")
            return None
        if end > self._max_line_length:
            raise AGIProtocolError(f"line longer than {self._max_line_length} bytes")
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scan_from = 0
        return self._decode(raw)

    def _at_buffer_end(self) -> Event | NeedData:
        if not self._eof or self._closed_reported:
            return NEED_DATA
        if self._buffer:
            if self.role is Role.SERVER:
                raise AGIProtocolError("connection closed in the middle of a line")
            # Asterisk's fgets() hands an unterminated last line to the command parser as is.
            line = self._decode(bytes(self._buffer))
            self._buffer.clear()
            event = self._handle_line(line)
            if event is not None:
                return event
        self._closed_reported = True
        return ConnectionClosed()

    @staticmethod
    def _decode(raw: bytes) -> str:
        if b"\x00" in raw:
            raise AGIProtocolError("NUL byte in an AGI line")
        return raw.decode("utf-8", "surrogateescape")

    def _handle_line(self, line: str) -> Event | None:
        if self.role is Role.ASTERISK:
            self._unanswered += 1
            return Command.parse(line)
        if self._env is not None:
            if line:
                self._env.add_line(line)
                return None
            env, self._env = self._env.build(), None
            return env
        if self._block is not None:
            return self._continue_block(line)
        if line == "HANGUP":
            return HangupNotice()
        status = status_line(line)
        if status is None:
            raise AGIProtocolError(f"unexpected line from Asterisk: {line[:80]!r}")
        self._expect_result()
        if status[1]:
            self._block = [line]
            return None
        return self._answered(parse_result_line(line))

    def _continue_block(self, line: str) -> CommandResult | None:
        assert self._block is not None
        self._block.append(line)
        code = self._block[0][:3]
        if not line.startswith(code + " "):
            if len(self._block) > self._max_block_lines:
                raise AGIProtocolError(f"multi-line result longer than {self._max_block_lines} lines")
            return None
        text, self._block = "\n".join(self._block), None
        return self._answered(CommandResult(int(code), text=text))

    def _expect_result(self) -> None:
        if self._unanswered == 0:
            raise AGIProtocolError("result received while no command was waiting for one")

    def _answered(self, result: CommandResult) -> CommandResult:
        self._unanswered -= 1
        return result

    # ---- sending ---------------------------------------------------------------------------------------

    def send(self, item: Command | Environment | CommandResult | HangupNotice) -> bytes:
        """The bytes for ``item``. Raises AGIProtocolError for what this role may not send now."""
        if self.role is Role.SERVER:
            if not isinstance(item, Command):
                raise AGIProtocolError(f"the server role sends commands only, not {type(item).__name__}")
            data = item.encode()
            self._unanswered += 1
            return data
        if isinstance(item, Command):
            raise AGIProtocolError("the Asterisk role does not send commands")
        if isinstance(item, Environment):
            if self._env_sent:
                raise AGIProtocolError("the environment was already sent")
            data = item.encode()
            self._env_sent = True
            return data
        if not self._env_sent:
            raise AGIProtocolError("the environment must be sent first")
        if isinstance(item, HangupNotice):
            return b"HANGUP\n"
        if self._unanswered == 0:
            raise AGIProtocolError("no command is waiting for a result")
        data = item.encode()
        self._unanswered -= 1
        return data
