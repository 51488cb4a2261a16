"""Normalise AMI event streams (real traces or simulator output) so they can be compared.

Ids, timestamps and counters differ between runs; what must match is the *shape*: event names, channel name
patterns, states, causes, dial statuses, reasons and the relations between Uniqueid/Linkedid values. Each
channel name and id is replaced by a token numbered in order of first appearance, so two streams with the same
structure normalise to the same thing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.asterisk_fixtures import TRACES

_CHANNEL_KEYS = ("Channel", "DestChannel", "LocalOneChannel", "LocalTwoChannel")
_ID_KEYS = ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid", "LocalOneUniqueid", "LocalTwoUniqueid")
# Fields compared verbatim (after channel/id tokenisation).
KEY_FIELDS = (
    "ChannelState",
    "DestChannelState",
    "Cause",
    "DialStatus",
    "Reason",
    "Response",
    "Context",
    "Exten",
    "Application",
    "Status",
    "State",
    "Device",
    "DestContext",
    "Queue",
    "Digit",
    "Direction",
    "Variable",
    "UserEvent",
    "AMDStatus",
    "CallerIDNum",
    "ConnectedLineNum",
    "CallerIDName",
    "ConnectedLineName",
    "DestCallerIDNum",
    "DestConnectedLineNum",
    "Priority",
    "AppData",
    "DialString",
    "Extension",
    "Interface",
    "MemberName",
    "Position",
    "Count",
    "Command",
    "ResultCode",
    "Hint",
    "StatusText",
    "Cause-txt",
    "LocalOptimization",
    "Paused",
    "Membership",
    "Penalty",
    "Ringinuse",
    "ObjectName",
    "DeviceState",
    "Key",
    "Val",
    "AMDCause",
    "Result",
)
# Fields that differ between any two runs (clocks, counters, session and bridge ids, durations).
VOLATILE = frozenset(
    {
        "EventTV",
        "SessionTV",
        "SessionID",
        "RemoteAddress",
        "LocalAddress",
        "Uptime",
        "LastReload",
        "Timestamp",
        "CommandId",
        "BridgeUniqueid",
        "HoldTime",
        "TalkTime",
        "RingTime",
        "DurationMs",
        "LastCall",
        "LoginTime",
        "LastPause",
        "CallsTaken",
        "Value",
        "Holdtime",
        "Completed",
        "CoreStartupTime",
        "CoreReloadTime",
        "CoreStartupDate",
        "CoreReloadDate",
        "CoreProcessedCalls",
    }
)
_CHAN_RE = re.compile(r"^(?P<tech>Local|PJSIP)/(?P<base>.+)-(?P<hex>[0-9a-f]{8})(?P<half>;[12])?$")


@dataclass
class Normaliser:
    """Turns raw ids into stable tokens (first seen = 1)."""

    strict: bool = False  # compare every field except the volatile ones, in wire order
    chans: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def channel(self, name: str) -> str:
        m = _CHAN_RE.match(name)
        if not m:
            return name
        key = f"{m['tech']}/{m['base']}-{m['hex']}"
        token = self.chans.setdefault(key, f"#{len(self.chans) + 1}")
        return f"{m['tech']}/{m['base']}-{token}{m['half'] or ''}"

    def ident(self, value: str) -> str:
        if not value:
            return value
        return self.ids.setdefault(value, f"id{len(self.ids) + 1}")

    def event(self, fields: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        # DialState races the callee's Newstate (trace 10 shows both orders), so its state field is not stable.
        unstable = (
            {"DestChannelState", "DestChannelStateDesc"} if fields and fields[0] == ("Event", "DialState") else set()
        )
        for key, value in fields:
            if key in unstable:
                continue
            if key in _CHANNEL_KEYS:
                out.append((key, self.channel(value)))
            elif key in _ID_KEYS:
                out.append((key, self.ident(value)))
            elif key == "Event" or key in KEY_FIELDS or (self.strict and key not in VOLATILE):
                out.append((key, value))
        return tuple(out)


def parse_raw(raw: str) -> list[tuple[str, str]]:
    fields = []
    for line in raw.split("\r\n"):
        if ": " in line:
            k, v = line.split(": ", 1)
            fields.append((k, v))
        elif line.endswith(":"):
            fields.append((line[:-1], ""))
    return fields


def trace_messages(name: str, conn: str = "main") -> list[tuple[str, list[tuple[str, str]]]]:
    """(direction, fields) for every message of one connection in a .ami.jsonl trace."""
    out = []
    for line in (TRACES / f"{name}.ami.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("conn") != conn or not rec["raw"].strip() or rec["raw"].startswith("<<"):
            continue
        out.append((rec["dir"], parse_raw(rec["raw"])))
    return out


def trace_events(name: str, conn: str = "main") -> list[list[tuple[str, str]]]:
    return [f for d, f in trace_messages(name, conn) if d == "S->C" and f and f[0][0] == "Event"]


def normalise(
    events: list[list[tuple[str, str]]], skip: frozenset[str] = frozenset(), strict: bool = False
) -> list[tuple]:
    n = Normaliser(strict=strict)
    return [n.event(e) for e in events if dict(e).get("Event") not in skip]


def show(events: list[tuple]) -> str:
    return "\n".join(" ".join(f"{k}={v}" if k != "Event" else v for k, v in e) for e in events)


if __name__ == "__main__":
    import sys

    print(show(normalise(trace_events(sys.argv[1]), frozenset({"VarSet", "RTCPSent", "RTCPReceived"}))))
