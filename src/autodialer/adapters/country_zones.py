"""The tz database's own map of countries to zones (``zone.tab``, shipped by the ``tzdata`` package).

Used where libphonenumber knows a number's country but its zone data does not: for +7 its zones are one list for the
whole country code, shared by Russia and Kazakhstan, while the number's ranges say which of the two it is.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    text = (resources.files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coordinates, zone, *_comment = line.split("\t")
        table.setdefault(country, []).append(zone)
    return {country: tuple(sorted(zones)) for country, zones in table.items()}


def zones_of_country(region: str) -> tuple[str, ...]:
    """Every zone the tz database lists for an ISO 3166 alpha-2 country (``RU``: 26, ``KZ``: 7); () if none."""
    return _table().get(region.upper(), ())
