"""Benchmark: POST /task with 1,000,000 numbers through the real app on a migrated database.

Goal: ≤ 30 s and peak RSS ≤ 300 MB. The measurement runs in a child process (so the parent's imports do not count)
that writes the body to a file, posts it from there in 1 MB chunks through httpx's ASGI transport (no sockets), and
reports wall time, CPU time and ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak RSS of the whole process:
interpreter, app and whatever the server holds of the body; the client never holds it whole).

    .venv/bin/python benchmarks/api_post_million.py [--numbers N] [--objects] [--database-url URL]

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
from collections.abc import AsyncIterator
from pathlib import Path

GOAL_S = 30.0
GOAL_RSS_MB = 300.0


OBJECT = (
    '{"number": "7%010d", "timeCallAllow": "21.08.2024 10:00:00",'
    ' "params": {"speach": "1000 \\u0440\\u0443\\u0431\\u043b\\u0435\\u0439", "client": "Ivanov %d"}}'
)


def write_body(path: Path, count: int, objects: bool = False) -> int:
    """The POST body, written to ``path`` (never whole in memory): numbers as plain strings, or (``objects``) as 1C
    sends them, with a date and params. Returns its size in bytes."""
    with path.open("wb") as out:
        out.write(b'{"crmId": "bench", "name": "bench", "state": 0, "innerNum": "201", "maxCountChannels": 5,')
        out.write(b' "numbers": [')
        for start in range(0, count, 10_000):
            numbers = range(start, min(count, start + 10_000))
            items = [(OBJECT % (n, n)).encode() for n in numbers] if objects else [b'"7%010d"' % n for n in numbers]
            out.write(b", ".join(items))
            if start + 10_000 < count:
                out.write(b", ")
        out.write(b"]}")
        return out.tell()


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk


async def child(count: int, url: str, data_dir: Path, objects: bool) -> dict[str, float]:
    import httpx

    from autodialer.adapters.db.engine import create_engine, migrate
    from autodialer.api.app import create_app
    from autodialer.bootstrap import build_context
    from autodialer.settings import load_settings

    engine = create_engine(url)
    await migrate(engine)
    settings = load_settings(environment="test", data_dir=data_dir, database_url=url)
    app = create_app(build_context(settings, engine, time.time))
    body = data_dir / "body.json"
    size = write_body(body, count, objects)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = await client.post(
            "/pbxcore/api/module-dialer/v1/task", content=file_chunks(body), headers={"Content-Length": str(size)}
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert response.status_code == 200, response.text[:500]
    async with engine.connect() as connection:
        stored = (await connection.exec_driver_sql("SELECT count(*) FROM task_numbers")).scalar_one()
    await engine.dispose()
    assert stored == count, stored
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak,
        "rss_before_post_mb": rss_before,
        "body_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--objects", action="store_true", help="numbers as objects with timeCallAllow and params")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = asyncio.run(child(args.numbers, args.database_url, Path(args.data_dir), args.objects))
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        command = [sys.executable, __file__, "--child", "--numbers", str(args.numbers), "--database-url", url]
        command += ["--objects"] if args.objects else []
        done = subprocess.run([*command, "--data-dir", tmp], check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    backend = url.split(":", 1)[0]
    print_figures(f"POST /task with {args.numbers:,} numbers on {backend} (body {figures['body_mb']:.1f} MB)", figures)


def print_figures(title: str, figures: dict[str, float]) -> None:
    """The figures of one measured POST against the goals (also benchmarks/api_v2_csv_import.py's)."""
    print(title)
    print(f"  time       {figures['seconds']:8.2f} s   (goal <= {GOAL_S:.0f} s)")
    print(
        f"  CPU        {figures['cpu_seconds']:8.2f} s   (of this process, all threads: steadier on a shared machine)"
    )
    print(
        f"  peak RSS   {figures['peak_rss_mb']:8.1f} MB  (goal <= {GOAL_RSS_MB:.0f} MB;"
        f" {figures['rss_before_post_mb']:.1f} MB before the POST)"
    )
    ok = figures["seconds"] <= GOAL_S and figures["peak_rss_mb"] <= GOAL_RSS_MB
    print("  result     " + ("within goals" if ok else "MISSES a goal"))


if __name__ == "__main__":
    main()
