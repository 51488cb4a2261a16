"""The dialer process's supervision of its API worker (adapters/process/api_worker_process), on small Python
children that behave as a worker would: read the settings, write the ready line on the pipe, serve until told."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from autodialer.adapters.process.api_worker_process import READY_FD_PLACEHOLDER, ApiWorkerProcess, WorkerFailed

# argv[1]: the ready pipe; argv[2]: a file the child appends its settings to; argv[3]: what it does once ready.
CHILD = """
import os, signal, sys, time
settings = sys.stdin.buffer.read()
with open(sys.argv[2], "ab") as seen:
    seen.write(settings + b"\\n")
if sys.argv[3] == "never-ready":
    sys.exit(3)
if sys.argv[3] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.write(int(sys.argv[1]), b"http://127.0.0.1:%d\\n" % os.getpid())
while True:
    time.sleep(0.05)
"""


def worker(tmp_path: Path, behaviour: str, **options: float) -> ApiWorkerProcess:
    argv = [sys.executable, "-c", CHILD, READY_FD_PLACEHOLDER, str(tmp_path / "seen"), behaviour]
    return ApiWorkerProcess(argv, b'{"http_port": 1}', **options)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_start_returns_once_ready_and_stop_ends_the_child(tmp_path: Path) -> None:
    process = worker(tmp_path, "serve")
    url = await process.start()
    pid = process.pid
    assert pid is not None and url == f"http://127.0.0.1:{pid}" and alive(pid)
    assert (tmp_path / "seen").read_bytes() == b'{"http_port": 1}\n'  # the settings, on stdin
    await process.stop()
    assert not alive(pid)


async def test_a_child_spawned_early_gets_its_settings_only_at_start(tmp_path: Path) -> None:
    process = worker(tmp_path, "serve")
    await process.spawn()
    await asyncio.sleep(0.3)
    assert not (tmp_path / "seen").exists()  # waiting for its settings (the dialer migrates meanwhile)
    await process.start()
    assert process.starts == 1
    await process.stop()


async def test_a_worker_that_dies_is_started_again(tmp_path: Path) -> None:
    process = worker(tmp_path, "serve", backoff_s=0.01)
    await process.start()
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    for _ in range(200):
        if process.starts == 2 and process.url == f"http://127.0.0.1:{process.pid}":
            break
        await asyncio.sleep(0.02)
    assert process.starts == 2 and process.pid != first and process.pid is not None and alive(process.pid)
    await process.stop()


async def test_a_worker_that_never_becomes_ready_fails_the_start(tmp_path: Path) -> None:
    process = worker(tmp_path, "never-ready", backoff_s=0.01)
    with pytest.raises(WorkerFailed):
        await process.start()
    assert process.starts == 5
    await process.stop()


async def test_a_worker_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    process = worker(tmp_path, "ignore-term", stop_timeout_s=0.3)
    await process.start()
    pid = process.pid
    assert pid is not None
    await asyncio.wait_for(process.stop(), 5)
    assert not alive(pid)


async def test_a_restarted_worker_reads_the_settings_derived_from_the_first_ones_url(tmp_path: Path) -> None:
    # serve with http_port 0: the first worker picks a port, every later one must serve that same port.
    argv = [sys.executable, "-c", CHILD, READY_FD_PLACEHOLDER, str(tmp_path / "seen"), "serve"]
    process = ApiWorkerProcess(
        argv, b'{"http_port": 0}', backoff_s=0.01, restart_stdin=lambda url: b'{"pinned": "%s"}' % url.encode()
    )
    first_url = await process.start()
    seen = tmp_path / "seen"
    for lines in (2, 3):  # kill the worker twice: both later ones get the first one's URL
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        for _ in range(250):
            if len(seen.read_bytes().splitlines()) == lines:
                break
            await asyncio.sleep(0.02)
    await process.stop()
    assert seen.read_bytes().splitlines() == [b'{"http_port": 0}'] + [b'{"pinned": "%s"}' % first_url.encode()] * 2


def test_serve_pins_the_port_its_first_worker_chose() -> None:
    from autodialer.bootstrap_processes import _port_pinned
    from autodialer.settings import Settings

    pinned = json.loads(_port_pinned(Settings(http_port=0, http_host="127.0.0.1"), "http://127.0.0.1:41234"))
    assert pinned["http_port"] == 41234 and pinned["http_host"] == "127.0.0.1"
