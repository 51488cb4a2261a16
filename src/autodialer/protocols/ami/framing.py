"""Byte-level AMI framing: bytes to frames (the banner line, blank-line-terminated messages) and fields to bytes.

Wire rules, from Asterisk's manager.c and the recorded Asterisk 22 traces:

* Lines end in CRLF. A bare LF is accepted as a line end too, because Asterisk's own reader accepts it; a CR that
  is not followed by LF is ordinary data.
* The server greets with one line, ``Asterisk Call Manager/11.0.0``, with no blank line after it.
* A message is one or more ``Key: Value`` lines closed by an empty line. Empty lines between messages are skipped.
* The value is everything after the first ``:``, minus one following space, so ``AccountCode: `` gives ``""`` and
  ``Value:   minrxlost=…`` keeps its leading spaces. Keys may repeat; order is kept.
* The first line of a message must be ``Key: Value``; a later line that is not (no ``:``, or an empty key) is
  skipped: manager.c relays such lines (a UserEvent from another AMI client carries its raw header lines).
* The legacy ``Response: Follows`` (``Command`` output before Asterisk 14) carries free-text lines after its headers,
  ended by ``--END COMMAND--`` and an empty line; those lines may themselves be empty.

Invariants: any byte sequence yields frames or ``AMIProtocolError``, nothing else; the result does not depend on
how the bytes were split into ``feed`` calls (frame size limits are measured on the frame, not the buffer); the
buffer of an incomplete frame never grows past ``max_message_size`` (plus a terminator's few bytes).
Text is decoded as UTF-8 with U+FFFD for invalid bytes: Asterisk passes CallerID names through unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from autodialer.protocols.ami.errors import AMIProtocolError
from autodialer.protocols.ami.messages import DEFAULT_PRODUCT, Banner

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024

_END = re.compile(rb"\n\r?\n")
# The longest terminator prefix that can sit unmatched at the end of the buffer ("\n\r").
_END_TAIL = 2
_FOLLOWS_END = re.compile(rb"--END COMMAND--\r?\n\r?\n")
_FOLLOWS_END_TAIL = len(b"--END COMMAND--\r\n\r")
_FOLLOWS_FIRST_LINE = re.compile(rb"response:[ \t]*follows[ \t]*\r?", re.IGNORECASE)
_UNSAFE = re.compile(r"[\r\n\x00]")
END_COMMAND = "--END COMMAND--"

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RawMessage:
    """One parsed message before it is classified; ``output`` is set only for ``Response: Follows``."""

    fields: Fields
    output: tuple[str, ...] | None = None


class FrameReader:
    """Incremental splitter: ``feed`` bytes, then call ``next_frame`` until it returns None."""

    def __init__(self, *, expect_banner: bool, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._expect_banner = expect_banner
        self._max = max_message_size
        # Where the terminator search resumes, so byte-by-byte feeding stays linear.
        self._scan_from = 0
        # Decided once the first line of the current message is complete.
        self._follows: bool | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back (non-zero at EOF means the peer cut a message short)."""
        return len(self._buf)

    def next_frame(self) -> Banner | RawMessage | None:
        if self._expect_banner:
            return self._banner()
        return self._message()

    def _banner(self) -> Banner | None:
        buf = self._buf
        i = buf.find(b"\n")
        if i < 0:
            self._check_incomplete(len(buf) - 1)
            return None
        line = bytes(buf[:i])
        del buf[: i + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self._max:
            raise AMIProtocolError(f"banner line longer than {self._max} bytes")
        text = line.decode("utf-8", "replace")
        product, sep, version = text.rpartition("/")
        if not sep or not product or not version or ":" in text:
            raise AMIProtocolError(f"expected a banner like 'Asterisk Call Manager/x.y.z', got {text[:80]!r}")
        self._expect_banner = False
        return Banner(version=version, product=product)

    def _message(self) -> RawMessage | None:
        buf = self._buf
        if self._follows is None:
            # Skip blank lines between messages (lenient: Asterisk's reader ignores them too).
            start = 0
            while True:
                if buf.startswith(b"\n", start):
                    start += 1
                elif buf.startswith(b"\r\n", start):
                    start += 2
                else:
                    break
            if start:
                del buf[:start]
            i = buf.find(b"\n")
            if i < 0:
                self._check_incomplete(len(buf) - 1)
                return None
            self._follows = _FOLLOWS_FIRST_LINE.fullmatch(buf, 0, i) is not None
        pattern, tail = (_FOLLOWS_END, _FOLLOWS_END_TAIL) if self._follows else (_END, _END_TAIL)
        m = pattern.search(buf, self._scan_from)
        if m is None:
            self._scan_from = max(0, len(buf) - tail)
            self._check_incomplete(len(buf) - tail)
            return None
        end = m.start()
        if end > self._max:
            raise AMIProtocolError(f"message longer than {self._max} bytes")
        block = bytes(buf[:end]).decode("utf-8", "replace")
        del buf[: m.end()]
        self._scan_from = 0
        follows, self._follows = self._follows, None
        return _parse_follows(block) if follows else RawMessage(_parse_block(block))

    def _check_incomplete(self, frame_size_at_least: int) -> None:
        if frame_size_at_least > self._max:
            raise AMIProtocolError(f"incomplete message longer than {self._max} bytes")


def _parse_field(line: str) -> tuple[str, str]:
    if line.endswith("\r"):
        line = line[:-1]
    key, sep, value = line.partition(":")
    if not sep or not key:
        raise AMIProtocolError(f"not a 'Key: Value' line: {line[:80]!r}")
    if value.startswith(" "):
        value = value[1:]
    return key, value


# One "Key: Value" line; the same rules as _parse_field, run in C over a whole block. The first form is for
# blocks whose every CR belongs to a CRLF (all of Asterisk's output), after CRLF -> LF; it avoids the lazy match.
_FIELD_LINE_LF = re.compile(r"^([^:\n]+):(?: )?(.*)$", re.MULTILINE)
_FIELD_LINE_ANY = re.compile(r"^([^:\n]+):(?: )?(.*?)\r?$", re.MULTILINE)


def _parse_block(block: str) -> Fields:
    text = block
    if "\r" in block:
        # The usual case: every CR is part of a CRLF (the last line's CR is in the block, its LF in the terminator).
        body = block[:-1] if block.endswith("\r") else block
        crs = body.count("\r")
        text = body.replace("\r\n", "\n") if crs == body.count("\r\n") else block
    pattern = _FIELD_LINE_LF if "\r" not in text else _FIELD_LINE_ANY
    fields: list[tuple[str, str]] = pattern.findall(text)
    if len(fields) == text.count("\n") + 1:
        return tuple(fields)
    # Some line is not "Key: Value": the line-by-line path skips it, or raises when it is the first line.
    return _parse_fields(block.split("\n"))


def _parse_fields(lines: list[str]) -> Fields:
    # The first line names the message and must be a field. A later line that is not "Key: Value" is skipped, as
    # Asterisk's own header lookup (astman_get_header) never sees it: manager.c relays such lines verbatim, e.g.
    # action_userevent copies every header line another AMI client sent (do_message keeps lines without a colon),
    # and a raw variable value holding a newline splits its line. One such line must not end the whole session.
    fields = [_parse_field(lines[0])]
    for line in lines[1:]:
        try:
            fields.append(_parse_field(line))
        except AMIProtocolError:
            continue
    return tuple(fields)


def _parse_follows(block: str) -> RawMessage:
    # Headers run until the first line that is not "Key: Value"; everything after it is command output.
    # An output line that happens to look like a header directly after the headers is read as one: the legacy
    # format has no separator, and every AMI library makes the same guess.
    lines = block.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the output's own final newline
    fields: list[tuple[str, str]] = []
    n = 0
    for n, line in enumerate(lines):  # noqa: B007 - n is used after the loop
        try:
            fields.append(_parse_field(line))
        except AMIProtocolError:
            break
    else:
        n = len(lines)
    output = tuple(line[:-1] if line.endswith("\r") else line for line in lines[n:])
    return RawMessage(tuple(fields), output)


def _check_field(key: str, value: str) -> None:
    if not key or ":" in key or _UNSAFE.search(key):
        raise AMIProtocolError(f"unsafe AMI key {key[:80]!r}: empty or holds ':', CR, LF or NUL")
    if _UNSAFE.search(value):
        raise AMIProtocolError(f"unsafe value for {key[:80]!r}: CR, LF or NUL would break the framing")


def encode_fields(fields: Iterable[tuple[str, str]], output: Iterable[str] | None = None) -> bytes:
    """Encode one message: ``Key: Value\\r\\n`` per field, then the empty line.

    Raises AMIProtocolError for an empty message, an empty key, ``:`` in a key, or CR/LF/NUL anywhere, since any
    of these would let data forge headers or end the message early. ``output`` (Follows only) is written as
    ``line\\n`` lines and ``--END COMMAND--``.
    """
    fields = tuple(fields)
    if not fields:
        raise AMIProtocolError("cannot encode a message without fields")
    text = "".join([f"{k}: {v}\r\n" for k, v in fields])
    n = len(fields)
    # Fast path: the joined text holds exactly our own CRLFs and no NUL, and the first ':' of every line is ours.
    if text.count("\n") != n or text.count("\r") != n or "\x00" in text or any(":" in k or not k for k, _ in fields):
        for k, v in fields:
            _check_field(k, v)
    if output is not None:
        lines = []
        for line in output:
            if _UNSAFE.search(line) or line == END_COMMAND:
                raise AMIProtocolError(f"unsafe command output line {line[:80]!r}")
            lines.append(line + "\n")
        text += "".join(lines) + END_COMMAND + "\r\n"
    return _utf8(text + "\r\n")


def encode_banner(banner: Banner) -> bytes:
    """``<product>/<version>\\r\\n``; refuses separators or line breaks that would make it unparseable."""
    product = banner.product or DEFAULT_PRODUCT
    if not banner.version or "/" in banner.version or ":" in product + banner.version:
        raise AMIProtocolError(f"invalid banner {product!r}/{banner.version!r}")
    if _UNSAFE.search(product) or _UNSAFE.search(banner.version):
        raise AMIProtocolError("banner holds CR, LF or NUL")
    return _utf8(f"{product}/{banner.version}\r\n")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate, e.g. from a surrogateescape-decoded file name
        raise AMIProtocolError(f"text is not encodable as UTF-8: {e.reason}") from e
