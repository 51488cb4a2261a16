"""AMIClient against a small in-test AMI server built on the protocols/ami server role, over loopback TCP.

The fake server answers like Asterisk 22 does in the traces (banner, Login, Ping, Filter, Logoff, a folded list,
unknown actions) and lets each test script the awkward cases: freezing (SIGSTOP), dropping mid-action, closing
before the banner, late or missing answers. Backoff sleeps are faked; ping intervals are a few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from autodialer.adapters.asterisk.ami_client import DEFAULT_EVENT_FILTERS, AMIClient, AMIState
from autodialer.adapters.asterisk.ami_errors import (
    AMIActionTimeout,
    AMIConnectionLost,
    AMILoginFailed,
    AMINotConnected,
    EventQueueOverflow,
)
from autodialer.adapters.asterisk.backoff import Backoff
from autodialer.adapters.asterisk.wire_trace import render
from autodialer.protocols.ami import (
    Action,
    AMIConnection,
    Banner,
    ConnectionClosed,
    Event,
    ListResult,
    Response,
    Role,
)

SECRET = "s3cr3t-pass"


@dataclass
class FakeSession:
    conn: AMIConnection
    writer: asyncio.StreamWriter
    frozen: bool = False  # like SIGSTOP: read and say nothing

    def send(self, *items: Response | Event | ListResult | Banner) -> None:
        for item in items:
            self.writer.write(self.conn.send(item))

    def drop(self) -> None:
        self.writer.transport.abort()


Handler = Callable[[FakeSession, Action], None]


@dataclass
class FakeAMIServer:
    """Records every action; answers the standard ones; ``handlers`` override by action name."""

    actions: list[Action] = field(default_factory=list)
    sessions: list[FakeSession] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)
    close_before_banner: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def names(self) -> list[str]:
        return [a.name for a in self.actions]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.close_before_banner > 0:  # trace 09: accepted during the restart, closed before the banner
            self.close_before_banner -= 1
            writer.close()
            return
        session = FakeSession(AMIConnection(Role.SERVER), writer)
        self.sessions.append(session)
        session.send(Banner("11.0.0"))
        with contextlib.suppress(ConnectionError):
            while True:
                data = await reader.read(65536)
                session.conn.receive_data(data)
                for action in session.conn.events():
                    if isinstance(action, ConnectionClosed):
                        writer.close()
                        return
                    assert isinstance(action, Action)
                    self.actions.append(action)
                    if not session.frozen:
                        self._answer(session, action)

    def _answer(self, s: FakeSession, a: Action) -> None:
        aid = a.action_id
        if a.name in self.handlers:
            self.handlers[a.name](s, a)
        elif a.name == "Login":
            if a.get("Secret") != SECRET:
                s.send(Response.build("Error", [("Message", "Authentication failed")], action_id=aid))
                s.writer.close()
                return
            s.send(
                Response.build("Success", [("Message", "Authentication accepted")], action_id=aid),
                Event.build("FullyBooted", [("Status", "Fully Booted")]),
            )
        elif a.name == "Ping":
            s.send(Response.build("Success", [("Ping", "Pong"), ("Timestamp", "1.0")], action_id=aid))
        elif a.name == "Filter":
            s.send(Response.build("Success", [("Message", "Success")], action_id=aid))
        elif a.name == "Logoff":
            s.send(Response.build("Goodbye", [("Message", "Thanks for all the fish.")], action_id=aid))
            s.writer.close()
        elif a.name == "ExtensionStateList":
            s.send(
                Response.build("Success", [("EventList", "start"), ("Message", "will follow")], action_id=aid),
                Event.build("ExtensionStatus", [("Exten", "202"), ("Status", "0")], action_id=aid),
                Event.build("Newchannel", [("Channel", "PJSIP/trunk-1")]),  # unsolicited, mid-list
                Event.build("ExtensionStatus", [("Exten", "201"), ("Status", "0")], action_id=aid),
                Event.build(
                    "ExtensionStateListComplete", [("EventList", "Complete"), ("ListItems", "2")], action_id=aid
                ),
            )
        else:
            s.send(Response.build("Error", [("Message", f"Invalid/unknown command: {a.name}.")], action_id=aid))

    def broadcast(self, *events: Event) -> None:
        for session in self.sessions:
            if not session.writer.is_closing():
                session.send(*events)


@pytest.fixture
async def server() -> AsyncIterator[FakeAMIServer]:
    fake = FakeAMIServer()
    fake.server = await asyncio.start_server(fake._handle, "127.0.0.1", 0)
    yield fake
    fake.server.close()
    for session in fake.sessions:
        session.drop()
        with contextlib.suppress(ConnectionError):
            await session.writer.wait_closed()
    await fake.server.wait_closed()


class FakeSleep:
    """Records backoff delays and returns at once (one loop turn), so tests never wait for real backoff."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make_client(server: FakeAMIServer, **kw: object) -> AMIClient:
    options: dict[str, object] = {
        "ping_interval": None,
        "action_timeout": 2.0,
        "sleep": FakeSleep(),
        "backoff": Backoff(rng=random.Random(7)),
    }
    options.update(kw)
    return AMIClient("127.0.0.1", server.port, "dialer", SECRET, **options)  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


async def test_login_filters_and_on_connected(server: FakeAMIServer) -> None:
    client = make_client(server)
    hook_calls: list[bool] = []

    async def hook() -> None:
        hook_calls.append(client.is_connected())

    client.on_connected(hook)
    assert client.state is AMIState.STOPPED
    async with client:
        await client.connect(timeout=2)
        assert client.state is AMIState.CONNECTED and client.banner == Banner("11.0.0")
        await until(lambda: hook_calls == [True])
        login = server.actions[0]
        assert (login.name, login.get("Username"), login.get("Secret"), login.get("Events")) == (
            "Login",
            "dialer",
            SECRET,
            "on",
        )
        filters = [a for a in server.actions if a.name == "Filter"]
        assert [(a.get("Operation"), a.get("Filter")) for a in filters] == [("Add", f) for f in DEFAULT_EVENT_FILTERS]
        assert len({a.action_id for a in server.actions}) == len(server.actions)  # generated ids are unique
    assert client.state is AMIState.CLOSED
    assert server.names()[-1] == "Logoff"


async def test_login_failure_backs_off_and_never_reports_connected(server: FakeAMIServer) -> None:
    sleep = FakeSleep()
    client = AMIClient(
        "127.0.0.1",
        server.port,
        "dialer",
        "wrong",
        ping_interval=None,
        sleep=sleep,
        backoff=Backoff(initial=0.1, cap=0.1, jitter=0, rng=random.Random(1)),
        login_backoff=Backoff(initial=0.5, cap=4, jitter=0, rng=random.Random(1)),
    )
    client.start()
    await until(lambda: len(sleep.delays) >= 6)
    with pytest.raises(AMINotConnected) as info:
        await client.connect(timeout=0)
    await client.close()
    assert isinstance(info.value.__cause__, AMILoginFailed)
    assert isinstance(client.last_error, AMILoginFailed)
    assert "Authentication failed" in str(client.last_error)
    assert sleep.delays[:6] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # the slow login schedule: exponential, capped
    assert set(server.names()) == {"Login"}
    assert client.connect_count == 0


async def test_refused_connections_retry_on_the_short_schedule_capped_at_one_second() -> None:
    """Issue 9 item 4: while Asterisk restarts the port refuses connections; the default schedule never waits more
    than 1 s between tries, so the link is back about a second after the port accepts again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connecting to it is refused
    sleep = FakeSleep()
    client = AMIClient("127.0.0.1", port, "dialer", "secret", ping_interval=None, sleep=sleep)
    client.start()
    await until(lambda: len(sleep.delays) >= 8)
    await client.close()
    assert isinstance(client.last_error, OSError)
    assert all(0 < delay <= 1.0 for delay in sleep.delays)
    assert max(sleep.delays[4:8]) > 0.5  # it still backs off, up to the cap


async def test_login_answered_shutting_down_is_not_a_refused_login(server: FakeAMIServer) -> None:
    """manager.c answers any action with "Asterisk is shutting down" during core stop/restart, Login included:
    the PBX is going away, so the short reconnect schedule applies, not the slow one for wrong credentials."""

    def shutting_down(s: FakeSession, a: Action) -> None:
        s.send(Response.build("Error", [("Message", "Asterisk is shutting down")], action_id=a.action_id))
        s.writer.close()

    server.handlers["Login"] = shutting_down
    sleep = FakeSleep()
    client = AMIClient(
        "127.0.0.1",
        server.port,
        "dialer",
        "secret",
        ping_interval=None,
        sleep=sleep,
        backoff=Backoff(initial=0.1, cap=0.1, jitter=0),
        login_backoff=Backoff(initial=5, cap=5, jitter=0),
    )
    client.start()
    await until(lambda: len(sleep.delays) >= 2)
    await client.close()
    assert isinstance(client.last_error, AMIConnectionLost) and not isinstance(client.last_error, AMILoginFailed)
    assert sleep.delays[:2] == [0.1, 0.1]


async def test_responses_correlate_by_actionid_with_events_in_between(server: FakeAMIServer) -> None:
    held: list[tuple[FakeSession, Action]] = []

    def hold(s: FakeSession, a: Action) -> None:
        held.append((s, a))
        if len(held) == 3:  # answer in reverse order, with events in between
            for session, action in reversed(held):
                session.send(Event.build("Newstate", [("Channel", action.get("Tag") or "")]))
                session.send(Response.build("Success", [("Tag", action.get("Tag") or "")], action_id=action.action_id))

    server.handlers["Echo"] = hold
    async with make_client(server) as client:
        await client.connect(timeout=2)
        seen: list[str] = []
        client.on_event(lambda e: seen.append(f"{e.name}:{e.get('Channel')}"))
        subscription = client.subscribe()
        results = await asyncio.gather(*(client.send(Action.build("Echo", [("Tag", t)])) for t in "abc"))
        assert [r.get("Tag") for r in results if isinstance(r, Response)] == ["a", "b", "c"]
        assert seen == ["Newstate:c", "Newstate:b", "Newstate:a"]
        got = [await anext(subscription) for _ in range(3)]
        assert [e.get("Channel") for e in got] == ["c", "b", "a"]


async def test_list_action_folds_and_unsolicited_event_still_delivered(server: FakeAMIServer) -> None:
    async with make_client(server) as client:
        await client.connect(timeout=2)
        events: list[Event] = []
        client.on_event(events.append)
        result = await client.send_list_action(Action.build("ExtensionStateList"))
        assert [e.get("Exten") for e in result.items] == ["202", "201"]
        assert result.complete is not None and result.complete.get("ListItems") == "2"
        assert [e.name for e in events] == ["Newchannel"]  # list items are not events for subscribers
        refused = await client.send_list_action(Action.build("QueueStatus"))  # unknown here: Error, no items
        assert refused.response.status == "Error" and refused.items == () and refused.complete is None
        plain = await client.send_action(Action.build("NoSuchAction"))
        assert plain.status == "Error"


async def test_timeout_then_connection_still_usable(server: FakeAMIServer) -> None:
    late: list[tuple[FakeSession, Action]] = []
    server.handlers["Slow"] = lambda s, a: late.append((s, a))
    async with make_client(server) as client:
        await client.connect(timeout=2)
        with pytest.raises(AMIActionTimeout, match="Slow"):
            await client.send(Action.build("Slow"), timeout=0.05)
        session, action = late[0]
        session.send(Response.build("Success", action_id=action.action_id))  # too late: dropped quietly
        pong = await client.send(Action.build("Ping"))
        assert isinstance(pong, Response) and pong.get("Ping") == "Pong"
        assert client.is_connected()


async def test_drop_mid_action_fails_pending_then_reconnects_and_resyncs(server: FakeAMIServer) -> None:
    server.handlers["Hang"] = lambda s, a: s.drop()
    sleep = FakeSleep()
    client = make_client(server, sleep=sleep)
    connected: list[int] = []
    disconnected: list[int] = []

    async def resync() -> None:
        connected.append(client.connect_count)
        await client.send(Action.build("Ping"))

    client.on_connected(resync)
    client.on_disconnected(lambda: disconnected.append(client.connect_count))
    async with client:
        await client.connect(timeout=2)
        with pytest.raises(AMIConnectionLost) as info:
            await client.send(Action.build("Hang"))
        assert isinstance(info.value, ConnectionError)
        await until(lambda: connected == [1, 2])
        assert disconnected == [1]
        assert len(sleep.delays) == 1 and 0.35 <= sleep.delays[0] <= 0.5  # first backoff step, jittered
        assert client.is_connected() and len(server.sessions) == 2
        assert server.names().count("Login") == 2
        assert server.names().count("Filter") == 2 * len(DEFAULT_EVENT_FILTERS)  # filters are per session


async def test_not_connected_raises_at_once(server: FakeAMIServer) -> None:
    client = make_client(server)
    with pytest.raises(AMINotConnected):
        await client.send(Action.build("Ping"))
    assert server.actions == []


async def test_ping_timeout_detects_a_frozen_asterisk(server: FakeAMIServer) -> None:
    client = make_client(
        server, ping_interval=0.01, ping_timeout=0.05, sleep=asyncio.sleep, backoff=Backoff(initial=0.01, cap=0.01)
    )
    async with client:
        await client.connect(timeout=2)
        server.sessions[0].frozen = True  # SIGSTOP: TCP stays up, nothing answers
        pending = asyncio.create_task(client.send(Action.build("CoreStatus"), timeout=5))
        await until(lambda: client.connect_count == 2)
        with pytest.raises(AMIConnectionLost, match="Ping"):
            await pending
        assert server.sessions[1].frozen is False and client.is_connected()


async def test_a_ping_answered_late_behind_a_busy_session_is_no_dead_link(server: FakeAMIServer) -> None:
    """Asterisk answers one session's actions in order (manager.c do_message): a Ping written behind a round of
    Originates is answered after them, the session sending their answers and events all the while. Issue 11: 2,500
    Originates in one round held the Ping 3 s and the link was declared dead, refusing 658 of them."""
    answers: list[asyncio.Task[None]] = []

    def busy_ping(s: FakeSession, a: Action) -> None:
        async def work_through_the_backlog() -> None:
            for i in range(25):  # 0.25 s of other answers and events, over twice the ping timeout
                s.send(Event.build("OriginateResponse", [("Response", "Success"), ("Uniqueid", f"dlr-{i}")]))
                await asyncio.sleep(0.01)
            s.send(Response.build("Success", [("Ping", "Pong")], action_id=a.action_id))

        answers.append(asyncio.create_task(work_through_the_backlog()))

    server.handlers["Ping"] = busy_ping
    client = make_client(server, ping_interval=0.01, ping_timeout=0.1, sleep=asyncio.sleep)
    async with client:
        await client.connect(timeout=2)
        await until(lambda: len(answers) >= 2)  # the first Ping was answered late and the next one went out
        assert client.connect_count == 1 and client.is_connected()
        server.sessions[0].frozen = True  # then a real freeze: nothing at all comes in
        for answer in answers:
            answer.cancel()
        await until(lambda: client.connect_count == 2)
    await asyncio.gather(*answers, return_exceptions=True)


async def test_shutdown_then_eof_and_close_before_banner_then_reconnect(server: FakeAMIServer) -> None:
    sleep = FakeSleep()
    async with make_client(server, sleep=sleep) as client:
        await client.connect(timeout=2)
        events: list[str] = []
        client.on_event(lambda e: events.append(e.name))
        server.close_before_banner = 2
        server.broadcast(Event.build("Shutdown", [("Shutdown", "Cleanly"), ("Restart", "True")]))
        server.sessions[0].writer.close()
        await until(lambda: client.connect_count == 2)
        assert events[0] == "Shutdown"
        assert len(sleep.delays) == 3  # after the EOF, and after each connection closed before its banner
        assert sleep.delays[1] > sleep.delays[0] * 1.2  # the backoff grew while attempts kept failing


async def test_slow_subscriber_overflows_explicitly_without_blocking_others(server: FakeAMIServer) -> None:
    async with make_client(server) as client:
        await client.connect(timeout=2)
        slow = client.subscribe(maxsize=2)
        fast = client.subscribe(maxsize=100)
        server.broadcast(*(Event.build("UserEvent", [("N", str(n))]) for n in range(5)))
        got = [await anext(fast) for _ in range(5)]
        assert [e.get("N") for e in got] == ["0", "1", "2", "3", "4"]
        assert [(await anext(slow)).get("N") for _ in range(2)] == ["0", "1"]  # what fitted, in order
        with pytest.raises(EventQueueOverflow):
            await anext(slow)
    with pytest.raises(StopAsyncIteration):  # closing the client ends the others
        await anext(fast)


async def test_named_callbacks_get_only_their_names_in_arrival_order(server: FakeAMIServer) -> None:
    async with make_client(server) as client:
        await client.connect(timeout=2)
        every: list[str] = []
        hangups: list[str] = []
        client.on_event(lambda e: every.append(e.name))
        remove = client.on_event(lambda e: hangups.append(f"{e.name}:{e.get('N')}"), ["Hangup", "newstate"])
        subscription = client.subscribe()
        server.broadcast(
            *(Event.build(name, [("N", str(n))]) for n, name in enumerate(["Hangup", "VarSet", "Newstate"]))
        )
        await until(lambda: len(every) == 3)
        assert every == ["Hangup", "VarSet", "Newstate"] and hangups == ["Hangup:0", "Newstate:2"]
        assert [(await anext(subscription)).name for _ in range(3)] == every  # subscriptions get every event
        remove()
        server.broadcast(Event.build("Hangup"))
        await until(lambda: len(every) == 4)
        assert hangups == ["Hangup:0", "Newstate:2"]


async def test_callback_errors_are_logged_not_fatal(server: FakeAMIServer, caplog: pytest.LogCaptureFixture) -> None:
    async with make_client(server) as client:
        await client.connect(timeout=2)
        good: list[str] = []

        def bad(event: Event) -> None:
            raise RuntimeError("boom")

        client.on_event(bad)
        client.on_event(lambda e: good.append(e.name))
        server.broadcast(Event.build("Hangup"))
        await until(lambda: good == ["Hangup"])
    assert "boom" in caplog.text and client.connect_count == 1


async def test_unsafe_values_are_refused_before_sending(server: FakeAMIServer) -> None:
    async with make_client(server) as client:
        await client.connect(timeout=2)
        with pytest.raises(ValueError):
            await client.send(Action.build("Originate", [("CallerID", "x\r\nAction: Logoff")]))
        assert "Originate" not in server.names() and client.is_connected()


@pytest.mark.parametrize("trace", [True, False])
async def test_wire_trace_redacts_the_secret(
    server: FakeAMIServer, caplog: pytest.LogCaptureFixture, trace: bool
) -> None:
    caplog.set_level(logging.DEBUG, logger="autodialer.ami.wire")
    async with make_client(server, trace=trace) as client:
        await client.connect(timeout=2)
        await client.send(Action.build("Ping"))
    wire = [r.getMessage() for r in caplog.records if r.name == "autodialer.ami.wire"]
    assert SECRET not in caplog.text
    if trace:
        assert any("Action: Login" in line and "Secret: ***" in line for line in wire)
        assert any("S->C" in line and "Ping: Pong" in line for line in wire)
    else:
        assert wire == []


def test_backoff_is_capped_and_jittered_within_bounds() -> None:
    backoff = Backoff(initial=0.5, factor=2, cap=30, jitter=0.3, rng=random.Random(3))
    for attempt in range(200):
        base = min(30.0, 0.5 * 2**attempt)
        assert 0.7 * base <= backoff.delay(attempt) <= base
    with pytest.raises(ValueError):
        Backoff(initial=0)


async def test_connection_refused_backs_off_until_the_server_is_back(server: FakeAMIServer) -> None:
    # kill -9 (trace 09): ECONNREFUSED until Asterisk listens again.
    port = server.port
    assert server.server is not None
    server.server.close()
    await server.server.wait_closed()
    sleep = FakeSleep()
    client = AMIClient("127.0.0.1", port, "dialer", SECRET, ping_interval=None, sleep=sleep)
    client.start()
    await until(lambda: len(sleep.delays) >= 3)
    assert isinstance(client.last_error, ConnectionRefusedError)
    assert client.state in (AMIState.WAITING, AMIState.CONNECTING) and not client.is_connected()
    server.server = await asyncio.start_server(server._handle, "127.0.0.1", port)
    assert await client.wait_connected(timeout=2)
    await client.close()


async def test_close_from_an_on_connected_hook(server: FakeAMIServer) -> None:
    client = make_client(server)
    closed = asyncio.Event()

    async def stop_at_once() -> None:
        await client.close()
        closed.set()

    client.on_connected(stop_at_once)
    client.start()
    async with asyncio.timeout(2):
        await closed.wait()
    assert client.state is AMIState.CLOSED and server.names()[-1] == "Logoff"


def test_wire_trace_render_redacts_md5_key_of_login_only() -> None:
    login = Action.build("Login", [("AuthType", "MD5"), ("Username", "dialer"), ("Key", "abc123")])
    assert render(login) == "Action: Login | AuthType: MD5 | Username: dialer | Key: ***"
    db = Action.build("DBGet", [("Family", "dialer"), ("Key", "campaign/42/state")])
    assert "Key: campaign/42/state" in render(db)  # DBGet's Key is data, not a secret


async def test_on_connected_waits_for_fully_booted_during_boot(server: FakeAMIServer) -> None:
    # Trace 09: a login while Asterisk boots gets PeerStatus/ExtensionStatus first and FullyBooted ~140 ms later.
    def booting_login(s: FakeSession, a: Action) -> None:
        s.send(Response.build("Success", [("Message", "Authentication accepted")], action_id=a.action_id))
        s.send(Event.build("PeerStatus", [("Peer", "PJSIP/201"), ("PeerStatus", "Reachable")]))
        asyncio.get_running_loop().call_later(0.05, s.send, Event.build("FullyBooted", [("Uptime", "1")]))

    server.handlers["Login"] = booting_login
    client = make_client(server)
    seen: list[str] = []
    client.on_event(lambda e: seen.append(e.name))
    hook_saw: list[list[str]] = []

    async def hook() -> None:
        hook_saw.append(list(seen))

    client.on_connected(hook)
    async with client:
        await client.connect(timeout=2)
        await until(lambda: bool(hook_saw))
    assert hook_saw == [["PeerStatus", "FullyBooted"]]


async def test_missing_fully_booted_only_delays_the_login(server: FakeAMIServer) -> None:
    server.handlers["Login"] = lambda s, a: s.send(Response.build("Success", action_id=a.action_id))
    async with make_client(server, fully_booted_timeout=0.05) as client:
        await client.connect(timeout=2)
        assert client.is_connected()
