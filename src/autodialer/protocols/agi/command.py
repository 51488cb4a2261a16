"""An AGI command line, as the server writes it and as Asterisk splits it.

``raw`` is what travels (without the ``\\n``); ``argv`` is what Asterisk understands from it. Build commands
with :meth:`Command.build` (quotes as needed) and parse received lines with :meth:`Command.parse` (Asterisk's
splitting rules); both keep the invariant ``Command.parse(cmd.raw).argv == cmd.argv``.
"""

from __future__ import annotations

from dataclasses import dataclass

from autodialer.protocols.agi.arguments import (
    command_words,
    join_arguments,
    refuse_line_breaks,
    split_arguments,
)
from autodialer.protocols.agi.errors import AGIProtocolError

# res_agi.c run_agi(): ``char buf[AGI_BUF_LEN]`` (2048) filled by fgets() until a newline or until it is full, so
# at most 2047 bytes, newline included, make one command; the rest of a longer line is read as a command of its
# own and answered too, which would pair every later result with the wrong command.
AGI_BUF_LEN = 2048
MAX_COMMAND_BYTES = AGI_BUF_LEN - 2  # without the newline


@dataclass(frozen=True)
class Command:
    """One AGI command. ``argv`` holds the command words too: ``("STREAM", "FILE", "prompt", "#")``."""

    argv: tuple[str, ...]
    raw: str

    @classmethod
    def build(cls, name: str, *args: str) -> Command:
        """``Command.build("STREAM FILE", "prompt", "")`` -> raw ``STREAM FILE prompt ""``.

        ``name`` is one or more bare words; every arg is quoted when Asterisk would otherwise split or
        unescape it. Raises AGIProtocolError for CR/LF/NUL or more than 127 words.
        """
        argv = command_words(name) + tuple(args)
        return cls(argv=argv, raw=join_arguments(argv))

    @classmethod
    def parse(cls, raw: str) -> Command:
        """Split a received line (newline removed) the way Asterisk does. Never raises for CR/LF-free text."""
        return cls(argv=split_arguments(raw), raw=raw)

    def matches(self, name: str) -> bool:
        """Case-insensitive test of the leading command words: ``cmd.matches("get variable")``."""
        words = name.split()
        return len(self.argv) >= len(words) and all(
            a.casefold() == w.casefold() for a, w in zip(self.argv, words, strict=False)
        )

    def args_after(self, name: str) -> tuple[str, ...]:
        """The arguments that follow the command words ``name`` (call after :meth:`matches`)."""
        return self.argv[len(name.split()) :]

    def encode(self) -> bytes:
        """The wire bytes: ``raw`` plus ``\\n``. Raises AGIProtocolError if ``raw`` holds CR, LF or NUL, or is
        longer than the MAX_COMMAND_BYTES Asterisk reads as one command."""
        refuse_line_breaks(self.raw)
        data = self.raw.encode("utf-8", "surrogateescape")
        if len(data) > MAX_COMMAND_BYTES:
            raise AGIProtocolError(f"AGI command of {len(data)} bytes; Asterisk splits lines over {MAX_COMMAND_BYTES}")
        return data + b"\n"


def encode_command(name: str, *args: str) -> bytes:
    """``encode_command("STREAM FILE", "dialer-prompt", "0123456789*#")``
    -> ``b'STREAM FILE dialer-prompt "0123456789*#"\\n'``."""
    return Command.build(name, *args).encode()
