"""Benchmark: POST /task with 1,000,000 numbers through the real app on a migrated database.

Goal: ≤ 30 s and peak RSS ≤ 300 MB. The measurement runs in a child process (so the parent's imports do not count)
that builds the body as bytes, posts it through httpx's ASGI transport (no sockets) and reports wall time and
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak RSS of the whole process: interpreter, app, body copies).

    .venv/bin/python benchmarks/api_post_million.py [--numbers N] [--database-url URL]

Without a URL it uses SQLite (WAL) in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 30.0
GOAL_RSS_MB = 300.0


def body_bytes(count: int) -> bytes:
    body = bytearray(b'{"crmId": "bench", "name": "bench", "state": 0, "innerNum": "201", "maxCountChannels": 5,')
    body += b' "numbers": ['
    for start in range(0, count, 10_000):
        body += b", ".join(b'"7%010d"' % n for n in range(start, min(count, start + 10_000)))
        if start + 10_000 < count:
            body += b", "
    body += b"]}"
    return bytes(body)


async def child(count: int, url: str, data_dir: Path) -> dict[str, float]:
    import httpx

    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.api.app import create_app
    from autodialer.api.context import AppContext
    from autodialer.settings import load_settings

    engine = create_engine(url)
    await migrate(engine)
    settings = load_settings(environment="test", data_dir=data_dir, database_url=url)
    app = create_app(AppContext(settings=settings, db=engine))
    body = body_bytes(count)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
        started = time.perf_counter()
        response = await client.post("/pbxcore/api/module-dialer/v1/task", content=body)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    async with engine.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT count(*) FROM task_numbers")).scalar_one()
    await engine.dispose()
    assert stored == count, stored
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_rss_mb": peak, "rss_before_post_mb": rss_before, "body_mb": len(body) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = asyncio.run(child(args.numbers, args.database_url, Path(args.data_dir)))
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        command = [sys.executable, __file__, "--child", "--numbers", str(args.numbers), "--database-url", url]
        done = subprocess.run([*command, "--data-dir", tmp], check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    backend = url.split(":", 1)[0]
    print(f"POST /task with {args.numbers:,} numbers on {backend} (body {figures['body_mb']:.1f} MB)")
    print(f"  time       {figures['seconds']:8.2f} s   (goal <= {GOAL_S:.0f} s)")
    print(
        f"  peak RSS   {figures['peak_rss_mb']:8.1f} MB  (goal <= {GOAL_RSS_MB:.0f} MB;"
        f" {figures['rss_before_post_mb']:.1f} MB before the POST)"
    )
    ok = figures["seconds"] <= GOAL_S and figures["peak_rss_mb"] <= GOAL_RSS_MB
    print("  result     " + ("within goals" if ok else "MISSES a goal"))


if __name__ == "__main__":
    main()
