"""Why a campaign's number waits: the campaign's and the row's state around eligibility's verdict."""

from __future__ import annotations

from dataclasses import replace

from autodialer.domain.callee_zones import CalleeZones, ZoneSource
from autodialer.domain.campaigns import Campaign, CampaignState, NumberRecord, Target, TargetKind
from autodialer.domain.eligibility import HoldKind
from autodialer.domain.number_explain import DncEntry, explain

NOW = 1_724_235_073.0  # 2024-08-21 13:11:13 MSK
ZONES = CalleeZones(("Europe/Moscow",), ZoneSource.CAMPAIGN_DEFAULT)
CAMPAIGN = Campaign(
    1_000_000_001, "crm", "c", CampaignState.ACTIVE, Target(TargetKind.EXTENSION, "201"), 1, "", None, False, 0, 0
)
NUMBER = NumberRecord(1, CAMPAIGN.id, "+79522233446", "9522233446", None, "CreateTask", "", 0, 0, 0, 0, False, 0, NOW)


def kinds(campaign: Campaign = CAMPAIGN, number: NumberRecord = NUMBER, **kw: object) -> list[HoldKind]:
    args: dict[str, object] = {"e164": "+79522233446", "zones": ZONES, "dnc": (), "now": NOW} | kw
    verdict = explain(campaign, number, pbx_zone="Europe/Moscow", **args)  # type: ignore[arg-type]
    assert verdict.allowed == (not verdict.holds)
    return [h.kind for h in verdict.holds]


def test_an_open_number_of_an_active_campaign_may_be_dialled_now() -> None:
    verdict = explain(CAMPAIGN, NUMBER, e164="+79522233446", zones=ZONES, dnc=(), now=NOW, pbx_zone="Europe/Moscow")
    assert verdict.allowed and verdict.next_at == NOW and verdict.lines() == ["may be dialled now"]


def test_waits_end_at_the_later_of_timecallallow_and_the_retry() -> None:
    number = replace(NUMBER, not_before=NOW + 60, retry_at=NOW + 600)
    verdict = explain(CAMPAIGN, number, e164="+79522233446", zones=ZONES, dnc=(), now=NOW, pbx_zone="Europe/Moscow")
    assert [h.kind for h in verdict.holds] == [HoldKind.NOT_BEFORE, HoldKind.RETRY_WAIT]
    assert verdict.next_at == NOW + 600
    assert verdict.lines()[-1] == "next dialable at 2024-08-21 13:21 Wed PBX time"


def test_state_holds_never_let_go_by_themselves() -> None:
    for campaign, number, expected in [
        (replace(CAMPAIGN, state=CampaignState.PAUSED), NUMBER, HoldKind.CAMPAIGN_PAUSED),
        (replace(CAMPAIGN, state=CampaignState.CLOSED), NUMBER, HoldKind.CAMPAIGN_CLOSED),
        (CAMPAIGN, replace(NUMBER, result="SUCCESS", state="endCall", closed_at=NOW - 5), HoldKind.NUMBER_FINAL),
        (CAMPAIGN, replace(NUMBER, in_call=True), HoldKind.IN_CALL),
    ]:
        verdict = explain(campaign, number, e164=None, zones=ZONES, dnc=(), now=NOW, pbx_zone="Europe/Moscow")
        assert [h.kind for h in verdict.holds] == [expected]
        assert verdict.next_at is None and not verdict.allowed


def test_a_listed_number_is_never_allowed_with_or_without_an_e164_form() -> None:
    entry = DncEntry("79522233446", "poll-optout", NOW - 3600)
    assert kinds(dnc=(entry,)) == [HoldKind.DO_NOT_CALL]
    assert kinds(dnc=(entry,), e164=None) == [HoldKind.DO_NOT_CALL]
    verdict = explain(CAMPAIGN, NUMBER, e164=None, zones=ZONES, dnc=(entry,), now=NOW, pbx_zone="Europe/Moscow")
    assert verdict.next_at is None
    assert verdict.holds[0].text == "on the do-not-call list since 2024-08-21 12:11 Wed PBX time (poll-optout)"
