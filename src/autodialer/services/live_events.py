"""LiveEvents: the publisher behind ``GET /api/v2/events``. The dialer side publishes, each subscriber reads its own
bounded queue.

Invariants:

* ``publish`` never blocks and never fails for a subscriber: it appends to each subscriber's queue in O(1); a
  subscriber whose queue is full is dropped (its stream ends, the client reconnects and catches up), so a slow
  client never slows the dialer or the other clients;
* event ids are ``<boot>-<seq>``: ``seq`` increases by one per event of this process, ``boot`` tells this process
  from an earlier one; the last ``replay`` events are kept, so a client that reconnects with the last id it saw
  (SSE's Last-Event-ID) gets what it missed, in order; an id this process cannot continue from (too old, from an
  earlier process, unknown) gets one ``resync`` event instead: re-read the state, then follow the stream;
* ``close`` (at shutdown) ends every subscription at once and refuses new ones, so no open stream holds the HTTP
  server's shutdown.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RESYNC = "resync"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: str
    kind: str  # agent, call, number, campaign, pbx_link, campaigns, resync
    data: Any  # a domain record of the kind (live_state), None or a plain value; the API edge types it


class SubscriptionClosed(Exception):
    """The subscription ended: the publisher closed, or this subscriber fell too far behind (``dropped``)."""


class Subscription:
    """One client's queue. Read it with ``next``; always ``close`` it (``LiveEvents.subscribe`` is a context)."""

    def __init__(self, hub: LiveEvents, size: int, backlog: list[LiveEvent]) -> None:
        self._hub = hub
        self._size = size
        self._queue: deque[LiveEvent] = deque(backlog)
        self._ready = asyncio.Event()
        if backlog:
            self._ready.set()
        self.closed = False
        self.dropped = False  # closed because its queue overflowed

    def _offer(self, event: LiveEvent) -> None:
        if self.closed:
            return
        if len(self._queue) >= self._size:
            self.dropped = True
            self.end()
            log.info("live events: a client %d events behind was dropped", len(self._queue))
            return
        self._queue.append(event)
        self._ready.set()

    def end(self) -> None:
        self.closed = True
        self._ready.set()
        self._hub._forget(self)

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event, or None when ``timeout`` seconds pass without one (time for a heartbeat).

        Raises SubscriptionClosed once the subscription ended (events queued before a close are still given)."""
        if not self._queue and not self.closed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if self.dropped or (self.closed and not self._queue):
            raise SubscriptionClosed
        return self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)


class LiveEvents:
    def __init__(self, queue_size: int = 1000, replay: int = 2000, boot: str | None = None) -> None:
        self.boot = boot or secrets.token_hex(4)
        self._queue_size = queue_size
        self._seq = itertools.count(1)
        self._last = 0
        self._recent: deque[tuple[int, LiveEvent]] = deque(maxlen=replay)
        self._subscribers: set[Subscription] = set()
        self._closed = False

    @property
    def last_id(self) -> str:
        """The id of the latest event (``<boot>-0`` before any): where a client that just read the state starts."""
        return f"{self.boot}-{self._last}"

    @property
    def last_seq(self) -> int:
        return self._last

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, kind: str, data: Any) -> LiveEvent:
        """Record one event and hand it to every subscriber (never blocks)."""
        seq = next(self._seq)
        self._last = seq
        event = LiveEvent(f"{self.boot}-{seq}", kind, data)
        self._recent.append((seq, event))
        for subscriber in list(self._subscribers):
            subscriber._offer(event)
        return event

    def subscribe(self, after: str | None = None) -> Subscription:
        """A new subscription; with ``after`` (an event id) it first gets the kept events after that one, or a
        single ``resync`` event when they cannot be given. A closed publisher gives an ended subscription."""
        subscription = Subscription(self, self._queue_size, self._backlog(after))
        if self._closed:
            subscription.end()
        else:
            self._subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        """End every subscription and refuse new ones (shutdown)."""
        self._closed = True
        for subscriber in list(self._subscribers):
            subscriber.end()

    def _forget(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def _backlog(self, after: str | None) -> list[LiveEvent]:
        if after is None:
            return []
        seq = self.seq_of(after)
        oldest = self._recent[0][0] if self._recent else self._last + 1
        if seq is None or seq > self._last or seq < oldest - 1:
            return [LiveEvent(self.last_id, RESYNC, "missed events: read the state again")]
        missed = [event for s, event in self._recent if s > seq]
        if len(missed) > self._queue_size:
            return [LiveEvent(self.last_id, RESYNC, "missed events: read the state again")]
        return missed

    def seq_of(self, event_id: str) -> int | None:
        """The sequence number of one of this process's event ids; None for anything else."""
        boot, _, seq = event_id.strip().rpartition("-")
        if boot != self.boot or not seq.isdigit():
            return None
        return int(seq)
