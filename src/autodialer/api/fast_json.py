"""PHP-style pretty JSON, byte-identical to ``json.dumps(value, indent=4, ensure_ascii=True)``, several times faster.

With ``indent`` the stdlib falls back to its pure-Python encoder; a 10,000-row results page (170,000 values) then
takes longer than MikoPBX clients' budget. Here rows of scalars (the common case) are rendered with one join each,
strings by the C escaper. Output: 4-space indent, ``": "`` and ``","``, non-ASCII as ``\\uXXXX``, ``/`` unescaped.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _string  # the C implementation when available
from typing import Any

_INDENT = "    "


def render_json_fast(value: Any) -> bytes:
    out: list[str] = []
    _write(value, out, "\n")
    return "".join(out).encode("ascii")


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _write(value: Any, out: list[str], newline: str) -> None:
    scalar = _scalar(value)
    if scalar is not None:
        out.append(scalar)
    elif isinstance(value, dict):
        _write_dict(value, out, newline)
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        out.append("[")
        for index, item in enumerate(value):
            out.append(inner if index == 0 else "," + inner)
            _write(item, out, inner)
        out.append(newline + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write_dict(value: dict[Any, Any], out: list[str], newline: str) -> None:
    if not value:
        out.append("{}")
        return
    inner = newline + _INDENT
    parts: list[str] = []
    nested = False
    for key, item in value.items():
        scalar = _scalar(item)
        if scalar is None:
            nested = True
            break
        parts.append(inner + _string(str(key)) + ": " + scalar)
    if not nested:
        out.append("{" + ",".join(parts) + newline + "}")
        return
    out.append("{")
    for index, (key, item) in enumerate(value.items()):
        out.append(("" if index == 0 else ",") + inner + _string(str(key)) + ": ")
        _write(item, out, inner)
    out.append(newline + "}")
