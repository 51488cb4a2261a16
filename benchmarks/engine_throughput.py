"""Sustained dialing rate of the whole service with many free agents and instant customer outcomes.

One campaign on queue 2200 with ``--agents`` members (default 300), ``--numbers`` numbers whose customers are busy
at once (SIP 486 without ringing, no retry): every call reserves a member, is originated, fails, is recorded as
MikoPBX's FAIL and frees the member, so the rate is the engine's own (planning, SQL writes, AMI), not the people's.
The PBX simulator runs in its own process. Counted: OriginateResponse events reaching our AMI client, i.e.
Originates the PBX accepted and ran; the rate is taken over the middle 80 % of the run.

    .venv/bin/python benchmarks/engine_throughput.py [--agents 300] [--numbers 5000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import bench_stack, print_baselines

from autodialer.protocols.ami import Event, ListResult


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--numbers", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=300, help="the task's maxCountChannels")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    members = [str(10000 + i) for i in range(args.agents)]
    sim = {"members": members, "time_scale": 0.01, "customer": {"outcome": "busy", "ring": False}}
    settings = {
        "retry_policy": {"customer_busy": {"delay_s": 0, "max_retries": 0}},
        "max_count_channels_ceiling": max(100, args.channels),
        "results_page_limit": 10000,
    }
    async with bench_stack(sim, args.database_url, **settings) as bench:
        assert bench.service.dialer is not None
        stamps: list[float] = []

        def on_event(item: Event | ListResult) -> None:
            if isinstance(item, Event) and item.name == "OriginateResponse":
                stamps.append(time.perf_counter())

        bench.service.dialer.ami.on_event(on_event)
        numbers = [f"7{9000000000 + i}" for i in range(args.numbers)]
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await bench.post_task(
            {"name": "throughput", "innerNum": "2200", "numbers": numbers, "maxCountChannels": args.channels}
        )
        posted = time.perf_counter() - t0
        last_count, last_change = 0, time.perf_counter()
        while len(stamps) < args.numbers and time.perf_counter() - last_change < 10:
            await asyncio.sleep(0.2)
            if len(stamps) != last_count:
                last_count, last_change = len(stamps), time.perf_counter()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    done = len(stamps)
    lo, hi = stamps[done // 10], stamps[(9 * done) // 10]
    steady = (0.8 * done) / (hi - lo) if hi > lo else float("nan")
    backend = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    print(f"Engine throughput ({args.agents} free queue members, maxCountChannels {args.channels}, {backend}):")
    print(f"  POST /task with {args.numbers} numbers: {posted:.2f} s")
    print(f"  {done} of {args.numbers} numbers originated in {elapsed - posted:.1f} s after the POST")
    print(f"  sustained: {steady:.0f} originates/s (middle 80 % of the run); goal >= 200/s")
    print(f"  service CPU: {1000 * cpu / max(done, 1):.2f} ms per call (API + engine + SQL + AMI, one process)")
    print_baselines(tasks=1)


if __name__ == "__main__":
    asyncio.run(main())
