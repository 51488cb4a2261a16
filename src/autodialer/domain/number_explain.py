"""Why a campaign's number waits: eligibility's verdict plus the holds of the campaign's and the row's own state.

``eligibility.evaluate`` judges the number's own rules (timeCallAllow, retry wait, do-not-call, and the window and
attempt limits when a campaign has them). Around it this adds what holds every number alike or ends the number's
dialling: a paused or closed campaign, a row with its final result, a number in a call now. None of these lets go by
itself as time passes, so any of them makes ``next_at`` None. The live holds (the target's agents and lines, the PBX
link) are eligibility's, judged from ``conditions`` when the caller knows them (the running service); when it does
not, the verdict says so in its last line rather than let "may be dialled now" claim more than was checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from autodialer.domain import time_words
from autodialer.domain.attempt_limits import PastAttempt
from autodialer.domain.callee_zones import CalleeZones
from autodialer.domain.campaigns import Campaign, CampaignState, NumberRecord
from autodialer.domain.dial_capacity import DialConditions
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.eligibility import LIVE_UNKNOWN, CampaignRules, Hold, HoldKind, NumberFacts, Verdict, evaluate


@dataclass(frozen=True, slots=True)
class DncEntry:
    """A do-not-call row of the number: on the global list (``campaign_id`` None) or on a campaign's."""

    phone: str
    source: str
    since: float
    campaign_id: int | None = None


def explain(
    campaign: Campaign,
    number: NumberRecord,
    *,
    e164: str | None,
    zones: CalleeZones,
    dnc: Sequence[DncEntry],
    now: float,
    pbx_zone: str,
    rules: CampaignRules | None = None,
    attempts: Sequence[PastAttempt] = (),
    conditions: DialConditions | None = None,
    live_known: bool = True,
) -> Verdict:
    """The verdict for ``number`` of ``campaign`` at ``now`` under ``rules`` (the engine's: the call window when one
    is set). ``e164`` is None when the number has no E.164 form (a short internal number): its do-not-call entries
    are then named without eligibility's E.164 listing. ``conditions``: the campaign's target, lines and link now;
    ``live_known`` False (no dialer in this process) adds ``LIVE_UNKNOWN`` as the last line of a verdict that lets
    the number go now or at a known time (one held for good does not wait for an agent)."""
    rules = rules or CampaignRules(campaign.id)
    listings = tuple(DncListing(e164, e.campaign_id, e.since, e.source) for e in dnc) if e164 else ()
    facts = NumberFacts(
        e164=e164 or "+0",
        zones=zones,
        not_before=number.not_before,
        retry_at=number.retry_at,
        dnc=listings,
        attempts=tuple(attempts),
    )
    if number.retry_at > now:
        without_wait = evaluate(rules, replace(facts, retry_at=0.0), now, pbx_zone)
        if without_wait.next_at == number.retry_at:
            facts = replace(facts, retry_at=0.0)  # the wait the dialer set for the rules' own release: they say it
    own = _state_holds(campaign, number, pbx_zone)
    if e164 is None:
        own += [
            Hold(
                HoldKind.DO_NOT_CALL,
                f"on the do-not-call list since {time_words.pbx(e.since, pbx_zone)} ({e.source})",
                None,
            )
            for e in dnc
        ]
    # The live holds only while nothing of the campaign's or the row's own holds it for good: a paused campaign's
    # or a final number's agent is not what it waits for.
    verdict = evaluate(rules, facts, now, pbx_zone, None if own else conditions)
    if not live_known and not own and verdict.next_at is not None:  # only where the live state would matter
        verdict = replace(verdict, note=LIVE_UNKNOWN)
    if not own:
        return verdict
    return Verdict(now, (*own, *verdict.holds), None, pbx_zone, note=verdict.note)


def _state_holds(campaign: Campaign, number: NumberRecord, pbx_zone: str) -> list[Hold]:
    holds: list[Hold] = []
    if campaign.state is CampaignState.PAUSED:
        holds.append(Hold(HoldKind.CAMPAIGN_PAUSED, "the campaign is paused: resume it to dial", None))
    elif campaign.state is CampaignState.CLOSED:
        by = "the dialer, every number being final" if campaign.closed_by_dialer else "its owner"
        holds.append(Hold(HoldKind.CAMPAIGN_CLOSED, f"the campaign was closed by {by}", None))
    if number.result:
        closed = f" at {time_words.pbx(number.closed_at, pbx_zone)}" if number.closed_at else ""
        text = f"has its final result {number.result} (state {number.state}){closed}"
        holds.append(Hold(HoldKind.NUMBER_FINAL, text, None))
    elif number.in_call:
        holds.append(Hold(HoldKind.IN_CALL, "is in a call now; its outcome decides what comes next", None))
    return holds
