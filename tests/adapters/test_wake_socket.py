"""The API worker's wake-up of the dialer (adapters/process/wake_socket): delivered, coalesced, never failing."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodialer.adapters.process.wake_socket import WakeListener, WakeSender


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="wake-"))  # short: a Unix socket path holds ~107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_a_write_wakes_the_listener_once(run_dir: Path) -> None:
    wakes: list[int] = []
    listener = WakeListener(run_dir / "wake.sock", lambda: wakes.append(1))
    listener.open()
    sender = WakeSender(run_dir / "wake.sock")
    try:
        sender()
        await settle()
        assert wakes == [1]
        sender()
        await settle()
        assert wakes == [1, 1]
    finally:
        sender.close()
        listener.close()


async def test_writes_in_one_loop_iteration_send_one_datagram(run_dir: Path) -> None:
    wakes: list[int] = []
    listener = WakeListener(run_dir / "wake.sock", lambda: wakes.append(1))
    listener.open()
    sender = WakeSender(run_dir / "wake.sock")
    try:
        for _ in range(1000):
            sender()
        await settle()
        assert sender.sent == 1 and wakes == [1]
    finally:
        sender.close()
        listener.close()


async def test_a_burst_queued_before_the_listener_reads_wakes_it_once(run_dir: Path) -> None:
    wakes: list[int] = []
    listener = WakeListener(run_dir / "wake.sock", lambda: wakes.append(1))
    listener.open()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        for _ in range(5):  # sent while the loop does not run (a queue holds 10 by default): read in one go
            other.sendto(b"w", str(run_dir / "wake.sock"))
    try:
        await settle()
        assert wakes == [1] and listener.wakes == 1
    finally:
        listener.close()


async def test_without_a_listener_or_with_its_buffer_full_the_write_still_succeeds(run_dir: Path) -> None:
    path = run_dir / "wake.sock"
    sender = WakeSender(path)
    sender()  # nobody bound it: dropped quietly
    await settle()
    assert sender.sent == 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as deaf:  # bound, never read: its buffer fills up
        deaf.bind(str(path))
        for _ in range(5000):
            sender()
            await asyncio.sleep(0)
        assert 0 < sender.sent < 5000  # the kernel refused the rest, and no call raised
    sender.close()


def test_outside_an_event_loop_the_wake_up_is_sent_at_once(run_dir: Path) -> None:
    path = run_dir / "wake.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        sender = WakeSender(path)
        sender()
        assert receiver.recv(8) == b"w"
        sender.close()


async def test_the_socket_replaces_a_stale_file_is_ours_only_and_goes_on_close(run_dir: Path) -> None:
    path = run_dir / "wake.sock"
    path.write_text("left by a killed service")
    listener = WakeListener(path, lambda: None)
    listener.open()
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    listener.close()
    assert not os.path.exists(path)
