"""Benchmark: what a wallboard watching a big campaign costs the dialer (issue 11 goal 1). A real ``autodialer
serve`` (dialer on, the API in its worker process) dials the PBX simulator: a campaign of ``--big`` numbers on
extension 201 and one small campaign on each of ``--agents`` more extensions. Every customer answers after 25 ms and
hangs up 1 s later (engine_bench.sim_process, time scale 0.05).

After ``--warmup-s``, two phases of ``--phase-s`` each: nobody watching, then one viewer on ``GET /api/v2/events``
(what the wallboard page follows). Per phase: the dialer process's CPU (serve's own process, /proc/<pid>/stat, not
the API worker), PostgreSQL's (every process named postgres, with the workers it has reaped), the Originates per
second of the small campaigns and of the big one (attempts started in the phase), and with the viewer, the big
campaign's lines received and how often their counters changed (each change is a read of its numbers by state and
result; its open count falls by one per call), with the longest gap between them.

    .venv/bin/python benchmarks/wallboard_counts.py [--big 1000000] [--agents 10] [--phase-s 30] [--warmup-s 15]
        [--database-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import agent_tasks, cpu_seconds, dialing_serve, post_task, talking_sim, task_body

from autodialer.adapters.db.engine import create_engine


class Viewer(threading.Thread):
    """A client on /api/v2/events: the big campaign's lines, when each came and its counters."""

    def __init__(self, base_url: str, campaign_id: int) -> None:
        super().__init__(daemon=True)
        self.url = base_url + "/api/v2/events"
        self.campaign_id = campaign_id
        self.lines: list[tuple[float, int, int]] = []  # (perf_counter, numbers_open, attempts_ended)
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.stream("GET", self.url, timeout=None) as response:
            kind = ""
            for raw in response.iter_lines():
                if self.stop.is_set():
                    return
                if raw.startswith("event:"):
                    kind = raw.split(":", 1)[1].strip()
                elif raw.startswith("data:") and kind == "campaign":
                    data = json.loads(raw.split(":", 1)[1])
                    if data.get("campaign_id") == self.campaign_id:
                        self.lines.append((time.perf_counter(), data["numbers_open"], data["attempts_ended"]))


async def started(url: str, since: float, until: float) -> dict[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = text(
                "SELECT task_id, count(*) FROM attempts WHERE created_at >= :a AND created_at < :b GROUP BY task_id"
            )
            return {int(t): int(n) for t, n in (await connection.execute(query, {"a": since, "b": until})).all()}
    finally:
        await engine.dispose()


def postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().startswith("postgres"):
                total += cpu_seconds(int(entry.name))
    return total


def phase(url: str, pid: int, seconds: float, big: int) -> dict[str, Any]:
    epoch, cpu, pg, load = time.time(), cpu_seconds(pid), postgres_cpu(), os.getloadavg()[0]
    time.sleep(seconds)
    cpu_used, pg_used, end = cpu_seconds(pid) - cpu, postgres_cpu() - pg, time.time()
    counts = asyncio.run(started(url, epoch, end))
    return {
        "dialer_cpu_cores": round(cpu_used / seconds, 3),
        "postgres_cpu_cores": round(pg_used / seconds, 3),
        "small_originates_per_s": round(sum(n for t, n in counts.items() if t != big) / seconds, 2),
        "big_originates_per_s": round(counts.get(big, 0) / seconds, 2),
        "load": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    agents = [str(3001 + k) for k in range(args.agents)]
    sim = talking_sim(agents)
    per_task = int(2 * (2 * args.phase_s + args.warmup_s + 30))  # an agent finishes a call in ~1.1 s
    with dialing_serve(sim, args.database_url) as stack:
        serve, url = stack.serve, stack.database_url
        serve.start()
        with httpx.Client(base_url=serve.base_url, timeout=600) as http:
            posted = time.perf_counter()
            big = post_task(http, task_body("big", "201", (f"7930{n:07d}" for n in range(args.big))))
            post_s = time.perf_counter() - posted
            agent_tasks(http, agents, per_task)
        time.sleep(args.warmup_s)
        unwatched = phase(url, serve.pid, args.phase_s, big)
        viewer = Viewer(serve.base_url, big)
        viewer.start()
        watched_at = time.perf_counter()
        watched = phase(url, serve.pid, args.phase_s, big)
        viewer.stop.set()
    lines = [line for line in viewer.lines if line[0] >= watched_at]
    changes = [lines[0][0]] if lines else []
    changes += [b[0] for a, b in itertools.pairwise(lines) if a[1:] != b[1:]]
    watched |= {
        "big_lines": len(lines),
        "big_counter_changes": max(0, len(changes) - 1),
        "big_longest_gap_s": round(max((b - a for a, b in itertools.pairwise(changes)), default=0.0), 2),
    }
    return {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "big": args.big,
        "agents": args.agents,
        "post_big_s": round(post_s, 1),
        "unwatched": unwatched,
        "watched": watched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--phase-s", type=float, default=30.0)
    parser.add_argument("--warmup-s", type=float, default=15.0)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    for name in ("unwatched", "watched"):
        print(name, result[name])
    print("big campaign POST", result["post_big_s"], "s")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
