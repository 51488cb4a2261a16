"""How many live, connected calls the PBX simulator holds, at what Originate rate and CPU per call.

The simulator runs in its own process (as Asterisk would) with ``--members`` employees in ``--queues`` app_queue
queues (``--strategy``, ringall by default as in the lab's queues.conf; autofill on, as a call centre sets it, so
every waiting caller is offered to a free member at once). A raw AMI client (protocols/ only) sends
``--rate`` Originates per second: ``Local/<n>@bench-out`` rings customer ``n`` over the trunk; the customer answers
after 0.2 s, and the other half of the Local pair enters a queue, whose member answers after 0.2 s and is bridged
with the customer until the customer hangs up ``--talk`` seconds after answering. So ``rate x talk`` calls are
talking at once (5,000 at 400/s and 12.5 s).

The client subscribes (Filter) to the events it checks only, as a dialer filters its session; the others are
still produced by the PBX model but not encoded.

Every call is checked from the events: OriginateResponse Success, the customer leg bridged with a member (two
BridgeEnter in one bridge), every channel hung up at the end, nobody left in the PBX (CoreShowChannels = 0).
Printed: achieved Originates/s, peak live calls (bridged), calls not connected, the simulator's CPU per call
(from /proc) and, with ``--profile FILE``, a cProfile of the simulator process.

    .venv/bin/python benchmarks/sim_live_calls.py [--rate 400] [--talk 12.5] [--calls 7000] [--members 5500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from autodialer.protocols.ami import Event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_ami_client import RawAmiClient

BENCH_DIALPLAN = """
[bench-out]
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,60)
 same => n,Hangup()
"""
GOAL_RATE, GOAL_LIVE = 400, 5000
QUEUE_EVENTS = ("QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", "AgentRingNoAnswer")
WATCHED = ("OriginateResponse", "Newchannel", "Hangup", "BridgeEnter", "BridgeLeave", *QUEUE_EVENTS)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def serve(spec: dict[str, object]) -> None:
    from autodialer.simulator import Behaviour, EmployeeConfig, PBXSimulator, QueueConfig, SimulatorConfig
    from autodialer.simulator.simulator import tune_gc

    members = [str(10000 + i) for i in range(int(spec["members"]))]  # type: ignore[call-overload]
    queues = int(spec["queues"])  # type: ignore[call-overload]
    bounds = [len(members) * q // queues for q in range(queues + 1)]
    connect = "\n".join(f"exten => {3000 + q},1,Queue({3000 + q},,,,60)\n same => n,Hangup()" for q in range(queues))
    config = SimulatorConfig(
        ami_port=0,
        time_scale=1.0,
        employees=tuple(EmployeeConfig(m) for m in members),
        queues=tuple(
            QueueConfig(
                str(3000 + q),
                members=tuple(members[bounds[q] : bounds[q + 1]]),
                strategy=str(spec["strategy"]),
                autofill=bool(spec["autofill"]),
            )
            for q in range(queues)
        ),
        extra_dialplan=BENCH_DIALPLAN + "\n[bench-connect]\n" + connect + "\n",
    )
    profiler = cProfile.Profile() if spec.get("profile") else None

    async def run() -> None:
        sim = PBXSimulator(config)
        sim.control.set_default_customer(Behaviour(answer_after=0.2, hangup_after=float(spec["talk"])))  # type: ignore[arg-type]
        for m in members:
            sim.control.set_employee(m, Behaviour(answer_after=0.2))
        await sim.start()
        tune_gc()  # as the simulator's CLIs do in their own process
        print(sim.ami_port, flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if profiler:
            profiler.enable()
        await stop.wait()
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(spec["profile"]))
        os._exit(0)  # the calls still up need no orderly teardown

    asyncio.run(run())


class Client(RawAmiClient):
    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, list[Event]] = defaultdict(list)
        self.originated: dict[str, str] = {}  # ActionID -> OriginateResponse Response
        self.bridges: dict[str, set[str]] = defaultdict(set)  # bridge -> channels in it
        self.connected: set[str] = set()  # Local/<number> whose queue half met a member in a bridge
        self.queue_bridges: set[str] = set()
        self.live = 0
        self.peak = 0
        self.channels_up: set[str] = set()
        self.by_type: dict[str, int] = defaultdict(int)

    async def connect(self, port: int) -> None:
        await super().connect(port)
        for name in WATCHED:  # only what the checks read, so that this one Python client keeps up
            await self.call("Filter", [("Operation", "Add"), ("Filter", f"Event: {name}")])

    def on_event(self, e: Event) -> None:
        name = e.name
        self.by_type[name] += 1
        if e.action_id and name != "OriginateResponse":
            self.lists[e.action_id].append(e)
        elif name == "OriginateResponse":
            self.originated[e.action_id or ""] = e.get("Response") or ""
        elif name == "Newchannel":
            self.channels_up.add(e.get("Channel") or "")
        elif name == "Hangup":
            self.channels_up.discard(e.get("Channel") or "")
        elif name == "BridgeEnter":
            bridge, channel = e.get("BridgeUniqueid") or "", e.get("Channel") or ""
            members = self.bridges[bridge]
            members.add(channel)
            # The queue's bridge: the Local half in bench-connect with the member's PJSIP channel.
            local = next((c for c in members if c.startswith("Local/")), None)
            if len(members) == 2 and local is not None and any(c.startswith("PJSIP/1") for c in members):
                self.connected.add(local.split("@")[0])
                self.queue_bridges.add(bridge)
                self.live += 1
                self.peak = max(self.peak, self.live)
        elif name == "BridgeLeave":
            bridge = e.get("BridgeUniqueid") or ""
            members = self.bridges[bridge]
            if bridge in self.queue_bridges and len(members) == 2:
                self.live -= 1
            members.discard(e.get("Channel") or "")
            if not members:
                del self.bridges[bridge]
                self.queue_bridges.discard(bridge)

    async def count_channels(self) -> int:
        reply = await self.call("CoreShowChannels", [])
        aid = reply.action_id or ""
        while not any(e.name == "CoreShowChannelsComplete" for e in self.lists[aid]):
            self.wake.clear()
            await self.wake.wait()
        done = next(e for e in self.lists.pop(aid) if e.name == "CoreShowChannelsComplete")
        return int(done.get("ListItems") or 0)


async def drive(port: int, args: argparse.Namespace, sim_pid: int) -> dict[str, object]:
    c = Client()
    await c.connect(port)
    cpu0 = cpu_seconds(sim_pid)
    t0 = time.perf_counter()
    for i in range(args.calls):
        due = t0 + i / args.rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        number = str(70000000 + i)
        c.send(
            "Originate",
            [
                ("Channel", f"Local/{number}@bench-out"),
                ("Context", "bench-connect"),
                ("Exten", str(3000 + i % args.queues)),
                ("Priority", "1"),
                ("Timeout", "30000"),
                ("Async", "true"),
                ("ChannelId", f"call-{i}"),
            ],
            f"o-{i}",
        )
    sent = time.perf_counter() - t0
    deadline = time.perf_counter() + args.talk + 30
    while (len(c.originated) < args.calls or c.channels_up) and time.perf_counter() < deadline and not c.closed:
        c.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.wake.wait(), 1)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(sim_pid) - cpu0
    if c.closed:
        raise SystemExit("WRONG: the simulator dropped our AMI session (we did not read fast enough)")
    left = await c.count_channels()
    ok = sum(1 for r in c.originated.values() if r == "Success")
    return {
        "originates_per_s": round(args.calls / sent, 1),
        "peak_live_calls": c.peak,
        "calls": args.calls,
        "originate_success": ok,
        "connected": len(c.connected),
        "not_connected": args.calls - len(c.connected),
        "channels_left": left,
        "sim_cpu_ms_per_call": round(1000 * cpu / args.calls, 2),
        "sim_cpu_share": round(cpu / elapsed, 2),
        "seconds": round(elapsed, 1),
        "queue": {
            k: c.by_type[k] for k in ("QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", "AgentRingNoAnswer")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=400, help="Originates per second")
    parser.add_argument("--talk", type=float, default=12.5, help="seconds each customer talks")
    parser.add_argument("--calls", type=int, default=0, help="default: rate x (talk + 5 s)")
    parser.add_argument("--members", type=int, default=0, help="default: 1.25 x rate x (talk + 1 s)")
    parser.add_argument("--queues", type=int, default=0, help="default: one per 50 members")
    parser.add_argument("--strategy", default="rrmemory")
    parser.add_argument(
        "--no-autofill", dest="autofill", action="store_false", help="one caller offered at a time per queue"
    )
    parser.add_argument("--profile", default="", help="write a cProfile of the simulator here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(json.loads(args.serve))
        return
    args.calls = args.calls or int(args.rate * (args.talk + 5))
    args.members = args.members or int(1.25 * args.rate * (args.talk + 1)) + 10
    args.queues = args.queues or max(1, args.members // 50)
    spec = {k: getattr(args, k) for k in ("members", "queues", "strategy", "autofill", "talk", "profile")}
    sim = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(spec)], stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        port = int(sim.stdout.readline())
        result = asyncio.run(drive(port, args, sim.pid))
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(60)
    fill = "autofill" if args.autofill else "no autofill"
    print(
        f"PBX simulator, {args.members} members in {args.queues} {args.strategy} queues ({fill}), talk {args.talk} s:"
    )
    print(f"  {result['originates_per_s']} Originates/s sent (goal >= {GOAL_RATE}), {result['calls']} calls")
    print(f"  peak live calls (customer bridged with a member): {result['peak_live_calls']} (goal {GOAL_LIVE})")
    print(
        f"  connected {result['connected']}, not connected {result['not_connected']}, OriginateResponse Success"
        f" {result['originate_success']}, channels left at the end {result['channels_left']}"
    )
    print(
        f"  simulator CPU: {result['sim_cpu_ms_per_call']} ms per call, {result['sim_cpu_share']:.0%} of a core"
        f" over {result['seconds']} s (before issue 11: 70-84 ms per queue call, ~300 live calls at most)"
    )
    print(f"  queue events: {result['queue']}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
