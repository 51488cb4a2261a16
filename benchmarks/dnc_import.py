"""The do-not-call import end to end: ``--rows`` CSV rows through ``autodialer dnc import``'s path (DncLists on the
SQL store: read, normalise to E.164, de-duplicate, per-row errors, one transaction of batched inserts, then the open
task numbers now listed closed as doNotCall), on SQLite and, with ``--pg URL``, on PostgreSQL.

The file has 1% bad rows and 5% repeats in other spellings, like benchmarks/eligibility.py's parsing-only figure;
the database starts with ``--listed`` entries already on the list and a task with ``--open`` numbers, 10% of which
the file lists. Checked: the table holds exactly the distinct good numbers, the counts add up to the rows, and
exactly the listed open numbers were closed. Goal (issue 14): 1M entries in at most 30 s.

    .venv/bin/python benchmarks/dnc_import.py [--rows 1000000] [--pg postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.adapters.db.tables import dnc_numbers, metadata, task_numbers
from autodialer.adapters.db.task_repository import NumberColumns, NumberRow, SqlTaskRepository
from autodialer.bootstrap import build_dnc_lists
from autodialer.settings import load_settings

GOAL_S = 30.0


def spelling(n: int, style: int) -> str:
    digits = f"9{n:09d}"
    code, rest = digits[:3], digits[3:]
    return (f"8 {code} {rest[:3]}-{rest[3:5]}-{rest[5:]}", f"+7 ({code}) {rest}", f"7{digits}", f"+7{digits}")[style]


def write_csv(path: Path, rows: int, rng: random.Random) -> tuple[set[str], int]:
    """The file, and the distinct E.164 numbers it lists and its bad rows."""
    listed: set[str] = set()
    bad = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("phone;note\n")
        previous = 0
        for i in range(rows):
            if i % 100 == 37:
                out.write(f"not a number {i};bad\n")
                bad += 1
                continue
            n = previous if i % 20 == 19 else rng.randrange(1_000_000_000)
            previous = n
            out.write(f"{spelling(n, rng.randrange(4))};row {i}\n")
            listed.add(f"+79{n:09d}")
    return listed, bad


async def prepare(
    engine: AsyncEngine, listed: set[str], open_numbers: int, already: int, rng: random.Random
) -> tuple[list[str], list[str]]:
    """The database before the import (this benchmark's and api_dnc_import's): migrated, emptied on PostgreSQL,
    ``already`` entries on the list and a task with ``open_numbers`` open numbers, 10% of them in the file.
    Returns the old entries and the task's phones."""
    await migrate(engine)
    if engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in metadata.sorted_tables if t.name in ("dnc_numbers", "task_numbers", "tasks"))
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {names} CASCADE"))
    old = [f"+79{rng.randrange(1_000_000_000):09d}" for _ in range(already)]
    async with engine.begin() as connection:
        if old:
            values = [{"e164": e, "phone_id": e[-10:], "phone": e, "source": "old", "created_at": 0.0} for e in old]
            await connection.execute(dnc_numbers.insert(), values)
    in_file = sorted(listed)
    phones = list(dict.fromkeys(rng.choice(in_file) if k % 10 == 0 else f"+7383{k:07d}" for k in range(open_numbers)))
    number_rows = [NumberRow(k, p, p[1:], p[-10:], None, "", 0) for k, p in enumerate(phones)]
    await SqlTaskRepository(engine, page_limit=10_000).save_task(
        task_id=None,
        crm_id="bench",
        columns={"inner_num": "201", "max_count_channels": 1},
        numbers=[NumberColumns.of(number_rows)],
        number_count=len(number_rows),
        now=time.time(),
    )
    return old, phones


async def stored(engine: AsyncEngine) -> tuple[int, list[str]]:
    """After the import: how many entries the list holds, and the task's phones closed as doNotCall, sorted."""
    async with engine.connect() as connection:
        count = int((await connection.execute(select(func.count()).select_from(dnc_numbers))).scalar_one())
        closed = (
            await connection.execute(select(task_numbers.c.phone).where(task_numbers.c.state == "doNotCall"))
        ).all()
    return count, sorted(r.phone for r in closed)


async def run(url: str, rows: int, open_numbers: int, already: int, rng: random.Random, workdir: Path) -> None:
    engine = create_engine(url)
    csv_path = workdir / "dnc.csv"
    listed, bad = write_csv(csv_path, rows, rng)
    old, phones = await prepare(engine, listed, open_numbers, already, rng)
    lists = build_dnc_lists(load_settings(database_url=url), engine, time.time)
    start = time.perf_counter()
    cpu = time.process_time()
    with csv_path.open(encoding="utf-8", newline="") as lines:
        report = await lists.import_csv(lines, "bench")
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    count, closed = await stored(engine)
    await engine.dispose()
    counts = report.counts
    assert counts.entries == len(listed) and counts.errors == bad
    assert counts.entries + counts.duplicates + counts.errors == rows
    assert count == len(listed | set(old)) and report.added == len(listed - set(old))
    assert closed == sorted(p for p in phones if p in listed)
    print(
        f"{engine.dialect.name:<10} {rows:>9,} rows → {counts.entries:,} entries ({report.added:,} new, "
        f"{counts.duplicates:,} repeats, {counts.errors:,} bad rows), {report.closed:,} of {len(phones):,} open "
        f"numbers closed: {seconds:5.1f} s wall, {cpu_s:5.1f} s CPU (goal ≤ {GOAL_S:.0f} s for 1M entries)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=10_000, help="open numbers of a task, 10%% of them in the file")
    parser.add_argument("--listed", type=int, default=10_000, help="entries on the list before the import")
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (its tables are emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        sqlite = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.sqlite3'}"
        asyncio.run(run(sqlite, args.rows, args.open, args.listed, random.Random(14), Path(workdir)))
        if args.pg:
            asyncio.run(run(args.pg, args.rows, args.open, args.listed, random.Random(14), Path(workdir)))


if __name__ == "__main__":
    main()
