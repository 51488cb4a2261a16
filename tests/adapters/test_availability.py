"""AvailabilityTracker: the connection lifecycle and the re-sync queries, against a fake AMI link."""

from __future__ import annotations

import asyncio

import pytest
from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.availability import AvailabilityTracker, resync_queries
from autodialer.protocols.ami import Action, Event, ListResult, Response

# Trace 01's recorded answers, by the ActionID the lab client used for each query.
_RECORDED = {
    "PJSIPShowEndpoints": "main-5",
    "ExtensionStateList": "main-6",
    "DeviceStateList": "main-8",
    "QueueStatus": "main-9",
    "DBGetTree": "main-14",  # an empty family, like UserBuddyStatus on a PBX where nobody set a status
}


class RecordedLink:
    """Answers list actions with trace 01's recorded results; records what was asked."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        results = {r.action_id: r for r in trace_events("01") if isinstance(r, ListResult)}
        self.answers = {name: results[aid] for name, aid in _RECORDED.items()}
        self.refuse = refuse
        self.sent: list[Action] = []
        self.gate: asyncio.Event | None = None

    def is_connected(self) -> bool:
        return True

    async def send_action(self, action: Action) -> Response:
        raise AssertionError("the tracker only sends list actions")

    async def send_list_action(self, action: Action) -> ListResult:
        self.sent.append(action)
        if self.gate is not None:
            await self.gate.wait()
        if action.name in self.refuse or action.name not in self.answers:
            return ListResult(Response.build("Error", [("Message", "Invalid/unknown command")]), (), None)
        return self.answers[action.name]


async def test_nothing_is_free_before_the_first_resync() -> None:
    tracker = AvailabilityTracker()
    for item in trace_events("01"):
        tracker.handle_event(item)
    assert not tracker.is_connected()
    assert tracker.free_agents("201") == frozenset()


async def test_resync_asks_everything_and_then_reports_free_agents() -> None:
    tracker, link = AvailabilityTracker(), RecordedLink()
    changes: list[bool] = []
    tracker.on_change(lambda: changes.append(tracker.is_connected()))
    await tracker.resync(link)
    assert [a.name for a in link.sent] == [q.name for q in resync_queries()]
    assert link.sent[-2].get("Context") == "internal"
    assert link.sent[-1].get("Family") == "UserBuddyStatus"
    assert tracker.is_connected() and changes == [True]
    assert tracker.free_agents("201") == {"PJSIP/201"}
    assert tracker.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}

    tracker.handle_event(Event.build("DeviceStateChange", [("Device", "PJSIP/201"), ("State", "RINGING")]))
    assert tracker.free_agents("2200") == {"PJSIP/202"}
    assert changes == [True, True]
    tracker.handle_event(Event.build("Newexten", [("Channel", "PJSIP/201-00000001")]))
    assert changes == [True, True]


async def test_disconnect_forgets_everything_until_the_next_resync() -> None:
    tracker, link = AvailabilityTracker(), RecordedLink()
    changes: list[bool] = []
    tracker.on_change(lambda: changes.append(tracker.is_connected()))
    await tracker.resync(link)
    tracker.disconnected()
    assert not tracker.is_connected()
    assert tracker.free_agents("201") == frozenset()
    assert changes == [True, False]
    tracker.disconnected()  # already down: no second notification
    assert changes == [True, False]
    await tracker.resync(link)
    assert tracker.free_agents("201") == {"PJSIP/201"}


async def test_a_refused_query_leaves_that_fact_unknown() -> None:
    tracker = AvailabilityTracker()
    await tracker.resync(RecordedLink(refuse=frozenset({"QueueStatus"})))
    assert tracker.is_connected()
    assert tracker.free_agents("2200") == frozenset()
    assert tracker.free_agents("202") == {"PJSIP/202"}


async def test_a_disconnect_during_resync_wins() -> None:
    tracker, link = AvailabilityTracker(), RecordedLink()
    link.gate = asyncio.Event()
    task = asyncio.create_task(tracker.resync(link))
    await asyncio.sleep(0)
    tracker.disconnected()
    link.gate.set()
    await task
    assert not tracker.is_connected()
    assert tracker.free_agents("201") == frozenset()


async def test_a_dropped_link_propagates_and_stays_disconnected() -> None:
    class DroppingLink(RecordedLink):
        async def send_list_action(self, action: Action) -> ListResult:
            raise ConnectionError("AMI link lost")

    tracker = AvailabilityTracker()
    with pytest.raises(ConnectionError):
        await tracker.resync(DroppingLink())
    assert not tracker.is_connected()
