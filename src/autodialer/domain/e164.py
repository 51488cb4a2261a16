"""E.164, the one spelling of a phone number that do-not-call lists and frequency caps are keyed by.

``8 952 223-34-46`` (Russian trunk prefix 8), ``+7 952 2233446`` and ``79522233446`` are all ``+79522233446``.
Turning what a CRM sent into E.164 needs each country's numbering rules (libphonenumber's data), so it is done by
``adapters.phone_numbering``; this module holds the form itself and the error every edge reports.
"""

from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class UnparseablePhoneNumber(ValueError):
    """The text cannot be read as a phone number; the message names the field and the rule it breaks."""

    error_id = "unparseable-phone-number"

    def __init__(self, field: str, text: str, rule: str) -> None:
        super().__init__(f"{field}: {text!r} {rule}")
        self.details = {"field": field, "value": text, "rule": rule}


def is_e164(text: str) -> bool:
    return _E164.match(text) is not None


def check_e164(text: str, field: str = "phone") -> str:
    """``text`` if it is already E.164 (``+`` and 2..15 digits, the first not 0), else UnparseablePhoneNumber."""
    if not is_e164(text):
        raise UnparseablePhoneNumber(field, text, "is not in E.164 form: '+' then 2 to 15 digits, the first not 0")
    return text
