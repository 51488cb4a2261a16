"""The limits every JSON body we parse is held to: nesting depth, and refusals that say what was wrong.

Python's decoder recurses once per nesting level; 3,000 levels of ``[`` raise RecursionError (an HTTP 500 and a
long traceback in the log). No MikoPBX body nests deeper than four levels (a task's ``numbers[].params``, a poll's
``questions[].press[]``), so anything deeper than MAX_DEPTH is refused with 400 before any handler sees it, and the
decoder's own recursion is caught the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from autodialer.api.errors import Refusal

MAX_DEPTH = 32


class JsonTooDeep(Refusal):
    """A body nested deeper than the limit: refused (400) wherever JSON is read, even where bad JSON is tolerated."""


def too_deep(max_depth: int = MAX_DEPTH) -> JsonTooDeep:
    return JsonTooDeep([f"body: JSON must not be nested deeper than {max_depth} levels"])


def invalid_json(detail: object) -> Refusal:
    return Refusal([f"body: must be valid JSON ({detail})"])


def no_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON (Python's decoder accepts them by default)."""
    raise ValueError(f"{name} is not JSON")


# The C scanner behind json.loads: (text, position) -> (value, end), StopIteration when no value starts there.
_DECODER = json.JSONDecoder(parse_constant=no_constant)
scan_value: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def check_depth(value: Any, max_depth: int = MAX_DEPTH, *, outer: int = 0) -> None:
    """Raise the 400 refusal if ``value``, found inside ``outer`` open containers, takes the nesting beyond
    ``max_depth`` (a scalar adds nothing, ``[]`` one level)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, int]] = [(value, outer + 1)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise too_deep(max_depth)
        children = container.values() if isinstance(container, dict) else container
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads(text: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text to Python values, refused (400) when invalid or nested deeper than ``max_depth``."""
    try:
        value = json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise too_deep(max_depth) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise invalid_json(e) from e
    check_depth(value, max_depth)
    return value
