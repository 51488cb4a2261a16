"""What the fault runs (fault_kill9.py, outage_resume.py) share: the service, the PBX it dials and the PBX's record.

* ``service``: ``python -m autodialer serve`` as a real subprocess (serve_process.py), on the same ports and data
  every time it is started, so a run can kill it and start it again;
* ``serve_process.fresh_database``: a fresh PostgreSQL database on a server URL (dropped afterwards), or SQLite in
  the data directory;
* ``simulator``: the PBX simulator in this process, one employee per extension, every customer answering and
  talking once an employee answers;
* ``PbxRecord``: what the PBX saw of each call (its channels' lives, whether an employee talked), and
  ``duplicate_dials``: the Originates the PBX received held against the numbers' rows.

Campaigns go in over real HTTP to the MikoPBX v1 API, one task per employee (``post_tasks``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import ServeProcess, free_port, fresh_database

from autodialer.cli_sim import product_dialplan
from autodialer.simulator import Behaviour, EmployeeConfig, PBXSimulator, SimulatorConfig

MODULE = "/pbxcore/api/module-dialer/v1"
TIME_SCALE = 0.05  # one simulated second is 50 ms
CUSTOMER = Behaviour(answer_after=20.0, hangup_after=40.0)  # rings 1 s, talks 2 s once an employee answers
EMPLOYEE = Behaviour(answer_after=4.0)  # 0.2 s


def service(data_dir: Path, ami_port: int, agi_port: int, database_url: str) -> ServeProcess:
    """``autodialer serve`` dialing the simulator (serve_process.ServeProcess: the same port and data every time it
    is started, so a run can kill it and start it again); not started yet."""
    # a ringall queue rings members other callers were promised (issue 9 item 1): requeue until one is free
    policy = {
        "lost_on_restart": {"delay_s": 0.5, "max_retries": 10},
        "agent_busy": {"delay_s": 0.2, "max_retries": 100},
    }
    settings = {
        "ENVIRONMENT": "test",
        "AMI_PORT": str(ami_port),
        "FASTAGI_PORT": str(agi_port),
        "AMI_PING_INTERVAL_S": "1",
        "ORIGINATE_TIMEOUT_S": "60",
        "AGENT_DIAL_TIMEOUT_S": "20",
        "MAX_COUNT_CHANNELS_CEILING": "1000",
        "RETRY_POLICY": json.dumps(policy),
    }
    return ServeProcess(data_dir, database_url, dialer=True, settings=settings)


def simulator(members: Sequence[str], agi_port: int) -> PBXSimulator:
    """The PBX with our product dialplan, one employee per member extension and no queues; not started yet."""
    config = SimulatorConfig(
        ami_port=0,
        agi_port=agi_port,
        time_scale=TIME_SCALE,
        dialplan_text=product_dialplan(agi_port),
        employees=tuple(EmployeeConfig(m) for m in members),
        queues=(),
        read_classes="system,call,agent,user",  # the AMI user we ship (dialplan/manager_autodialer.conf)
        write_classes="originate,call,reporting,user",
    )
    sim = PBXSimulator(config)
    sim.control.set_default_customer(CUSTOMER)
    for member in members:
        sim.control.set_employee(member, EMPLOYEE)
    return sim


async def post_tasks(http: httpx.AsyncClient, members: Sequence[str], numbers: int, name: str) -> list[int]:
    """``numbers`` numbers split over one task per member (each call rings its own employee); the task ids."""
    task_ids = []
    for k, member in enumerate(members):
        phones = [f"7{9100000000 + i}" for i in range(k, numbers, len(members))]
        body = {"name": f"{name} {member}", "innerNum": member, "numbers": phones}
        reply = (await http.post("/task", content=json.dumps(body))).json()
        task_ids.append(int(reply["data"]["id"]))
    return task_ids


async def wait_final(http: httpx.AsyncClient, task_ids: Sequence[int], numbers: int, timeout: float) -> list[Any]:
    """The tasks' result rows once every number is final, or as they are when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = []
        for task_id in task_ids:
            rows += (await http.get(f"/task/{task_id}")).json()["data"]["results"]
        if (len(rows) == numbers and all(r["closeTime"] != "0" for r in rows)) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


class PbxRecord:
    """What the PBX saw, per Linkedid (our call id): when its channels lived, and whether an employee answered."""

    def __init__(self, sim: PBXSimulator, employees: set[str]) -> None:
        self._sim = sim
        self._employees = employees
        self.live: dict[str, int] = defaultdict(int)
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.talked: set[str] = set()
        self.answered_at: dict[str, float] = {}  # real time of the customer's answer
        self.rung_at: dict[str, float] = {}  # real time an employee was first rung for the customer
        sim.pbx.bus.subscribe(self._on_event)

    def _on_event(self, name: str, fields: list[tuple[str, str]]) -> None:
        values = dict(fields)
        linked = values.get("Linkedid") or values.get("DestLinkedid") or ""
        if not linked.startswith("dlr-"):
            return
        if name == "Newchannel":
            self.started.setdefault(linked, self._sim.clock.now())
            self.live[linked] += 1
        elif name == "Hangup":
            self.live[linked] -= 1
            if self.live[linked] == 0:
                self.ended[linked] = self._sim.clock.now()
        elif name == "DialBegin" and self._employee(values.get("DestChannel") or ""):
            self.rung_at.setdefault(linked, time.monotonic())
        elif name == "DialEnd" and values.get("DialStatus") == "ANSWER":
            if self._employee(values.get("DestChannel") or ""):
                self.talked.add(linked)
            else:
                self.answered_at.setdefault(linked, time.monotonic())

    def _employee(self, channel: str) -> bool:
        return any(channel.startswith(f"PJSIP/{e}-") for e in self._employees)

    def connect_waits(self) -> list[float]:
        """Real seconds from each customer's answer to an employee rung for them (calls where both happened)."""
        return sorted(self.rung_at[c] - t for c, t in self.answered_at.items() if c in self.rung_at)

    def gone_unrung(self) -> int:
        """Customers who answered and hung up before any employee was rung for them."""
        return sum(1 for c in self.answered_at if c not in self.rung_at and c in self.ended)

    def all_gone(self, at: float) -> None:
        """The PBX died at simulated time ``at`` (kill -9): every call still up ended then, without an event."""
        for linked, channels in self.live.items():
            if channels > 0:
                self.live[linked] = 0
                self.ended[linked] = at

    def in_flight(self) -> int:
        return sum(1 for n in self.live.values() if n > 0)

    def talking(self) -> int:
        """Calls up whose customer an employee has answered."""
        return sum(1 for linked, n in self.live.items() if n > 0 and linked in self.talked)

    def originates(self) -> list[dict[str, Any]]:
        """Every Originate of ours (call id ``dlr-…``) the PBX received, in arrival order."""
        return [r for r in self._sim.control.requests if (r["channel_id"] or "").startswith("dlr-")]

    def dials_by_number(self) -> dict[str, list[dict[str, Any]]]:
        by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for request in self.originates():
            by_number[request["channel"].removeprefix("Local/").split("@")[0]].append(request)
        return by_number


def duplicate_dials(rows: Sequence[dict[str, Any]], record: PbxRecord) -> Counter[str]:
    """Originates the PBX received that the rows do not account for, by kind: a number dialled more often than it was
    charged (countTry), the same call id originated twice, a number dialled while an earlier call of it was still up,
    and a number dialled again after an employee had talked to its customer."""
    by_number = record.dials_by_number()
    kinds: Counter[str] = Counter()
    ids = Counter(r["channel_id"] for r in record.originates())
    kinds["same call id twice"] = sum(n - 1 for n in ids.values() if n > 1)
    for row in rows:
        dials = by_number.get(row["phone"], [])
        kinds["not counted in countTry"] += max(0, len(dials) - int(row["countTry"] or 0))
        for earlier, later in pairwise(dials):
            first = earlier["channel_id"]
            if record.ended.get(first, float("inf")) > record.started.get(later["channel_id"], 0.0):
                kinds["while the earlier call was up"] += 1
            elif first in record.talked:
                kinds["after an employee had talked"] += 1
    return +kinds


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values`` (nearest rank below), 0 for none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


@dataclass(frozen=True)
class Campaign:
    """What a fault run's ``during`` step works on: the PBX, its record, the service and an HTTP client to it."""

    sim: PBXSimulator
    record: PbxRecord
    service: ServeProcess
    http: httpx.AsyncClient


async def run_campaign(
    members: Sequence[str],
    numbers: int,
    name: str,
    during: Callable[[Campaign], Awaitable[None]],
    *,
    database_url: str = "",
    timeout: float = 600.0,
    log: str = "",
) -> tuple[list[Any], PbxRecord, float]:
    """The simulator in this process, ``autodialer serve`` as a subprocess on a fresh database (``database_url``:
    PostgreSQL, else SQLite), one task per member with ``numbers`` numbers between them; ``during`` runs once they
    are posted (the faults), then every number is waited for final. Returns the rows, the PBX's record of the run
    and its real seconds; ``log`` keeps the service's log there."""
    agi_port = free_port()
    sim = simulator(members, agi_port)
    await sim.start()
    record = PbxRecord(sim, set(members))
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as data_dir, fresh_database(database_url, Path(data_dir)) as db_url:
            serve = service(Path(data_dir), sim.ami_port, agi_port, db_url)
            async with httpx.AsyncClient(base_url=serve.base_url + MODULE, timeout=30) as http:
                try:
                    await serve.start_async()
                    task_ids = await post_tasks(http, members, numbers, name)
                    await during(Campaign(sim, record, serve, http))
                    rows = await wait_final(http, task_ids, numbers, timeout)
                finally:
                    serve.stop()
                    if log:
                        shutil.copyfile(serve.log, log)
    finally:
        await sim.stop()
    return rows, record, time.monotonic() - started
