"""Benchmark: POST /api/v2/dnc.csv with 1,000,000 rows to a real ``autodialer serve`` process, over HTTP, on SQLite
and (``--pg URL``) PostgreSQL.

The path measured is the whole of the v2 import: the body streamed by the client and spooled by the server, read
as CSV, normalised to E.164, de-duplicated, per-row errors, one transaction of batched inserts, then the open task
numbers now listed closed as doNotCall, and the JSON report. The file and the database are benchmarks/dnc_import.py's
(1% bad rows, 5% repeats in other spellings, ``--listed`` entries already listed, a task with ``--open`` numbers of
which 10% are in the file). Checked from the report and the database: the list holds exactly the distinct good
numbers plus the old ones, the counts add up to the rows, exactly the listed open numbers were closed.
Goal (issue 14): 1M entries in at most 30 s. Baseline: the CLI's path without HTTP (benchmarks/dnc_import.py).

    .venv/bin/python benchmarks/api_dnc_import.py [--rows 1000000] [--pg postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dnc_import
from dnc_import import GOAL_S, write_csv
from serve_process import serve

from autodialer.adapters.db.engine import create_engine


async def prepare(url: str, listed: set[str], open_numbers: int, already: int, rng: random.Random) -> list[str]:
    engine = create_engine(url)
    try:
        old, phones = await dnc_import.prepare(engine, listed, open_numbers, already, rng)
    finally:
        await engine.dispose()
    return old + phones


async def stored(url: str) -> tuple[int, list[str]]:
    engine = create_engine(url)
    try:
        return await dnc_import.stored(engine)
    finally:
        await engine.dispose()


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk


def run(url: str, rows: int, open_numbers: int, already: int, workdir: Path) -> None:
    rng = random.Random(14)
    csv_path = workdir / "dnc.csv"
    listed, bad = write_csv(csv_path, rows, rng)
    setup = asyncio.run(prepare(url, listed, open_numbers, already, rng))
    old, phones = set(setup[:already]), setup[already:]
    data_dir = workdir / f"serve-{url.split(':')[0]}"
    data_dir.mkdir()
    with serve(data_dir, url) as server, httpx.Client(base_url=server.base_url, timeout=600) as http:
        started = time.perf_counter()
        reply = http.post("/api/v2/dnc.csv", content=chunks(csv_path), headers={"content-type": "text/csv"})
        seconds = time.perf_counter() - started
    assert reply.status_code == 200, reply.text[:500]
    report = reply.json()
    count, closed = asyncio.run(stored(url))
    assert report["entries"] == len(listed) and report["rejected"] == bad
    assert report["entries"] + report["duplicates"] + report["rejected"] == rows
    assert count == len(listed | old) and report["added"] == len(listed - old)
    assert closed == sorted(p for p in phones if p in listed) and report["closed"] == len(closed)
    assert len(report["errors"]) == min(bad, 1000) and report["errors"][0]["field"] == "phone"
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"{dialect:<10} {rows:>9,} rows, {csv_path.stat().st_size / 1e6:.0f} MB → {report['entries']:,} entries "
        f"({report['added']:,} new, {report['duplicates']:,} repeats, {report['rejected']:,} bad rows), "
        f"{report['closed']:,} of {len(phones):,} open numbers closed: {seconds:5.1f} s over HTTP "
        f"(goal ≤ {GOAL_S:.0f} s for 1M entries)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=10_000, help="open numbers of a task, 10%% of them in the file")
    parser.add_argument("--listed", type=int, default=10_000, help="entries on the list before the import")
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (its tables are emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        sqlite = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.sqlite3'}"
        run(sqlite, args.rows, args.open, args.listed, Path(workdir))
        if args.pg:
            run(args.pg, args.rows, args.open, args.listed, Path(workdir))


if __name__ == "__main__":
    main()
