"""``autodialer serve`` as a real subprocess, and the simulator it dials: what the end-to-end tests that start, stop
and ``kill -9`` the service share (test_crash_recovery, test_api_worker_split)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from tests.e2e.harness import MODULE

from autodialer.cli_sim import product_dialplan
from autodialer.simulator import EmployeeConfig, PBXSimulator, SimulatorConfig

EXTENSIONS = tuple(str(201 + i) for i in range(6))
FASTAGI_UP = "FastAGI server listening"  # logged by the service once its FastAGI server is up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServiceProcess:
    """``autodialer serve`` in a subprocess, started and SIGKILLed at will, always on the same ports and data."""

    def __init__(self, data_dir: Path, ami_port: int, **settings: Any) -> None:
        self.agi_port = free_port()
        self.http_port = free_port()
        self.env = {
            **os.environ,
            "AUTODIALER_ENVIRONMENT": "test",
            "AUTODIALER_DATA_DIR": str(data_dir),
            "AUTODIALER_HTTP_HOST": "127.0.0.1",
            "AUTODIALER_HTTP_PORT": str(self.http_port),
            "AUTODIALER_AMI_PORT": str(ami_port),
            "AUTODIALER_FASTAGI_PORT": str(self.agi_port),
            **{f"AUTODIALER_{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()},
        }
        self.log = data_dir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.http_port}{MODULE}"

    async def start(self, http: httpx.AsyncClient) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autodialer", "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        for _ in range(300):
            if self.process.poll() is not None:
                raise AssertionError(f"service exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/task")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("service did not come up")

    def worker_pids(self) -> list[int]:
        """The API worker processes the service logged starting (api_workers=1), oldest first."""
        return [int(pid) for pid in re.findall(r"REST API on \S+ \(API worker pid (\d+)\)", self.log.read_text())]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.asynccontextmanager
async def simulator(time_scale: float, dialplan: str | None = None) -> AsyncIterator[PBXSimulator]:
    # The dialplan docs/dialplan.md installs (its connect step marks every answered call in AstDB), unless told.
    config = SimulatorConfig(
        ami_port=0,
        time_scale=time_scale,
        employees=tuple(EmployeeConfig(e) for e in EXTENSIONS),
        dialplan_text=product_dialplan() if dialplan is None else dialplan,
    )
    sim = PBXSimulator(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
