"""Field checks shared by the task and poll validators: typed, bounded, and safe to hand to the PBX.

Every check appends ``"<field>: <rule>"`` to a :class:`FieldErrors` collector and returns the normalised value (or
None), so one request reports every bad field at once. Strings never contain control characters (C0, DEL, C1,
U+2028/U+2029): anything a client sends may end up in an AMI action, a FastAGI reply or a TTS prompt, where CR/LF
would split a message. Integers may arrive as JSON numbers or as digit strings (1C sends both); booleans are never
integers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request

from autodialer.api.errors import Refusal

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_ERRORS = 20
MAX_BODY_BYTES = 256 * 1024 * 1024  # a million numbers as objects with params fit


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


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytearray:
    """The raw body, refused with 413 beyond ``limit`` bytes (checked while reading, not after)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refusal([f"body: must be at most {limit} bytes"], status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refusal([f"body: must be at most {limit} bytes"], status_code=413)
    return body


def parse_json_body(body: bytes | bytearray) -> Any:
    """The request body as JSON whatever the Content-Type (Phalcon's getJsonRawBody ignores it)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise Refusal([f"body: must be valid JSON ({e})"]) from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes | bytearray) -> dict[str, Any]:
    payload = parse_json_body(body)
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
