"""``autodialer serve`` as a real subprocess for the benchmarks that measure it over HTTP, and the peak RSS of its
serving processes.

``ServeProcess`` runs ``python -m autodialer serve`` on a data directory and a free HTTP port with the
``AUTODIALER_*`` settings it is given. None are inherited from this shell except ``AUTODIALER_API_WORKERS``, so a
run can choose serve's single process (0) or its API worker split. It can be killed (-9, the whole process tree,
as a service manager would) and started again on the same port and data.

``fresh_database`` gives each run an empty PostgreSQL database of its own (serve migrates it), or SQLite.

``dialing_serve`` is the stack the benchmarks that load serve while it dials share: the simulator in a process of
its own (engine_bench.sim_process), a fresh database and a dialing ``ServeProcess`` aimed at them; ``agent_tasks``
gives each agent a v1 task of its own.

``TreeRss`` is the memory of the serving processes: serve's pid and every process under it (a split serve's API
worker). A thread samples them every 0.1 s while the server runs and keeps each process's largest ``VmHWM`` (its
peak resident set, /proc/<pid>/status), so a worker that has exited still counts. The peak reported is the sum over
the processes: the figure an operator adds up per process, an upper bound of the tree's peak at any one instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy

PASSED_THROUGH = ("AUTODIALER_API_WORKERS",)
SAMPLE_S = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (children, theirs, …), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def status_kb(pid: int, field: str) -> int | None:
    """A ``/proc/<pid>/status`` figure in kB, None once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and of its children it has waited for (/proc/<pid>/stat), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class TreeRss:
    """Peak resident memory of a process and of every process under it; see the module docstring."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._peaks: dict[int, int] = {}  # pid -> its largest VmHWM seen, kB
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)
        self._thread.start()

    def pids(self) -> list[int]:
        return [self.pid, *descendants(self.pid)]

    def sample(self) -> None:
        for pid in self.pids():
            peak = status_kb(pid, "VmHWM")
            if peak is not None:
                with self._lock:
                    self._peaks[pid] = max(peak, self._peaks.get(pid, 0))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self) -> float:
        """Sum over the processes of each one's peak, sampled now too."""
        self.sample()
        with self._lock:
            return sum(self._peaks.values()) / 1024

    def peaks_mb(self) -> dict[int, float]:
        """Each process's peak, by pid (serve's first)."""
        self.sample()
        with self._lock:
            return {pid: kb / 1024 for pid, kb in self._peaks.items()}

    def rss_mb(self) -> float:
        """The processes' resident memory now, summed."""
        return sum(status_kb(pid, "VmRSS") or 0 for pid in self.pids()) / 1024

    def cpu_s(self) -> float:
        """CPU seconds used so far by the processes alive now (each one's own and its reaped children's)."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def reset(self) -> bool:
        """Restart every peak from the current RSS (Linux: "5" > clear_refs), so the next ``peak_mb`` is what
        happened from now on; False where the kernel does not allow it (the peaks then run from the start)."""
        done = True
        for pid in self.pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                done = False
        if done:
            with self._lock:
                self._peaks.clear()
        return done


class ServeProcess:
    """``autodialer serve`` in a subprocess; see the module docstring. ``settings`` are extra ``AUTODIALER_*``
    variables (names without the prefix are given it); the dialer is off unless ``dialer``."""

    def __init__(
        self, data_dir: Path, database_url: str = "", *, dialer: bool = False, settings: Mapping[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "serve.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIALER_") or k in PASSED_THROUGH}
        self.env |= {
            "AUTODIALER_DATA_DIR": str(data_dir),
            "AUTODIALER_HTTP_HOST": "127.0.0.1",
            "AUTODIALER_HTTP_PORT": str(self.port),
            "AUTODIALER_DIALER_ENABLED": "true" if dialer else "false",
        }
        if database_url:
            self.env["AUTODIALER_DATABASE_URL"] = database_url
        for name, value in (settings or {}).items():
            self.env[name if name.startswith("AUTODIALER_") else f"AUTODIALER_{name}"] = value
        self.process: subprocess.Popen[bytes] | None = None
        self.rss: TreeRss | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> None:
        """Start it (not waiting for it to answer), its output appended to ``log``."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autodialer", "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.rss = TreeRss(self.process.pid)

    def answering(self) -> bool:
        """Whether ``/health`` answers 200 yet; raises if serve has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"autodialer serve exited:\n{self.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(self.base_url + "/health", timeout=1).status_code == 200
        return False

    def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        deadline = time.monotonic() + timeout
        while not self.answering():
            if time.monotonic() > deadline:
                raise RuntimeError(f"autodialer serve did not answer in {timeout:.0f} s")
            time.sleep(0.05)

    async def start_async(self, timeout: float = 60.0) -> None:
        """``start`` for an event loop that must keep running meanwhile (a simulator in the same process)."""
        self.spawn()
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(self.answering):
            if time.monotonic() > deadline:
                raise RuntimeError(f"autodialer serve did not answer in {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to serve and every process under it, as a service manager stops a unit's control group."""
        assert self.process is not None
        tree = [self.process.pid, *descendants(self.process.pid)]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self._close_rss()

    def stop(self) -> None:
        """SIGTERM and up to 30 s to exit, then SIGKILL; processes it left behind are killed too."""
        if self.process is None or self.process.poll() is not None:
            self._close_rss()
            return
        tree = descendants(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                if status_kb(pid, "VmHWM") is not None:  # still there: serve's exit left it behind
                    os.kill(pid, signal.SIGKILL)
        self._close_rss()

    def _close_rss(self) -> None:
        if self.rss is not None:
            self.rss.close()


@contextlib.contextmanager
def serve(
    data_dir: Path, database_url: str = "", *, dialer: bool = False, settings: Mapping[str, str] | None = None
) -> Iterator[ServeProcess]:
    """A started ``ServeProcess``, stopped on the way out."""
    process = ServeProcess(data_dir, database_url, dialer=dialer, settings=settings)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def fresh_database(server_url: str, sqlite_dir: Path) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``server_url`` (a ``postgresql+psycopg://`` URL of any database
    there; dropped afterwards), or with no URL a SQLite file in ``sqlite_dir``; its URL."""
    if not server_url:
        yield f"sqlite+aiosqlite:///{sqlite_dir / 'bench.sqlite3'}"
        return
    head, _, _ = server_url.rpartition("/")
    name = f"autodialer_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sqlalchemy.create_engine(f"{head}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield f"{head}/{name}"
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@dataclass(frozen=True)
class DialingStack:
    serve: ServeProcess  # not started: the caller starts it
    simulator: subprocess.Popen[str]  # its stdout carries the simulator's stamps
    database_url: str
    data_dir: Path


@contextlib.contextmanager
def dialing_serve(
    sim: Mapping[str, Any], database_url: str, settings: Mapping[str, str] | None = None
) -> Iterator[DialingStack]:
    """A dialing serve on a fresh database (``database_url``: a PostgreSQL server, else SQLite) and the simulator
    (``sim``: engine_bench.serve_sim's config) it dials; serve is stopped on the way out. ``settings`` add to or
    override the stack's own (test environment, the ports, 1,000 channels at most, 10 s Originate timeout)."""
    from engine_bench import sim_process  # late: it imports the service, which the serve-only benchmarks need not

    agi_port = free_port()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(database_url, Path(tmp)) as url,
        sim_process(dict(sim), agi_port) as (simulator, ami_port),
    ):
        env = {
            "ENVIRONMENT": "test",
            "AMI_PORT": str(ami_port),
            "FASTAGI_PORT": str(agi_port),
            "MAX_COUNT_CHANNELS_CEILING": "1000",
            "ORIGINATE_TIMEOUT_S": "10",
            **(settings or {}),
        }
        serve = ServeProcess(Path(tmp), url, dialer=True, settings=env)
        try:
            yield DialingStack(serve, simulator, url, Path(tmp))
        finally:
            serve.stop()


def talking_sim(agents: Sequence[str], probe_numbers: str | None = None) -> dict[str, Any]:
    """The simulator those benchmarks dial: 201 and ``agents`` answer in 0.5 s, customers answer in 0.5 s and talk
    20 s (time scale 0.05: ~1.1 s a call); with ``probe_numbers`` (a number prefix) 201 is the probe agent for them
    and every Originate is stamped."""
    sim: dict[str, Any] = {
        "members": ["201", *agents],
        "time_scale": 0.05,
        "customer": {"outcome": "answer", "answer_after": 0.5, "hangup_after": 20.0},
        "employee": {"answer_after": 0.5},
    }
    if probe_numbers is not None:
        sim |= {"probe_agent": "201", "probe_numbers": probe_numbers, "stamp_originates": True}
    return sim


def agent_tasks(http: httpx.Client, agents: Sequence[str], per_task: int) -> list[int]:
    """A v1 task of ``per_task`` numbers for each agent (``7910<agent index><n>``, numbers that route); their ids."""
    return [
        post_task(http, task_body(f"agent {agent}", agent, (f"7910{k:03d}{n:04d}" for n in range(per_task))))
        for k, agent in enumerate(agents)
    ]


# ---------------------------------------------------------------- MikoPBX v1 tasks, streamed

V1 = "/pbxcore/api/module-dialer/v1"


def task_body(name: str, inner: str, numbers: Iterator[str], state: int | None = None) -> Iterator[bytes]:
    """A v1 ``POST /task`` body streamed 10,000 numbers at a time (a 1M-number task is never built in memory)."""
    head: dict[str, Any] = {"name": name, "innerNum": inner} | ({} if state is None else {"state": state})
    yield json.dumps(head)[:-1].encode() + b', "numbers": ['
    first = True
    for chunk in iter(lambda: list(itertools.islice(numbers, 10_000)), []):
        yield (b"" if first else b", ") + ", ".join(f'"{n}"' for n in chunk).encode()
        first = False
    yield b"]}"


def post_task(http: httpx.Client, body: Iterator[bytes]) -> int:
    """POST the task over ``http`` (a client on serve's base URL); its id, or exit naming the answer."""
    reply = http.post(f"{V1}/task", content=body)
    if reply.status_code != 200 or reply.json().get("result") is not True:
        raise SystemExit(f"CHECK FAILED: POST /task answered {reply.status_code}: {reply.text[:300]}")
    return int(reply.json()["data"]["id"])
