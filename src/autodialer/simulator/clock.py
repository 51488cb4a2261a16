"""Simulated time: scenario durations are in PBX seconds, scaled to real asyncio sleeps.

Invariant: `now()` advances by one simulated second for every `time_scale` real seconds, so durations
reported on the wire (TalkTime, endpos, Uniqueid epochs) stay consistent with the scenario even when a test
runs a 60 s call in 60 ms.
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.scale = time_scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._wall0 + (time.monotonic() - self._mono0) / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self.scale)

    def real(self, seconds: float) -> float:
        return max(0.0, seconds) * self.scale
