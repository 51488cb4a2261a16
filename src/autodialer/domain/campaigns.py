"""Campaigns (MikoPBX v1 "tasks") and their numbers as records, the rules on their fields, and the errors use cases
raise. Pure: no storage, no wire format (v1's PHP strings and v2's JSON are the edges' business).

A campaign dials its numbers and connects each answered customer to its target: an extension or a queue number
(``TargetKind.EXTENSION``; the PBX's own state tells a queue from an extension) or a voice poll (``TargetKind.POLL``,
the target being the poll's id). ``lines`` caps the calls in flight. States are v1's numbers: 0 active, 1 closed,
2 paused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from autodialer.domain.attempt_limits import AttemptLimits, InvalidAttemptLimits
from autodialer.domain.call_hours import InvalidCallWindow, parse_call_hours, parse_excluded_dates
from autodialer.domain.callee_zones import UnknownTimeZone, check_zone
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS, PacingError, PacingSettings, check_pacing
from autodialer.domain.retry_policy import InvalidRetryPolicy, RetryPolicy

EXTENSION = re.compile(r"[0-9*#]{1,32}")
POLL_ID = re.compile(r"[1-9][0-9]{0,17}")
DIAL_PREFIX = re.compile(r"[0-9*#+]{0,32}")
MAX_LINES = 1000  # the settings' max_count_channels_ceiling applies below it
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: later instants cannot be shown as ISO dates


class CampaignState(IntEnum):
    ACTIVE = 0
    CLOSED = 1
    PAUSED = 2

    @property
    def word(self) -> str:
        return self.name.lower()


class TargetKind(StrEnum):
    EXTENSION = "extension"  # stored as v1 innerNumType "exten"
    POLL = "poll"  # stored as v1 innerNumType "polling"


class CampaignError(Exception):
    """A use case refused; ``error_id`` is stable, ``message`` says the rule, ``details['field']`` names the field."""

    error_id = "campaign-error"

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.details: dict[str, Any] = {"field": field, **details} if field else dict(details)


class NotFound(CampaignError):
    error_id = "not-found"


class Conflict(CampaignError):
    error_id = "conflict"


class InvalidField(CampaignError):
    error_id = "invalid-field"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    value: str  # extension or queue number; for a poll, its id (stored rows are read as they are)


def check_target(target: Target) -> Target:
    pattern = POLL_ID if target.kind is TargetKind.POLL else EXTENSION
    if not pattern.fullmatch(target.value):
        rule = "a poll id (digits, no leading 0)" if target.kind is TargetKind.POLL else "1..32 of 0-9, * and #"
        raise InvalidField(f"must be {rule}, got {target.value[:40]!r}", "target.value")
    return target


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    external_id: str  # v1 crmId
    name: str
    state: CampaignState
    target: Target
    lines: int
    dial_prefix: str  # "" = the service default
    retry_policy: Mapping[str, Mapping[str, float]] | None  # overrides of the service policy (RetryPolicy terms)
    closed_by_dialer: bool
    created_at: float
    updated_at: float
    schedule: CampaignSchedule = field(default_factory=CampaignSchedule)
    limits: AttemptLimits = field(default_factory=AttemptLimits)
    pacing: PacingSettings = PROGRESSIVE_SETTINGS


@dataclass(frozen=True, slots=True)
class CampaignChanges:
    """What an update sets; None leaves a field as it is (``retry_policy`` uses ``clear_retry_policy`` to unset)."""

    name: str | None = None
    target: Target | None = None
    lines: int | None = None
    dial_prefix: str | None = None
    retry_policy: Mapping[str, Mapping[str, float]] | None = None
    clear_retry_policy: bool = False
    state: CampaignState | None = None
    schedule: CampaignSchedule | None = None  # replaces the whole schedule (CampaignSchedule() clears it)
    limits: AttemptLimits | None = None  # replaces every limit (AttemptLimits() clears them)
    pacing: PacingSettings | None = None


@dataclass(frozen=True, slots=True)
class NewCampaign:
    name: str
    target: Target
    lines: int = 1
    dial_prefix: str = ""
    retry_policy: Mapping[str, Mapping[str, float]] | None = None
    external_id: str = ""  # "" = the campaign's id
    state: CampaignState = CampaignState.ACTIVE
    schedule: CampaignSchedule = field(default_factory=CampaignSchedule)
    limits: AttemptLimits = field(default_factory=AttemptLimits)
    pacing: PacingSettings = PROGRESSIVE_SETTINGS


def check_lines(lines: int, ceiling: int) -> int:
    if not 1 <= lines <= ceiling:
        raise InvalidField(f"must be an integer in 1..{ceiling}", "lines")
    return lines


def check_dial_prefix(prefix: str) -> str:
    if not DIAL_PREFIX.fullmatch(prefix):
        raise InvalidField("must be 0..32 of 0-9, *, # and +", "dial_prefix")
    return prefix


def check_retry_policy(overrides: Mapping[str, Mapping[str, float]]) -> Mapping[str, Mapping[str, float]]:
    """Overrides the engine's RetryPolicy accepts, else InvalidField naming ``retry_policy.<class>``."""
    try:
        RetryPolicy().with_overrides(overrides)
    except InvalidRetryPolicy as e:
        raise InvalidField(str(e), f"retry_policy.{e.details['field']}") from e
    return {name: dict(rule) for name, rule in overrides.items()}


def check_schedule(schedule: CampaignSchedule) -> CampaignSchedule:
    """The schedule in canonical form, or InvalidField naming ``schedule.<field>`` and the rule."""
    try:
        hours = None if schedule.hours is None else str(parse_call_hours(schedule.hours, "schedule.hours"))
        excluded = str(parse_excluded_dates(schedule.excluded_dates, "schedule.excluded_dates"))
        zone = None if schedule.default_zone is None else check_zone(schedule.default_zone, "schedule.default_zone")
    except InvalidCallWindow as e:
        raise InvalidField(str(e).split(": ", 1)[1], str(e.details["field"])) from e
    except UnknownTimeZone as e:
        raise InvalidField(str(e).split(": ", 1)[1], "schedule.default_zone") from e
    for name, value in (("starts_at", schedule.starts_at), ("ends_at", schedule.ends_at)):
        if value is not None and not 0 <= value <= LATEST:
            raise InvalidField("must be between 1970-01-01 and 9999-12-31 (UTC)", f"schedule.{name}")
    if schedule.starts_at is not None and schedule.ends_at is not None and schedule.ends_at <= schedule.starts_at:
        raise InvalidField("must be later than schedule.starts_at", "schedule.ends_at")
    return CampaignSchedule(hours, excluded, schedule.starts_at, schedule.ends_at, zone)


def attempt_limits(
    *,
    max_per_day: int | None = None,
    max_total: int | None = None,
    min_gap_s: float | None = None,
    max_per_day_all_campaigns: int | None = None,
) -> AttemptLimits:
    """AttemptLimits (None: that limit off), or InvalidField naming ``attempt_limits.<field>`` and the rule."""
    try:
        return AttemptLimits(max_per_day, max_total, min_gap_s, max_per_day_all_campaigns)
    except InvalidAttemptLimits as e:
        field = str(e.details["field"])
        raise InvalidField(str(e).split(": ", 1)[1], f"attempt_limits.{field}") from e


def pacing_settings(data: Mapping[str, object]) -> PacingSettings:
    """A campaign's pacing from v2's ``pacing`` object, else InvalidField naming ``pacing.<field>``."""
    try:
        return check_pacing(data)
    except PacingError as e:
        raise InvalidField(e.message, e.field) from e


def check_pacing_target(pacing: PacingSettings, target: Target) -> None:
    """Power and predictive calls go to agents: a poll campaign dials one call per line, progressively."""
    if not pacing.reserves_agents and target.kind is TargetKind.POLL:
        raise InvalidField("power and predictive pacing need an extension or queue target, not a poll", "pacing.mode")


@dataclass(frozen=True, slots=True)
class NewNumber:
    """A number to add: ``phone`` as sent, checked by phone_numbers.parse_phone; ``not_before`` is timeCallAllow."""

    phone: str
    digits: str
    phone_id: str
    params: Mapping[str, str | int | float | bool | None] | None = None
    not_before: int = 0


@dataclass(frozen=True, slots=True)
class NumberRecord:
    id: int
    campaign_id: int
    phone: str
    phone_id: str
    params: Mapping[str, Any] | None
    state: str  # the MikoPBX row state (CreateTask, endCall, doNotCall …)
    result: str  # "" while open, else the final MikoPBX result
    attempts: int  # countTry
    requeues: int
    not_before: float  # timeCallAllow
    retry_at: float  # next_attempt_at
    in_call: bool
    closed_at: float  # closeTime, 0 while open
    changed_at: float


@dataclass(frozen=True, slots=True)
class NumberFilter:
    state: str | None = None
    result: str | None = None  # "" = still open
    phone_id: str | None = None


@dataclass(frozen=True, slots=True)
class NumberPage:
    items: tuple[NumberRecord, ...]
    next_after: int | None  # the id to continue after; None on the last page


ChangeKey = tuple[int, int]  # (change time in microseconds, number id): the order of the results feed


@dataclass(frozen=True, slots=True)
class ChangedNumbers:
    """A page of numbers in the order of their last change (v1's results feed), across campaigns."""

    items: tuple[NumberRecord, ...]
    next_after: ChangeKey | None  # the key to continue after; None on the last page


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: str
    attempt_no: int
    mode: str  # connect | poll
    agent: str | None
    state: str  # created, originated, ringing, answered, ended
    outcome: str | None
    cause: int | None
    cause_text: str | None
    dial_status: str | None
    created_at: float
    answered_at: float | None
    ended_at: float | None


@dataclass(frozen=True, slots=True)
class AttemptCounts:
    in_flight: int
    ended: int
    answered: int  # ended attempts the customer answered
    last_hour: int  # attempts started in the hour before ``now``
    last_minute: int  # … and in the minute before it (originates/min)
    answered_today: int = 0  # attempts the customer answered that ended since the campaign day began
    abandoned_today: int = 0  # … of which no agent took the call within abandon_after_s (safe harbor played)
    abandoned: int = 0  # ended attempts answered with nobody to take them (live_state.is_abandoned)


@dataclass(frozen=True, slots=True)
class CampaignStats:
    campaign_id: int
    numbers_total: int
    numbers_by_state: Mapping[str, int]
    numbers_by_result: Mapping[str, int]  # "" is still open
    calls_in_flight: int
    attempts_ended: int
    answered: int
    originates_last_hour: int
    originates_last_minute: int
    answer_rate: float | None = field(default=None)  # answered / ended attempts; None before any ended
    answered_today: int = 0
    abandoned_today: int = 0
    abandon_rate_today: float | None = None  # abandoned / answered today (the cap's measure); None before any
    abandoned: int = 0
    abandon_rate: float | None = None  # abandoned / answered; None before any answered


def stats_from(
    campaign_id: int, by_state: Mapping[str, int], by_result: Mapping[str, int], counts: AttemptCounts
) -> CampaignStats:
    rate = counts.answered / counts.ended if counts.ended else None
    return CampaignStats(
        campaign_id=campaign_id,
        numbers_total=sum(by_result.values()),
        numbers_by_state=dict(by_state),
        numbers_by_result=dict(by_result),
        calls_in_flight=counts.in_flight,
        attempts_ended=counts.ended,
        answered=counts.answered,
        originates_last_hour=counts.last_hour,
        originates_last_minute=counts.last_minute,
        answer_rate=rate,
        answered_today=counts.answered_today,
        abandoned_today=counts.abandoned_today,
        abandon_rate_today=counts.abandoned_today / counts.answered_today if counts.answered_today else None,
        abandoned=counts.abandoned,
        abandon_rate=counts.abandoned / counts.answered if counts.answered else None,
    )
