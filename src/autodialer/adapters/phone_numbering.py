"""libphonenumber (the ``phonenumbers`` package) behind two questions: a number's E.164 form, and its time zones.

Numbers without a country code are read in the default region (``RU``: ``8 952 223-34-46`` and ``9522233446`` are
``+79522233446``; the trunk prefix 8 and a leading country code 7 without ``+`` are understood). A number is accepted
when its length is possible for its country; it need not be in a range libphonenumber knows as assigned, so a
do-not-call request for a new range is never refused. phonenumbers' errors become UnparseablePhoneNumber here, once.

Zones are libphonenumber's prefix data: one zone for most landlines and most countries; "unknown" (``Etc/Unknown``)
is an empty answer, and the domain's rule (callee_zones) decides what then applies. One exception: for +7 numbers
with several zones (every mobile) libphonenumber has a single list for the whole country code, shared by Russia and
Kazakhstan, with Europe/Bucharest standing in for UTC+2 (Kaliningrad's offset only in winter: Bucharest keeps
summer time, Kaliningrad does not, so a Kaliningrad mobile could be rung at 08:00 in summer). There the tz database's
zones of the number's country are used instead: Russia's 26 zones (UTC+2 to UTC+12), Kazakhstan's 7 (all UTC+5
since 2024), which libphonenumber tells apart by the number's range; both for a range neither has assigned.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import timezone as phone_timezones

from autodialer.adapters.country_zones import zones_of_country
from autodialer.domain.e164 import UnparseablePhoneNumber, check_e164
from autodialer.domain.phone_numbers import phone_id_of

_UNKNOWN_ZONE = "Etc/Unknown"
# The common Russian spellings, read without libphonenumber (which parses ~35,000-70,000 numbers/s; a million-row
# do-not-call import cannot afford it): an optional +7, 7 or trunk 8, then ten digits starting with 3, 4, 8 or 9
# (geographic ABC and mobile DEF codes) but not 810. tests/adapters hold it equal to libphonenumber's answer for
# every input it takes; anything else goes the long way.
_SEVEN = re.compile(r"(?:\+?7|8)?((?!810)[3489][0-9]{9})")  # 810: Russia's international prefix
_SEPARATORS = str.maketrans("", "", " -()")

_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has a country code that does not exist",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short for a number of its country",
    phonenumbers.ValidationResult.TOO_LONG: "is too long for a number of its country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has a length no number of its country has",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "is a local number: give the area code",
}
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has a country code that does not exist",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


class UnknownRegion(ValueError):
    error_id = "unknown-region"

    def __init__(self, field: str, region: str) -> None:
        super().__init__(f"{field}: {region!r} is not a region libphonenumber knows (ISO 3166 alpha-2, e.g. 'RU')")
        self.details = {"field": field, "region": region}


class PhoneNumbering:
    """E.164 normalisation and zone look-up with one default region (``AUTODIALER_DEFAULT_REGION``)."""

    def __init__(self, default_region: str, field: str = "default_region") -> None:
        region = default_region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise UnknownRegion(field, default_region)
        self.default_region = region
        self._fast_ru = region == "RU"  # not KZ: its metadata reads some +7 spellings differently

    def e164(self, raw: str, field: str = "phone") -> str:
        """``raw`` as E.164, or UnparseablePhoneNumber naming ``field`` and the rule."""
        if len(raw) > 64:
            raise UnparseablePhoneNumber(field, raw[:64] + "…", "is longer than 64 characters")
        if self._fast_ru and (match := _SEVEN.fullmatch(raw.translate(_SEPARATORS))):
            return "+7" + match[1]
        return self.e164_by_libphonenumber(raw, field)

    def e164_by_libphonenumber(self, raw: str, field: str = "phone") -> str:
        """``e164`` without the fast path for Russian spellings (the tests' reference)."""
        try:
            number = phonenumbers.parse(raw, self.default_region)
        except phonenumbers.NumberParseException as e:
            raise UnparseablePhoneNumber(field, raw, _PARSE_ERRORS.get(e.error_type, "is not a phone number")) from e
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
            raise UnparseablePhoneNumber(field, raw, _REASONS.get(reason, "is not a possible number"))
        return check_e164(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), field)

    def zones(self, e164: str) -> tuple[str, ...]:
        """The time zones of an E.164 number (module docstring); () when there are none."""
        number = phonenumbers.parse(check_e164(e164), None)
        zones = tuple(sorted(z for z in phone_timezones.time_zones_for_number(number) if z != _UNKNOWN_ZONE))
        if number.country_code == 7 and len(zones) > 1:
            region = phonenumbers.region_code_for_number(number)  # None for a range neither country has assigned
            countries = (region,) if region in ("RU", "KZ") else ("RU", "KZ")
            return tuple(sorted({zone for country in countries for zone in zones_of_country(country)}))
        return zones


def dnc_key(numbering: PhoneNumbering, raw: str) -> str:
    """The do-not-call key of a number as a CRM or a caller gave it: its E.164 form, or for a number without one (an
    internal short number, ``101``) its digits, which never collide with an E.164 key (those start with ``+``)."""
    try:
        return numbering.e164(raw)
    except UnparseablePhoneNumber:
        return phone_id_of(raw) or raw[:64]
