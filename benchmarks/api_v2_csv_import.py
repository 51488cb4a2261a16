"""Benchmark: POST /api/v2/campaigns/{id}/numbers.csv with 1,000,000 rows to a real ``autodialer serve``, over HTTP.

The same goals as v1's million-number POST (benchmarks/api_post_million.py, run it for the baseline on this
machine): ≤ 30 s and the server's peak RSS ≤ 300 MB. The CSV (phone, not_before, two param columns) is written to a
file and posted from it in 1 MB chunks over TCP to the server (serve_process.py, API only, on a fresh database);
the NDJSON progress is read to its last line, and every row must have been accepted and stored (exit status 1
otherwise). Time, CPU and peak RSS are the server's, as api_post_million's.

    .venv/bin/python benchmarks/api_v2_csv_import.py [--rows N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_post_million import file_chunks, print_figures
from serve_process import fresh_database, serve

from autodialer.adapters.db.engine import create_engine

ROW = "7%010d,2024-08-22T10:00:00,Ivanov %d,1000 рублей\r\n"


def write_csv(path: Path, rows: int) -> int:
    with path.open("wb") as out:
        out.write(b"phone,not_before,client,speach\r\n")
        for start in range(0, rows, 10_000):
            out.write("".join(ROW % (n, n) for n in range(start, min(rows, start + 10_000))).encode())
        return out.tell()


def run(rows: int, url: str, data_dir: Path) -> dict[str, Any]:
    body = data_dir / "numbers.csv"
    size = write_csv(body, rows)
    with serve(data_dir, url) as server, httpx.Client(base_url=server.base_url, timeout=600) as http:
        assert server.rss is not None
        created = http.post("/api/v2/campaigns", json={"target": {"kind": "extension", "value": "201"}})
        campaign = int(created.json()["id"])
        time.sleep(1)  # the server settled after start-up
        rss_before, cpu_before = server.rss.rss_mb(), server.rss.cpu_s()
        started = time.perf_counter()
        target = f"/api/v2/campaigns/{campaign}/numbers.csv"
        response = http.post(target, content=file_chunks(body), headers={"Content-Length": str(size)})
        elapsed, cpu = time.perf_counter() - started, server.rss.cpu_s() - cpu_before
        peak = server.rss.peak_mb()
    if response.status_code != 200:
        raise SystemExit(f"CHECK FAILED: the import answered {response.status_code}: {response.text[:500]}")
    last = json.loads(response.text.splitlines()[-1])
    stored = asyncio.run(count_numbers(url, campaign))
    if not (last["done"] and last["accepted"] == rows == stored and last["rejected"] == 0):
        raise SystemExit(f"CHECK FAILED: {last}, {stored:,} numbers stored for {rows:,} rows")
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak,
        "rss_before_post_mb": rss_before,
        "body_mb": size / 2**20,
    }


async def count_numbers(url: str, campaign: int) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = text("SELECT count(*) FROM task_numbers WHERE task_id = :task_id")
            return int((await connection.execute(query, {"task_id": campaign})).scalar_one())
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        figures = run(args.rows, url, Path(tmp))
    backend = url.split(":", 1)[0]
    title = f"v2 CSV import of {args.rows:,} rows on {backend} over HTTP (body {figures['body_mb']:.1f} MB)"
    print_figures(title, figures)
    print(f"  load       {[round(x, 2) for x in os.getloadavg()]}")


if __name__ == "__main__":
    main()
