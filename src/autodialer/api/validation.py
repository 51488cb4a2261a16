"""Field checks shared by the task and poll validators: typed, bounded, and safe to hand to the PBX.

Every check appends ``"<field>: <rule>"`` to a :class:`FieldErrors` collector and returns the normalised value (or
None), so one request reports every bad field at once. Strings never contain control characters (C0, DEL, C1,
U+2028/U+2029): anything a client sends may end up in an AMI action, a FastAGI reply or a TTS prompt, where CR/LF
would split a message. Integers may arrive as JSON numbers or as digit strings (1C sends both); booleans are never
integers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from autodialer.api import json_limits
from autodialer.api.errors import Refusal

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_ERRORS = 20


class FieldErrors:
    """Collects field refusals; :meth:`raise_if_any` turns them into one 400 Refusal."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, field: str, rule: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{field}: {rule}")

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    def raise_if_any(self) -> None:
        if self.errors:
            raise Refusal(list(self.errors))


def parse_json_object(body: bytes | bytearray) -> dict[str, Any]:
    """The request body as a JSON object whatever the Content-Type (Phalcon's getJsonRawBody ignores it), held to
    json_limits' depth limit."""
    payload = json_limits.loads(body)
    if not isinstance(payload, dict):
        raise Refusal(["body: must be a JSON object"])
    return payload


def has_control_chars(text: str) -> bool:
    return _CONTROL.search(text) is not None


def text(
    errors: FieldErrors,
    field: str,
    value: object,
    *,
    max_len: int,
    allow_int: bool = False,
    pattern: re.Pattern[str] | None = None,
    rule: str = "",
) -> str | None:
    """A string field (or an integer rendered as digits when ``allow_int``). None for JSON null."""
    if value is None:
        return None
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(field, "must be a string" + (" or an integer" if allow_int else ""))
        return None
    if len(value) > max_len:
        errors.add(field, f"must be at most {max_len} characters")
        return None
    if has_control_chars(value):
        errors.add(field, "must not contain control characters (CR, LF, …)")
        return None
    if pattern is not None and not pattern.fullmatch(value):
        errors.add(field, rule or f"must match {pattern.pattern}")
        return None
    return value


def integer(errors: FieldErrors, field: str, value: object, lo: int, hi: int) -> int | None:
    """An integer in lo..hi, sent as a JSON integer or a string of digits."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20
    ):
        number = int(value)
    if number is None or not lo <= number <= hi:
        errors.add(field, f"must be an integer in {lo}..{hi}")
        return None
    return number


def one_of(errors: FieldErrors, field: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        errors.add(field, f"must be one of {shown}")
        return None
    return value


def each_item(
    errors: FieldErrors, field: str, value: object, max_items: int, check: Callable[[str, object], None]
) -> None:
    """Run ``check(item_field, item)`` on every item of a list field."""
    if not isinstance(value, list):
        errors.add(field, "must be a list")
        return
    if len(value) > max_items:
        errors.add(field, f"must have at most {max_items} items")
        return
    for index, item in enumerate(value):
        if errors.full:
            return
        check(f"{field}[{index}]", item)
