"""End-to-end harness: the PBX simulator and the whole service, talking over real loopback TCP.

``running_stack`` starts the simulator (AMI server + FastAGI caller), then the service exactly as ``autodialer
serve`` builds it (bootstrap.build_service: migrated database, AMI client, availability tracker, gateway, engine,
FastAGI server, REST API under uvicorn), points the simulator's AGI() at our FastAGI port and yields a ``Stack`` with
an HTTP client on the module prefix. The simulator runs on a compressed clock (``time_scale``); our own timers
(retry delays, FastAGI grace) are real seconds, so tests set them small through settings overrides.

The simulator's AMI user has the read=/write= classes of the manager.conf section we ship
(``autodialer dialplan`` prints it) unless a test asks for others (``ami_rights=LAB_AMI_RIGHTS``): a right the
product needs but does not ship then fails here, as it would on a customer's Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from autodialer.adapters.db.tables import attempts
from autodialer.bootstrap import Service, build_service
from autodialer.dialplan import snippet
from autodialer.services.ports import Clock
from autodialer.settings import load_settings
from autodialer.simulator.config import SimulatorConfig
from autodialer.simulator.scenario import Behaviour, Scenario
from autodialer.simulator.simulator import PBXSimulator

MODULE = "/pbxcore/api/module-dialer/v1"
LAB_AMI_RIGHTS = ("all", "all")  # read=, write= of the lab's manager.conf (tests/fixtures/asterisk/config/manager.conf)
# Ring timeouts for tests that do not test a timeout. Both run on the simulator's scaled clock (5 s is 0.25 s of real
# time at 0.05) while the event loop the simulator shares with the service and the test can stall for longer on a
# loaded machine: a customer or employee answering 1 s (simulated) after the ring then loses to the timeout (a CI run
# failed so). 60 s is 3 s of real time at 0.05; a test that needs a timeout to fire sets its own.
RING_TIMEOUTS: dict[str, Any] = {"originate_timeout_s": 60, "agent_dial_timeout_s": 60}
# Lab customer 5551001 talks 6 s after answering (300 ms real at 0.05) and lab employee 201 rings 1.5 s (75 ms): the
# connect step had ~225 ms to reach the Dial for SUCCESS_CLIENT_H, no more than one stall of a loaded test process.
# Tests that count on that success give 5551001 this: 12 s of talk, 600 ms real.
LAB_5551001_TALKS = Behaviour(answer_after=1.0, hangup_after=12.0)


def shipped_ami_rights() -> tuple[str, str]:
    """(read, write) of the AMI user in the manager.conf section we ship (dialplan/manager_autodialer.conf)."""
    values: dict[str, str] = {}
    for line in snippet("manager").splitlines():
        match = re.match(r"\s*(read|write)\s*=\s*([^;]*)", line)
        if match:
            assert match.group(1) not in values, f"{match.group(1)}= given twice in the shipped manager.conf"
            values[match.group(1)] = match.group(2).strip()
    return values["read"], values["write"]


async def until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` (sync or async) until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class ShiftedClock:
    """The wall clock moved to another instant: real seconds pass, the date is the test's (a window's edge, a DST
    change). The service's engine sleeps real seconds until the times it computes on this clock."""

    def __init__(self, starts_at: float) -> None:
        self._offset = starts_at - time.time()

    def now(self) -> float:
        return time.time() + self._offset


@dataclass
class Stack:
    sim: PBXSimulator
    service: Service
    http: httpx.AsyncClient  # base_url = the module prefix on the real HTTP port
    base_url: str

    async def post_task(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.http.post("/task", content=json.dumps(body))
        assert reply.status_code == 200, reply.text
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        return payload["data"]

    async def post_poll(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.http.post("/polling", content=json.dumps(body))
        assert reply.status_code == 200, reply.text
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        return payload["data"]

    async def task(self, task_id: str | int) -> dict[str, Any]:
        reply = await self.http.get(f"/task/{task_id}")
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        return payload["data"]

    async def until(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Poll ``predicate`` (sync or async) until it returns a truthy value; fail after ``timeout`` seconds."""
        return await until(predicate, timeout, what)

    async def wait_final(self, task_id: str | int, timeout: float = 20.0) -> dict[str, Any]:
        """The task once every number has a final result (closeTime != "0")."""

        async def all_final() -> dict[str, Any] | None:
            task = await self.task(task_id)
            rows = task["results"]
            return task if rows and all(r["closeTime"] != "0" for r in rows) else None

        result: dict[str, Any] = await self.until(all_final, timeout, f"task {task_id} to finish")
        return result

    @staticmethod
    def by_phone(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {row["phone"]: row for row in task["results"]}

    async def attempt_rows(self) -> list[Any]:
        """Every stored attempt (the dial history), oldest first."""
        async with self.service.db.connect() as connection:
            query = select(attempts).order_by(attempts.c.created_at)
            return list((await connection.execute(query)).mappings())

    async def put_task(self, task_id: str | int, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.http.put(f"/task/{task_id}", content=json.dumps(body))
        assert reply.status_code == 200, reply.text
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        return payload["data"]

    async def results_since(self, change_time: str | int) -> list[dict[str, Any]]:
        """GET /results/{changeTime} as 1C reads it: the rows changed at or after ``change_time``."""
        reply = await self.http.get(f"/results/{change_time}")
        assert reply.status_code == 200, reply.text
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        rows: list[dict[str, Any]] = payload["data"]["results"]
        return rows

    def originates(self) -> list[dict[str, Any]]:
        """Every Originate the simulator received from the dialer (ChannelId = our call id), in arrival order."""
        return [r for r in self.sim.control.requests if (r["channel_id"] or "").startswith("dlr-")]

    def record_events(self, *names: str) -> list[tuple[str, dict[str, str]]]:
        """From now on, every simulator AMI event named one of ``names`` (all when empty) is appended to the
        returned list as (name, fields), in emission order."""
        seen: list[tuple[str, dict[str, str]]] = []

        def record(name: str, fields: list[tuple[str, str]]) -> None:
            if not names or name in names:
                seen.append((name, dict(fields)))

        self.sim.pbx.bus.subscribe(record)
        return seen


class ChannelSampler:
    """Samples the simulator's live channels every ``interval`` seconds while running (``async with``).

    ``snapshots`` keeps each sample as the list of channel dicts of ``SimulatorControl.channels()``; the tests read
    concurrency from it (how many calls of ours, how many channels of an employee) without trusting our own code.
    """

    def __init__(self, sim: PBXSimulator, interval: float = 0.005) -> None:
        self._sim = sim
        self._interval = interval
        self.snapshots: list[list[dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.snapshots.append(self._sim.control.channels())
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> ChannelSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def max_calls(self, prefix: str = "dlr-") -> int:
        """The most calls of ours (distinct Linkedids) live at one time."""
        return max(
            (len({c["linkedid"] for c in snap if c["linkedid"].startswith(prefix)}) for snap in self.snapshots),
            default=0,
        )

    def max_channels(self, name_prefix: str) -> int:
        """The most live channels whose name starts with ``name_prefix`` (``PJSIP/201-``) at one time."""
        return max((sum(1 for c in snap if c["channel"].startswith(name_prefix)) for snap in self.snapshots), default=0)


@contextlib.asynccontextmanager
async def running_stack(
    data_dir: Path,
    database_url: str = "",
    *,
    time_scale: float = 0.05,
    scenario: Scenario | None = None,
    sim_config: dict[str, Any] | None = None,
    ami_rights: tuple[str, str] | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[Stack]:
    read, write = ami_rights or shipped_ami_rights()
    config: dict[str, Any] = {"read_classes": read, "write_classes": write, **(sim_config or {})}
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=time_scale, **config), scenario=scenario)
    await sim.start()
    service: Service | None = None
    server: uvicorn.Server | None = None
    serve: asyncio.Task[None] | None = None
    try:
        overrides: dict[str, Any] = {
            "environment": "test",
            "data_dir": data_dir,
            "database_url": database_url,
            "ami_port": sim.ami_port,
            "fastagi_port": 0,
            "http_host": "127.0.0.1",
            "http_port": 0,
            "ami_ping_interval_s": 2.0,
        }
        overrides.update(settings)
        service = await build_service(load_settings(**overrides), clock)
        assert service.dialer is not None
        await service.dialer.start()
        sim.config.agi_port = service.dialer.agi.port
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        serve = asyncio.create_task(server.serve())
        while not server.started:
            if serve.done():
                serve.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}{MODULE}"
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            stack = Stack(sim, service, http, base_url)
            await stack.until(service.dialer.availability.is_connected, 10, "the AMI link and first re-sync")
            yield stack
    finally:
        if service is not None:
            service.live.close()  # open event streams would hold uvicorn's shutdown
        if server is not None:
            server.should_exit = True
        if serve is not None:
            with contextlib.suppress(Exception):
                await serve
        if service is not None:
            if service.dialer is not None:
                await service.dialer.stop()
            await service.db.dispose()
        await sim.stop()
