"""The wall clock and real sleeping: the production implementations of services' Clock and Sleeper ports."""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class AsyncioSleeper:
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
