"""Reader for FastAGI session transcripts: the lab's ``.agi.txt`` line logs of real Asterisk sessions.

Format, one wire line per text line: ``HH:MM:SS.ffffff A->S <line>`` (Asterisk to AGI server) or
``... S->A <line>`` (server to Asterisk); ``... ---- <note>`` is a local note, and a note starting with
``FastAGI connection #`` and ending in ``from ...`` opens a new session. ``#`` lines are comments.

The simulator replays these dialogues and the tests feed them to both roles, so the reader is pure (it
takes text, not a path) and rebuilds the exact byte streams: each line plus ``\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass

ASTERISK_TO_SERVER = "A->S"
SERVER_TO_ASTERISK = "S->A"


@dataclass(frozen=True)
class TranscriptSession:
    """One FastAGI connection: its wire lines in order, as ``(direction, line)``."""

    title: str
    lines: tuple[tuple[str, str], ...]

    def lines_from(self, direction: str) -> tuple[str, ...]:
        return tuple(line for d, line in self.lines if d == direction)

    def bytes_from(self, direction: str) -> bytes:
        """Everything one side wrote, newline-terminated, as one byte stream."""
        return b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in self.lines_from(direction))


def parse_transcript(text: str) -> list[TranscriptSession]:
    """Split a transcript into sessions. Raises ValueError on a line that fits none of the forms."""
    sessions: list[TranscriptSession] = []
    title = ""
    lines: list[tuple[str, str]] = []
    started = False
    for number, row in enumerate(text.split("\n"), start=1):
        if not row or row.startswith("#"):
            continue
        parts = row.split(" ", 2)
        if len(parts) < 2:
            raise ValueError(f"transcript line {number} is not 'time direction text': {row!r}")
        direction, rest = parts[1], parts[2] if len(parts) == 3 else ""
        if direction == "----":
            if rest.startswith("FastAGI connection #") and " from " in rest:
                if started:
                    sessions.append(TranscriptSession(title, tuple(lines)))
                title, lines, started = rest, [], True
            continue
        if direction not in (ASTERISK_TO_SERVER, SERVER_TO_ASTERISK):
            raise ValueError(f"transcript line {number} has no direction: {row!r}")
        lines.append((direction, rest))
        started = True
    if started:
        sessions.append(TranscriptSession(title, tuple(lines)))
    return sessions
