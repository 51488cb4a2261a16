"""Opaque page cursors: the id to continue after, so pages stay stable while rows are added (keyset pagination)."""

from __future__ import annotations

import base64
import binascii

from autodialer.domain.campaigns import InvalidField

_PREFIX = "after:"


def encode(after_id: int | None) -> str | None:
    if after_id is None:
        return None
    return base64.urlsafe_b64encode(f"{_PREFIX}{after_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    """The id a cursor continues after; InvalidField naming ``cursor`` for anything this API did not hand out."""
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text.removeprefix(_PREFIX)
    if not text.startswith(_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise InvalidField("is not a cursor this API returned (use next_cursor of the previous page)", "cursor")
    return int(digits)


_KEY_PREFIX = "key:"


def encode_key(after_key: str | None) -> str | None:
    """A cursor continuing after a text key (a do-not-call list's E.164 numbers)."""
    if after_key is None:
        return None
    return base64.urlsafe_b64encode(f"{_KEY_PREFIX}{after_key}".encode()).decode().rstrip("=")


def decode_key(cursor: str | None) -> str | None:
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    key = text.removeprefix(_KEY_PREFIX)
    if not text.startswith(_KEY_PREFIX) or not key or len(key) > 64 or not key.isprintable():
        raise InvalidField("is not a cursor this API returned (use next_cursor of the previous page)", "cursor")
    return key
