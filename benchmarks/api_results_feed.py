"""Benchmark: GET /results/{changeTime} returning 10,000 rows (the default page) through the real app.

Goal: ≤ 150 ms per request. Rows are created by one POST /task of 10,000 numbers, then marked as finished calls
(every column filled, as the feed serves them in practice); the page is fetched repeatedly through httpx's ASGI
transport (no sockets) and the median and worst times are printed.

    .venv/bin/python benchmarks/api_results_feed.py [--rows N] [--repeat R] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.settings import load_settings

GOAL_MS = 150.0
V1 = "/pbxcore/api/module-dialer/v1"


async def run(rows: int, repeat: int, url: str, data_dir: Path) -> tuple[list[float], int]:
    engine = create_engine(url)
    await migrate(engine)
    settings = load_settings(environment="test", data_dir=data_dir, database_url=url, results_page_limit=rows)
    app = create_app(build_context(settings, engine, time.time))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        body = {"crmId": "bench", "innerNum": "201", "numbers": [f"7{n:010d}" for n in range(rows)]}
        assert (await client.post(V1 + "/task", content=json.dumps(body))).status_code == 200
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE task_numbers SET linked_id = 'mikopbx-1724323615.' || id, call_file = 'dialer-1-' || phone,"
                " result = 'SUCCESS', out_dial_state = 'ANSWER', in_dial_state = 'ANSWER', state = 'endCall',"
                " verbose_call_id = '[C-00000003]', cause = 'SIP 200 OK', close_time = 1724323625"
            )
        times: list[float] = []
        size = 0
        for _ in range(repeat):
            started = time.perf_counter()
            response = await client.get(V1 + "/results/0")
            times.append((time.perf_counter() - started) * 1000)
            size = len(response.content)
            assert len(response.json()["data"]["results"]) == rows
    await engine.dispose()
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        times, size = asyncio.run(run(args.rows, args.repeat, url, Path(tmp)))
    print(f"GET /results returning {args.rows:,} rows on {url.split(':', 1)[0]} ({size / 2**20:.1f} MB of JSON)")
    print(f"  median {statistics.median(times):7.1f} ms   worst {max(times):7.1f} ms   (goal <= {GOAL_MS:.0f} ms)")
    print("  result " + ("within goal" if statistics.median(times) <= GOAL_MS else "MISSES the goal"))


if __name__ == "__main__":
    main()
