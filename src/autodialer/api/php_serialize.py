"""PHP ``serialize()`` of a number's params, byte for byte as ModuleAutoDialer stores them in ``m_TaskResults``.

The original keeps ``serialize($number['params'] ?? '')`` of the ``json_decode($body, true)`` value and serves it
verbatim as ``params``: ``""`` for numbers sent as plain strings, ``s:0:"";`` for objects without params,
``a:1:{s:6:"speach";s:4:"1000";}`` otherwise. String lengths are UTF-8 byte counts. PHP arrays turn keys that are
canonical decimal integers (``"1"``, ``"-5"``, not ``"01"``) into integer keys, so ``{"1": "x"}`` is
``a:1:{i:1;s:1:"x";}``. Floats follow ``serialize_precision = -1`` (shortest round trip, ``d:0.5;``, ``d:1;``,
``d:1.0E+25;``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")
_PHP_INT_MAX = 2**63 - 1


def php_serialize(value: object) -> str:
    """The PHP serialize() text of a JSON-decoded value (str, int, float, bool, None, dict, list)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: object, out: list[str]) -> None:
    if value is None:
        out.append("N;")
    elif isinstance(value, bool):
        out.append("b:1;" if value else "b:0;")
    elif isinstance(value, int):
        out.append(f"i:{value};")
    elif isinstance(value, float):
        out.append(f"d:{_php_float(value)};")
    elif isinstance(value, str):
        out.append(f's:{len(value.encode("utf-8"))}:"{value}";')
    elif isinstance(value, Mapping):
        out.append(f"a:{len(value)}:{{")
        for key, item in value.items():
            _write_key(str(key), out)
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append(f"a:{len(value)}:{{")
        for index, item in enumerate(value):
            out.append(f"i:{index};")
            _write(item, out)
        out.append("}")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__}")


def _write_key(key: str, out: list[str]) -> None:
    if _INT_KEY.match(key) and -_PHP_INT_MAX - 1 <= int(key) <= _PHP_INT_MAX:
        out.append(f"i:{int(key)};")
    else:
        _write(key, out)


def _php_float(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, _, exponent = text.lower().partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text.removesuffix(".0")
