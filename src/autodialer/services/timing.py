"""The port for waiting: the engine sleeps until its next deadline through it, so tests run on virtual time."""

from __future__ import annotations

from typing import Protocol


class Sleeper(Protocol):
    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of (the clock's) time; cancellable."""
        ...
