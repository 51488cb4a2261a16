"""A campaign's pacing settings as stored and sent over v2, the rules on them, and the policy they build.

``mode`` is ``progressive`` (one call per free agent, reserving it: MikoPBX's rule, the default and what every v1
task gets), ``power`` (``lines_per_agent`` ringing calls per free agent) or ``predictive`` (as many calls as the
learned model allows while abandonment stays under ``max_abandon_rate``). Power and predictive calls reserve nobody:
the answered customer goes to the campaign's queue, and if no agent takes the call within ``abandon_after_s`` the
customer hears the safe-harbor message (``safe_harbor_text`` spoken, or ``safe_harbor_audio``, an uploaded file;
neither: ``DEFAULT_SAFE_HARBOR_TEXT``) and the call ends, abandoned. A predictive campaign given ``min_ring_s``
(at least 15 s: US TSR, Ofcom; unset by default) also ends ringing calls that rang that long when their customer
would likely find no agent; the engine hangs them up as no-answers of ours.

Stored as one JSON object in ``tasks.pacing`` (NULL: progressive). ``check_pacing`` refuses bad settings naming the
field as the v2 API spells it (``pacing.max_abandon_rate``); ``build_policy`` gives the policy object the engine
keeps per campaign (predictive learns, so it lives as long as its settings do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from autodialer.domain.attempt_limits import local_day
from autodialer.domain.pacing import (
    DEFAULT_ABANDON_AFTER_S,
    DEFAULT_MAX_ABANDON_RATE,
    MIN_RING_S,
    PROGRESSIVE,
    PacingPolicy,
    PowerPacing,
    PredictivePacing,
)

DEFAULT_LINES_PER_AGENT = 1.5
DEFAULT_SAFE_HARBOR_TEXT = (
    "Sorry, all our operators are busy at the moment. We will call you back later. Thank you, goodbye."
)
MAX_SAFE_HARBOR_TEXT = 500
MAX_MIN_RING_S = 300.0  # at or above the Originate timeout a campaign never ends a ringing call


class PacingMode(StrEnum):
    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"


class PacingError(ValueError):
    """Bad pacing settings; ``field`` is the v2 name (``pacing.lines_per_agent``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class SafeHarbor:
    text: str | None = None  # spoken by the TTS (the campaign's words)
    audio: str | None = None  # an uploaded audio file's name (wins over text when both are set)
    lang: str | None = None  # the TTS voice's language, None: the service default

    @property
    def spoken(self) -> str:
        return self.text or DEFAULT_SAFE_HARBOR_TEXT


@dataclass(frozen=True, slots=True)
class PacingSettings:
    mode: PacingMode = PacingMode.PROGRESSIVE
    lines_per_agent: float = DEFAULT_LINES_PER_AGENT  # power only
    max_abandon_rate: float = DEFAULT_MAX_ABANDON_RATE  # predictive only
    abandon_after_s: float = DEFAULT_ABANDON_AFTER_S  # power and predictive
    safe_harbor: SafeHarbor = SafeHarbor()
    # Predictive: a ringing call may be ended after this long (at least MIN_RING_S); None (the default): never. Opt
    # in: ending calls gains about a point of talk time but ends 14-53% of the calls placed, each a no-answer retry
    # spent, and places up to 61% more calls (benchmarks/pacing.py --min-ring 15, docs/pacing.md).
    min_ring_s: float | None = None

    @property
    def ends_ringing_after(self) -> float | None:
        """How long a call must ring before the policy may end it; None: this campaign never ends one."""
        return self.min_ring_s if self.mode is PacingMode.PREDICTIVE else None

    @property
    def reserves_agents(self) -> bool:
        return self.mode is PacingMode.PROGRESSIVE

    def to_json(self) -> dict[str, object] | None:
        """The stored form; None for plain progressive (the column stays NULL, as for every v1 task)."""
        if self == PROGRESSIVE_SETTINGS:
            return None
        out: dict[str, object] = {"mode": self.mode.value}
        if self.mode is PacingMode.POWER:
            out["lines_per_agent"] = self.lines_per_agent
        if self.mode is PacingMode.PREDICTIVE:
            out["max_abandon_rate"] = self.max_abandon_rate
            if self.min_ring_s is not None:
                out["min_ring_s"] = self.min_ring_s
        if self.mode is not PacingMode.PROGRESSIVE:
            out["abandon_after_s"] = self.abandon_after_s
            harbor = self.safe_harbor
            out["safe_harbor"] = {
                k: v for k, v in (("text", harbor.text), ("audio", harbor.audio), ("lang", harbor.lang)) if v
            }
        return out


PROGRESSIVE_SETTINGS = PacingSettings()


def pacing_from_json(stored: object) -> PacingSettings:
    """The settings a stored value describes; a NULL or unreadable one is progressive (never a crash mid-dialing)."""
    if not isinstance(stored, Mapping):
        return PROGRESSIVE_SETTINGS
    try:
        return check_pacing(stored)
    except PacingError:
        return PROGRESSIVE_SETTINGS


def check_pacing(data: Mapping[str, object]) -> PacingSettings:
    """Settings from their JSON shape (v2's ``pacing`` object), else PacingError naming ``pacing.<field>``."""
    known = {"mode", "lines_per_agent", "max_abandon_rate", "abandon_after_s", "safe_harbor", "min_ring_s"}
    for name in data:
        if name not in known:
            raise PacingError("is not a pacing setting", f"pacing.{name}")
    raw_mode = data.get("mode", PacingMode.PROGRESSIVE.value)
    try:
        mode = PacingMode(str(raw_mode))
    except ValueError:
        raise PacingError("must be progressive, power or predictive", "pacing.mode") from None
    lines = _number(data, "lines_per_agent", DEFAULT_LINES_PER_AGENT, 1.0, 10.0, "a number from 1 to 10")
    cap = _number(data, "max_abandon_rate", DEFAULT_MAX_ABANDON_RATE, 0.001, 0.2, "a fraction from 0.001 to 0.2")
    after = _number(data, "abandon_after_s", DEFAULT_ABANDON_AFTER_S, 1.0, 60.0, "seconds from 1 to 60")
    min_ring = None
    if data.get("min_ring_s") is not None:  # absent or null: ringing calls are never ended (the default)
        min_ring = _number(
            data,
            "min_ring_s",
            MIN_RING_S,
            MIN_RING_S,
            MAX_MIN_RING_S,
            f"seconds from {MIN_RING_S:g} to {MAX_MIN_RING_S:g}, or null (never): how long a call rings before "
            f"predictive may end it (US TSR and Ofcom: at least {MIN_RING_S:g} s)",
        )
    harbor = _safe_harbor(data.get("safe_harbor"))
    if mode is PacingMode.PROGRESSIVE:
        return PROGRESSIVE_SETTINGS
    return PacingSettings(mode, lines, cap, after, harbor, min_ring if mode is PacingMode.PREDICTIVE else None)


def _number(data: Mapping[str, object], name: str, default: float, low: float, high: float, rule: str) -> float:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PacingError(f"must be {rule}", f"pacing.{name}")
    if not low <= float(value) <= high:
        raise PacingError(f"must be {rule}", f"pacing.{name}")
    return float(value)


def _safe_harbor(value: object) -> SafeHarbor:
    if value is None:
        return SafeHarbor()
    if not isinstance(value, Mapping):
        raise PacingError("must be an object with text, audio or lang", "pacing.safe_harbor")
    for name in value:
        if name not in ("text", "audio", "lang"):
            raise PacingError("is not a safe-harbor setting", f"pacing.safe_harbor.{name}")
    out: dict[str, str | None] = {}
    for name, limit in (("text", MAX_SAFE_HARBOR_TEXT), ("audio", 255), ("lang", 16)):
        item = value.get(name)
        if item is None or item == "":
            out[name] = None
            continue
        if not isinstance(item, str) or len(item) > limit or any(ord(c) < 32 or ord(c) == 127 for c in item):
            raise PacingError(
                f"must be text of at most {limit} characters, no control characters", f"pacing.safe_harbor.{name}"
            )
        out[name] = item
    return SafeHarbor(out["text"], out["audio"], out["lang"])


def build_policy(settings: PacingSettings, zone: str = "UTC") -> PacingPolicy:
    """A fresh policy object for ``settings`` (the engine keeps one per campaign while its settings stay); predictive
    counts abandonment per local day of ``zone`` (the PBX's)."""
    match settings.mode:
        case PacingMode.POWER:
            return PowerPacing(settings.lines_per_agent)
        case PacingMode.PREDICTIVE:
            return PredictivePacing(settings.max_abandon_rate, settings.abandon_after_s, day_of=zone_days(zone))
        case _:
            return PROGRESSIVE


def zone_days(zone: str) -> Callable[[float], tuple[float, float]]:
    """[start, end) of the local day of ``zone`` containing an instant: the campaign day abandonment is counted over.
    Computed from the zone at each instant, so a DST change moves the day boundary with it (days of 23 or 25 hours),
    not from an offset fixed once."""
    tz = ZoneInfo(zone)

    def day_of(now: float) -> tuple[float, float]:
        return local_day(now, tz)

    return day_of


def day_start(now: float, zone: str) -> float:
    """The start of the campaign day containing ``now`` in the PBX's zone: abandonment is counted per such day."""
    return local_day(now, ZoneInfo(zone))[0]
