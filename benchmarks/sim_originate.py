"""Originate throughput and event volume of the PBX simulator, next to the real Asterisk 22 baseline.

Runs the simulator in a subprocess (like Asterisk, it competes with the client for CPU) and drives it with a
raw AMI client built on `autodialer.protocols.ami` only, exactly as the lab load test did (README §7):
Async `Originate Local/<n>@load` -> `load-connect`, keeping at most W originates without OriginateResponse,
phase A (W=20, 500 calls) then phase B (W=200, 1499 calls). Then a capacity check: N calls held up at once
(`Local/<n>@hold`: Answer, Wait), counted with CoreShowChannels.

    .venv/bin/python benchmarks/sim_originate.py [--concurrent 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autodialer.protocols.ami import Event
from autodialer.simulator.dialplan import LAB_DIALPLAN

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.asterisk_fixtures import LOADTEST_RESULTS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_ami_client import RawAmiClient

BASELINE = LOADTEST_RESULTS
HOLD_DIALPLAN = LAB_DIALPLAN + "\n[hold]\nexten => _X.,1,Answer()\n same => n,Wait(30)\n same => n,Hangup()\n"


class Client(RawAmiClient):
    def __init__(self) -> None:
        super().__init__()
        self.events = 0
        self.by_type: dict[str, int] = {}
        self.pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.results: dict[str, int] = {}
        self.list_events: dict[str, list[Event]] = {}

    def on_event(self, e: Event) -> None:
        if e.action_id and e.name != "OriginateResponse":
            self.list_events.setdefault(e.action_id, []).append(e)
            return
        self.events += 1
        self.by_type[e.name] = self.by_type.get(e.name, 0) + 1
        if e.name == "OriginateResponse" and e.action_id in self.pending:
            self.latencies.append(time.perf_counter() - self.pending.pop(e.action_id))
            key = f"{e.get('Response')}/{e.get('Reason')}"
            self.results[key] = self.results.get(key, 0) + 1

    async def wait(self, predicate) -> None:
        while not predicate():
            self.wake.clear()
            await self.wake.wait()


async def phase(c: Client, label: str, window: int, calls: int, context: str, start_n: int) -> dict:
    c.events, c.by_type, c.results, c.latencies = 0, {}, {}, []
    bytes0 = c.bytes
    t0 = time.perf_counter()
    for i in range(calls):
        await c.wait(lambda: len(c.pending) < window)
        aid = f"{label}-{i}"
        n = start_n + i
        c.pending[aid] = time.perf_counter()
        c.send(
            "Originate",
            [
                ("Channel", f"Local/{n}@{context}"),
                ("Context", f"{context}-connect"),
                ("Exten", str(n)),
                ("Priority", "1"),
                ("Timeout", "10000"),
                ("Async", "true"),
                ("ChannelId", f"{label}-{n}"),
            ],
            aid,
        )
    await c.wait(lambda: not c.pending)
    elapsed = time.perf_counter() - t0
    await asyncio.sleep(0.3)  # let the last hangup events arrive
    lat = sorted(c.latencies)
    return {
        "phase": label,
        "window": window,
        "calls": calls,
        "results": dict(c.results),
        "seconds": round(elapsed, 3),
        "originates_per_s": round(calls / elapsed, 1),
        "latency_ms_p50": round(1000 * statistics.median(lat), 1),
        "latency_ms_p95": round(1000 * lat[int(0.95 * (len(lat) - 1))], 1),
        "latency_ms_max": round(1000 * lat[-1], 1),
        "events_per_call": round(c.events / calls, 1),
        "event_bytes_per_call": (c.bytes - bytes0) // calls,
        "events_per_s": round(c.events / elapsed, 0),
    }


async def concurrent(c: Client, n: int) -> dict:
    c.results = {}
    t0 = time.perf_counter()
    for i in range(n):
        await c.wait(lambda: len(c.pending) < 200)
        aid = f"hold-{i}"
        c.pending[aid] = time.perf_counter()
        c.send(
            "Originate",
            [("Channel", f"Local/{100000 + i}@hold"), ("Application", "Wait"), ("Data", "30"), ("Async", "true")],
            aid,
        )
    await c.wait(lambda: not c.pending)
    ramp = time.perf_counter() - t0
    aid = "count"
    c.send("CoreShowChannels", [], aid)
    await c.wait(lambda: any(e.name == "CoreShowChannelsComplete" for e in c.list_events.get(aid, [])))
    listed = int(next(e for e in c.list_events[aid] if e.name == "CoreShowChannelsComplete").get("ListItems") or 0)
    return {"calls_up": c.results.get("Success/4", 0), "channels_listed": listed, "ramp_s": round(ramp, 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrent", type=int, default=2000)
    ap.add_argument("--originate-rate", type=float, default=None, help="run the simulator with this cap")
    args = ap.parse_args()
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(HOLD_DIALPLAN)
    rate = ["--originate-rate", str(args.originate_rate)] if args.originate_rate else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "autodialer.simulator", "--ami-port", str(port), "--dialplan", f.name, *rate],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        c = Client()
        await c.connect(port)
        results = [await phase(c, "A", 20, 500, "load", 1000), await phase(c, "B", 200, 1499, "load", 5000)]
        held = await concurrent(c, args.concurrent)
    finally:
        proc.terminate()
        proc.wait()
    cap = f", capped at {args.originate_rate:g}/s" if args.originate_rate else ""
    print(f"PBX simulator (subprocess, same host as the client{cap}):")
    for r in results:
        print(
            f"  phase {r['phase']} W={r['window']}: {r['calls']} calls {r['results']} in {r['seconds']} s -> "
            f"{r['originates_per_s']} originates/s, latency p50/p95/max {r['latency_ms_p50']}/"
            f"{r['latency_ms_p95']}/{r['latency_ms_max']} ms, {r['events_per_call']} events/call "
            f"({r['event_bytes_per_call']} B/call), {r['events_per_s']:.0f} events/s"
        )
    print(
        f"  concurrency: {held['calls_up']} calls answered and held, CoreShowChannels lists "
        f"{held['channels_listed']} channels (ramp {held['ramp_s']} s)"
    )
    if BASELINE.exists():
        base = json.loads(BASELINE.read_text())
        print("Real Asterisk 22.10.1 baseline (loadtest-results.json, 2-vCPU VM):")
        for p in base["phases"]:
            lat = p["latency_send_to_OriginateResponse_ms"]
            print(
                f"  {p['phase']} W={p['window_max_outstanding']}: {p['successful_originates_per_s']} originates/s,"
                f" latency p50/p95/max {lat['p50']}/{lat['p95']}/{lat['max']} ms, {p['events_per_call']} events/call"
                f" ({p['event_bytes_per_call']} B/call)"
            )


if __name__ == "__main__":
    asyncio.run(main())
