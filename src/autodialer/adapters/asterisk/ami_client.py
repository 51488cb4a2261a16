"""``AMIClient``: the supervised, reconnecting AMI link; each connection is an ``AMISession`` (ami_session.py).

Job: keep one logged-in AMI session to Asterisk alive and let the service send actions and receive events on it.

* connect → banner → ``Login`` (``Events: on``) → server-side ``Filter`` actions (refused without write class
  "system": then applied client-side where they name one event) → ``FullyBooted`` (trace 09: a login during
  Asterisk's boot gets it ~140 ms later, and list queries before it may see a half-loaded PBX; waited for at most
  ``fully_booted_timeout``, and if it comes later the hooks run once more) → state CONNECTED → the ``on_connected``
  hooks (run in registration order in a task of their own, so a re-sync can send actions).
* ``send(action)`` adds a generated ActionID and awaits the response carrying it; list actions (``is_list_action``
  or ``expect_list=True``) come back folded into one ``ListResult``. Every send has a timeout.
* Events go, in arrival order, to synchronous callbacks (``on_event``, for cheap in-memory state updates; each
  gets only the event names it registered for, routed by name in ``ami_routes``) and to bounded async
  subscriptions (``subscribe``, every event; overflow policy in ``ami_subscription``).
* Keepalive: a ``Ping`` every ``ping_interval``; no answer and nothing else received within ``ping_timeout`` after
  it means a dead link (trace 09: a SIGSTOPped Asterisk keeps TCP up and nothing else tells) and the session is torn
  down. A Ping answered late while answers and events keep coming is a busy link, not a dead one (``_keepalive``).
* Any end of a session (EOF, reset, ``Shutdown`` then EOF, protocol error, dead link) fails the pending actions with
  ``AMIConnectionLost``, calls the ``on_disconnected`` callbacks and reconnects after capped exponential backoff with
  jitter (trace 09: a reconnect right after a restart may be accepted and closed before the banner, and connects
  are refused until Asterisk is back): at most 1 s between tries, so the link is back about a second after Asterisk
  listens again; a refused Login is retried on a slow schedule of its own (``backoff.LOGIN_REFUSED``).
  ``close()`` sends ``Logoff`` and stops for good.

Invariants: events are delivered in arrival order and never dropped silently; no action waits forever; secrets
never reach the wire trace. ``sleep`` (backoff and ping interval) and the backoff's ``rng`` are injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence

from autodialer.adapters.asterisk.ami_errors import (
    AMIClientError,
    AMIConnectionLost,
    AMILoginFailed,
    AMINotConnected,
)
from autodialer.adapters.asterisk.ami_routes import EventCallback, EventRoutes
from autodialer.adapters.asterisk.ami_session import AMISession
from autodialer.adapters.asterisk.ami_subscription import EventSubscription
from autodialer.adapters.asterisk.backoff import LOGIN_REFUSED, RECONNECT, Backoff
from autodialer.protocols.ami import (
    Action,
    AMIProtocolError,
    Banner,
    Event,
    ListResult,
    Response,
)

log = logging.getLogger(__name__)

# The session filters the lab used (README §4): VarSet alone is ~45% of a call's events and nothing reads it.
DEFAULT_EVENT_FILTERS = ("!Event: VarSet", "!Event: RTCPSent", "!Event: RTCPReceived")
# manager.c process_message: the answer to any action once ast_shutting_down() (core stop/restart) began.
SHUTTING_DOWN = "Asterisk is shutting down"
# The one filter shape the client can apply itself when Asterisk refuses it: exclude one event by name.
_EXCLUDE_EVENT = re.compile(r"!\s*Event:\s*([A-Za-z0-9_]+)\s*")

Sleep = Callable[[float], Awaitable[None]]
ConnectedHook = Callable[[], Awaitable[None]]


class AMIState(enum.Enum):
    STOPPED = "stopped"  # start() not called yet
    CONNECTING = "connecting"  # TCP connect, banner, login, filters
    CONNECTED = "connected"  # logged in: actions can be sent
    WAITING = "waiting"  # backing off before the next attempt
    CLOSED = "closed"  # close() was called


class AMIClient:
    """A supervised, reconnecting AMI session. Implements ``adapters.asterisk.ami_link.AMILink``."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        event_filters: Sequence[str] = DEFAULT_EVENT_FILTERS,
        events: str = "on",
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        login_timeout: float = 5.0,
        fully_booted_timeout: float | None = 3.0,
        ping_interval: float | None = 5.0,
        ping_timeout: float = 3.0,
        backoff: Backoff | None = None,
        login_backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        trace: bool = False,
        action_id_prefix: str = "ad",
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self._event_filters = tuple(event_filters)
        self._events = events
        self._action_timeout = action_timeout
        self._connect_timeout = connect_timeout
        self._login_timeout = login_timeout
        self._fully_booted_timeout = fully_booted_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._backoff = backoff or RECONNECT
        self._login_backoff = login_backoff or LOGIN_REFUSED
        self._sleep = sleep
        self._trace = trace
        self._id_prefix = action_id_prefix

        self._state = AMIState.STOPPED
        self._session: AMISession | None = None
        self._sessions_started = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._hooks_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._on_connected: list[ConnectedHook] = []
        self._on_disconnected: list[Callable[[], None]] = []
        self._on_state: list[Callable[[], None]] = []
        self._routes = EventRoutes()  # on_event callbacks by event name; refused filters route to nobody
        self._subscriptions: list[EventSubscription] = []
        self._local_exclusions: frozenset[str] = frozenset()  # refused filters, applied in _deliver
        self.banner: Banner | None = None
        self.last_error: BaseException | None = None
        self.connect_count = 0  # successful logins so far

    # ----- lifecycle

    @property
    def state(self) -> AMIState:
        return self._state

    @property
    def username(self) -> str:
        return self._username

    def is_connected(self) -> bool:
        return self._state is AMIState.CONNECTED

    def start(self) -> None:
        """Start the connect/reconnect loop in the background (idempotent). Needs a running event loop."""
        if self._closing:
            raise RuntimeError("AMIClient was closed")
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-client")

    async def connect(self, timeout: float | None = None) -> None:
        """``start()`` and wait until logged in; raises AMINotConnected (caused by the last failure) on timeout.

        The background loop keeps retrying after a timeout; call ``close()`` to stop it.
        """
        self.start()
        if not await self.wait_connected(timeout):
            raise AMINotConnected(f"not connected to AMI {self.host}:{self.port} after {timeout}s") from self.last_error

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """True once logged in; False if ``timeout`` seconds pass first."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, logoff_timeout: float = 1.0) -> None:
        """Log off (best effort), stop reconnecting, fail pending actions, end every subscription."""
        if self._state is AMIState.CLOSED:
            return
        self._closing = True
        session = self._session
        if session is not None and self._state is AMIState.CONNECTED:
            with contextlib.suppress(AMIClientError, OSError):
                await session.request(Action.build("Logoff"), logoff_timeout, expect_list=False)
        for task in (self._supervisor, self._hooks_task):
            # close() may be called from an on_connected hook: never cancel and await the calling task itself.
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        self._set_state(AMIState.CLOSED)

    async def __aenter__(self) -> AMIClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----- registration

    def on_connected(self, hook: ConnectedHook) -> None:
        """Await ``hook()`` after every (re)login, e.g. to re-sync state: events missed while down are gone."""
        self._on_connected.append(hook)

    def on_disconnected(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever a logged-in session ends (before any reconnect)."""
        self._on_disconnected.append(callback)

    def on_state_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` synchronously after every change of ``state`` (the wallboard's link status)."""
        self._on_state.append(callback)

    def on_event(self, callback: EventCallback, names: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` synchronously for every event named in ``names`` (case-insensitive; every
        event when None), in arrival order; returns an unregister function.

        Runs on the reader: keep it quick and non-blocking. An exception is logged and does not stop delivery.
        A consumer that names what it reads is not called for the rest (most of a loaded PBX's events).
        """
        return self._routes.add(callback, names)

    def subscribe(self, maxsize: int = 10_000) -> EventSubscription:
        """A bounded async iterator of every event from now on, in arrival order (see ``ami_subscription``)."""
        subscription = EventSubscription(maxsize)
        self._subscriptions.append(subscription)
        return subscription

    # ----- actions

    async def send(
        self, action: Action, *, timeout: float | None = None, expect_list: bool | None = None
    ) -> Response | ListResult:
        """Send ``action`` and await its answer: a ``Response``, or a ``ListResult`` for list actions.

        An ActionID is generated unless the action has one. ``expect_list`` defaults to ``is_list_action(name)``.
        Raises AMINotConnected (not logged in: nothing sent), AMIConnectionLost (the link dropped first),
        AMIActionTimeout (no answer within ``timeout``, default ``action_timeout``), AMIProtocolError (unsafe content).
        """
        session = self._session
        if session is None or self._state is not AMIState.CONNECTED:
            raise AMINotConnected(f"AMI is {self._state.value}; {action.name} not sent")
        return await session.request(action, self._action_timeout if timeout is None else timeout, expect_list)

    async def send_action(self, action: Action) -> Response:
        """``AMILink``: send a plain action and return its Response."""
        result = await self.send(action, expect_list=False)
        assert isinstance(result, Response)
        return result

    async def send_list_action(self, action: Action) -> ListResult:
        """``AMILink``: send a list action and return the folded ListResult (no items when refused)."""
        result = await self.send(action, expect_list=True)
        assert isinstance(result, ListResult)
        return result

    # ----- the connection loop

    async def _supervise(self) -> None:
        attempt = refused_logins = 0
        while not self._closing:
            self._set_state(AMIState.CONNECTING)
            login_refused = False
            try:
                if await self._run_session():
                    attempt = refused_logins = 0  # it was up: start the backoff afresh
            except Exception as e:  # the supervisor: log, back off, retry
                self.last_error = e
                login_refused = isinstance(e, AMILoginFailed)
                expected = isinstance(e, (OSError, AMIClientError, AMIProtocolError))
                level = logging.ERROR if isinstance(e, AMILoginFailed) else logging.WARNING  # config, not a blip
                log.log(level, "AMI %s:%s: connect failed: %s", self.host, self.port, e, exc_info=not expected)
            if self._closing:
                return
            self._set_state(AMIState.WAITING)
            if login_refused:  # credentials or ACL: retrying fast would not help
                delay = self._login_backoff.delay(refused_logins)
                refused_logins += 1
            else:  # refused, reset or closed: Asterisk is (re)starting, be back as soon as it listens
                delay = self._backoff.delay(attempt)
            attempt += 1
            log.info("AMI %s:%s: reconnect attempt %d in %.2fs", self.host, self.port, attempt, delay)
            await self._sleep(delay)

    async def _run_session(self) -> bool:
        """Connect, log in and serve one session until it ends; True if it got as far as logged in."""
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        self._sessions_started += 1
        session = AMISession(self._sessions_started, self._id_prefix, reader, writer, self._deliver, trace=self._trace)
        reader_task = asyncio.create_task(session.read_loop(), name=f"ami-reader-{session.number}")
        keepalive: asyncio.Task[None] | None = None
        late_boot: asyncio.Task[None] | None = None
        logged_in = False
        try:
            await self._handshake(session)
            logged_in = True
            self._session = session
            self.last_error = None
            self.connect_count += 1
            self._set_state(AMIState.CONNECTED)
            self._connected.set()
            self._hooks_task = asyncio.create_task(self._run_hooks(), name="ami-on-connected")
            if not session.fully_booted.done():
                late_boot = asyncio.create_task(self._rerun_hooks_when_booted(session), name="ami-late-boot")
            if self._ping_interval is not None:
                keepalive = asyncio.create_task(self._keepalive(session), name=f"ami-ping-{session.number}")
            reason = await asyncio.shield(session.ended)
            self.last_error = AMIConnectionLost(reason)
            log.warning("AMI %s:%s: session ended: %s", self.host, self.port, reason)
        finally:
            session.end("client stopped")
            for task in (reader_task, keepalive, late_boot):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            # abort() closes the socket from a loop callback; wait for it so no socket outlives its session.
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if self._session is session:
                self._session = None
            self._connected.clear()
            if logged_in:
                self._notify_disconnected()
        return logged_in

    async def _handshake(self, session: AMISession) -> None:
        async with asyncio.timeout(self._login_timeout):
            await asyncio.wait((session.banner, session.ended), return_when=asyncio.FIRST_COMPLETED)
        if not session.banner.done():
            raise AMIConnectionLost(f"closed before the banner ({session.end_reason})")
        self.banner = session.banner.result()
        login = Action.build(
            "Login", [("Username", self._username), ("Secret", self._secret), ("Events", self._events)]
        )
        response = await session.request(login, self._login_timeout, expect_list=False)
        assert isinstance(response, Response)
        if (response.message or "").strip() == SHUTTING_DOWN:
            # manager.c process_message answers every action, Login included, so while it shuts down: not a
            # credentials problem, the PBX is going away (the EOF follows).
            raise AMIConnectionLost(f"login refused: {response.message}")
        if not response.is_success:
            raise AMILoginFailed(f"AMI login as {self._username!r} refused: {response.message}")
        self._local_exclusions = await self._add_filters(session)
        self._routes.exclude(self._local_exclusions)
        if self._fully_booted_timeout is not None:
            await asyncio.wait(
                (session.fully_booted, session.ended),
                timeout=self._fully_booted_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if session.end_reason is not None:
                raise AMIConnectionLost(f"closed during login ({session.end_reason})")
            if not session.fully_booted.done():
                # Without the "system" read class Asterisk never sends it: carry on rather than hang.
                log.warning("AMI: no FullyBooted within %.1fs after login; carrying on", self._fully_booted_timeout)

    async def _add_filters(self, session: AMISession) -> frozenset[str]:
        """Send the session filters; return the event names to drop client-side because Asterisk refused them.

        manager.c registers ``Filter`` with write class "system", which the AMI user we ship does not have: every
        Filter is then answered ``Permission denied`` (process_message), so after the first one the rest are not
        sent. A refused ``!Event: <Name>`` filter is applied here instead, so consumers see the same events either
        way; the user's ``eventfilter`` lines in manager.conf still filter on the server side.
        """
        unapplied: list[str] = []
        for n, expression in enumerate(self._event_filters):
            action = Action.build("Filter", [("Operation", "Add"), ("Filter", expression)])
            answer = await session.request(action, self._login_timeout, expect_list=False)
            assert isinstance(answer, Response)
            if answer.is_success:
                continue
            if (answer.message or "").strip().lower() == "permission denied":
                unapplied.extend(self._event_filters[n:])
                log.warning(
                    "AMI: Filter refused (%s: the user lacks write class 'system'); filtering %d expression(s) "
                    "client-side",
                    answer.message,
                    len(self._event_filters) - n,
                )
                break
            log.warning("AMI: event filter %r refused: %s", expression, answer.message)
            unapplied.append(expression)
        names = set()
        for expression in unapplied:
            match = _EXCLUDE_EVENT.fullmatch(expression)
            if match:
                names.add(match.group(1))
            else:
                log.warning("AMI: event filter %r cannot be applied client-side; ignored", expression)
        return frozenset(names)

    def _deliver(self, event: Event) -> None:
        # The hot path (every event of a loaded PBX): one name lookup, then only the interested callbacks.
        name = event.name
        for callback in self._routes.targets(name):
            try:
                callback(event)
            except Exception:  # one faulty consumer must not starve the others or kill the reader
                log.exception("AMI event callback %r failed on %s", callback, name)
        if not self._subscriptions or (self._local_exclusions and name in self._local_exclusions):
            return
        finished = [s for s in self._subscriptions if not s.push(event)]
        for subscription in finished:
            if subscription.overflowed:
                log.warning("AMI: a subscriber fell %d events behind; subscription ended", subscription.maxsize)
            self._subscriptions.remove(subscription)

    async def _keepalive(self, session: AMISession) -> None:
        """A Ping every ``ping_interval``; the link is dead when, after a Ping went out, nothing at all came in for
        ``ping_timeout``.

        Not "no Pong within ping_timeout": Asterisk works through one session's actions in order on one thread,
        which also writes the session's events and answers (manager.c do_message: process_events, get_input,
        process_message), so a Ping written behind a round of Originates is answered after them, and every answer
        or event arriving meanwhile proves that thread alive and busy with what we asked first. A frozen Asterisk
        (trace 09: SIGSTOP keeps TCP up) sends nothing at all.
        """
        assert self._ping_interval is not None
        loop = asyncio.get_running_loop()
        while session.end_reason is None:
            await self._sleep(self._ping_interval)
            sent_at = loop.time()
            ping = asyncio.ensure_future(session.request(Action.build("Ping"), None, expect_list=False))
            try:
                while not ping.done():
                    silent_until = max(sent_at, session.last_received) + self._ping_timeout
                    if loop.time() >= silent_until:
                        log.warning(
                            "AMI: no answer to Ping and nothing else received for %.1fs: the link is dead",
                            self._ping_timeout,
                        )
                        session.end("no answer to Ping, nothing received (dead link)")
                        return
                    await asyncio.wait((ping,), timeout=silent_until - loop.time())
                ping.result()
            except AMIConnectionLost:
                return
            finally:
                if not ping.done():
                    ping.cancel()
                    await asyncio.gather(ping, return_exceptions=True)

    async def _rerun_hooks_when_booted(self, session: AMISession) -> None:
        """Run the on_connected hooks again once a FullyBooted comes after they started.

        Trace 09: a login while Asterisk boots is accepted before FullyBooted (Uptime: 0) arrives. When the boot takes
        longer than ``fully_booted_timeout`` the hooks' re-sync may have seen a half-loaded PBX (modules such as
        app_queue or pbx_config not loaded yet: their list actions refused or empty), so it is redone after the boot,
        once the first run has finished.
        """
        # asyncio.wait, not await: cancelling this task must not cancel the session's futures.
        await asyncio.wait((session.fully_booted, session.ended), return_when=asyncio.FIRST_COMPLETED)
        if session.end_reason is not None or not session.fully_booted.done():
            return
        first = self._hooks_task
        if first is not None and not first.done():
            await asyncio.wait((first,))
        if session.end_reason is not None or self._session is not session or self._closing:
            return
        log.info("AMI: FullyBooted came after the on_connected hooks started; running them again")
        self._hooks_task = asyncio.create_task(self._run_hooks(), name="ami-on-connected")

    async def _run_hooks(self) -> None:
        for hook in tuple(self._on_connected):
            try:
                await hook()
            except ConnectionError as e:
                log.warning("AMI on_connected hook %r: link dropped: %s", hook, e)
                return
            except Exception:  # a hook bug must not take the connection down
                log.exception("AMI on_connected hook %r failed", hook)

    def _notify_disconnected(self) -> None:
        for callback in tuple(self._on_disconnected):
            try:
                callback()
            except Exception:
                log.exception("AMI on_disconnected callback %r failed", callback)

    def _set_state(self, state: AMIState) -> None:
        if state is not self._state:
            log.info("AMI %s:%s: %s -> %s", self.host, self.port, self._state.value, state.value)
            self._state = state
            for callback in tuple(self._on_state):
                try:
                    callback()
                except Exception:
                    log.exception("AMI on_state_change callback %r failed", callback)
