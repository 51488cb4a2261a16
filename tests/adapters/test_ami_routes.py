"""AMI event routing by name (ami_routes.EventRoutes): each consumer gets exactly the events it reads.

Unit rules of the routes, then every recorded trace replayed through them to the dialer's two consumers
(availability and call tracking) registered with the names they declare: each sees exactly the events its handler
tables read, and learns what it learns when fed every event.
"""

from __future__ import annotations

import pytest
from tests.adapters.trace_items import trace_events
from tests.asterisk_fixtures import TRACES

from autodialer.adapters.asterisk import availability_state, call_tracking, queue_callers
from autodialer.adapters.asterisk.ami_routes import EventRoutes
from autodialer.adapters.asterisk.availability import AvailabilityTracker
from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.adapters.asterisk.call_tracking import CallTracker
from autodialer.adapters.asterisk.pbx_gateway import AsteriskPbxGateway
from autodialer.protocols.ami import Event, ListResult

TRACE_NAMES = sorted(p.name.removesuffix(".ami.jsonl") for p in TRACES.glob("*.ami.jsonl"))


def _event(name: str) -> Event:
    return Event.build(name)


def test_named_callbacks_get_their_names_case_insensitively_in_registration_order() -> None:
    routes = EventRoutes()
    seen: list[str] = []
    routes.add(lambda e: seen.append(f"all:{e.name}"))
    routes.add(lambda e: seen.append(f"hangup:{e.name}"), ["hangup"])
    routes.add(lambda e: seen.append(f"both:{e.name}"), ["Hangup", "Newchannel"])
    for name in ("Hangup", "Newchannel", "VarSet", "HANGUP"):
        for callback in routes.targets(name):
            callback(_event(name))
    assert seen == [
        "all:Hangup",
        "hangup:Hangup",
        "both:Hangup",
        "all:Newchannel",
        "both:Newchannel",
        "all:VarSet",
        "all:HANGUP",
        "hangup:HANGUP",
        "both:HANGUP",
    ]


def test_registrations_and_exclusions_after_a_route_was_used_take_effect() -> None:
    routes = EventRoutes()
    first: list[str] = []
    second: list[str] = []
    assert routes.targets("Hangup") == ()
    remove_first = routes.add(first.append, ["Hangup"])
    assert routes.targets("Hangup") == (first.append,)
    routes.add(second.append)
    assert routes.targets("Hangup") == (first.append, second.append)
    routes.exclude(frozenset({"Hangup"}))  # a refused filter: nobody gets it, the other names still flow
    assert routes.targets("Hangup") == () and routes.targets("Newstate") == (second.append,)
    routes.exclude(frozenset())
    remove_first()
    remove_first()  # twice is harmless
    assert routes.targets("Hangup") == (second.append,)


def test_invented_names_do_not_grow_the_cache_without_bound() -> None:
    routes = EventRoutes()
    seen: list[Event] = []
    routes.add(seen.append)
    for n in range(5000):
        assert routes.targets(f"Made{n}") == (seen.append,)
    assert len(routes._routes) <= 1024


def test_the_declared_names_are_every_name_the_handler_tables_read() -> None:
    assert frozenset(call_tracking._HANDLERS) == AsteriskPbxGateway.EVENT_NAMES
    tables = {*availability_state._HANDLERS, *queue_callers._HANDLERS, "shutdown"}
    assert frozenset(tables) == AvailabilityTracker.EVENT_NAMES


def _reads(consumer: str, name: str) -> bool:
    if consumer == "calls":
        return name in call_tracking._HANDLERS
    key = name.lower()
    return key in availability_state._HANDLERS or key in queue_callers._HANDLERS or key == "shutdown"


@pytest.mark.parametrize("trace", TRACE_NAMES)
def test_routed_trace_events_teach_each_consumer_what_every_event_does(trace: str) -> None:
    items = trace_events(trace)
    events = [e for e in items if isinstance(e, Event)]
    calls = {e.get("Linkedid") or "" for e in events if e.get("Linkedid")}

    def consumers() -> tuple[CallTracker, AvailabilityState, list[object], dict[str, list[Event]]]:
        tracker, state, out = CallTracker(), AvailabilityState(), []
        for call_id in calls:
            tracker.expect(call_id)
        for item in items:  # the re-sync's list results reach availability directly, not through the routes
            if isinstance(item, ListResult):
                state.apply(item)
        return tracker, state, out, {"calls": [], "availability": []}

    # Fed every event, as before the routes.
    tracker, state, out, _ = consumers()
    for event in events:
        state.apply(event)
        out.extend(tracker.feed(event))
    everything = (tuple(out), state.snapshot(), state.agents())

    # Fed through the routes with the names each consumer declares.
    tracker, state, out, seen = consumers()
    routes = EventRoutes()
    routes.add(lambda e: (seen["availability"].append(e), state.apply(e)), AvailabilityTracker.EVENT_NAMES)
    routes.add(lambda e: (seen["calls"].append(e), out.extend(tracker.feed(e))), AsteriskPbxGateway.EVENT_NAMES)
    for event in events:
        for callback in routes.targets(event.name):
            callback(event)
    assert (tuple(out), state.snapshot(), state.agents()) == everything
    for consumer, got in seen.items():
        assert got == [e for e in events if _reads(consumer, e.name)], consumer
