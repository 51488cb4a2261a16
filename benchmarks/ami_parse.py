"""AMI parsing throughput, side by side with a naive split parser in the same run; Originate encoding.

The mix is every server-to-client message of the recorded Asterisk 22 traces (logins, lists, Originates that
answer, fail, go to a queue, polls, AMD, unfiltered VarSet/Newexten…), repeated as many distinct calls: each copy
gets its own Uniqueid/Linkedid/timestamp numbers and channel sequence numbers, as a busy PBX would send them.
Both parsers get the same bytes in 64 KiB reads, as the AMI client reads its socket.

* ours: a client-role ``AMIConnection``: typed Events/Responses, every framing rule of ``framing.py`` kept
  (repeated keys, bare LF, values' spacing, lines that are not fields, Follows, size limits).
* naive: the 20-line ``split(b"\\r\\n\\r\\n")`` + ``partition(": ")`` parser into dicts most AMI libraries start
  from; it keeps none of those rules (and loses repeated keys).

The result is checked: ours must give one item per recorded message, the same items as the same bytes fed one
byte at a time (the message-at-a-time rules), in order. Goal (issue 11): ours >= naive.

    .venv/bin/python benchmarks/ami_parse.py [--calls 300] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from autodialer.protocols.ami import Action, AMIConnection, Role

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.asterisk_fixtures import TRACES

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_ID = re.compile(r"\b(1[0-9]{9})\.([0-9]+)")  # Uniqueid, Linkedid, Timestamp
_SEQ = re.compile(r"-([0-9a-f]{8})\b")  # PJSIP/201-0000001b, Local/...-00000007;1


def trace_messages() -> list[str]:
    """Every S->C message of every AMI trace, banners and connection marks left out."""
    out = []
    for path in sorted(TRACES.glob("*.ami.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            raw = record.get("raw", "")
            if record.get("dir") == "S->C" and raw.endswith("\r\n\r\n") and not raw.startswith(("Asterisk Call", "<<")):
                out.append(raw)
    return out


def as_call(messages: list[str], n: int) -> str:
    """The messages as call number ``n``: its own ids and channel numbers."""
    text = "".join(messages)
    text = _ID.sub(lambda m: f"{int(m[1]) + n * 7}.{m[2]}", text)
    return _SEQ.sub(lambda m: f"-{int(m[1], 16) + n * 64:08x}", text)


def naive_parse(chunks: list[bytes]) -> int:
    buf = b""
    count = 0
    for chunk in chunks:
        buf += chunk
        *messages, buf = buf.split(b"\r\n\r\n")
        parsed = []
        for message in messages:
            fields = {}
            for line in message.decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                fields[key] = value
            parsed.append(fields)
        count += len(parsed)
    return count


def our_parse(chunks: list[bytes]) -> int:
    conn = AMIConnection(Role.CLIENT)
    conn.receive_data(BANNER)
    conn.events()
    count = 0
    for chunk in chunks:
        conn.receive_data(chunk)
        count += len(conn.events())
    return count


def check(messages: list[str]) -> None:
    data = as_call(messages, 1).encode()
    whole = AMIConnection(Role.CLIENT)
    whole.receive_data(BANNER + data)
    by_byte = AMIConnection(Role.CLIENT)
    items = []
    for b in BANNER + data:
        by_byte.receive_data(bytes([b]))
        items += by_byte.events()
    got = whole.events()
    if got != items or len(got) != len(messages) + 1:
        raise SystemExit(f"WRONG: {len(got)} items whole, {len(items)} byte by byte, {len(messages)} recorded")


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="distinct copies of the trace mix")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds; the median is reported")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object with the figures")
    args = parser.parse_args()
    messages = trace_messages()
    check(messages)
    data = "".join(as_call(messages, n) for n in range(args.calls)).encode()
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    expected = len(messages) * args.calls
    rates: dict[str, list[float]] = {"ours": [], "naive": []}
    for _ in range(args.rounds):
        for name, parse in (("ours", our_parse), ("naive", naive_parse)):
            start = time.process_time()
            count = parse(chunks)
            rates[name].append(count / (time.process_time() - start))
            if name == "ours" and count != expected:
                raise SystemExit(f"WRONG: ours gave {count} items for {expected} messages")
    ours, naive = statistics.median(rates["ours"]), statistics.median(rates["naive"])
    size = len(data) / 1e6
    print(f"mix   : {len(messages)} trace messages x {args.calls} calls = {expected} messages, {size:.1f} MB")
    print(f"parse : ours  {ours:>10,.0f} messages/s  ({ours * len(data) / expected / 1e6:.1f} MB/s, CPU time)")
    print(f"        naive {naive:>10,.0f} messages/s  (split + partition into dicts, no rules)")
    print(f"        ours/naive = {ours / naive:.2f}  (goal >= 1.00; before this work ~0.35-0.45)")
    encode = bench_encode(50_000)
    print(f"encode: {encode:,.0f} Originate actions/s")
    if args.json:
        figures = {"ours_msgs_per_s": round(ours), "naive_msgs_per_s": round(naive), "ratio": round(ours / naive, 3)}
        print(json.dumps({**figures, "encode_per_s": round(encode)}))


if __name__ == "__main__":
    main()
