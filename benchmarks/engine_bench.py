"""Shared set-up of the dialer engine benchmarks: the PBX simulator in a subprocess, the whole service in this one.

``engine_throughput.py`` and ``engine_latency.py`` import this (run them from the repository root). The simulator
gets its own process, as Asterisk would, so the service's CPU is its own; it is started by re-running this file
with ``--serve-sim`` and a JSON config, and it prints its AMI port once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from autodialer.bootstrap import Service, build_service
from autodialer.dialplan import snippet
from autodialer.settings import load_settings
from autodialer.simulator import Behaviour, EmployeeConfig, PBXSimulator, QueueConfig, SimulatorConfig
from autodialer.simulator.simulator import tune_gc

MODULE = "/pbxcore/api/module-dialer/v1"
BASELINE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "asterisk" / "loadtest-results.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def asterisk_ceiling() -> float | None:
    """The real Asterisk 22's async Originate rate on the lab VM (README §7), if the file is there."""
    if not BASELINE.exists():
        return None
    phases = json.loads(BASELINE.read_text())["phases"]
    return max(float(p["successful_originates_per_s"]) for p in phases)


def print_baselines(tasks: int) -> None:
    print("Baselines:")
    print(
        "  MikoPBX ModuleAutoDialer design: a ~1 s polling loop, at most one call file per task per loop and a 200 ms"
        " sleep after each -> at most ~5 calls/s per worker, and 1 call/s per task"
        f" ({min(tasks, 5)} calls/s for {tasks} task{'s' if tasks != 1 else ''})"
    )
    ceiling = asterisk_ceiling()
    if ceiling is not None:
        print(f"  real Asterisk 22.10.1 on the lab's 2 vCPUs (loadtest-results.json): ~{ceiling:.0f} originates/s")


@dataclass
class Bench:
    service: Service
    http: httpx.AsyncClient
    sim: subprocess.Popen[str]

    async def post_task(self, body: dict[str, Any]) -> int:
        reply = (await self.http.post("/task", content=json.dumps(body))).json()
        assert reply["result"] is True, reply
        return int(reply["data"]["id"])


@contextlib.asynccontextmanager
async def bench_stack(sim_config: dict[str, Any], database_url: str = "", **settings: Any) -> AsyncIterator[Bench]:
    """The simulator (``sim_config``: members, time_scale, customer, employee) in a subprocess, the service here."""
    agi_port = free_port()
    with sim_process(sim_config, agi_port) as (sim, ami_port), tempfile.TemporaryDirectory() as data_dir:
        overrides: dict[str, Any] = {
            "environment": "test",
            "data_dir": Path(data_dir),
            "database_url": database_url,
            "ami_port": ami_port,
            "fastagi_port": agi_port,
            **settings,
        }
        service = await build_service(load_settings(**overrides))
        assert service.dialer is not None
        await service.dialer.start()
        try:
            for _ in range(500):
                if service.dialer.availability.is_connected():
                    break
                await asyncio.sleep(0.01)
            transport = httpx.ASGITransport(app=service.app)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://bench{MODULE}") as http:
                yield Bench(service, http, sim)
        finally:
            await service.dialer.stop()
            await service.db.dispose()


@contextlib.contextmanager
def sim_process(sim_config: dict[str, Any], agi_port: int) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The simulator (``sim_config``, see ``serve_sim``) in a subprocess of its own, and its AMI port; its stdout
    carries the stamps it prints."""
    config = {**sim_config, "agi_port": agi_port}
    sim = subprocess.Popen(
        [sys.executable, __file__, "--serve-sim", json.dumps(config)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sim.stdout is not None
        yield sim, int(sim.stdout.readline())
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait()


class _Requests(list[dict[str, Any]]):
    """The simulator's Originate record; with the latency probe on, each arrival is stamped and printed."""

    def __init__(self, probe: dict[str, float | None] | None, stamp_all: bool = False, prefix: str = "") -> None:
        super().__init__()
        self._probe = probe
        self._stamp_all = stamp_all
        self._prefix = f"Local/{prefix}"  # only Originates of these numbers answer the probe

    def append(self, item: dict[str, Any]) -> None:
        super().append(item)
        if self._stamp_all:
            print(f"originated {time.perf_counter()!r}", flush=True)
        if not (item.get("channel") or "").startswith(self._prefix):
            return
        if self._probe is not None and self._probe["free_at"] is not None:
            # perf_counter is CLOCK_MONOTONIC: the same clock in both processes.
            print(f"originate {self._probe['free_at']!r} {time.perf_counter()!r}", flush=True)
            self._probe["free_at"] = None


async def serve_sim(raw: str) -> None:
    """The simulator process: the product's dialplan snippet (any number routes to the trunk), employees, one
    queue 2200 of them, behaviours from the spec. With ``probe_agent`` set it stamps the moment that agent's
    device becomes NOT_INUSE and prints it with the arrival of the next Originate (engine_latency.py); with
    ``stamp_originates`` it prints the arrival of every Originate, and with ``probe_numbers`` (a prefix) only the
    Originates of those numbers answer the probe (api_load_dialing.py, where other agents dial too); with
    ``profile`` (a path) it writes a cProfile of its run there when stopped; with ``connect_stamps`` (a path) it
    writes there, when stopped, each connect call's answer→Dial times (``ConnectStamps``)."""
    spec = json.loads(raw)
    members = tuple(spec["members"])
    config = SimulatorConfig(
        ami_port=0,
        agi_port=spec["agi_port"],
        time_scale=spec.get("time_scale", 0.01),
        dialplan_text=snippet(),
        employees=tuple(EmployeeConfig(m) for m in members),
        queues=(
            QueueConfig(
                "2200",
                members=members,
                timeout_s=30.0,
                strategy=spec.get("strategy", "ringall"),
                autofill=spec.get("autofill", False),
            ),
        ),
    )
    sim = PBXSimulator(config)
    sim.control.set_default_customer(Behaviour.from_json(spec.get("customer", {"outcome": "busy", "ring": False})))
    if "employee" in spec:
        for member in members:
            sim.control.set_employee(member, Behaviour.from_json(spec["employee"]))
    probe: dict[str, float | None] | None = None
    if spec.get("probe_agent"):
        probe = {"free_at": None}
        device = f"PJSIP/{spec['probe_agent']}"
        watched = probe

        def on_event(name: str, fields: Any) -> None:
            if name == "DeviceStateChange" and ("Device", device) in fields and ("State", "NOT_INUSE") in fields:
                watched["free_at"] = time.perf_counter()

        sim.pbx.bus.subscribe(on_event)
    sim.pbx.requests = _Requests(probe, bool(spec.get("stamp_originates")), spec.get("probe_numbers", ""))
    stamps = ConnectStamps() if spec.get("connect_stamps") else None
    if stamps is not None:
        sim.pbx.bus.subscribe(stamps.on_event, ConnectStamps.wants)
    for exten in spec.get("dnd", []):
        sim.control.set_dnd(exten)
    await sim.start()
    tune_gc()  # as the simulator's CLIs do in their own process
    print(sim.ami_port, flush=True)
    toggle = spec.get("toggle_agent")
    if toggle:  # an agent whose phone drops off and comes back, every period: state events and nothing to dial
        asyncio.get_running_loop().create_task(_toggle(sim, toggle["exten"], float(toggle["period_s"])))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    profiler = cProfile.Profile() if spec.get("profile") else None
    if profiler is not None:
        profiler.enable()
    await stop.wait()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    if stamps is not None:
        Path(spec["connect_stamps"]).write_text(json.dumps(stamps.summary()))
    os._exit(0)  # calls still up need no orderly teardown


class ConnectStamps:
    """As the PBX sees it, per call: the customer's answer (the Originate's ``;1`` channel goes Up and enters the
    connect dialplan), the first AGI command of its /connect step, and the Dial of the employee or queue
    (DialBegin from ``;1``). Answer→Dial is the dead air of a customer who just picked up."""

    NAMES = frozenset({"Newstate", "AGIExecStart", "DialBegin"})

    def __init__(self) -> None:
        self.up: dict[str, float] = {}
        self.first_command: dict[str, float] = {}
        self.dial: dict[str, float] = {}

    @staticmethod
    def wants(name: str) -> bool:
        return name in ConnectStamps.NAMES

    def on_event(self, name: str, fields: Any) -> None:
        if name not in self.NAMES:
            return
        now = time.perf_counter()
        values = dict(fields)
        channel = values.get("Channel") or ""
        if not (channel.startswith("Local/") and channel.endswith(";1") and "@dialer-out" in channel):
            return
        uid = values.get("Uniqueid") or ""
        if name == "Newstate":
            if values.get("ChannelState") == "6":
                self.up.setdefault(uid, now)
        elif name == "AGIExecStart":
            self.first_command.setdefault(uid, now)
        else:
            self.dial.setdefault(uid, now)

    def summary(self) -> dict[str, Any]:
        def spread(pairs: list[float]) -> dict[str, float]:
            pairs.sort()
            if not pairs:
                return {}
            n = len(pairs)
            return {
                "n": n,
                "p50_ms": round(1000 * pairs[n // 2], 1),
                "p99_ms": round(1000 * pairs[min(n - 1, (99 * n) // 100)], 1),
                "max_ms": round(1000 * pairs[-1], 1),
            }

        up = self.up
        return {
            "answer_to_dial": spread([t - up[u] for u, t in self.dial.items() if u in up]),
            "answer_to_first_agi_command": spread([t - up[u] for u, t in self.first_command.items() if u in up]),
            "first_agi_command_to_dial": spread(
                [t - self.first_command[u] for u, t in self.dial.items() if u in self.first_command]
            ),
            "answered_never_dialled": sum(1 for u in up if u not in self.dial),
        }


async def _toggle(sim: PBXSimulator, exten: str, period_s: float) -> None:
    reachable = True
    while True:
        await asyncio.sleep(period_s)
        reachable = not reachable
        sim.control.set_reachable(exten, reachable)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-sim", required=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_sim(parser.parse_args().serve_sim))
