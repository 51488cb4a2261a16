"""The v2 wire: pydantic models of what comes in and what goes out, and their conversion to and from domain records.

Times go out as ISO 8601 in UTC; absent times (a number never tried …) are null. Names are snake_case. Input models
forbid unknown fields, so a typo is an error naming the field rather than a silently ignored setting.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from autodialer.domain.attempt_limits import AttemptLimits
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.campaigns import (
    AttemptRecord,
    Campaign,
    CampaignStats,
    InvalidField,
    NumberRecord,
    Target,
    TargetKind,
    attempt_limits,
    pacing_settings,
)
from autodialer.domain.eligibility import Verdict
from autodialer.domain.pacing_config import PacingMode, PacingSettings

MAX_ID = 2**53 - 1
StateWord = Literal["active", "paused", "closed"]
Text255 = Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
DialPrefix = Annotated[str, StringConstraints(max_length=32, pattern=r"^[0-9*#+]*$")]
ParamKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
ParamValue = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool | None


def _not_a_bool(value: Any) -> Any:
    """pydantic's lax mode reads JSON true/false as 1/0 for a number; a count given as a boolean is a client's
    mistake, refused naming the field rather than stored as 1 or 0 (e.g. ``max_retries: false``)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Count = Annotated[int, BeforeValidator(_not_a_bool)]
Seconds = Annotated[float, BeforeValidator(_not_a_bool)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TargetModel(_In):
    kind: Literal["extension", "poll"] = Field(
        description="extension: an extension or a queue number (the PBX tells which); poll: a voice poll's id"
    )
    value: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9*#]+$")]

    def domain(self) -> Target:
        return Target(TargetKind(self.kind), self.value)

    @classmethod
    def of(cls, target: Target) -> TargetModel:
        return cls.model_construct(kind=target.kind.value, value=target.value)


class RetryRuleModel(_In):
    delay_s: Seconds | None = Field(default=None, ge=0, le=7 * 86400, description="wait before the next attempt")
    max_retries: Count | None = Field(default=None, ge=0, le=20, description="further attempts after the first")


class RetryPolicyModel(_In):
    """Overrides of the service's retry policy, per outcome class; a class left out keeps the service's rule."""

    customer_busy: RetryRuleModel | None = None
    customer_no_answer: RetryRuleModel | None = None
    customer_congestion: RetryRuleModel | None = None
    agent_busy: RetryRuleModel | None = None
    originate_rejected: RetryRuleModel | None = None

    def overrides(self) -> dict[str, dict[str, float]]:
        return {
            name: {k: v for k, v in rule.model_dump().items() if v is not None}
            for name, rule in self
            if isinstance(rule, RetryRuleModel)
        }


class SafeHarborModel(_In):
    """What an abandoned customer hears: ``audio`` (an uploaded file's name) if set, else ``text`` spoken; neither:
    the default message shipped with the service."""

    text: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")] | None = None
    audio: Text255 | None = None
    lang: Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z-]*$")] | None = None


class PacingModel(_In):
    """How many calls to have in flight. ``progressive``: one call per free agent, reserving it (the default, and
    every v1 task's). ``power``: ``lines_per_agent`` ringing calls per free agent. ``predictive``: as many as the
    learned model allows with abandonment under ``max_abandon_rate`` over the campaign day. Power and predictive
    calls go to the campaign's queue; a customer no agent takes within ``abandon_after_s`` hears the safe-harbor
    message and the call ends as abandoned (v1: FAIL_USER_BUSY, state ``abandoned``), retried as agent-busy.
    Predictive given ``min_ring_s`` (unset by default: never) also hangs up a call that has rung that long when its
    customer would likely find no agent: a no-answer (v1: FAIL, outDialState NOANSWER), retried as one."""

    mode: Literal["progressive", "power", "predictive"] = "progressive"
    lines_per_agent: Seconds | None = Field(default=None, ge=1, le=10, description="power: calls per free agent")
    max_abandon_rate: Seconds | None = Field(
        default=None, ge=0.001, le=0.2, description="predictive: abandoned / answered cap per day, default 0.03"
    )
    abandon_after_s: Seconds | None = Field(
        default=None, ge=1, le=60, description="an answered customer with no agent after this is abandoned (2)"
    )
    safe_harbor: SafeHarborModel | None = None
    min_ring_s: Seconds | None = Field(
        default=None,
        ge=15,
        le=300,
        description="predictive: a ringing call may be ended after this many seconds (at least 15, the legal "
        "minimum); null, the default: never",
    )

    def domain(self) -> PacingSettings:
        data = self.model_dump(exclude_none=True)
        return pacing_settings(data)

    @classmethod
    def of(cls, p: PacingSettings) -> PacingModel:
        if p.mode is PacingMode.PROGRESSIVE:
            return cls.model_construct(mode="progressive")
        h = p.safe_harbor
        return cls.model_construct(
            mode=p.mode.value,
            lines_per_agent=p.lines_per_agent if p.mode is PacingMode.POWER else None,
            max_abandon_rate=p.max_abandon_rate if p.mode is PacingMode.PREDICTIVE else None,
            abandon_after_s=p.abandon_after_s,
            safe_harbor=SafeHarborModel.model_construct(text=h.text, audio=h.audio, lang=h.lang),
            min_ring_s=p.min_ring_s if p.mode is PacingMode.PREDICTIVE else None,
        )


class ScheduleModel(_In):
    """When the campaign may call, in the callee's local time (docs/call-windows.md). ``hours`` absent or null: the
    global window (AUTODIALER_CALL_WINDOW), if one is set."""

    hours: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None,
        description="e.g. '09:00-21:00; sat,sun 10:00-20:00' or 'mon-fri 09:00-13:00,14:00-18:00; sun off'",
        examples=["09:00-21:00; sat,sun 10:00-20:00"],
    )
    excluded_dates: Annotated[str, StringConstraints(max_length=4000)] = Field(
        default="", description="holidays in the callee's calendar: '2027-01-01..2027-01-08, 2027-02-23'"
    )
    starts_at: datetime | None = Field(default=None, description="no call before this instant (with an offset)")
    ends_at: datetime | None = Field(default=None, description="no call at or after this instant (with an offset)")
    default_zone: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="IANA zone for numbers that give none (e.g. short numbers); default the PBX's"
    )

    def domain(self) -> CampaignSchedule:
        return CampaignSchedule(
            hours=self.hours,
            excluded_dates=self.excluded_dates,
            starts_at=_instant(self.starts_at, "schedule.starts_at"),
            ends_at=_instant(self.ends_at, "schedule.ends_at"),
            default_zone=self.default_zone,
        )

    @classmethod
    def of(cls, s: CampaignSchedule) -> ScheduleModel:
        return cls.model_construct(
            hours=s.hours,
            excluded_dates=s.excluded_dates,
            starts_at=None if s.starts_at is None else utc(s.starts_at),
            ends_at=None if s.ends_at is None else utc(s.ends_at),
            default_zone=s.default_zone,
        )


class AttemptLimitsModel(_In):
    """Attempt limits per number; a limit absent or null is off."""

    max_per_day: Count | None = Field(default=None, ge=1, le=1000, description="attempts per callee's local day")
    max_total: Count | None = Field(default=None, ge=1, le=1000, description="attempts in all")
    min_gap_s: Seconds | None = Field(
        default=None, ge=0, le=30 * 86400, description="least seconds from the end of one call to the next"
    )
    max_per_day_all_campaigns: Count | None = Field(
        default=None, ge=1, le=1000, description="calls to the number per callee's local day, every campaign's"
    )

    def domain(self) -> AttemptLimits:
        return attempt_limits(
            max_per_day=self.max_per_day,
            max_total=self.max_total,
            min_gap_s=self.min_gap_s,
            max_per_day_all_campaigns=self.max_per_day_all_campaigns,
        )

    @classmethod
    def of(cls, limits: AttemptLimits) -> AttemptLimitsModel:
        return cls.model_construct(
            max_per_day=limits.max_per_day,
            max_total=limits.max_total,
            min_gap_s=limits.min_gap_s,
            max_per_day_all_campaigns=limits.max_per_day_all_campaigns,
        )


def _instant(moment: datetime | None, field: str) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidField("must carry a UTC offset (e.g. 2027-01-09T00:00:00+03:00 or …Z)", field)
    return moment.timestamp()


class CampaignCreate(_In):
    name: Text255 = ""
    external_id: ExternalId | None = Field(default=None, description="the CRM's id (v1 crmId); default: the id")
    target: TargetModel
    lines: Count = Field(default=1, ge=1, le=1000, description="most calls in flight")
    dial_prefix: DialPrefix = ""
    retry_policy: RetryPolicyModel | None = None
    pacing: PacingModel | None = None
    state: Literal["active", "paused"] = "active"
    schedule: ScheduleModel | None = None
    attempt_limits: AttemptLimitsModel | None = None


class CampaignPatch(_In):
    """Fields to change; a field left out stays. ``retry_policy: null`` returns to the service's policy;
    ``schedule`` and ``attempt_limits`` replace the whole object (``null`` clears it)."""

    name: Text255 | None = None
    target: TargetModel | None = None
    lines: Count | None = Field(default=None, ge=1, le=1000)
    dial_prefix: DialPrefix | None = None
    retry_policy: RetryPolicyModel | None = None
    pacing: PacingModel | None = None
    schedule: ScheduleModel | None = None
    attempt_limits: AttemptLimitsModel | None = None


class CampaignOut(BaseModel):
    id: int
    external_id: str
    name: str
    state: StateWord
    closed_by_dialer: bool = Field(description="closed because every number has its final result")
    target: TargetModel
    lines: int
    dial_prefix: str
    retry_policy: dict[str, dict[str, float]] | None
    pacing: PacingModel
    schedule: ScheduleModel
    attempt_limits: AttemptLimitsModel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        return cls(
            id=c.id,
            external_id=c.external_id,
            name=c.name,
            state=c.state.word,  # type: ignore[arg-type]
            closed_by_dialer=c.closed_by_dialer,
            target=TargetModel.of(c.target),
            lines=c.lines,
            dial_prefix=c.dial_prefix,
            retry_policy=None if c.retry_policy is None else {k: dict(v) for k, v in c.retry_policy.items()},
            schedule=ScheduleModel.of(c.schedule),
            attempt_limits=AttemptLimitsModel.of(c.limits),
            pacing=PacingModel.of(c.pacing),
            created_at=utc(c.created_at),
            updated_at=utc(c.updated_at),
        )


class CampaignList(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None = Field(description="pass as ``cursor`` for the next page; null on the last page")


class NumberIn(_In):
    phone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="as the CRM has it; digits with optional + spaces - . ( )"
    )
    params: dict[ParamKey, ParamValue] | None = Field(
        default=None, max_length=50, description="values for <key> substitution in polls; tz: the callee's zone"
    )
    not_before: datetime | None = Field(default=None, description="do not call before this instant (timeCallAllow)")


class NumbersImport(_In):
    numbers: list[NumberIn] = Field(min_length=1, max_length=100_000)


class ImportResult(BaseModel):
    accepted: int = Field(description="numbers written (added, or updated when the campaign had them)")


class NumberOut(BaseModel):
    id: int
    phone: str
    phone_id: str
    params: dict[str, Any] | None
    state: str = Field(description="the MikoPBX row state: CreateTask, startDial, endCall, doNotCall …")
    result: str | None = Field(description="the final MikoPBX result; null while the number is open")
    attempts: int
    requeues: int
    in_call: bool
    not_before: datetime | None
    retry_at: datetime | None
    closed_at: datetime | None
    changed_at: datetime

    @classmethod
    def of(cls, n: NumberRecord) -> NumberOut:
        return cls(
            id=n.id,
            phone=n.phone,
            phone_id=n.phone_id,
            params=None if n.params is None else dict(n.params),
            state=n.state,
            result=n.result or None,
            attempts=n.attempts,
            requeues=n.requeues,
            in_call=n.in_call,
            not_before=utc_or_none(n.not_before),
            retry_at=utc_or_none(n.retry_at),
            closed_at=utc_or_none(n.closed_at),
            changed_at=utc(n.changed_at),
        )


class NumberList(BaseModel):
    items: list[NumberOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    id: str
    attempt_no: int
    mode: str
    agent: str | None
    state: str
    outcome: str | None
    cause: int | None
    cause_text: str | None
    dial_status: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, a: AttemptRecord) -> AttemptOut:
        return cls(
            id=a.id,
            attempt_no=a.attempt_no,
            mode=a.mode,
            agent=a.agent,
            state=a.state,
            outcome=a.outcome,
            cause=a.cause,
            cause_text=a.cause_text,
            dial_status=a.dial_status,
            started_at=utc(a.created_at),
            answered_at=None if a.answered_at is None else utc(a.answered_at),
            ended_at=None if a.ended_at is None else utc(a.ended_at),
        )


class AttemptList(BaseModel):
    items: list[AttemptOut]


class HoldOut(BaseModel):
    kind: str = Field(description="the rule: not-before, retry-wait, do-not-call, campaign-paused, number-final …")
    text: str
    until: datetime | None = Field(description="when this rule alone lets go; null: not by itself")


class ExplainOut(BaseModel):
    allowed: bool
    at: datetime = Field(description="the instant judged (now)")
    next_at: datetime | None = Field(description="the earliest instant every rule allows; null: not without a change")
    waits_for_change: bool = Field(
        description="held by the target's agents or lines or the PBX link (target-busy, pbx-link), which end when "
        "the PBX's state changes, at no time known, and otherwise only by rules that let go in time"
    )
    earliest_at: datetime | None = Field(
        description="when waits_for_change: the earliest instant the other rules allow (null otherwise)"
    )
    holds: list[HoldOut]
    text: list[str] = Field(description="the verdict in words, one line per rule, then when it may be dialled")

    @classmethod
    def of(cls, v: Verdict) -> ExplainOut:
        return cls(
            allowed=v.allowed,
            at=utc(v.now),
            next_at=None if v.next_at is None else utc(v.next_at),
            waits_for_change=v.waits_for_change,
            earliest_at=utc(v.earliest_at) if v.waits_for_change and v.earliest_at is not None else None,
            holds=[HoldOut(kind=h.kind.value, text=h.text, until=utc_or_none(h.until)) for h in v.holds],
            text=v.lines(),
        )


class StatsOut(BaseModel):
    campaign_id: int
    numbers_total: int
    numbers_by_state: dict[str, int]
    numbers_by_result: dict[str, int] = Field(description='"open" counts the numbers without a final result')
    calls_in_flight: int
    attempts_ended: int
    answered: int
    originates_last_hour: int = Field(description="calls started in the last 60 minutes")
    originates_last_minute: int = Field(description="calls started in the last 60 seconds (originates/min)")
    answer_rate: float | None = Field(description="answered / ended attempts; null before any ended")
    answered_today: int = Field(description="answered calls that ended since the campaign day began (PBX zone)")
    abandoned_today: int = Field(description="of those, abandoned: no agent within abandon_after_s, safe harbor")
    abandon_rate_today: float | None = Field(
        description="abandoned_today / answered_today, the measure the cap applies to; null before any answer"
    )
    abandoned: int = Field(description="ended calls the customer answered and no employee took (never polls)")
    abandon_rate: float | None = Field(description="abandoned / answered; null before any answered")

    @classmethod
    def of(cls, s: CampaignStats) -> StatsOut:
        return cls(
            campaign_id=s.campaign_id,
            numbers_total=s.numbers_total,
            numbers_by_state=dict(s.numbers_by_state),
            numbers_by_result={(k or "open"): v for k, v in s.numbers_by_result.items()},
            calls_in_flight=s.calls_in_flight,
            attempts_ended=s.attempts_ended,
            answered=s.answered,
            originates_last_hour=s.originates_last_hour,
            originates_last_minute=s.originates_last_minute,
            answer_rate=s.answer_rate,
            answered_today=s.answered_today,
            abandoned_today=s.abandoned_today,
            abandon_rate_today=s.abandon_rate_today,
            abandoned=s.abandoned,
            abandon_rate=s.abandon_rate,
        )


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists every field at fault."""

    type: str
    title: str
    status: int
    detail: str
    error_id: str
    errors: list[FieldProblem] = []


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def utc_or_none(t: float | None) -> datetime | None:
    return None if not t else utc(t)
