"""Benchmark: does API load slow dialing? A real ``autodialer serve`` (dialer on) dials the PBX simulator while a load
generator in its own process offers ``--rate`` requests/s to its API (issue 11 goal 4).

The simulator runs in a process of its own (engine_bench.sim_process, the product's dialplan snippet): one agent
per extension, every customer answers after 25 ms and hangs up 1 s later, whether or not an agent was connected
to them by then (its time scale 0.05: 0.5 and 20 simulated seconds). The
campaign: a task on extension 201 (the probe: the simulator stamps 201's device turning NOT_INUSE and the arrival
of the next Originate of that task's numbers, as engine_latency.py does) and one task on each of ``--agents`` more
extensions, for throughput. Before the phases the API gets a paused task of ``--big`` numbers and a paused small
task of 10 (never dialled). Then, in one run:

* idle phase, ``--phase-s`` seconds: dialing, no API load;
* loaded phase, as long: the generator (this file re-run with ``--generate``) offers ``--rate`` requests/s, open
  loop (latency counted from the moment a request is offered, on at most 64 connections), cycling through
  GET /task/{small} (4 in 10), GET /results/{now - 5 s} (3), POST /task of 5 numbers (paused, 1), v2's
  GET /campaigns (1) and GET /campaigns/{id}/stats (1); beside them one GET /task/{big} after another, read as a
  stream.

Per phase: Originates/s (every Originate the simulator received), agent free → Originate p50/p99 of the probe,
answered customers dropped (every dialled customer answers, so a dialled number whose final result is not
SUCCESS_CLIENT_H, or that has none when the campaign has been paused and drained, is an answered customer the
dialer lost; counted by the close time's phase). API: requests answered per second within the phase and their
p99, errors, big GETs completed, requests without an answer (connection failed, timed out, or still unanswered
10 s after the phase: counted against the goal). Goal: loaded
within 10% of idle for Originates/s and p99, 0 answered customers dropped; a missed goal prints MISSES GOAL. Exit
status 1 when a check fails: an API answer other than 2xx or not the right rows, a number of the paused tasks
dialled, a phase without a probe call.

Where the CPU goes, per phase (``idle_cpu_cores``, ``loaded_cpu_cores``): cores used by the dialer (serve's own
process), the API worker, the simulator, the generator, this process, PostgreSQL's processes and everything else on
the machine (other people's work), from /proc/<pid>/stat; and ``*_cpu_wait_ms_per_s``: how long per second the main
thread of each of ours waited for a CPU while it could run (/proc/<pid>/schedstat), the dialer's first.
``--generator-sched-idle`` runs the generator under SCHED_IDLE, so it takes only the CPU the rest leaves, as load from
other machines would (the generator shares serve's cores here; in production the clients and the PBX do not).

``--workers 0 1`` runs the whole thing once per ``AUTODIALER_API_WORKERS`` value (0: one process, the baseline;
1: the API in a worker process, serve's default) and prints them side by side; ``--json`` prints one object on the
last line: the keys below for the last run listed, and ``runs`` by workers value.

    .venv/bin/python benchmarks/api_load_dialing.py [--rate 500] [--big 750000] [--phase-s 30] [--agents 50]
        [--workers 0 1] [--database-url URL] [--generator-sched-idle] [--json]
    .venv/bin/python benchmarks/api_load_dialing.py --rate 100 --big 20000 --phase-s 8 --agents 5 --workers 0  # small
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_process import V1, ServeProcess, agent_tasks, descendants, dialing_serve, post_task, talking_sim, task_body

from autodialer.adapters.db.engine import create_engine

V2 = "/api/v2"
GOAL_RATIO = 0.10
CONNECTIONS = 64  # the generator's connections for the mixed requests (plus one for the big GETs)
GRACE_S = 10.0  # the generator waits this long after its phase for answers, then gives up on the rest
EXPECTED = "SUCCESS_CLIENT_H"
PROBE_PREFIX = "7920"  # the probe task's numbers; throughput tasks dial 7910…, the paused ones 7930…/7940…
MIX = ("task", "results", "task", "post", "task", "results", "campaigns", "task", "results", "stats")
ROW_KEY = b'"phoneId": '
BASELINE = "issue 11 goal 4: before the API worker split, API load ran in the dialer's event loop (no figure)"


# ---------------------------------------------------------------- the load generator (its own process)


async def generate(config: dict[str, Any]) -> dict[str, Any]:
    """Offer ``rate`` requests/s for ``duration`` s (open loop) plus big GETs back to back; what was answered."""
    rate, duration = float(config["rate"]), float(config["duration"])
    latencies: list[float] = []
    answered_at: list[float] = []
    errors: Counter[str] = Counter()  # wrong answers: a status other than 2xx, or not the rows asked for
    failures: Counter[str] = Counter()  # no answer: the connection failed or timed out
    big: list[float] = []
    stop = asyncio.Event()
    posted = itertools.count()
    # requests wait for one of CONNECTIONS in this FIFO, not in httpx's pool, whose queue costs O(waiting) a request
    connections = asyncio.Semaphore(CONNECTIONS)
    limits = httpx.Limits(max_connections=CONNECTIONS + 1, max_keepalive_connections=CONNECTIONS + 1)
    async with httpx.AsyncClient(base_url=config["base"], timeout=30, limits=limits) as http:

        async def one(kind: str, due: float) -> None:
            if kind == "task":
                method, url, body = "GET", f"{V1}/task/{config['small']}", None
            elif kind == "results":
                method, url, body = "GET", f"{V1}/results/{int(time.time()) - 5}", None
            elif kind == "post":
                n = next(posted)
                numbers = [f"7940{n:05d}{k:02d}" for k in range(5)]
                body = json.dumps({"name": "load", "innerNum": "201", "state": 2, "numbers": numbers})
                method, url = "POST", f"{V1}/task"
            elif kind == "campaigns":
                method, url, body = "GET", f"{V2}/campaigns", None
            else:
                method, url, body = "GET", f"{V2}/campaigns/{config['campaign']}/stats", None
            try:
                async with connections:
                    response = await http.request(method, url, content=body)
            except httpx.TransportError as e:  # timeouts included
                failures[f"{kind} {type(e).__name__}"] += 1
                return
            elapsed = time.perf_counter() - due  # from when it was offered: waiting for a connection counts
            if response.status_code >= 300:
                errors[f"{kind} {response.status_code}"] += 1
            elif kind == "task" and len(response.json()["data"]["results"]) != 10:
                errors["task wrong rows"] += 1
            else:
                latencies.append(elapsed)
                answered_at.append(time.perf_counter())

        async def big_gets() -> None:
            while not stop.is_set():
                started, rows, tail = time.perf_counter(), 0, b""
                try:
                    async with http.stream("GET", f"{V1}/task/{config['big']}", timeout=600) as response:
                        async for chunk in response.aiter_bytes():
                            rows += (tail[1 - len(ROW_KEY) :] + chunk).count(ROW_KEY)
                            tail = (tail + chunk)[-64:]
                except httpx.TransportError as e:
                    failures[f"big {type(e).__name__}"] += 1
                    continue
                if response.status_code != 200 or rows != config["big_rows"]:
                    errors[f"big {response.status_code} rows {rows}"] += 1
                big.append(time.perf_counter() - started)

        big_task = asyncio.create_task(big_gets())
        pending: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        print(f"started {start!r}", flush=True)
        for i in itertools.count():
            due = start + i / rate
            if due >= start + duration:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            request = asyncio.create_task(one(MIX[i % len(MIX)], due))
            pending.add(request)
            request.add_done_callback(pending.discard)
        offered = i
        if pending:  # what is not answered GRACE_S after the phase is given up
            _, late = await asyncio.wait(set(pending), timeout=GRACE_S)
            for request in late:
                request.cancel()
            if late:
                failures["unanswered at the end"] += len(late)
        stop.set()
        big_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await big_task
    ms = sorted(1000 * x for x in latencies)
    return {
        "offered": offered,
        "completed": len(ms),
        "req_per_s": round(sum(1 for t in answered_at if t < start + duration) / duration, 1),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(quantile(ms, 0.99), 1) if ms else None,
        "errors": dict(errors),
        "failures": dict(failures),
        "big_gets": len(big),
        "big_get_s": round(statistics.median(big), 2) if big else None,
    }


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


# ---------------------------------------------------------------- where the CPU goes


def cpu_table() -> dict[int, tuple[str, float, float]]:
    """Every process: its name, its own user + system CPU seconds so far (/proc/<pid>/stat) and the seconds its main
    thread has waited for a CPU while runnable (/proc/<pid>/schedstat, 0 where the kernel keeps no schedstats)."""
    table: dict[int, tuple[str, float, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
                fields = rest.split()
                cpu = (int(fields[11]) + int(fields[12])) / tick
                waited = 0.0
                with contextlib.suppress(OSError, IndexError, ValueError):
                    waited = int((entry / "schedstat").read_text().split()[1]) / 1e9
                table[int(entry.name)] = (name, cpu, waited)
    return table


def cpu_by_role(
    before: dict[int, tuple[str, float, float]],
    after: dict[int, tuple[str, float, float]],
    roles: dict[int, str],
    seconds: float,
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU cores used per role between two tables (a process born meanwhile counts from 0; one that died is lost):
    the roles given by pid, ``postgres`` for the database server's processes, ``other`` for the rest (other
    people's work on the machine); and, for the roles given by pid, milliseconds per second their main thread
    waited for a CPU while it could run."""
    used: Counter[str] = Counter()
    waited: Counter[str] = Counter()
    for pid, (name, cpu, wait) in after.items():
        role = roles.get(pid) or ("postgres" if name.startswith("postgres") else "other")
        _, cpu_before, wait_before = before.get(pid, (name, 0.0, 0.0))
        used[role] += cpu - cpu_before
        if pid in roles:
            waited[role] += wait - wait_before
    cores = {role: round(used[role] / seconds, 2) for role in sorted(used)}
    return cores, {role: round(1000 * waited[role] / seconds, 1) for role in sorted(waited)}


# ---------------------------------------------------------------- the run


class Stamps:
    """The simulator's stamps, read from its stdout by a thread: every Originate's arrival, and the probe's
    (arrival, agent free → Originate seconds)."""

    def __init__(self, stream: Any) -> None:
        self.originated: list[float] = []
        self.probe: list[tuple[float, float]] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            if line.startswith("originated "):
                self.originated.append(float(line.split()[1]))
            elif line.startswith("originate "):
                _, free_at, arrived = line.split()
                self.probe.append((float(arrived), float(arrived) - float(free_at)))

    def phase(self, start: float, end: float) -> dict[str, Any]:
        count = sum(1 for t in self.originated if start <= t < end)
        waits = sorted(1000 * w for t, w in self.probe if start <= t < end)
        return {
            "originates_per_s": round(count / (end - start), 1),
            "probe_calls": len(waits),
            "p50_ms": round(statistics.median(waits), 1) if waits else None,
            "p99_ms": round(quantile(waits, 0.99), 1) if waits else None,
        }


async def dialled_rows(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = text("SELECT phone, result, close_time FROM task_numbers WHERE count_try > 0")
            return list((await connection.execute(query)).all())
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    agents = [str(3001 + k) for k in range(args.agents)]
    sim = talking_sim(agents, PROBE_PREFIX)
    per_task = int(2 * (2 * args.phase_s + args.warmup_s + 30))  # an agent finishes a call in ~1.1 s
    with dialing_serve(sim, args.database_url, {"API_WORKERS": str(workers)}) as stack:
        serve, simulator, url = stack.serve, stack.simulator, stack.database_url
        stamps = Stamps(simulator.stdout)
        try:
            serve.start()
            assert serve.rss is not None
            with httpx.Client(base_url=serve.base_url, timeout=600) as http:
                big = post_task(http, task_body("big", "201", (f"7930{n:07d}" for n in range(args.big)), state=2))
                small = post_task(http, task_body("small", "201", (f"7931{n:07d}" for n in range(10)), state=2))
                probe = post_task(http, task_body("probe", "201", (f"{PROBE_PREFIX}{n:07d}" for n in range(per_task))))
                campaign = [probe, *agent_tasks(http, agents, per_task)]
                time.sleep(args.warmup_s)
                idle_start, idle_epoch, idle_cpu = time.perf_counter(), time.time(), cpu_table()
                time.sleep(args.phase_s)
                idle_end, idle_epoch_end, idle_cpu_end = time.perf_counter(), time.time(), cpu_table()
                generator = subprocess.Popen(
                    [sys.executable, __file__, "--generate", json.dumps(load_config(args, serve, small, big, probe))],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert generator.stdout is not None
                loaded_start, loaded_epoch = float(generator.stdout.readline().split()[1]), time.time()
                loaded_cpu, loaded_cpu_end = cpu_table(), {}
                at_end = loaded_start + args.phase_s - time.perf_counter()
                timer = threading.Timer(at_end, lambda: loaded_cpu_end.update(cpu_table()))
                timer.start()
                try:
                    out, _ = generator.communicate(timeout=args.phase_s + GRACE_S + 120)
                finally:
                    generator.kill()
                    timer.cancel()
                loaded_end = loaded_start + args.phase_s
                roles = {serve.pid: "dialer", simulator.pid: "simulator", generator.pid: "generator"}
                roles |= {pid: "api_worker" for pid in descendants(serve.pid)} | {os.getpid(): "benchmark"}
                loaded_epoch_end = loaded_epoch + args.phase_s
                api = json.loads(out.strip().splitlines()[-1])
                for task_id in campaign:
                    http.post(f"{V2}/campaigns/{task_id}/pause")
                drained = time.monotonic() + 60
                while time.monotonic() < drained:
                    rows = asyncio.run(dialled_rows(url))
                    if all(r.close_time for r in rows):
                        break
                    time.sleep(1)
            peaks = serve.rss.peaks_mb()
        finally:
            serve.stop()
    idle, loaded = stamps.phase(idle_start, idle_end), stamps.phase(loaded_start, loaded_end)
    idle_cores, idle_waits = cpu_by_role(idle_cpu, idle_cpu_end, roles, idle_end - idle_start)
    loaded_cores, loaded_waits = cpu_by_role(loaded_cpu, loaded_cpu_end, roles, args.phase_s)
    dropped = [r for r in rows if r.result != EXPECTED or not r.close_time]
    wrong_dials = [r.phone for r in rows if r.phone.startswith(("7930", "7931", "7940"))]

    def in_phase(start: float, end: float) -> int:
        return sum(1 for r in dropped if r.close_time and start <= r.close_time < end + 1)

    return {
        "api_workers": workers,
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "idle_originates_per_s": idle["originates_per_s"],
        "loaded_originates_per_s": loaded["originates_per_s"],
        "idle_p50_ms": idle["p50_ms"],
        "loaded_p50_ms": loaded["p50_ms"],
        "idle_p99_ms": idle["p99_ms"],
        "loaded_p99_ms": loaded["p99_ms"],
        "idle_probe_calls": idle["probe_calls"],
        "loaded_probe_calls": loaded["probe_calls"],
        "answered_dropped": len(dropped),
        "idle_dropped": in_phase(idle_epoch, idle_epoch_end),
        "loaded_dropped": in_phase(loaded_epoch, loaded_epoch_end),
        "without_final_result": sum(1 for r in rows if not r.close_time),
        "dialled": len(rows),
        "results": dict(Counter(r.result for r in rows if r.close_time)),
        "api_offered_per_s": args.rate,
        "api_req_per_s": api["req_per_s"],
        "api_p50_ms": api["p50_ms"],
        "api_p99_ms": api["p99_ms"],
        "api_errors": api["errors"],
        "api_failures": api["failures"],
        "big_gets": api["big_gets"],
        "big_get_s": api["big_get_s"],
        "idle_cpu_cores": idle_cores,
        "loaded_cpu_cores": loaded_cores,
        "idle_cpu_wait_ms_per_s": idle_waits,
        "loaded_cpu_wait_ms_per_s": loaded_waits,
        "server_peak_rss_mb": {str(pid): round(mb, 1) for pid, mb in peaks.items()},
        "wrong_dials": len(wrong_dials),
        "load": [round(x, 2) for x in os.getloadavg()],
        "generator_sched_idle": args.generator_sched_idle,
    }


def load_config(args: argparse.Namespace, serve: ServeProcess, small: int, big: int, probe: int) -> dict[str, Any]:
    return {
        "base": serve.base_url,
        "rate": args.rate,
        "duration": args.phase_s,
        "small": small,
        "big": big,
        "big_rows": args.big,
        "campaign": probe,
        "sched_idle": args.generator_sched_idle,
    }


def misses(run: dict[str, Any]) -> list[str]:
    """The goals a run misses."""
    missed = []
    if run["loaded_originates_per_s"] < (1 - GOAL_RATIO) * run["idle_originates_per_s"]:
        missed.append("Originates/s loaded below 90% of idle")
    if (run["loaded_p99_ms"] or 0) > (1 + GOAL_RATIO) * (run["idle_p99_ms"] or 0):
        missed.append("agent free -> Originate p99 loaded above 110% of idle")
    if run["answered_dropped"]:
        missed.append(f"{run['answered_dropped']} answered customers dropped")
    if run["api_failures"]:
        missed.append(f"API requests without an answer: {run['api_failures']}")
    return missed


def failed_checks(run: dict[str, Any]) -> list[str]:
    failed = []
    if run["api_errors"]:
        failed.append(f"API answers not 2xx or wrong: {run['api_errors']}")
    if run["wrong_dials"]:
        failed.append(f"{run['wrong_dials']} numbers of paused tasks dialled")
    if not run["idle_probe_calls"] or not run["loaded_probe_calls"]:
        failed.append("no probe call measured in a phase")
    return failed


ROWS = (
    ("Originates/s idle", "idle_originates_per_s"),
    ("Originates/s loaded", "loaded_originates_per_s"),
    ("free->Originate p50 idle (ms)", "idle_p50_ms"),
    ("free->Originate p50 loaded (ms)", "loaded_p50_ms"),
    ("free->Originate p99 idle (ms)", "idle_p99_ms"),
    ("free->Originate p99 loaded (ms)", "loaded_p99_ms"),
    ("probe calls idle / loaded", "probe_calls"),
    ("answered customers dropped", "answered_dropped"),
    ("  of them idle / loaded", "dropped_split"),
    ("numbers dialled / without result", "dialled_split"),
    ("API offered req/s", "api_offered_per_s"),
    ("API completed req/s", "api_req_per_s"),
    ("API p50 / p99 (ms)", "api_latency"),
    ("API requests without answer", "failures"),
    ("big GETs done, median s", "big"),
    ("server peak RSS MB (per process)", "rss"),
    ("CPU cores idle: dialer / API worker", "cpu_idle"),
    ("CPU cores loaded: dialer / API worker", "cpu_loaded"),
    ("  loaded: sim / generator / pg / other", "cpu_rest"),
    ("dialer CPU wait ms/s idle / loaded", "cpu_wait"),
    ("load average", "load"),
)


def cell(run: dict[str, Any], key: str) -> str:
    if key == "probe_calls":
        return f"{run['idle_probe_calls']} / {run['loaded_probe_calls']}"
    if key == "dropped_split":
        return f"{run['idle_dropped']} / {run['loaded_dropped']}"
    if key == "dialled_split":
        return f"{run['dialled']} / {run['without_final_result']}"
    if key == "api_latency":
        return f"{run['api_p50_ms']} / {run['api_p99_ms']}"
    if key == "failures":
        return str(sum(run["api_failures"].values()))
    if key == "big":
        return f"{run['big_gets']}, {run['big_get_s']}"
    if key == "rss":
        return " + ".join(f"{mb:.0f}" for mb in run["server_peak_rss_mb"].values())
    if key in ("cpu_idle", "cpu_loaded"):
        cores = run[f"{key[4:]}_cpu_cores"]
        return f"{cores.get('dialer', 0)} / {cores.get('api_worker', 0)}"
    if key == "cpu_rest":
        cores = run["loaded_cpu_cores"]
        return " / ".join(str(cores.get(role, 0)) for role in ("simulator", "generator", "postgres", "other"))
    if key == "cpu_wait":
        return f"{run['idle_cpu_wait_ms_per_s'].get('dialer')} / {run['loaded_cpu_wait_ms_per_s'].get('dialer')}"
    if key == "load":
        return " ".join(str(x) for x in run["load"])
    return str(run[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="API requests/s offered in the loaded phase")
    parser.add_argument("--big", type=int, default=750_000, help="numbers of the big task read by GET /task/{id}")
    parser.add_argument("--phase-s", type=float, default=30.0, help="seconds of each phase, idle and loaded")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="dialing before the idle phase starts")
    parser.add_argument("--agents", type=int, default=50, help="agents dialing for throughput, one task each")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="AUTODIALER_API_WORKERS values")
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (a new database is made on its server)")
    parser.add_argument(
        "--generator-sched-idle",
        action="store_true",
        help="run the load generator under SCHED_IDLE: it gets only the CPU the server and simulator leave",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    parser.add_argument("--generate", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        config = json.loads(args.generate)
        faulthandler.dump_traceback_later(float(config["duration"]) + GRACE_S + 60, exit=True)  # never hang
        if config.get("sched_idle"):  # the load as if it came from other machines: only the CPU serve leaves
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        print(json.dumps(asyncio.run(generate(config))), flush=True)
        return
    runs = {workers: run(args, workers) for workers in args.workers}
    names = {0: "one process", 1: "API worker"}
    print(f"API load vs dialing: {args.agents} agents + the probe, {args.rate:.0f} req/s offered, {args.big:,}-number")
    print(f"task read alongside, {args.phase_s:.0f} s per phase, {next(iter(runs.values()))['backend']}")
    header = f"{'':34}" + "".join(f"{f'workers={w} ({names.get(w, w)})':>28}" for w in runs)
    print(header)
    for label, key in ROWS:
        print(f"{label:34}" + "".join(f"{cell(r, key):>28}" for r in runs.values()))
    failed = False
    for workers, figures in runs.items():
        missed = misses(figures)
        verdict = "within the goal" if not missed else "MISSES GOAL: " + "; ".join(missed)
        print(f"workers={workers}: {verdict}")
        for line in failed_checks(figures):
            print(f"workers={workers}: CHECK FAILED: {line}")
            failed = True
    print("goal: loaded within 10% of idle for Originates/s and agent free -> Originate p99, 0 answered dropped")
    print(f"baseline: {BASELINE}")
    if args.json:
        last = runs[args.workers[-1]]
        print(json.dumps({**last, "runs": {str(w): r for w, r in runs.items()}}))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
