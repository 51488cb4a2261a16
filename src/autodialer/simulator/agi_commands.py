"""AGI commands as Asterisk 22's res_agi answers them (README §6 table, trace 07).

Audio is simulated by time: a sound file lasts `sound_seconds[name]` (default 1 s) at 8000 samples/s, so
`endpos` is what Asterisk would report; a DTMF digit in the escape set stops playback early. Every file that
starts playing is recorded in `pbx.prompts` so poll tests can assert what the caller heard.

An absolute name is read from the disk as Asterisk reads it: `<name>.<format>` must exist (a name that carries its
extension is not found, `result=-1 endpos=0`), and a wav plays for its own length.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from autodialer.protocols.agi import Command, CommandResult

from .channels import SOFT_EXPLICIT, UP, Channel, wait_any
from .pbx import HANGUP

if TYPE_CHECKING:
    from .pbx import PBX

# Commands res_agi allows on a dead channel (dead=1 in its command table).
DEAD_OK = ("VERBOSE", "GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "DATABASE", "NOOP", "ASYNCAGI BREAK")
RATE = 8000
FORMATS = ("wav", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729")  # what Asterisk tries to open


async def _digit_or_end(pbx: PBX, ch: Channel, seconds: float | None, accept: str) -> tuple[str | None, float]:
    """Wait up to `seconds` (None = forever) for a queued digit in `accept`; (digit, elapsed seconds).

    Digits outside `accept` are consumed and ignored, as Asterisk drops them. Returns ("", t) on hangup.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = None if seconds is None else start + pbx.clock.real(seconds)
    while True:
        while ch.dtmf:
            digit = ch.dtmf.pop(0)
            if digit in accept:
                return digit, (loop.time() - start) / pbx.clock.scale
        if ch.hungup:
            return "", (loop.time() - start) / pbx.clock.scale
        remaining = None if end is None else end - loop.time()
        if remaining is not None and remaining <= 0:
            return None, seconds or 0.0
        await wait_any([ch], remaining)


def _sound(pbx: PBX, name: str) -> float | None:
    if name in pbx.config.missing_sounds:
        return None
    if name in pbx.config.sound_seconds:
        return pbx.config.sound_seconds[name]
    if name.startswith("/"):
        return _file_seconds(Path(name), pbx.config.default_sound_seconds)
    return pbx.config.default_sound_seconds


def _file_seconds(base: Path, default: float) -> float | None:
    """Length of the first `<base>.<format>` on disk (a wav's real length, else `default`); None if none exists."""
    for ext in FORMATS:
        path = base.with_name(f"{base.name}.{ext}")
        if not path.is_file():
            continue
        if ext.lower() != "wav":
            return default
        try:
            with wave.open(str(path), "rb") as audio:
                return float(audio.getnframes()) / float(audio.getframerate())
        except (wave.Error, EOFError, OSError):
            return None  # Asterisk cannot read it either
    return None


async def stream_file(pbx: PBX, ch: Channel, args: tuple[str, ...]) -> CommandResult:
    name = args[0] if args else ""
    escape = args[1] if len(args) > 1 else ""
    length = _sound(pbx, name)
    if length is None:
        return CommandResult.success(-1, endpos=0)
    pbx.prompts.append((ch.name, name))
    digit, elapsed = await _digit_or_end(pbx, ch, length, escape)
    if digit == "":
        return CommandResult.success(-1, endpos=int(min(elapsed, length) * RATE))
    if digit is None:
        return CommandResult.success(0, endpos=int(length * RATE))
    return CommandResult.success(ord(digit), endpos=int(min(elapsed, length) * RATE))


async def get_data(pbx: PBX, ch: Channel, args: tuple[str, ...]) -> CommandResult:
    name = args[0] if args else ""
    timeout = int(args[1]) / 1000 if len(args) > 1 and args[1].lstrip("-").isdigit() else 5.0
    if timeout <= 0:
        timeout = 5.0
    maxdigits = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
    digits = ""
    length = _sound(pbx, name)
    if length is not None:
        pbx.prompts.append((ch.name, name))
        first, _ = await _digit_or_end(pbx, ch, length, "0123456789*#")
        if first == "":
            return CommandResult.success(-1)
        if first == "#":
            return CommandResult.success("")
        digits = first or ""
    while len(digits) < maxdigits:
        digit, _ = await _digit_or_end(pbx, ch, timeout, "0123456789*#")
        if digit == "":
            return CommandResult.success(-1)
        if digit is None:
            return CommandResult.success(digits, "timeout")
        if digit == "#":
            break
        digits += digit
    return CommandResult.success(digits)


async def wait_for_digit(pbx: PBX, ch: Channel, args: tuple[str, ...]) -> CommandResult:
    ms = int(args[0]) if args and args[0].lstrip("-").isdigit() else -1
    digit, _ = await _digit_or_end(pbx, ch, None if ms < 0 else ms / 1000, "0123456789*#ABCD")
    if digit == "":
        return CommandResult.success(-1)
    return CommandResult.success(ord(digit) if digit else 0)


async def exec_app(pbx: PBX, ch: Channel, args: tuple[str, ...]) -> CommandResult:
    from .applications import APPLICATIONS

    if not args:
        return CommandResult.success(-2)
    handler = APPLICATIONS.get(args[0].lower())
    if handler is None:
        return CommandResult.success(-2)
    data = ",".join(args[1:]) if len(args) > 2 else (args[1] if len(args) > 1 else "")
    data = data.replace("|", ",")
    result = await handler(pbx, ch, data)
    return CommandResult.success(-1 if result == HANGUP or ch.hungup else 0)


def database(pbx: PBX, args: tuple[str, ...]) -> CommandResult:
    op = args[0].upper() if args else ""
    family, key = (args[1] if len(args) > 1 else ""), (args[2] if len(args) > 2 else "")
    if op == "GET":
        value = pbx.db.get(family, {}).get(key)
        return CommandResult.success(0) if value is None else CommandResult.success(1, value)
    if op == "PUT" and len(args) > 3:
        pbx.db.setdefault(family, {})[key] = args[3]
        return CommandResult.success(1)
    if op == "DEL":
        found = pbx.db.get(family, {}).pop(key, None)
        return CommandResult.success(1 if found is not None else 0)
    return CommandResult.usage_error()


async def execute(pbx: PBX, ch: Channel, cmd: Command) -> CommandResult:
    a = cmd.argv
    words = tuple(w.upper() for w in a[:3])
    if words[:1] == ("ANSWER",):
        if ch.state != UP:
            pbx.new_state(ch, UP)
        return CommandResult.success(0)
    if words[:1] == ("HANGUP",):
        pbx.soft_hangup(ch, SOFT_EXPLICIT)
        return CommandResult.success(1)
    if words[:1] == ("VERBOSE",) or words[:1] == ("NOOP",):
        return CommandResult.success(1 if words[0] == "VERBOSE" else 0)
    if words[:2] == ("STREAM", "FILE"):
        return await stream_file(pbx, ch, a[2:])
    if words[:2] == ("GET", "DATA"):
        return await get_data(pbx, ch, a[2:])
    if words[:3] == ("WAIT", "FOR", "DIGIT"):
        return await wait_for_digit(pbx, ch, a[3:])
    if words[:2] == ("GET", "VARIABLE") and len(a) > 2:
        value = pbx.get_var(ch, a[2])
        return CommandResult.success(0) if value is None else CommandResult.success(1, value)
    if words[:3] == ("GET", "FULL", "VARIABLE") and len(a) > 3:
        return CommandResult.success(1, pbx.expand(ch, a[3]))
    if words[:2] == ("SET", "VARIABLE") and len(a) > 3:
        pbx.set_var(ch, a[2], a[3])
        return CommandResult.success(1)
    if words[:1] == ("EXEC",):
        return await exec_app(pbx, ch, a[1:])
    if words[:2] == ("CHANNEL", "STATUS"):
        return CommandResult.success(6 if ch.state == UP else ch.state)
    if words[:1] == ("DATABASE",):
        return database(pbx, a[1:])
    if words[:2] in (("SAY", "DIGITS"), ("SAY", "NUMBER")):
        return CommandResult.success(0)
    return CommandResult.invalid_command()
