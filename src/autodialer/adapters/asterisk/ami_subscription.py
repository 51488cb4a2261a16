"""Bounded, ordered event queues for the AMI client's async subscribers.

Policy (a slow consumer must never block the reader, and must never silently lose or reorder events): each
subscription has its own bounded FIFO. The reader appends without waiting. If a queue is full, the subscription is
*overflowed*: it takes no more events, its consumer still receives everything queued before the overflow in order,
and then ``EventQueueOverflow`` is raised from the iterator, so the loss is explicit and the consumer knows to
re-sync. Other subscribers are unaffected. Closing the client ends every iteration with ``StopAsyncIteration``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from autodialer.adapters.asterisk.ami_errors import EventQueueOverflow
from autodialer.protocols.ami import Event


class EventSubscription:
    """``async for event in subscription``; create it with ``AMIClient.subscribe``."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._overflowed = False
        self._closed = False

    @property
    def overflowed(self) -> bool:
        return self._overflowed

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, event: Event) -> bool:
        """Queue ``event`` without blocking; False when the subscription is (now) overflowed or closed."""
        if self._overflowed or self._closed:
            return False
        if len(self._queue) >= self.maxsize:
            self._overflowed = True
            self._wakeup.set()
            return False
        self._queue.append(event)
        self._wakeup.set()
        return True

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._overflowed:
                raise EventQueueOverflow(f"event queue overflowed (more than {self.maxsize} events behind)")
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
