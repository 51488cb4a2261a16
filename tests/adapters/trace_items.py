"""Parsed items of the recorded Asterisk AMI traces, as a client-role AMIConnection delivers them (lists folded)."""

from __future__ import annotations

import json
from functools import cache

from tests.asterisk_fixtures import TRACES

from autodialer.protocols.ami import Action, AMIConnection, Event, Item, ListResult, Role

_LIST_ACTIONS = {
    "PJSIPShowEndpoints",
    "ExtensionStateList",
    "DeviceStateList",
    "QueueStatus",
    "DBGetTree",
    "CoreShowChannels",
}


@cache
def trace_items(name: str, conn: str = "main") -> tuple[Item, ...]:
    """Every S->C item of ``conn`` in the trace whose file name starts with ``name``, in arrival order."""
    exact = TRACES / f"{name}.ami.jsonl"
    (path,) = [exact] if exact.exists() else TRACES.glob(f"{name}*.ami.jsonl")
    client = AMIConnection(Role.CLIENT)
    server = AMIConnection(Role.SERVER)
    items: list[Item] = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("conn") != conn:
            continue
        raw = record["raw"].encode()
        if raw.startswith(b"<<TCP connection closed"):
            client.receive_data(b"")
            items.extend(client.events())
            break
        if record["dir"] == "C->S":
            server.receive_data(raw)
            for action in server.events():
                if isinstance(action, Action) and action.name in _LIST_ACTIONS and action.action_id:
                    client.expect_list(action.action_id)
        else:
            client.receive_data(raw)
            items.extend(client.events())
    return tuple(items)


def trace_events(name: str, conn: str = "main") -> list[Event | ListResult]:
    return [i for i in trace_items(name, conn) if isinstance(i, (Event, ListResult))]
