"""Benchmark: does a big POST /task slow dialing? A real ``autodialer serve`` (dialer on, the API in its worker) dials
the PBX simulator while one ``--big``-number task (paused, never dialled) is POSTed to it (issue 11 goal 4).

The simulator and the campaign are api_load_dialing.py's (its ``Stamps``): the probe task on extension 201 (agent
free → next Originate, stamped by the simulator) and one task on each of ``--agents`` more extensions, every
customer answering. After ``--warmup-s`` of dialing, an idle phase of ``--idle-s``, then the import phase: from the
POST's first byte to its answer. Per phase: Originates/s, agent free → Originate p50 / p99 / worst of the probe
(every wait that overlaps the phase), the longest gap between two Originates (any task) that overlaps it. On
PostgreSQL a sampler on its own connection reads ``pg_stat_activity`` every 50 ms during the import and keeps the
longest wait of a statement on ``feed_clocks`` behind a lock (a call result waiting for the results feed clock; a
lower bound, up to one sampling period short) and the longest lock wait of any statement. Answered customers
dropped: dialled numbers whose final result is not SUCCESS_CLIENT_H once the campaign is paused and drained.

    .venv/bin/python benchmarks/api_import_dialing.py [--big 1000000] [--agents 10] [--idle-s 10]
        [--v2-csv] [--database-url URL] [--json]

``--v2-csv`` imports the numbers into a paused v2 campaign by ``numbers.csv`` instead (5,000 rows per transaction).
``--json`` prints one object on the last line (the keys of ``run``); exit status 1 when a check fails (the stored
big task is not the posted one, a paused number dialled, no probe call in a phase).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load_dialing import EXPECTED, PROBE_PREFIX, Stamps, dialled_rows, quantile
from api_post_million import file_chunks
from serve_process import agent_tasks, dialing_serve, post_task, talking_sim, task_body

V2 = "/api/v2"
BIG_PREFIX = "7950"
WAITS = sqlalchemy.text(
    "SELECT coalesce(max(CASE WHEN query ILIKE '%feed_clocks%' THEN clock_timestamp() - query_start END),"
    " interval '0'), coalesce(max(clock_timestamp() - query_start), interval '0')"
    " FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
)

STORED = sqlalchemy.text("SELECT count(*), count(DISTINCT change_time_us) FROM task_numbers WHERE task_id = :t")


class LockWaits:
    """The longest lock waits seen in PostgreSQL while running: on feed_clocks, and of any statement (seconds)."""

    def __init__(self, url: str) -> None:
        self.clock_s = 0.0
        self.any_s = 0.0
        self._engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._engine.connect() as connection:
            while not self._stop.wait(0.05):
                clock, anything = connection.execute(WAITS).one()
                connection.rollback()  # a fresh snapshot of pg_stat_activity each time
                self.clock_s = max(self.clock_s, clock.total_seconds())
                self.any_s = max(self.any_s, anything.total_seconds())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()


def paused_campaign(http: httpx.Client, csv_path: Path, rows: int) -> int:
    """A paused v2 campaign on extension 201 for ``--v2-csv``, and its CSV of ``rows`` numbers written to a file."""
    with csv_path.open("wb") as out:
        out.write(b"phone,client\r\n")
        for start in range(0, rows, 10_000):
            end = min(rows, start + 10_000)
            out.write("".join(f"{BIG_PREFIX}{n:07d},Ivanov {n}\r\n" for n in range(start, end)).encode())
    created = http.post(f"{V2}/campaigns", json={"target": {"kind": "extension", "value": "201"}})
    campaign = int(created.json()["id"])
    http.post(f"{V2}/campaigns/{campaign}/pause").raise_for_status()
    return campaign


def post_csv(http: httpx.Client, campaign: int, csv_path: Path, rows: int) -> int:
    """POST the CSV to the campaign's numbers.csv and read its progress to the end; the campaign, or exit."""
    size = csv_path.stat().st_size
    headers = {"Content-Length": str(size)}
    reply = http.post(f"{V2}/campaigns/{campaign}/numbers.csv", content=file_chunks(csv_path), headers=headers)
    last = json.loads(reply.text.splitlines()[-1]) if reply.status_code == 200 else {}
    if not (last.get("done") and last.get("accepted") == rows):
        raise SystemExit(f"CHECK FAILED: numbers.csv answered {reply.status_code}: {reply.text[-300:]}")
    return campaign


def probe_waits(stamps: Stamps, start: float, end: float) -> dict[str, Any]:
    """The probe's agent free → Originate waits that overlap the phase (an agent freed in it whose Originate came
    only after it, as behind a lock held to the end of an import, counts), and the longest gap between two
    Originates of any task that overlaps it (ms)."""
    waits = sorted(1000 * w for t, w in stamps.probe if t >= start and t - w < end)
    times = sorted(stamps.originated)
    gaps = [b - a for a, b in itertools.pairwise(times) if b >= start and a < end]
    return {
        "probe_calls": len(waits),
        "p50_ms": round(statistics.median(waits), 1) if waits else None,
        "p99_ms": round(quantile(waits, 0.99), 1) if waits else None,
        "worst_ms": round(waits[-1], 1) if waits else None,
        "originate_gap_ms": round(1000 * max(gaps), 1) if gaps else None,
    }


async def big_task_stored(url: str, task_id: int) -> tuple[int, int]:
    from autodialer.adapters.db.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = sqlalchemy.text(
                "SELECT count(*), count(DISTINCT change_time_us) FROM task_numbers WHERE task_id = :t"
            )
            count, distinct = (await connection.execute(query, {"t": task_id})).one()
            return int(count), int(distinct)
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    agents = [str(3001 + k) for k in range(args.agents)]
    sim = talking_sim(agents, PROBE_PREFIX)
    per_task = int(2 * (args.warmup_s + args.idle_s + args.import_budget_s))  # an agent finishes a call in ~1.1 s
    waits: LockWaits | None = None
    with dialing_serve(sim, args.database_url, {"API_WORKERS": "1"}) as stack:
        serve, url = stack.serve, stack.database_url
        stamps = Stamps(stack.simulator.stdout)
        try:
            serve.start()
            with httpx.Client(base_url=serve.base_url, timeout=900) as http:
                probe = post_task(http, task_body("probe", "201", (f"{PROBE_PREFIX}{n:07d}" for n in range(per_task))))
                campaign = [probe, *agent_tasks(http, agents, per_task)]
                csv_path = stack.data_dir / "numbers.csv"
                csv_campaign = paused_campaign(http, csv_path, args.big) if args.v2_csv else 0
                time.sleep(args.warmup_s)
                idle_start = time.perf_counter()
                time.sleep(args.idle_s)
                idle_end = time.perf_counter()
                if url.startswith("postgresql"):
                    waits = LockWaits(url)
                import_start = time.perf_counter()
                if args.v2_csv:
                    big = post_csv(http, csv_campaign, csv_path, args.big)
                else:
                    big_numbers = (f"{BIG_PREFIX}{n:07d}" for n in range(args.big))
                    big = post_task(http, task_body("big", "201", big_numbers, state=2))
                import_end = time.perf_counter()
                if waits is not None:
                    waits.close()
                time.sleep(2)  # the calls of the import's last moments end
                for task_id in campaign:
                    http.post(f"{V2}/campaigns/{task_id}/pause")
                drained = time.monotonic() + 60
                while time.monotonic() < drained:
                    rows = asyncio.run(dialled_rows(url))
                    if all(r.close_time for r in rows):
                        break
                    time.sleep(1)
                stored, distinct = asyncio.run(big_task_stored(url, big))
        finally:
            if waits is not None and waits._thread.is_alive():
                waits.close()
    idle = stamps.phase(idle_start, idle_end) | probe_waits(stamps, idle_start, idle_end)
    during = stamps.phase(import_start, import_end) | probe_waits(stamps, import_start, import_end)
    dropped = [r for r in rows if r.result != EXPECTED or not r.close_time]
    return {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "big": args.big,
        "way": "v2 numbers.csv" if args.v2_csv else "v1 POST /task",
        "agents": args.agents,
        "import_s": round(import_end - import_start, 1),
        "idle_originates_per_s": idle["originates_per_s"],
        "import_originates_per_s": during["originates_per_s"],
        "idle_p50_ms": idle["p50_ms"],
        "import_p50_ms": during["p50_ms"],
        "idle_p99_ms": idle["p99_ms"],
        "import_p99_ms": during["p99_ms"],
        "idle_worst_ms": idle["worst_ms"],
        "import_worst_ms": during["worst_ms"],
        "idle_originate_gap_ms": idle["originate_gap_ms"],
        "import_originate_gap_ms": during["originate_gap_ms"],
        "idle_probe_calls": idle["probe_calls"],
        "import_probe_calls": during["probe_calls"],
        "clock_lock_wait_max_ms": None if waits is None else round(1000 * waits.clock_s),
        "any_lock_wait_max_ms": None if waits is None else round(1000 * waits.any_s),
        "answered_dropped": len(dropped),
        "dialled": len(rows),
        "results": dict(Counter(r.result for r in rows if r.close_time)),
        "wrong_dials": sum(1 for r in rows if r.phone.startswith(BIG_PREFIX)),
        "big_stored": stored,
        "big_distinct_change_times": distinct,
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def failed_checks(figures: dict[str, Any]) -> list[str]:
    failed = []
    if figures["big_stored"] != figures["big"] or figures["big_distinct_change_times"] != figures["big"]:
        failed.append(f"big task stored {figures['big_stored']} rows, {figures['big_distinct_change_times']} times")
    if figures["wrong_dials"]:
        failed.append(f"{figures['wrong_dials']} numbers of the paused big task dialled")
    if not figures["idle_probe_calls"] or not figures["import_probe_calls"]:
        failed.append("no probe call measured in a phase")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000, help="numbers of the task POSTed while dialing")
    parser.add_argument("--agents", type=int, default=10, help="agents dialing for throughput, one task each")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="dialing before the idle phase starts")
    parser.add_argument("--idle-s", type=float, default=10.0, help="seconds of the idle phase")
    parser.add_argument("--import-budget-s", type=float, default=120.0, help="numbers enough to dial this long too")
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    parser.add_argument("--v2-csv", action="store_true", help="import into a paused v2 campaign by numbers.csv instead")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    figures = run(args)
    head = f"{figures['big']:,}-number {figures['way']} while dialing ({args.agents} agents + the probe)"
    print(f"{head}, {figures['backend']}")
    print(f"import {figures['import_s']} s; load {' '.join(map(str, figures['load']))}")
    for phase in ("idle", "import"):
        print(
            f"{phase:>6}: {figures[f'{phase}_originates_per_s']} Originates/s, agent free -> Originate p50 / p99 /"
            f" worst {figures[f'{phase}_p50_ms']} / {figures[f'{phase}_p99_ms']} / {figures[f'{phase}_worst_ms']}"
            f" ms ({figures[f'{phase}_probe_calls']} probe calls), longest gap between Originates"
            f" {figures[f'{phase}_originate_gap_ms']} ms"
        )
    if figures["clock_lock_wait_max_ms"] is not None:
        print(
            f"longest wait for the feed clock during the import: {figures['clock_lock_wait_max_ms']} ms"
            f" (any lock: {figures['any_lock_wait_max_ms']} ms)"
        )
    print(f"answered customers dropped: {figures['answered_dropped']} of {figures['dialled']} dialled")
    failed = failed_checks(figures)
    for line in failed:
        print(f"CHECK FAILED: {line}")
    if args.json:
        print(json.dumps(figures))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
