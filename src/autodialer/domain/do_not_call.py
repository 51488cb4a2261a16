"""Do-not-call listings: a global list and one per campaign, keyed by E.164, checked when a call is about to start.

A listing is permanent until removed: the verdict never names a time at which a listed number becomes dialable. A
campaign's list holds only that campaign; the global list (campaign_id None, where the poll opt-out key writes)
holds every campaign, v1 tasks included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autodialer.domain import time_words
from autodialer.domain.e164 import check_e164


@dataclass(frozen=True, slots=True)
class DncListing:
    e164: str
    campaign_id: int | None  # None: the global list
    since: float
    source: str  # "api", "csv import", "poll opt-out (task 1000000002)" …

    def __post_init__(self) -> None:
        check_e164(self.e164, "dnc.phone")


@dataclass(frozen=True, slots=True)
class DncEntryRecord:
    """A stored listing as the v2 API shows it: the key (E.164), the number as first listed, why and since when."""

    e164: str
    phone: str
    note: str
    source: str
    since: float
    campaign_id: int | None  # None: the global list


def dnc_texts(listings: Sequence[DncListing], e164: str, campaign_id: int, pbx_zone: str) -> list[str]:
    """Why ``e164`` may not be called by ``campaign_id``: one sentence per listing that covers it."""
    texts: list[str] = []
    for listing in sorted(listings, key=lambda x: (x.campaign_id is not None, x.since)):
        if listing.e164 != e164 or listing.campaign_id not in (None, campaign_id):
            continue
        which = "the global" if listing.campaign_id is None else f"campaign {listing.campaign_id}'s"
        since = time_words.pbx(listing.since, pbx_zone)
        texts.append(f"on {which} do-not-call list since {since} ({listing.source})")
    return texts
