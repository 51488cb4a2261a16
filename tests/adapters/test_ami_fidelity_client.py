"""AMIClient against Asterisk 22 behaviours the lab traces show only in part: a refused Filter, a slow boot.

Uses the in-test AMI server of test_ami_client.py (loopback TCP, protocols/ami server role).
"""

from __future__ import annotations

import asyncio

from tests.adapters.test_ami_client import FakeAMIServer, FakeSession, make_client, server, until

from autodialer.adapters.asterisk.ami_client import DEFAULT_EVENT_FILTERS
from autodialer.protocols.ami import Action, Event, Response

__all__ = ["server"]  # the fixture, imported for pytest


def _permission_denied(s: FakeSession, a: Action) -> None:
    # manager.c registers Filter with EVENT_FLAG_SYSTEM; process_message answers a user without it like this.
    s.send(Response.build("Error", [("Message", "Permission denied")], action_id=a.action_id))


async def test_filter_refused_for_want_of_system_class_is_applied_client_side(server: FakeAMIServer) -> None:
    # Our shipped AMI user (dialplan/manager_autodialer.conf) has no write class "system".
    server.handlers["Filter"] = _permission_denied
    client = make_client(server)
    hooks: list[int] = []

    async def hook() -> None:
        hooks.append(client.connect_count)

    client.on_connected(hook)
    seen: list[str] = []
    client.on_event(lambda e: seen.append(e.name) if e.name != "FullyBooted" else None)
    subscription = client.subscribe()
    async with client:
        await client.connect(timeout=2)
        await until(lambda: hooks == [1])
        assert server.names() == ["Login", "Filter"]  # the others would be refused for the same reason
        server.broadcast(
            Event.build("VarSet", [("Variable", "RTPAUDIOQOS"), ("Value", "ssrc=1")]),
            Event.build("RTCPSent", [("Channel", "PJSIP/trunk-00000001")]),
            Event.build("Hangup", [("Channel", "PJSIP/trunk-00000001"), ("Cause", "16")]),
        )
        await until(lambda: "Hangup" in seen)
        assert seen == ["Hangup"]
        assert [(await anext(subscription)).name for _ in range(2)] == ["FullyBooted", "Hangup"]
        server.sessions[0].drop()  # the next session asks again and filters the same way
        await until(lambda: hooks == [1, 2])
        assert server.names() == ["Login", "Filter", "Login", "Filter"]
        server.broadcast(Event.build("VarSet"), Event.build("Newstate", [("ChannelStateDesc", "Up")]))
        await until(lambda: seen[-1] == "Newstate")
        assert seen == ["Hangup", "Newstate"]


async def test_accepted_filters_leave_delivery_to_asterisk(server: FakeAMIServer) -> None:
    async with make_client(server) as client:
        seen: list[str] = []
        client.on_event(lambda e: seen.append(e.name) if e.name != "FullyBooted" else None)
        await client.connect(timeout=2)
        assert server.names() == ["Login", *["Filter"] * len(DEFAULT_EVENT_FILTERS)]
        server.broadcast(Event.build("VarSet"))  # Asterisk filtered what it was asked to; the client drops nothing
        await until(lambda: seen == ["VarSet"])


async def test_fully_booted_after_the_wait_reruns_the_on_connected_hooks(server: FakeAMIServer) -> None:
    # Trace 09 (reconnect2): the login is accepted while Asterisk boots and FullyBooted (Uptime: 0) comes later.
    # A boot slower than fully_booted_timeout must not leave the re-sync done on a half-loaded PBX.
    server.handlers["Login"] = lambda s, a: s.send(
        Response.build("Success", [("Message", "Authentication accepted")], action_id=a.action_id)
    )
    client = make_client(server, fully_booted_timeout=0.05)
    runs: list[bool] = []
    release = asyncio.Event()

    async def hook() -> None:
        runs.append(client.is_connected())
        if len(runs) == 1:
            await release.wait()  # the first re-sync is still running when FullyBooted arrives

    client.on_connected(hook)
    async with client:
        await client.connect(timeout=2)
        await until(lambda: runs == [True])
        server.broadcast(Event.build("FullyBooted", [("Status", "Fully Booted"), ("Uptime", "4"), ("LastReload", "4")]))
        await asyncio.sleep(0.05)
        assert runs == [True]  # not concurrently with the first run
        release.set()
        await until(lambda: runs == [True, True])
        server.broadcast(Event.build("FullyBooted", [("Status", "Fully Booted")]))
        await asyncio.sleep(0.05)
        assert runs == [True, True] and client.connect_count == 1
