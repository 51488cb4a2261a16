"""Benchmark: GET /results/{changeTime} returning 10,000 rows (the default page) from a real ``autodialer serve``
process, over HTTP.

Goal (issue 11): ≤ 150 ms per request on SQLite and on PostgreSQL. The server (API only, on a fresh database: SQLite
in a temporary directory, or a new database on the PostgreSQL server of ``--database-url``; its results page as
long as ``--rows``) gets one POST /task of that many numbers; the rows are then marked as finished calls in the
database (every column filled, as the feed serves them in practice) and the page is fetched ``--repeat`` times over
TCP, each timed from the request sent to the last byte of the answer read. Every answer is checked after its timing:
exactly the task's rows, in id order, each with the values written. Peak RSS is serve's and every process's under
it (serve_process.TreeRss).

    .venv/bin/python benchmarks/api_results_feed.py [--rows N] [--repeat R] [--database-url URL] [--json]

``--json`` prints one JSON object as the last line: ``{"backend", "rows", "repeat", "median_ms", "worst_ms",
"times_ms", "body_mb", "peak_rss_mb", "load", "goal_ms", "within_goal", "checked"}``; exit status 1 when an answer
is not the task's rows as written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import fresh_database, serve

from autodialer.adapters.db.engine import create_engine

GOAL_MS = 150.0
BASELINE = "in-process through httpx's ASGI transport, no socket (issue 11): 118-214 ms for 10,000 rows"
V1 = "/pbxcore/api/module-dialer/v1"
LINKED = "mikopbx-1724323615."
FINISHED = (
    f"UPDATE task_numbers SET linked_id = '{LINKED}' || id, call_file = 'dialer-1-' || phone,"
    " result = 'SUCCESS', out_dial_state = 'ANSWER', in_dial_state = 'ANSWER', state = 'endCall',"
    " verbose_call_id = '[C-00000003]', cause = 'SIP 200 OK', count_try = 1, close_time = 1724323625"
)


async def finish_calls(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(FINISHED)
    finally:
        await engine.dispose()


def wrong_rows(results: list[dict[str, Any]], task_id: int, rows: int) -> list[str]:
    """What is wrong with one answer's rows (empty: nothing): the task's numbers in id order, as written."""
    if len(results) != rows:
        return [f"{len(results):,} rows for {rows:,}"]
    wrong = []
    expected_phones = [f"7{n:010d}" for n in range(rows)]
    if [r["phone"] for r in results] != expected_phones:
        wrong.append("not the task's numbers in the order posted")
    ids = [int(r["id"]) for r in results]
    if ids != sorted(ids) or len(set(ids)) != rows:
        wrong.append("ids not increasing")
    fixed = {
        "taskId": str(task_id),
        "result": "SUCCESS",
        "outDialState": "ANSWER",
        "inDialState": "ANSWER",
        "state": "endCall",
        "verboseCallId": "[C-00000003]",
        "cause": "SIP 200 OK",
        "countTry": "1",
        "closeTime": "1724323625",
    }
    for row in results:
        differing = {k: row.get(k) for k, v in fixed.items() if row.get(k) != v}
        if row["linkedId"] != LINKED + row["id"] or row["callFile"] != "dialer-1-" + row["phone"]:
            differing |= {"linkedId": row["linkedId"], "callFile": row["callFile"]}
        if row["phoneId"] != row["phone"][-10:]:
            differing["phoneId"] = row["phoneId"]
        if differing:
            wrong.append(f"row {row['id']}: {differing}")
            break
    return wrong


def run(url: str, rows: int, repeat: int, data_dir: Path) -> dict[str, Any]:
    settings = {"RESULTS_PAGE_LIMIT": str(rows)}
    with serve(data_dir, url, settings=settings) as server, httpx.Client(base_url=server.base_url + V1) as http:
        assert server.rss is not None
        body = {"crmId": "bench", "innerNum": "201", "numbers": [f"7{n:010d}" for n in range(rows)]}
        reply = http.post("/task", content=json.dumps(body), timeout=120)
        if reply.status_code != 200:
            raise SystemExit(f"CHECK FAILED: POST /task answered {reply.status_code}: {reply.text[:500]}")
        task_id = int(reply.json()["data"]["id"])
        asyncio.run(finish_calls(url))
        times: list[float] = []
        answers: list[bytes] = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = http.get("/results/0", timeout=60)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"CHECK FAILED: GET /results answered {response.status_code}")
            answers.append(response.content)
        peak = server.rss.peak_mb()
    wrong = []
    for answer in set(answers):  # the same bytes checked once
        wrong += wrong_rows(json.loads(answer)["data"]["results"], task_id, rows)
    return {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "rows": rows,
        "repeat": repeat,
        "median_ms": round(statistics.median(times), 1),
        "worst_ms": round(max(times), 1),
        "times_ms": [round(t, 1) for t in times],
        "body_mb": round(len(answers[-1]) / 2**20, 2),
        "peak_rss_mb": round(peak, 1),
        "wrong": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        figures = run(url, args.rows, args.repeat, Path(tmp))
    figures["load"] = [round(x, 2) for x in os.getloadavg()]
    within = figures["median_ms"] <= GOAL_MS
    print(f"GET /results returning {args.rows:,} rows on {figures['backend']} over HTTP ({figures['body_mb']} MB)")
    print(f"  median {figures['median_ms']:7.1f} ms   worst {figures['worst_ms']:7.1f} ms   (goal <= {GOAL_MS:.0f} ms)")
    print(f"  server peak RSS {figures['peak_rss_mb']:.1f} MB (serve and its child processes)")
    print(f"  load {figures['load']}")
    print("  result " + ("within goal" if within else "MISSES THE GOAL"))
    print(f"baseline: {BASELINE}")
    wrong = figures.pop("wrong")
    for line in wrong:
        print(f"CHECK FAILED: {line}")
    if args.json:
        print(json.dumps({**figures, "goal_ms": GOAL_MS, "within_goal": within, "checked": not wrong}))
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
