"""AMI protocol throughput: parse the real Asterisk 22 event stream and encode Originates, sans-IO only.

Replays the S->C bytes of trace 02 (unfiltered: 181 messages of a real answered call, VarSet included) many times
through a client-role AMIConnection in 64 KiB reads, as the AMI client does, and reports messages/s and MB/s.
For scale: the lab Asterisk produced about 850 calls/s x 20 events = 17,000 events/s at most (README §7).

    .venv/bin/python benchmarks/ami_parse.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from autodialer.protocols.ami import Action, AMIConnection, Role

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.asterisk_fixtures import TRACES

TRACE = TRACES / "02-originate-answer-bridge-customer-hangup-unfiltered.ami.jsonl"


def stream() -> bytes:
    records = [json.loads(line) for line in TRACE.read_text().splitlines()]
    raw = [r["raw"] for r in records if r.get("dir") == "S->C" and not r["raw"].startswith("<<")]
    return "".join(raw[1:]).encode()  # without the banner, so the block can repeat


def bench_parse(repeat: int) -> tuple[int, int, float]:
    block = stream()
    data = block * repeat
    conn = AMIConnection(Role.CLIENT)
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    start = time.perf_counter()
    count = 0
    for i in range(0, len(data), 65536):
        conn.receive_data(data[i : i + 65536])
        count += len(conn.events())
    return count, len(data), time.perf_counter() - start


def bench_encode(n: int) -> float:
    conn = AMIConnection(Role.CLIENT)
    start = time.perf_counter()
    for i in range(n):
        conn.send(
            Action.build(
                "Originate",
                [
                    ("Channel", f"Local/555{i:04d}@dialer-out"),
                    ("Context", "dialer-connect"),
                    ("Exten", "201"),
                    ("Priority", "1"),
                    ("Timeout", "30000"),
                    ("CallerID", '"Dialer" <4930000000>'),
                    ("Async", "true"),
                    ("ChannelId", f"dlr-{i}"),
                    ("Variable", "DIALER_MODE=bridge"),
                    ("Variable", "CAMPAIGN_ID=42"),
                ],
                action_id=f"orig-{i}",
            )
        )
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    count, size, seconds = bench_parse(args.repeat)
    print(f"parse : {count} messages, {size / 1e6:.1f} MB in {seconds:.2f} s")
    print(f"        {count / seconds:,.0f} messages/s, {size / seconds / 1e6:.1f} MB/s")
    print(f"encode: {bench_encode(50_000):,.0f} Originate actions/s")


if __name__ == "__main__":
    main()
