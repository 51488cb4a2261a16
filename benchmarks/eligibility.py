"""Compliance rules at scale: E.164 normalisation (the do-not-call import's per-row cost) and verdicts per number.

1. Normalise ``--rows`` CRM spellings of Russian numbers (``8 952 223-34-46``, ``+7 (952) …``, ``79522233446``),
   once through the fast path for Russian spellings and once through libphonenumber alone, and project the
   per-row cost to the issue's goal: a 1M-row do-not-call import in at most 30 s (this is only the parsing share;
   the import adds the database writes); then read the same rows as a do-not-call CSV (``read_dnc_csv``: CSV
   parsing, normalisation, de-duplication, per-row errors), with 1% bad rows and 5% repeats, counts checked.
2. Evaluate ``--numbers`` verdicts (a mix: Russian mobiles with their 26 candidate zones, landlines with one zone,
   numbers with a tz param; attempt histories; 5% on the do-not-call list) at 24 instants through a day, as the
   engine would before Originates; compare the per-verdict cost with the engine's 0.66 ms of service CPU per call
   (ARCHITECTURE.md, Performance).

Every verdict is checked against the definition (an allowed number is inside the hours in each of its zones, a listed
one is never allowed) and every E.164 against libphonenumber's.

    .venv/bin/python benchmarks/eligibility.py [--rows 1000000] [--numbers 100000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.attempt_limits import AttemptLimits, PastAttempt
from autodialer.domain.call_hours import parse_call_hours
from autodialer.domain.call_window import CallSchedule, zone_allows
from autodialer.domain.callee_zones import CalleeZones, resolve_callee_zones
from autodialer.domain.dnc_import import DncImportCounts, DncRowError, read_dnc_csv
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.eligibility import CampaignRules, NumberFacts, evaluate

PBX = "Europe/Moscow"
IMPORT_GOAL_S = 30.0
ENGINE_CPU_PER_CALL_MS = 0.66


def spellings(rows: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(rows):
        code = rng.choice(["952", "916", "383", "495", "812", "903", "999", "343"])
        rest = f"{rng.randrange(10_000_000):07d}"
        style = rng.randrange(4)
        if style == 0:
            out.append(f"8 {code} {rest[:3]}-{rest[3:5]}-{rest[5:]}")
        elif style == 1:
            out.append(f"+7 ({code}) {rest[:3]}-{rest[3:5]}-{rest[5:]}")
        elif style == 2:
            out.append(f"7{code}{rest}")
        else:
            out.append(f"+7{code}{rest}")
    return out


def bench_normalise(rows: int, rng: random.Random) -> None:
    numbering = PhoneNumbering("RU")
    texts = spellings(rows, rng)
    start = time.perf_counter()
    fast = [numbering.e164(t) for t in texts]
    fast_s = time.perf_counter() - start
    sample = texts[: min(rows, 50_000)]
    start = time.perf_counter()
    slow = [numbering.e164_by_libphonenumber(t) for t in sample]
    slow_s = (time.perf_counter() - start) * rows / len(sample)
    assert slow == fast[: len(sample)], "fast path and libphonenumber disagree"
    for name, seconds in (("fast path", fast_s), ("libphonenumber only", slow_s)):
        per_million = seconds * 1_000_000 / rows
        print(
            f"normalise {rows:>9,} rows, {name:<20}: {rows / seconds:>9,.0f} rows/s; 1M rows ≈ {per_million:5.1f} s "
            f"(goal for the whole import: ≤ {IMPORT_GOAL_S:.0f} s)"
        )


def bench_csv(rows: int, rng: random.Random) -> None:
    numbering = PhoneNumbering("RU")
    texts = spellings(rows, rng)
    bad = set(rng.sample(range(rows), rows // 100))
    lines = ["phone;note"]
    for i, text in enumerate(texts):
        if i in bad:
            lines.append(f"not a number {i};bad")
        elif i % 20 == 19:
            lines.append(f"{texts[i - 1]};repeat")
        else:
            lines.append(f"{text};row {i}")
    counts = DncImportCounts()
    start = time.perf_counter()
    errors = sum(1 for item in read_dnc_csv(lines, numbering.e164, counts) if isinstance(item, DncRowError))
    seconds = time.perf_counter() - start
    assert errors == counts.errors == len(bad)
    assert counts.entries + counts.duplicates + counts.errors == rows
    listed = {numbering.e164(texts[i - 1] if i % 20 == 19 else texts[i]) for i in range(rows) if i not in bad}
    assert counts.entries == len(listed)
    print(
        f"read a {rows:,}-row do-not-call CSV: {seconds:5.1f} s, {rows / seconds:,.0f} rows/s "
        f"({counts.entries:,} entries, {counts.duplicates:,} repeats, {counts.errors:,} bad rows); "
        f"1M rows ≈ {seconds * 1_000_000 / rows:.1f} s of the {IMPORT_GOAL_S:.0f} s goal, database writes not included"
    )


def bench_verdicts(count: int, rng: random.Random) -> None:
    numbering = PhoneNumbering("RU")
    mobile_zones = numbering.zones("+79522233446")
    landline = ["Europe/Moscow", "Asia/Novosibirsk", "Asia/Yekaterinburg", "Europe/Samara", "Asia/Vladivostok"]
    day = datetime(2026, 12, 7, tzinfo=UTC).timestamp()  # a Monday
    rules = CampaignRules(
        1,
        CallSchedule(parse_call_hours("09:00-21:00; sat,sun 10:00-20:00")),
        AttemptLimits(max_per_day=2, max_total=5, min_gap_s=1800, max_per_day_all_campaigns=3),
    )
    facts: list[NumberFacts] = []
    for i in range(count):
        e164 = f"+79{rng.randrange(10**9):09d}"
        kind = rng.random()
        tz = rng.choice(landline) if kind < 0.1 else None
        number_zones = mobile_zones if kind < 0.7 else (rng.choice(landline),)
        zones = resolve_callee_zones(crm_tz=tz, number_zones=number_zones, default_zone=PBX)
        attempts = tuple(
            PastAttempt(rng.choice([1, 2]), day - rng.uniform(0, 2 * 86400)) for _ in range(rng.randrange(4))
        )
        dnc = (DncListing(e164, None, day - 86400, "api"),) if i % 20 == 0 else ()
        facts.append(NumberFacts(e164, zones, dnc=dnc, attempts=attempts))
    instants = [day + h * 3600 for h in range(24)]
    start = time.perf_counter()
    allowed = 0
    checked = 0
    for now in instants:
        for number in facts:
            verdict = evaluate(rules, number, now, PBX)
            if verdict.allowed:
                allowed += 1
                if checked < 2000:
                    checked += 1
                    assert all(zone_allows(rules.schedule, z, now) for z in number.zones.zones)  # type: ignore[arg-type]
            if number.dnc:
                assert not verdict.allowed and verdict.next_at is None
    seconds = time.perf_counter() - start
    total = count * len(instants)
    print(
        f"verdicts {total:>9,} ({count:,} numbers x 24 instants): {total / seconds:>9,.0f}/s, "
        f"{seconds / total * 1e3:.3f} ms each (engine CPU per call today: {ENGINE_CPU_PER_CALL_MS} ms); "
        f"{allowed:,} allowed"
    )
    multi = CalleeZones(tuple(mobile_zones), facts[0].zones.source)
    assert len(multi.zones) == 26


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--numbers", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(14)
    bench_normalise(args.rows, rng)
    bench_csv(args.rows, rng)
    bench_verdicts(args.numbers, rng)


if __name__ == "__main__":
    main()
