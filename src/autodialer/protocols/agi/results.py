"""AGI result lines: ``200 result=N [(data)] [key=value ...]``, ``510``, ``511`` and multi-line ``520``.

Shapes written by Asterisk 22's res_agi (the traces and res_agi.c):

* ``200 result=1`` / ``200 result=1 (42)`` / ``200 result=49 endpos=7520`` / ``200 result= (timeout)``
  (GET DATA with no digit: the result is the empty string) / ``200 result=1 (digit) digit=5 endpos=100``;
* ``510 Invalid or unknown command``;
* ``511 Command Not Permitted on a dead channel or intercept routine``;
* ``520 Invalid command syntax.  Proper usage not available.`` (one line) or
  ``520-Invalid command syntax.  Proper usage follows:`` + usage lines + ``520 End of proper usage.``

The data in parentheses runs to the *last* ``)`` of the line, because a GET VARIABLE value may itself
contain ``)`` or spaces. Words after it are ``key=value`` extras; a word without ``=`` belongs to the value
before it (``results=2 foo bar``). ``text`` always holds the complete line(s) without the final newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autodialer.protocols.agi.errors import AGIProtocolError

SUCCESS = 200
INVALID_COMMAND = 510
DEAD_CHANNEL = 511
USAGE = 520

_DEFAULT_TEXT = {
    INVALID_COMMAND: "510 Invalid or unknown command",
    DEAD_CHANNEL: "511 Command Not Permitted on a dead channel or intercept routine",
    USAGE: "520 Invalid command syntax.  Proper usage not available.",
}
USAGE_FIRST_LINE = "520-Invalid command syntax.  Proper usage follows:"
USAGE_LAST_LINE = "520 End of proper usage."

_STATUS_LINE = re.compile(r"([0-9]{3})([ -])(.*)", re.DOTALL)


@dataclass(frozen=True)
class CommandResult:
    """Asterisk's answer to one command. Left empty, ``text`` is filled with the canonical wire text."""

    code: int
    result: str | None = None
    data: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        if self.code == SUCCESS and self.result is None:
            object.__setattr__(self, "result", "")  # "200 result=" reads back as the empty string
        if not self.text:
            object.__setattr__(self, "text", _format(self))

    @classmethod
    def parse(cls, text: str) -> CommandResult:
        """Read a result from its wire text (without the final newline), single- or multi-line.

        Raises AGIProtocolError when ``text`` is not one complete result.
        """
        lines = text.split("\n")
        if len(lines) == 1:
            return parse_result_line(text)
        first = status_line(lines[0])
        if first is None or not first[1]:
            raise AGIProtocolError(f"not a multi-line result: {text[:80]!r}")
        result = cls(first[0], text=text)
        result.encode()  # validates the block's shape
        return result

    @classmethod
    def success(cls, result: str | int, data: str | None = None, **extras: str | int) -> CommandResult:
        """``CommandResult.success(49, endpos=7520)`` -> ``200 result=49 endpos=7520``."""
        return cls(SUCCESS, str(result), data, {k: str(v) for k, v in extras.items()})

    @classmethod
    def invalid_command(cls) -> CommandResult:
        return cls(INVALID_COMMAND)

    @classmethod
    def dead_channel(cls) -> CommandResult:
        return cls(DEAD_CHANNEL)

    @classmethod
    def usage_error(cls, usage: str | None = None) -> CommandResult:
        """The 520 answer: multi-line when ``usage`` text is given, else the single-line form."""
        if usage is None:
            return cls(USAGE)
        return cls(USAGE, text=f"{USAGE_FIRST_LINE}\n{usage.rstrip(chr(10))}\n{USAGE_LAST_LINE}")

    @property
    def usage(self) -> str:
        """For a multi-line 520: the usage text between the first and the last line; else ``""``."""
        lines = self.text.split("\n")
        return "\n".join(lines[1:-1])

    def result_int(self) -> int | None:
        """``result`` as an int, or None when absent or not a number (``result=`` of GET DATA)."""
        try:
            return int(self.result) if self.result is not None else None
        except ValueError:
            return None

    def encode(self) -> bytes:
        """The wire bytes. Raises AGIProtocolError unless they parse back to this very result."""
        if "\r" in self.text or "\x00" in self.text:
            raise AGIProtocolError(f"CR/NUL cannot be sent in a result: {self.text!r}")
        lines = self.text.split("\n")
        if len(lines) > 1:
            middle_ends_block = any(line.startswith(f"{self.code} ") for line in lines[1:-1])
            if not lines[0].startswith(f"{self.code}-") or middle_ends_block:
                raise AGIProtocolError(f"malformed multi-line result: {self.text[:80]!r}")
            lines = lines[-1:]
        parsed = parse_result_line(lines[0])
        same = parsed.code == self.code
        if self.code == SUCCESS and len(self.text.split("\n")) == 1:
            same = same and (parsed.result, parsed.data, parsed.extras) == (self.result, self.data, self.extras)
        if not same:
            raise AGIProtocolError(f"{self.text[:80]!r} would not be read back as this result")
        return (self.text + "\n").encode("utf-8", "surrogateescape")


def _format(res: CommandResult) -> str:
    if res.code != SUCCESS:
        if res.result is not None:
            return f"{res.code} result={res.result}"
        return _DEFAULT_TEXT.get(res.code, f"{res.code} Error")
    for part in (res.result, res.data, *res.extras, *res.extras.values()):
        if part is not None and "\n" in part:
            raise AGIProtocolError(f"newline in result field {part!r}")
    text = f"200 result={res.result if res.result is not None else ''}"
    if res.data is not None:
        text += f" ({res.data})"
    return text + "".join(f" {key}={value}" for key, value in res.extras.items())


def status_line(line: str) -> tuple[int, bool] | None:
    """``(code, continues)`` for a line starting ``NNN `` or ``NNN-``; None for anything else."""
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        return None
    return int(match.group(1)), match.group(2) == "-"


def parse_result_line(line: str) -> CommandResult:
    """Parse a single-line result. Raises AGIProtocolError if it is not ``NNN text``.

    Only code 200 is broken into ``result``/``data``/``extras``; other codes keep their text (a
    ``result=`` word right after the code is still read, as in ``503 result=-2 Memory allocation failure``).
    """
    match = _STATUS_LINE.fullmatch(line)
    if match is None or match.group(2) != " ":
        raise AGIProtocolError(f"not an AGI result line: {line[:80]!r}")
    code, rest = int(match.group(1)), match.group(3)
    if not rest.startswith("result="):
        if code == SUCCESS:
            raise AGIProtocolError(f"200 without result=: {line[:80]!r}")
        return CommandResult(code, text=line)
    result, _, rest = rest[len("result=") :].partition(" ")
    if code != SUCCESS:
        return CommandResult(code, result, text=line)
    data = None
    if rest.startswith("("):
        close = rest.rfind(")")
        if close < 0:
            raise AGIProtocolError(f"unclosed '(' in result: {line[:80]!r}")
        data, rest = rest[1:close], rest[close + 1 :]
    return CommandResult(code, result, data, _parse_extras(rest), text=line)


def _parse_extras(rest: str) -> dict[str, str]:
    extras: dict[str, str] = {}
    last_key = None
    for word in rest.split(" "):
        key, sep, value = word.partition("=")
        if sep and key:
            extras[key] = value
            last_key = key
        elif word and last_key is not None:
            extras[last_key] += " " + word
    return extras
