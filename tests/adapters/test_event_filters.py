"""The dialer's session filters (pbx_gateway.EVENT_FILTERS) drop only events nothing of ours reads.

Each filter is ``!Event: <Name>``, a regular expression Asterisk searches in the whole event text: it must name an
event Asterisk really sends (a misspelt name filters nothing), and it must not match the ``Event:`` line of any
event a consumer reads. Every recorded trace, fed with and without the filtered events, gives the same call events
and the same availability state.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.adapters.trace_items import trace_events
from tests.asterisk_fixtures import TRACES

from autodialer.adapters.asterisk import availability_state, call_tracking, queue_callers
from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.adapters.asterisk.call_tracking import CallTracker
from autodialer.adapters.asterisk.pbx_gateway import EVENT_FILTERS
from autodialer.dialplan import snippet
from autodialer.protocols.ami import Event, ListResult
from autodialer.simulator.events import event_classes, manager_classes, privilege

TRACE_NAMES = sorted(p.name.removesuffix(".ami.jsonl") for p in TRACES.glob("*.ami.jsonl"))
READ = {*call_tracking._HANDLERS, *availability_state._HANDLERS, *queue_callers._HANDLERS, "FullyBooted", "Shutdown"}


def _bodies() -> list[str]:
    assert all(f.startswith("!Event: ") for f in EVENT_FILTERS)
    return [f[1:] for f in EVENT_FILTERS]


def _dropped(event: Event | ListResult) -> bool:
    if not isinstance(event, Event):
        return False
    text = "\r\n".join(f"{k}: {v}" for k, v in event.fields)
    return any(re.search(body, text) for body in _bodies())


def test_every_filter_drops_an_event_asterisk_sent() -> None:
    sent = [
        record["raw"]
        for path in TRACES.glob("*.ami.jsonl")
        for record in map(json.loads, path.read_text().splitlines())
        if record["dir"] == "S->C"
    ]
    # RTCPReceived (res_rtp_asterisk, class reporting) is the one not in the traces: no call there lasted long
    # enough for the far end's report.
    unseen = [body for body in _bodies() if not any(re.search(body, raw) for raw in sent)]
    assert unseen == ["Event: RTCPReceived"]


def test_no_filter_matches_an_event_we_read() -> None:
    for name in READ:
        assert not any(re.search(body, f"Event: {name}\r\n", re.IGNORECASE) for body in _bodies()), name


@pytest.mark.parametrize("trace", TRACE_NAMES)
def test_the_filtered_events_change_nothing_we_learn(trace: str) -> None:
    events = trace_events(trace)
    kept = [e for e in events if not _dropped(e)]

    def learnt(items: list[Event | ListResult]) -> tuple[object, ...]:
        calls = {e.get("Linkedid") for e in items if isinstance(e, Event) and e.get("Linkedid")}
        tracker, state = CallTracker(), AvailabilityState()
        for call_id in calls:
            tracker.expect(call_id or "")
        out = []
        for item in items:
            state.apply(item)
            if isinstance(item, Event):
                out.extend(tracker.feed(item))
        return tuple(out), state.snapshot(), state.agents()

    assert learnt(kept) == learnt(events)


def test_the_shipped_manager_conf_filters_what_its_read_classes_let_through() -> None:
    # Without write class "system" our Filter actions are refused; the eventfilter lines of the section we ship
    # then keep the same events off the wire: every one our read classes would let through, and nothing else.
    conf = snippet("manager")
    lines = re.findall(r"^eventfilter\s*=\s*(.+?)\s*$", conf, re.MULTILINE)
    (read,) = re.findall(r"^read\s*=\s*([^;\s]+)", conf, re.MULTILINE)
    readable = {
        f for f in EVENT_FILTERS if event_classes(privilege(f.removeprefix("!Event: "))) <= manager_classes(read)
    }
    assert set(lines) <= set(EVENT_FILTERS) and readable <= set(lines)
