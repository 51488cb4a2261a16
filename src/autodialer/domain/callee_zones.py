"""The callee's candidate time zones: which source decides, and what "every candidate zone" then means.

Order (the first source that gives anything decides, nothing is merged):

1. ``tz`` in the number's params: the CRM knows where its customer lives (a mobile number says where the SIM was
   issued, not where its owner sleeps), so one explicit IANA zone replaces the number's data.
2. A numbering-plan table (for Russia the regulator's DEF-range registry maps every range to a region), when the
   deployment has one (``AUTODIALER_NUMBERING_PLAN``): see docs/call-windows.md (no maintained package ships it, so
   none is built in).
3. libphonenumber's zones for the number: one for most landlines and for most countries; for Russian and Kazakh
   mobile numbers (+7 9xx) every zone of Russia, UTC+2 to UTC+12 (adapters.phone_numbering).
4. The campaign's default zone (else the PBX's zone) when the number gives none (unknown country, short number).

The campaign default never narrows a number that has zones of its own: for a +7 9xx number that would mean calling
Kamchatka at midnight because the campaign is in Moscow. A call is then allowed only when the window holds in every
candidate zone (call_window); for Russian mobiles that is a short daily stretch (docs/call-windows.md), and where it
is empty the number waits and its verdict says to pass ``tz``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ZoneSource(StrEnum):
    CRM_PARAM = "number's tz param"
    NUMBERING_PLAN = "numbering plan"
    PHONE_NUMBER = "phone number"
    CAMPAIGN_DEFAULT = "campaign default"


class UnknownTimeZone(ValueError):
    """A zone name that is not in the IANA database; ``details`` names the field."""

    error_id = "unknown-time-zone"

    def __init__(self, field: str, zone: str) -> None:
        super().__init__(f"{field}: {zone!r} is not an IANA time zone (e.g. 'Europe/Moscow', 'Asia/Novosibirsk')")
        self.details = {"field": field, "zone": zone}


@dataclass(frozen=True, slots=True)
class CalleeZones:
    zones: tuple[str, ...]  # sorted, distinct, at least one
    source: ZoneSource

    def __str__(self) -> str:
        if len(self.zones) == 1:
            return self.zones[0]
        return f"{len(self.zones)} candidate zones ({', '.join(self.zones)})"


@lru_cache(maxsize=1024)
def zone_info(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, kept: zoneinfo holds only 8 zones strongly and a Russian mobile has 26 candidates, so
    without this the rules would re-read tz files for every number."""
    return ZoneInfo(name)


def check_zone(zone: str, field: str) -> str:
    """``zone`` if the IANA database knows it, else UnknownTimeZone naming ``field``."""
    try:
        zone_info(zone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise UnknownTimeZone(field, zone) from e
    return zone


def resolve_callee_zones(
    *,
    crm_tz: str | None,
    plan_zones: Sequence[str] = (),
    number_zones: Sequence[str] = (),
    default_zone: str,
) -> CalleeZones:
    """The candidate zones by the order of the module docstring. ``crm_tz`` (the number's ``tz`` param; blank is
    absent), ``default_zone`` and every given zone must be IANA names, else UnknownTimeZone naming the source: a
    candidate zone is never dropped, since dropping one could allow a call outside the window there."""
    if crm_tz is not None and crm_tz.strip():
        return CalleeZones((check_zone(crm_tz.strip(), "params.tz"),), ZoneSource.CRM_PARAM)
    for zones, source in ((plan_zones, ZoneSource.NUMBERING_PLAN), (number_zones, ZoneSource.PHONE_NUMBER)):
        if zones:
            return CalleeZones(tuple(sorted({check_zone(z, source.value) for z in zones})), source)
    return CalleeZones((check_zone(default_zone, "default_zone"),), ZoneSource.CAMPAIGN_DEFAULT)
