"""Replay a recorded lab scenario against the simulator and compare the AMI streams.

The client side of a trace (every C->S action, with the recorded pauses scaled by the simulator's time
scale) is sent unchanged; for AGI scenarios a scripted FastAGI server replays the recorded S->A commands of
each session. The simulator's events are then compared with the trace (see `compare`).
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from autodialer.protocols.ami import Event, Response
from autodialer.simulator import PBXSimulator, SimulatorConfig

from .harness import AMITestClient, ScriptedAGIServer
from .normalise import TRACES, normalise, parse_raw, show

SCALE = 0.02
NOISE = frozenset({"VarSet", "RTCPSent", "RTCPReceived"})
# Events whose position relative to a channel's other events Asterisk does not fix (README §6).
UNORDERED = frozenset(
    {
        "OriginateResponse",
        "DialState",
        "NewCallerid",
        "NewConnectedLine",
        "DeviceStateChange",
        "ExtensionStatus",
        "QueueMemberStatus",
        "VarSet",
        "BridgeCreate",
        "BridgeDestroy",
        "FullyBooted",
        "SuccessfulAuth",
    }
)

Hook = Callable[[PBXSimulator], None]


def trace_actions(name: str, conn: str = "main") -> list[tuple[float, str, list[tuple[str, str]] | str]]:
    """(time, kind, fields-or-note) for each client action and NOTE of a trace, in order."""
    import json

    out: list[tuple[float, str, list[tuple[str, str]] | str]] = []
    for line in (TRACES / f"{name}.ami.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] == "NOTE":
            out.append((rec["t"], "note", rec["raw"]))
        elif rec["dir"] == "C->S" and rec.get("conn") == conn:
            out.append((rec["t"], "action", parse_raw(rec["raw"])))
    return out


def agi_scripts(name: str) -> list[list[str]]:
    path = TRACES / f"{name}.agi.txt"
    sessions: list[list[str]] = []
    for line in path.read_text().splitlines():
        if "---- FastAGI connection #" in line and "closed" not in line:
            sessions.append([])
        m = re.match(r"\S+ S->A (.*)$", line)
        if m and sessions:
            sessions[-1].append(m.group(1))
    return sessions


@dataclass
class ReplayResult:
    events: list[list[tuple[str, str]]]
    responses: list[Response]
    raw_events: list[list[tuple[str, str]]] = field(default_factory=list)
    agi: ScriptedAGIServer | None = None
    sim: PBXSimulator | None = None


async def replay(
    name: str,
    hooks: dict[str, Hook] | None = None,
    agi_name: str | None = None,
    raw_listener: bool = False,
    scale: float = SCALE,
    sound_seconds: dict[str, float] | None = None,
) -> ReplayResult:
    hooks = hooks or {}
    agi = None
    config = SimulatorConfig(ami_port=0, time_scale=scale, sound_seconds=sound_seconds or {})
    if agi_name is not None:
        agi = ScriptedAGIServer([], linger=5.0 * scale, per_session=agi_scripts(agi_name))
        config.agi_port = await agi.start()
    sim = PBXSimulator(config)
    await sim.start()
    client = AMITestClient()
    raw = AMITestClient() if raw_listener else None
    try:
        await client.connect(sim.ami_port)
        if raw is not None:
            await raw.login(sim.ami_port)
        actions = trace_actions(name)
        prev = actions[0][0]
        for t, kind, payload in actions:
            await asyncio.sleep(max(0.0, t - prev) * scale)
            prev = t
            if kind == "note":
                for key, hook in hooks.items():
                    if key in str(payload):
                        hook(sim)
                continue
            assert isinstance(payload, list)
            if payload[0] == ("Action", "Logoff"):
                await _quiesce(sim)
            client.writer.write(client.conn.send(_action(payload)))
        await asyncio.wait_for(client.closed.wait(), 5)
        return ReplayResult(
            [list(e.fields) for e in client.events],
            client.responses,
            [list(e.fields) for e in raw.events] if raw else [],
            agi,
            sim,
        )
    finally:
        await client.close()
        if raw is not None:
            await raw.close()
        await sim.stop()
        if agi is not None:
            await agi.stop()


def _action(fields: list[tuple[str, str]]):
    from autodialer.protocols.ami import Action

    return Action(tuple(fields))


async def _quiesce(sim: PBXSimulator, timeout: float = 3.0) -> None:
    """Wait until every channel is gone, as it was when the lab client logged off."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while sim.pbx.channels.live and loop.time() < end:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)


def streams(events: list[tuple]) -> dict[str, list[tuple]]:
    """Per-channel ordered subsequences of the events whose order Asterisk fixes."""
    out: dict[str, list[tuple]] = collections.defaultdict(list)
    for e in events:
        d = dict(e)
        if d["Event"] in UNORDERED:
            continue
        key = d.get("Channel") or d.get("DestChannel") or d.get("LocalOneChannel") or d["Event"]
        out[key].append(e)
    return out


def compare(trace: list[list[tuple[str, str]]], sim: list[list[tuple[str, str]]], skip: frozenset[str] = NOISE) -> None:
    """Assert the simulator's stream matches the trace: same multiset of normalised events, same order per channel."""
    t, s = normalise(trace, skip, strict=True), normalise(sim, skip, strict=True)
    missing = collections.Counter(t) - collections.Counter(s)
    extra = collections.Counter(s) - collections.Counter(t)
    assert not missing and not extra, (
        f"missing from simulator:\n{show(list(missing.elements()))}\n\nextra in simulator:\n"
        f"{show(list(extra.elements()))}"
    )
    ts, ss = streams(t), streams(s)
    for key in ts:
        assert ts[key] == ss.get(key), (
            f"order differs for {key}:\ntrace:\n{show(ts[key])}\n\nsim:\n{show(ss.get(key, []))}"
        )


def response_summary(responses: list[Response] | list[list[tuple[str, str]]]) -> list[tuple[str, str | None]]:
    out = []
    for r in responses:
        d = dict(r.fields if isinstance(r, Response) else r)
        out.append((d.get("Response", ""), d.get("Message")))
    return out


def trace_responses(name: str) -> list[list[tuple[str, str]]]:
    from .normalise import trace_messages

    return [f for d, f in trace_messages(name) if d == "S->C" and f and f[0][0] == "Response"]


__all__ = ["Event", "compare", "replay"]
