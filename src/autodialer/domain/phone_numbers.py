"""Phone numbers as clients send them, and the two keys derived from them.

``phone`` is kept exactly as sent (MikoPBX shows it back). ``digits`` is what we dial: the number with ``+``, spaces,
dashes, dots and brackets stripped; anything else makes the number invalid (the original would dial garbage).
``phone_id`` is MikoPBX's row key within a task: the last 10 characters (``substr($n, -10)``), taken from the
digits, so ``+7 (952) 223-34-46`` and ``79522233446`` are the same number, as they are for the original whenever
it could tell (it only normalised a leading ``+``).
"""

from __future__ import annotations

from dataclasses import dataclass

PHONE_ID_LENGTH = 10
MAX_DIGITS = 20  # E.164 allows 15; room for international and operator prefixes
MAX_PHONE_LENGTH = 64  # task_numbers.phone
_SEPARATORS = str.maketrans("", "", "+ -.()")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number; the message says which rule it breaks."""

    error_id = "invalid-phone-number"


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    phone: str
    digits: str
    phone_id: str


def parse_phone(raw: str) -> PhoneNumber:
    """``raw`` as a PhoneNumber, or InvalidPhoneNumber.

    Rules: at most 64 characters; after removing ``+``, spaces, ``-``, ``.``, ``(`` and ``)`` only ASCII digits
    remain, at least one and at most 20 of them.
    """
    if len(raw) > MAX_PHONE_LENGTH:
        raise InvalidPhoneNumber(f"must be at most {MAX_PHONE_LENGTH} characters")
    digits = raw.translate(_SEPARATORS)
    if not digits:
        raise InvalidPhoneNumber("must contain digits")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidPhoneNumber("may contain only digits, '+', spaces, dashes, dots and brackets")
    if len(digits) > MAX_DIGITS:
        raise InvalidPhoneNumber(f"must have at most {MAX_DIGITS} digits")
    return PhoneNumber(phone=raw, digits=digits, phone_id=digits[-PHONE_ID_LENGTH:])


def phone_id_of(raw: str) -> str:
    """The phone_id of a number already accepted by parse_phone (stored numbers, the phone of a call); for text that
    parse_phone would refuse, its last 10 characters, so a lookup simply finds nothing."""
    try:
        return parse_phone(raw).phone_id
    except InvalidPhoneNumber:
        return raw[-PHONE_ID_LENGTH:]
