"""The v2 wire of the live wallboard: what ``/api/v2/live/*`` answer and what ``/api/v2/events`` carries, each
mapped from its domain record (domain/live_state.py). Times are ISO 8601 in UTC, as in the rest of v2."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from autodialer.api.v2.models import utc
from autodialer.domain.live_state import AgentView, CallView, CampaignLive, NumberOutcome, PbxLink

AgentWord = Literal["free", "reserved", "ringing", "talking", "paused", "unavailable"]
EVENT_ID = "where to start `GET /api/v2/events?after=` so that nothing after this read is missed"


class AgentOut(BaseModel):
    agent: str = Field(description="the agent's primary device, e.g. PJSIP/201")
    extension: str | None = Field(description="the extension whose hint names it; null for a bare queue member")
    state: AgentWord = Field(
        description="free; reserved (held by the dialer for a call being placed); ringing; talking (in a call, "
        "on hold or busy); paused (do-not-disturb or paused in a queue); unavailable (no device reachable)"
    )
    queues: list[str] = Field(description="queues it is a member of: their numbers where known, else names")

    @classmethod
    def of(cls, v: AgentView) -> AgentOut:
        return cls(agent=v.agent, extension=v.extension, state=v.state.value, queues=list(v.queues))


class AgentList(BaseModel):
    items: list[AgentOut]
    counts: dict[str, int] = Field(description="agents by state, every state present")
    event_id: str = Field(description=EVENT_ID)


class CallOut(BaseModel):
    call_id: str
    campaign_id: int
    phone: str
    agent: str | None = Field(description="the agent reserved for it (extension campaigns)")
    mode: Literal["connect", "poll"]
    phase: Literal["ringing", "talking"] = Field(description="ringing until the customer answered")
    agent_connected: bool = Field(description="an employee answered")
    started_at: datetime
    ended: bool = Field(description="in events only: the call is over and left the board")

    @classmethod
    def of(cls, c: CallView) -> CallOut:
        return cls(
            call_id=c.call_id,
            campaign_id=c.campaign_id,
            phone=c.phone,
            agent=c.agent,
            mode="poll" if c.mode == "poll" else "connect",
            phase=c.phase.value,
            agent_connected=c.agent_connected,
            started_at=utc(c.started_at),
            ended=c.ended,
        )


class CampaignCalls(BaseModel):
    campaign_id: int
    ringing: int
    talking: int


class CallList(BaseModel):
    items: list[CallOut]
    by_campaign: list[CampaignCalls]
    event_id: str = Field(description=EVENT_ID)


class NumberOutcomeOut(BaseModel):
    campaign_id: int
    number_id: int
    phone: str
    call_id: str
    state: str = Field(description="the number's MikoPBX row state")
    result: str = Field(description="its final result; empty while it stays open")
    count_try: int
    retry_at: datetime | None = Field(description="when it is dialled again; null once final")

    @classmethod
    def of(cls, n: NumberOutcome) -> NumberOutcomeOut:
        return cls(
            campaign_id=n.campaign_id,
            number_id=n.number_id,
            phone=n.phone,
            call_id=n.call_id,
            state=n.state,
            result=n.result,
            count_try=n.count_try,
            retry_at=None if n.retry_at is None else utc(n.retry_at),
        )


class CampaignLiveOut(BaseModel):
    campaign_id: int
    name: str
    state: Literal["active", "paused", "closed"]
    numbers_total: int
    numbers_open: int = Field(description="numbers without a final result yet")
    numbers_by_result: dict[str, int] = Field(description="numbers by final result")
    calls_ringing: int
    calls_talking: int
    originates_last_minute: int = Field(description="calls started in the last 60 seconds")
    attempts_ended: int
    answered: int = Field(description="ended calls the customer answered")
    abandoned: int = Field(description="ended calls the customer answered and no employee took (never polls)")
    answer_rate: float | None = Field(description="answered / ended calls; null before any ended")
    abandon_rate: float | None = Field(description="abandoned / answered; null before any answered")

    @classmethod
    def of(cls, c: CampaignLive) -> CampaignLiveOut:
        return cls(
            campaign_id=c.campaign_id,
            name=c.name,
            state=c.state,  # type: ignore[arg-type]
            numbers_total=c.numbers_total,
            numbers_open=c.numbers_open,
            numbers_by_result=dict(c.numbers_by_result),
            calls_ringing=c.calls_ringing,
            calls_talking=c.calls_talking,
            originates_last_minute=c.originates_last_minute,
            attempts_ended=c.attempts_ended,
            answered=c.answered,
            abandoned=c.abandoned,
            answer_rate=c.answer_rate,
            abandon_rate=c.abandon_rate,
        )


class CampaignLiveList(BaseModel):
    items: list[CampaignLiveOut]
    next_cursor: str | None
    event_id: str = Field(description=EVENT_ID)


class PbxLinkOut(BaseModel):
    dialing: bool = Field(description="false on an API-only instance (no PBX link: the other fields say so)")
    connected: bool = Field(description="logged in to AMI and the agents' states re-synced")
    state: Literal["stopped", "connecting", "connected", "waiting", "closed", "off"] = Field(
        description="the AMI client: waiting = backing off before the next connect; off = this instance does not dial"
    )
    since: datetime | None = Field(description="when the link entered this state")
    last_error: str | None = Field(description="why the link is not up (null while it is)")
    logins: int = Field(description="successful logins since the service started")

    @classmethod
    def of(cls, link: PbxLink | None) -> PbxLinkOut:
        if link is None:
            return cls(dialing=False, connected=False, state="off", since=None, last_error=None, logins=0)
        return cls(
            dialing=True,
            connected=link.connected,
            state=link.state,  # type: ignore[arg-type]
            since=None if link.since is None else utc(link.since),
            last_error=link.last_error,
            logins=link.logins,
        )


class LiveSummary(BaseModel):
    pbx_link: PbxLinkOut
    agents: dict[str, int] = Field(description="agents by state, every state present")
    calls_ringing: int
    calls_talking: int
    event_id: str = Field(description=EVENT_ID)
