"""LiveEvents: every subscriber gets every event in order; a full queue drops that subscriber only; a reconnect with
the last id seen catches up, or is told to resync when it cannot be; close ends every stream."""

from __future__ import annotations

import asyncio

import pytest

from autodialer.services.live_events import RESYNC, LiveEvents, SubscriptionClosed


async def drain(subscription, n: int) -> list[object]:  # type: ignore[no-untyped-def]
    return [(await subscription.next(0)).data for _ in range(n)]


async def test_each_subscriber_gets_every_event_in_order() -> None:
    hub = LiveEvents(boot="b")
    a, b = hub.subscribe(), hub.subscribe()
    for i in range(5):
        hub.publish("call", i)
    assert await drain(a, 5) == [0, 1, 2, 3, 4]
    assert await drain(b, 5) == [0, 1, 2, 3, 4]
    assert hub.last_id == "b-5"


async def test_next_waits_for_an_event_and_gives_none_after_the_timeout() -> None:
    hub = LiveEvents()
    subscription = hub.subscribe()
    assert await subscription.next(0) is None  # time for a heartbeat
    waiting = asyncio.ensure_future(subscription.next(5))
    await asyncio.sleep(0)
    hub.publish("agent", "x")
    event = await waiting
    assert event is not None and event.kind == "agent" and event.data == "x"


async def test_a_slow_subscriber_is_dropped_and_the_others_go_on() -> None:
    hub = LiveEvents(queue_size=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(3):
        hub.publish("call", i)
        assert (await fast.next(0)).data == i  # type: ignore[union-attr]
    hub.publish("call", 3)  # the slow one holds 3 already: dropped, never blocks the publisher
    assert slow.dropped and slow.closed and hub.subscribers == 1
    with pytest.raises(SubscriptionClosed):
        await slow.next(0)
    assert (await fast.next(0)).data == 3  # type: ignore[union-attr]


async def test_a_reconnect_with_the_last_id_seen_gets_what_it_missed() -> None:
    hub = LiveEvents(boot="b")
    first = hub.subscribe()
    hub.publish("call", "a")
    seen = await first.next(0)
    assert seen is not None
    first.end()
    hub.publish("call", "b")
    hub.publish("number", "c")
    again = hub.subscribe(after=seen.id)
    assert await drain(again, 2) == ["b", "c"]
    assert len(again) == 0
    up_to_date = hub.subscribe(after=hub.last_id)
    assert len(up_to_date) == 0


@pytest.mark.parametrize("after", ["other-1", "b-99", "garbage", "", "b-"])
async def test_an_id_this_process_cannot_continue_from_gets_one_resync(after: str) -> None:
    hub = LiveEvents(boot="b")
    hub.publish("call", 1)
    subscription = hub.subscribe(after=after)
    event = await subscription.next(0)
    assert event is not None and event.kind == RESYNC and len(subscription) == 0


async def test_an_id_older_than_what_is_kept_gets_a_resync() -> None:
    hub = LiveEvents(replay=3, boot="b")
    for i in range(10):
        hub.publish("call", i)
    # seqs 1..10 carry 0..9; 8, 9 and 10 are kept
    assert (await hub.subscribe(after="b-7").next(0)).data == 7  # type: ignore[union-attr]
    assert (await hub.subscribe(after="b-6").next(0)).kind == RESYNC  # type: ignore[union-attr]


async def test_more_missed_events_than_a_queue_holds_is_a_resync() -> None:
    hub = LiveEvents(queue_size=2, replay=10, boot="b")
    for i in range(5):
        hub.publish("call", i)
    subscription = hub.subscribe(after="b-1")
    assert [e.kind for e in [await subscription.next(0)]] == [RESYNC] and len(subscription) == 0


async def test_close_ends_waiting_and_new_subscriptions() -> None:
    hub = LiveEvents()
    subscription = hub.subscribe()
    waiting = asyncio.ensure_future(subscription.next(30))
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(waiting, 1)
    with pytest.raises(SubscriptionClosed):
        await hub.subscribe().next(0)
    assert hub.subscribers == 0


async def test_events_queued_before_a_close_are_still_given() -> None:
    hub = LiveEvents()
    subscription = hub.subscribe()
    hub.publish("call", 1)
    hub.close()
    assert (await subscription.next(0)).data == 1  # type: ignore[union-attr]
    with pytest.raises(SubscriptionClosed):
        await subscription.next(0)
