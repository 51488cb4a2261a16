"""Benchmark: POST /task with 1,000,000 numbers to a real ``autodialer serve`` process, over HTTP.

Goal (issue 11): ≤ 30 s on SQLite and on PostgreSQL, and the server's peak RSS ≤ 300 MB. The body is written to a
file first and posted from it in 1 MB chunks over TCP (the client never holds it whole); the time is the request's,
from its first byte sent to the answer read. The server (API only, on a fresh database: SQLite in a temporary
directory, or a new database on the PostgreSQL server of ``--database-url``) is measured from outside: CPU and peak
RSS of serve and of every process under it (serve_process.TreeRss). The stored task is then checked in the database:
exactly the posted numbers (count, distinct phones, first and last), and with ``--objects`` every row's params and
call time.

    .venv/bin/python benchmarks/api_post_million.py [--numbers N] [--objects] [--database-url URL] [--json]

``--json`` prints one JSON object as the last line: ``{"backend", "numbers", "objects", "seconds", "cpu_seconds",
"peak_rss_mb", "rss_before_post_mb", "body_mb", "stored", "load", "goal_s", "goal_rss_mb", "within_goals",
"checked"}``; exit status 1 when the stored task is not what was posted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import fresh_database, serve

from autodialer.adapters.db.engine import create_engine

GOAL_S = 30.0
GOAL_RSS_MB = 300.0
BASELINE = (
    "in-process through httpx's ASGI transport, no socket: issue 11 quotes SQLite 13 s, PostgreSQL 31-73 s; that"
    " code on this machine (2 shared cores, load 2-2.7): SQLite 28.6 s, PostgreSQL 53.3 s, peak RSS of the"
    " whole process 113 / 119 MB"
)
TASK = "/pbxcore/api/module-dialer/v1/task"
STORED = text(
    "SELECT count(*), count(DISTINCT phone), min(phone), max(phone),"
    " sum(CASE WHEN params_php LIKE :params AND params_json IS NOT NULL THEN 1 ELSE 0 END),"
    " sum(CASE WHEN time_call_allow > 0 THEN 1 ELSE 0 END),"
    " sum(CASE WHEN result = '' AND coalesce(count_try, 0) = 0 THEN 1 ELSE 0 END)"
    " FROM task_numbers WHERE task_id = :task_id"
)

OBJECT = (
    '{"number": "7%010d", "timeCallAllow": "21.08.2024 10:00:00",'
    ' "params": {"speach": "1000 \\u0440\\u0443\\u0431\\u043b\\u0435\\u0439", "client": "Ivanov %d"}}'
)


def write_body(path: Path, count: int, crm_id: str, objects: bool = False) -> int:
    """The POST body, written to ``path`` (never whole in memory): numbers as plain strings, or (``objects``) as 1C
    sends them, with a date and params. Returns its size in bytes."""
    with path.open("wb") as out:
        out.write(b'{"crmId": "%s", "name": "bench", "state": 0, "innerNum": "201",' % crm_id.encode())
        out.write(b' "maxCountChannels": 5, "numbers": [')
        for start in range(0, count, 10_000):
            numbers = range(start, min(count, start + 10_000))
            items = [(OBJECT % (n, n)).encode() for n in numbers] if objects else [b'"7%010d"' % n for n in numbers]
            out.write(b", ".join(items))
            if start + 10_000 < count:
                out.write(b", ")
        out.write(b"]}")
        return out.tell()


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk


async def stored(url: str, task_id: int) -> dict[str, Any]:
    """What the database holds of the task's numbers: count, distinct phones, first and last phone, and how many
    rows carry the params and the call time ``--objects`` posts."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(STORED, {"task_id": task_id, "params": "%Ivanov%"})).one()
    finally:
        await engine.dispose()
    keys = ("count", "distinct", "first", "last", "with_params", "with_time", "open")
    return dict(zip(keys, (int(v or 0) if i not in (2, 3) else v for i, v in enumerate(row)), strict=True))


def check(figures: dict[str, Any], count: int, objects: bool) -> list[str]:
    """What is wrong with the stored task (empty: nothing)."""
    held = figures["stored"]
    wrong = []
    if held["count"] != count or held["distinct"] != count:
        wrong.append(f"{held['count']:,} rows, {held['distinct']:,} distinct phones stored for {count:,} posted")
    if (held["first"], held["last"]) != (f"7{0:010d}", f"7{count - 1:010d}"):
        wrong.append(f"stored phones run {held['first']}..{held['last']}")
    if held["open"] != count:
        wrong.append(f"{count - held['open']:,} numbers not open and untried")
    if objects and (held["with_params"], held["with_time"]) != (count, count):
        wrong.append(f"{held['with_params']:,} rows with their params, {held['with_time']:,} with their time")
    return wrong


def run(url: str, count: int, objects: bool, data_dir: Path) -> dict[str, Any]:
    body = data_dir / "body.json"
    size = write_body(body, count, f"bench-{uuid.uuid4().hex[:8]}", objects)
    with serve(data_dir, url) as server, httpx.Client(base_url=server.base_url, timeout=600) as http:
        assert server.rss is not None
        time.sleep(1)  # the server settled after start-up
        rss_before, cpu_before = server.rss.rss_mb(), server.rss.cpu_s()
        started = time.perf_counter()
        reply = http.post(TASK, content=file_chunks(body), headers={"Content-Length": str(size)})
        seconds = time.perf_counter() - started
        cpu = server.rss.cpu_s() - cpu_before
        peak = server.rss.peak_mb()
    if reply.status_code != 200 or reply.json().get("result") is not True:
        raise SystemExit(f"CHECK FAILED: POST answered {reply.status_code}: {reply.text[:500]}")
    task_id = int(reply.json()["data"]["id"])
    return {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "numbers": count,
        "objects": objects,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak, 1),
        "rss_before_post_mb": round(rss_before, 1),
        "body_mb": round(size / 2**20, 1),
        "stored": asyncio.run(stored(url, task_id)),
    }


def print_figures(title: str, figures: dict[str, Any]) -> None:
    """The figures of one measured POST against the goals (also benchmarks/api_v2_csv_import.py's)."""
    print(title)
    print(f"  time       {figures['seconds']:8.2f} s   (goal <= {GOAL_S:.0f} s)")
    print(f"  CPU        {figures['cpu_seconds']:8.2f} s   (of the server's processes: steadier on a shared machine)")
    print(
        f"  peak RSS   {figures['peak_rss_mb']:8.1f} MB  (of the server's processes; goal <= {GOAL_RSS_MB:.0f} MB;"
        f" {figures['rss_before_post_mb']:.1f} MB before the POST)"
    )
    print("  result     " + ("within goals" if within_goals(figures) else "MISSES A GOAL"))


def within_goals(figures: dict[str, Any]) -> bool:
    return bool(figures["seconds"] <= GOAL_S and figures["peak_rss_mb"] <= GOAL_RSS_MB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    parser.add_argument("--objects", action="store_true", help="numbers as objects with timeCallAllow and params")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        figures = run(url, args.numbers, args.objects, Path(tmp))
    figures["load"] = [round(x, 2) for x in os.getloadavg()]
    kind = "number objects" if args.objects else "numbers"
    title = f"POST /task with {args.numbers:,} {kind} on {figures['backend']} over HTTP (body {figures['body_mb']} MB)"
    print_figures(title, figures)
    print(f"  load       {figures['load']}")
    print(f"baseline: {BASELINE}")
    wrong = check(figures, args.numbers, args.objects)
    for line in wrong:
        print(f"CHECK FAILED: {line}")
    if args.json:
        goals = {"goal_s": GOAL_S, "goal_rss_mb": GOAL_RSS_MB, "within_goals": within_goals(figures)}
        print(json.dumps({**figures, **goals, "checked": not wrong}))
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
