"""The dialer process's supervision of its API worker child (api_workers=1).

``spawn`` starts the child early (it imports while the dialer process migrates and starts the dialer); ``start``
sends it its settings and waits for its ready line (the URL of the public port, written on a pipe once the
port accepts), so the service says "REST API on …" only when it is true. The child gets the parent's settings on
its stdin as JSON (CLI flags and test overrides included, not re-read from the environment) and runs in its own
session, so a terminal's Ctrl-C reaches the dialer process only, which then stops the worker in order.

When the worker dies unexpectedly the supervisor logs it and starts a new one after a capped backoff (0.5 s, 1 s …
10 s; reset once a worker has served ``_STABLE_S``). A worker that never became ready ``_START_ATTEMPTS`` times in
a row (the port is taken, the settings cannot be used) ends the supervision with WorkerFailed: the service then
exits non-zero, as a single-process service does when its port is taken. ``stop`` sends SIGTERM, waits, then
SIGKILLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

_BACKOFF_MAX_S = 10.0
_STABLE_S = 30.0
_START_ATTEMPTS = 5
READY_FD_PLACEHOLDER = "{ready_fd}"


class WorkerFailed(RuntimeError):
    """The API worker could not be started (it exited before its port accepted, each time)."""


class ApiWorkerProcess:
    """``argv``: the child's command line, ``{ready_fd}`` standing for the pipe it writes its ready line to;
    ``stdin``: the bytes the child reads first (its settings); ``env``: its environment (None: ours);
    ``restart_stdin``: given the first worker's ready line, the bytes every later worker reads instead (serve pins
    a port the first worker chose, so that a restarted worker serves where the clients were told)."""

    def __init__(
        self,
        argv: Sequence[str],
        stdin: bytes,
        *,
        env: Mapping[str, str] | None = None,
        restart_stdin: Callable[[str], bytes] | None = None,
        stop_timeout_s: float = 5.0,
        backoff_s: float = 0.25,
    ) -> None:
        self._argv = list(argv)
        self._stdin = stdin
        self._restart_stdin = restart_stdin
        self._env = None if env is None else dict(env)
        self._stop_timeout_s = stop_timeout_s
        self._backoff_s = backoff_s  # half the first delay before a restart (tests shorten it)
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready_fd: int | None = None  # the read end of a spawned worker's ready pipe, until it is read
        self.url = ""  # the ready line of the current worker
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def spawn(self) -> None:
        """Start the child now; it imports its modules, then waits for its settings (``start`` sends them): the
        dialer process migrates the database meanwhile."""
        read_fd, write_fd = os.pipe()
        try:
            argv = [arg.replace(READY_FD_PLACEHOLDER, str(write_fd)) for arg in self._argv]
            self._process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True, env=self._env
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._ready_fd = read_fd
        self.starts += 1

    async def start(self) -> str:
        """Send the spawned worker (spawning one if needed) its settings and return its public URL once it accepts;
        then supervise it (``wait``)."""
        await self._start_until_ready()
        self._supervisor = asyncio.create_task(self._supervise(), name="api-worker-supervisor")
        return self.url

    async def wait(self) -> None:
        """Return only if supervision ended (WorkerFailed)."""
        assert self._supervisor is not None
        await self._supervisor

    async def _start_until_ready(self) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            if await self._ready():
                return
            code = await self._exit_code()
            if attempt < _START_ATTEMPTS:
                delay = self._backoff(attempt)
                log.error("API worker exited with %s before it served; starting it again in %.1fs", code, delay)
                await asyncio.sleep(delay)
        raise WorkerFailed(f"the API worker exited before its port accepted, {_START_ATTEMPTS} times")

    async def _supervise(self) -> None:
        failures = 0  # in a row, each worker dying within _STABLE_S of its start
        while True:
            started = asyncio.get_running_loop().time()
            code = await self._exit_code()
            served_s = asyncio.get_running_loop().time() - started
            failures = 0 if served_s >= _STABLE_S else failures + 1
            delay = self._backoff(failures)
            log.error("API worker exited unexpectedly (%s) after %.0fs; restarting in %.1fs", code, served_s, delay)
            await asyncio.sleep(delay)
            await self._start_until_ready()
            log.info("API worker restarted: REST API on %s (API worker pid %s)", self.url, self.pid)

    async def _ready(self) -> bool:
        """Give the spawned worker (or a new one) its settings; True once it wrote its ready line, False if it
        exited first."""
        if self._ready_fd is None:
            await self.spawn()
        read_fd, self._ready_fd = self._ready_fd, None
        assert self._process is not None and self._process.stdin is not None and read_fd is not None
        with contextlib.suppress(ConnectionError):
            self._process.stdin.write(self._stdin)
            await self._process.stdin.drain()
        self._process.stdin.close()
        line = await _read_line(read_fd)
        if not line:
            return False
        if not self.url and self._restart_stdin is not None:
            self._stdin = self._restart_stdin(line)
        self.url = line
        return True

    async def _exit_code(self) -> int:
        assert self._process is not None
        return await self._process.wait()

    def _backoff(self, failures: int) -> float:
        """0.5 s after the first failure in a row, doubling, at most _BACKOFF_MAX_S."""
        return float(min(_BACKOFF_MAX_S, self._backoff_s * 2 ** max(1, failures)))

    async def stop(self) -> None:
        """Stop supervising, then SIGTERM the worker; SIGKILL if it has not exited after the stop timeout."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, WorkerFailed):
                await self._supervisor
        if self._ready_fd is not None:
            os.close(self._ready_fd)
            self._ready_fd = None
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._stop_timeout_s)
        except TimeoutError:
            log.error("API worker %d did not stop in %.0fs: killed", process.pid, self._stop_timeout_s)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def _read_line(fd: int) -> str:
    """The first line written on the pipe ``fd`` (closed afterwards); "" at end of file (the writer exited)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return (await reader.readline()).decode().strip()
    finally:
        transport.close()
