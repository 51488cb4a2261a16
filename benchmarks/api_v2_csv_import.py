"""Benchmark: POST /api/v2/campaigns/{id}/numbers.csv with 1,000,000 rows through the real app.

The same goals as v1's million-number POST (benchmarks/api_post_million.py, run it for the baseline on this
machine): ≤ 30 s and peak RSS ≤ 300 MB. A child process writes the CSV (phone, not_before, two param columns) to a
file, posts it in 1 MB chunks through httpx's ASGI transport, reads the NDJSON progress to its last line and checks
that every row was accepted and stored.

    .venv/bin/python benchmarks/api_v2_csv_import.py [--rows N] [--database-url URL]
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

from api_post_million import file_chunks, print_figures

ROW = "7%010d,2024-08-22T10:00:00,Ivanov %d,1000 рублей\r\n"


def write_csv(path: Path, rows: int) -> int:
    with path.open("wb") as out:
        out.write(b"phone,not_before,client,speach\r\n")
        for start in range(0, rows, 10_000):
            out.write("".join(ROW % (n, n) for n in range(start, min(rows, start + 10_000))).encode())
        return out.tell()


async def child(rows: int, url: str, data_dir: Path) -> dict[str, float]:
    import httpx

    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.api.app import create_app
    from autodialer.bootstrap import build_context
    from autodialer.settings import load_settings

    engine = create_engine(url)
    await migrate(engine)
    settings = load_settings(environment="test", data_dir=data_dir, database_url=url)
    context = build_context(settings, engine, time.time)
    app = create_app(context)
    body = data_dir / "numbers.csv"
    size = write_csv(body, rows)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
        created = await client.post("/api/v2/campaigns", json={"target": {"kind": "extension", "value": "201"}})
        url_numbers = f"/api/v2/campaigns/{created.json()['id']}/numbers.csv"
        started, cpu_started = time.perf_counter(), time.process_time()
        response = await client.post(url_numbers, content=file_chunks(body), headers={"Content-Length": str(size)})
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert response.status_code == 200, response.text[:500]
    last = json.loads(response.text.splitlines()[-1])
    async with engine.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT count(*) FROM task_numbers")).scalar_one()
    await engine.dispose()
    assert last["done"] and last["accepted"] == rows == stored and last["rejected"] == 0, (last, stored)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_post_mb": rss_before,
        "body_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.rows, args.database_url, Path(args.data_dir)))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        command = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--database-url", url]
        done = subprocess.run([*command, "--data-dir", tmp], check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    backend = url.split(":", 1)[0]
    print_figures(f"v2 CSV import of {args.rows:,} rows on {backend} (body {figures['body_mb']:.1f} MB)", figures)


if __name__ == "__main__":
    main()
