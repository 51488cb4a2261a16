"""A JSON object read from a file with bounded memory: one top-level value at a time, big arrays item by item.

``POST /task`` may carry a million numbers (150 MB of JSON). Decoding it whole costs several times its size in
Python objects; here the body (spooled to a temporary file while it was received) is decoded in windows of about a
megabyte, and the items of the arrays the caller names (``numbers``) are handed one by one to a sink that validates
and stores them, so memory stays at the window plus what the sink keeps, whatever the body's size.

Equivalence with ``json.loads`` (then ``dict``): the same values, the same errors refused, a repeated key keeps its
last value, NaN/Infinity are refused, and the text may be UTF-8 (with or without a BOM), UTF-16 or UTF-32 as
``json.loads`` detects it. Each value is held to json_limits' depth limit.

How: the C scanner (``json.scanner``) decodes one value at a position of the window. A value that ends at
the window's edge may be cut (``12`` of ``123``), so it is decoded again once more text is in (values are at most
MAX_VALUE_CHARS long, so that retry is bounded). Runs of plain strings, the common shape of a number list, are
decoded in one ``json.loads`` call per window rather than one scan per item.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Mapping
from typing import IO, Any, Protocol

from autodialer.api.errors import Refusal
from autodialer.api.json_limits import MAX_DEPTH, check_depth, invalid_json, scan_value, too_deep

WINDOW_BYTES = 1 << 20
MAX_VALUE_CHARS = 16 << 20  # one value (a name, one number object): far above any real one
_NUMBER_TAIL = frozenset("0123456789.eE+-")
_WS = re.compile(r"[ \t\n\r]*")
_STRING_RUN = re.compile(r'(?:"[^"\\\x00-\x1f]*+"[ \t\n\r]*+,[ \t\n\r]*+)++')  # "a", "b", … (no escapes)


class ItemSink(Protocol):
    def add(self, item: Any) -> None: ...


class _Window:
    """The decoded text of ``source`` from the current position on, refilled as it is consumed."""

    def __init__(self, source: IO[bytes], window_bytes: int, max_depth: int) -> None:
        self._source = source
        self.max_depth = max_depth
        self._window_bytes = window_bytes
        head = source.read(4)
        self._decoder = codecs.getincrementaldecoder(json.detect_encoding(head))()
        self.text = ""
        self.pos = 0
        self.eof = False
        self._feed(head)

    def _feed(self, data: bytes) -> None:
        try:
            self.text += self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            raise invalid_json(e) from e

    def fill(self) -> bool:
        """Read more text (dropping what was consumed); False at the end of the source."""
        if self.eof:
            return False
        self.text = self.text[self.pos :]
        self.pos = 0
        data = self._source.read(self._window_bytes)
        self.eof = not data
        self._feed(data)
        return not self.eof

    def skip_ws(self) -> str:
        """Skip whitespace; the next character, or "" at the end."""
        while True:
            self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text) or not self.fill():
                return self.text[self.pos : self.pos + 1]

    def expect(self, allowed: str, what: str) -> str:
        char = self.skip_ws()
        if not char or char not in allowed:
            raise invalid_json(f"expecting {what} at character {self.pos}")
        self.pos += 1
        return char

    def value(self, outer: int) -> Any:
        """Decode the value at the position (whitespace already skipped), found inside ``outer`` containers."""
        while True:
            try:
                value, end = scan_value(self.text, self.pos)
            except RecursionError:
                raise too_deep(self.max_depth) from None
            except StopIteration as e:
                if self._grow():
                    continue
                raise invalid_json(f"expecting a value at character {e.value}") from None
            except ValueError as e:
                if self._grow():
                    continue
                raise invalid_json(e) from e
            if self._maybe_cut(value, end) and self._grow():
                continue
            check_depth(value, self.max_depth, outer=outer)
            self.pos = end
            return value

    def _maybe_cut(self, value: Any, end: int) -> bool:
        """Whether the value just decoded may go on beyond the window: it ends at the window's edge, or it is a
        number followed by what could continue it (``0.`` of ``0.5``, ``1e`` of ``1e5``)."""
        if end == len(self.text):
            return True
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return is_number and self.text[end] in _NUMBER_TAIL

    def _grow(self) -> bool:
        if len(self.text) - self.pos > MAX_VALUE_CHARS:
            raise invalid_json(f"a value longer than {MAX_VALUE_CHARS} characters at character {self.pos}")
        return self.fill()

    def string_run(self) -> list[Any]:
        """The plain strings from the position up to the last one followed by a comma in the window, at once."""
        match = _STRING_RUN.match(self.text, self.pos)
        if match is None:
            return []
        items: list[Any] = json.loads("[" + self.text[self.pos : match.end()].rstrip()[:-1] + "]")
        self.pos = match.end()
        return items


def read_object(
    source: IO[bytes],
    streamed: Mapping[str, Callable[[], ItemSink]],
    *,
    max_depth: int = MAX_DEPTH,
    window_bytes: int = WINDOW_BYTES,
) -> dict[str, Any]:
    """The JSON object in ``source``; for a key in ``streamed`` whose value is an array, the value is a new sink
    from ``streamed[key]()`` that was given every item in order. Refusal (400) for anything ``json.loads`` refuses,
    for a body that is not an object, and for nesting deeper than ``max_depth``."""
    window = _Window(source, window_bytes, max_depth)
    if window.skip_ws() != "{":
        if window.skip_ws():
            window.value(0)  # a valid non-object body is "not an object", an invalid one "not JSON"
        raise Refusal(["body: must be a JSON object"])
    window.pos += 1
    result: dict[str, Any] = {}
    if window.skip_ws() == "}":
        window.pos += 1
    else:
        while True:
            if window.skip_ws() != '"':
                raise invalid_json(f"expecting a property name in double quotes at character {window.pos}")
            key = window.value(1)
            window.expect(":", "':'")
            first = window.skip_ws()
            if key in streamed and first == "[":
                window.pos += 1
                result[key] = _stream_array(window, streamed[key]())
            else:
                result[key] = window.value(1)
            if window.expect(",}", "',' or '}'") == "}":
                break
    if window.skip_ws():
        raise invalid_json(f"extra data at character {window.pos}")
    return result


def _stream_array(window: _Window, sink: ItemSink) -> ItemSink:
    if window.skip_ws() == "]":
        window.pos += 1
        return sink
    while True:  # here the next item starts (whitespace skipped)
        for item in window.string_run():
            sink.add(item)
        if not window.skip_ws():
            raise invalid_json("unexpected end of the body inside an array")
        sink.add(window.value(2))
        if window.expect(",]", "',' or ']'") == "]":
            return sink
        window.skip_ws()
