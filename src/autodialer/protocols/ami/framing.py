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

Speed: ``frames`` cuts every complete message of the buffer in one pass while the bytes are in Asterisk's own shape
(CRLF line ends, no blank lines between messages, no ``Follows``), and maps each line to its field through a
bounded table of lines already seen (most lines of a call's events repeat). Anything else goes through the
message-at-a-time rules above from its first byte, so both paths give the same frames (a Hypothesis test holds
them to that).
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
_FOLLOWS_FIRST_LINE_TEXT = re.compile(_FOLLOWS_FIRST_LINE.pattern.decode(), re.IGNORECASE)
_LINES_KEPT = 16384
_UNSAFE = re.compile(r"[\r\n\x00]")
END_COMMAND = "--END COMMAND--"

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FollowsMessage:
    """A legacy ``Response: Follows`` before it is classified: its fields and the command output lines."""

    fields: Fields
    output: tuple[str, ...]


# What the reader produces: the banner, a message's fields (classified by the connection), or a Follows response.
Frame = Banner | Fields | FollowsMessage


class FrameReader:
    """Incremental splitter: ``feed`` bytes, then take ``frames()`` (all complete ones) or ``next_frame`` until it
    returns None (one at a time, by the general rules only)."""

    def __init__(
        self, *, expect_banner: bool, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, batch: bool = True
    ) -> None:
        self._buf = bytearray()
        self._batch = batch
        self._expect_banner = expect_banner
        self._max = max_message_size
        # Where the terminator search resumes, so byte-by-byte feeding stays linear.
        self._scan_from = 0
        # Decided once the first line of the current message is complete.
        self._follows: bool | None = None
        # Lines already parsed, with their field: most lines of a call's events repeat (Privilege, ChannelState,
        # Context, CallerIDNum…), and a repeated line then costs one dict lookup instead of a split and a tuple.
        # Exact by construction: a line maps to one field whatever message it is in. Cleared when it fills up.
        self._lines: dict[str, tuple[str, str]] = {}
        # After a region the one-pass cut cannot take, the buffer length below which it may try again.
        self._slow_until = -1
        # An error met after frames that ``frames`` returned first.
        self._error: AMIProtocolError | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back (non-zero at EOF means the peer cut a message short)."""
        return len(self._buf)

    def next_frame(self) -> Frame | None:
        if self._expect_banner:
            return self._banner()
        return self._message()

    def frames(self) -> list[Frame]:
        """Every complete frame in the buffer, in order. An error raises only once the frames before it are out:
        the bytes it is about stay buffered (or its error is remembered) and the next call raises it."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        out: list[Frame] = []
        try:
            while True:
                if self._batch and not self._expect_banner and self._follows is None and self._slow_until < 0:
                    batch = self._quick_messages()
                    if batch:
                        out += batch
                        continue
                frame = self.next_frame()
                if frame is None:
                    self._slow_until = -1
                    return out
                out.append(frame)
                if len(self._buf) <= self._slow_until:
                    self._slow_until = -1
        except AMIProtocolError as e:
            if not out:
                raise
            self._error = e
            return out

    def _quick_messages(self) -> list[Fields]:
        # Messages up to the last CRLFCRLF within the size limit, split there. This equals the message-at-a-time
        # rules while every LF of a block ends a CRLF: then "\n\r?\n" matches exactly at "\r\n\r\n", and lines
        # split at "\n" minus one trailing CR are the lines split at "\r\n" (a stray CR is data either way).
        # A block that breaks this (a bare LF, a blank line before it, Follows) ends the batch: the general rules
        # take over from its first byte.
        buf = self._buf
        end = buf.rfind(b"\r\n\r\n", 0, self._max + 3)  # the general rules measure up to its LF
        if end <= 0:
            return []
        region = bytes(buf[:end])
        text = region.decode("utf-8", "replace")  # UTF-8 never puts CR or LF inside a character
        blocks = text.split("\r\n\r\n")
        out: list[Fields] = []
        known = self._lines.get
        crlfs = 0  # the CRLFs the splits consumed, to count the region's LFs against
        for block in blocks:
            if not block or block[0] != "E":  # "Event: …" needs no more look
                first = block[:1]
                if first == "\r" or not first:
                    break  # a blank line between messages shows as a block starting with CRLF
                if first in "Rr" and _FOLLOWS_FIRST_LINE_TEXT.fullmatch(block, 0, _first_line_end(block)):
                    break  # Response: Follows has its own end
            if block[-1] == "\n":
                break  # a blank line after the last message
            lines = block.split("\r\n")
            fields = tuple(map(known, lines))
            if None in fields:
                learnt = self._learn(lines, list(fields))
                if learnt is None:
                    # Some line is not "Key: Value": the general rules skip it, or raise when it is the first line.
                    try:
                        learnt = _parse_block(block + "\r")  # as cut by "\n\r\n", with its CR
                    except AMIProtocolError:
                        break  # left in the buffer: next_frame raises it after the frames before it
                fields = learnt
            out.append(fields)  # type: ignore[arg-type] # no None left
            crlfs += len(lines) + 1
        taken = len(out)
        if taken == len(blocks):
            if text.count("\n") == crlfs - 2:  # the region holds all but the last terminator
                del buf[: end + 4]
                return out
        else:
            chars = sum(len(block) + 4 for block in blocks[:taken])
            if text.count("\n", 0, chars) == crlfs:
                del buf[: sum(len(raw) + 4 for raw in region.split(b"\r\n\r\n", taken)[:taken])]
                return out
        # A bare LF somewhere: this region is not in Asterisk's shape; the general rules take it.
        self._slow_until = len(buf) - end - 4
        return []

    def _learn(self, lines: list[str], fields: list[tuple[str, str] | None]) -> Fields | None:
        """The fields, once the lines not seen before are parsed; None when one is not a field (no ``:`` or key)."""
        lines_seen = self._lines
        if len(lines_seen) > _LINES_KEPT:
            lines_seen.clear()
        for i, line in enumerate(lines):
            if fields[i] is None:
                key, sep, value = line.partition(":")
                if not sep or not key:
                    return None
                fields[i] = lines_seen[line] = (key, value[1:] if value[:1] == " " else value)
        return tuple(fields)  # type: ignore[arg-type] # every None replaced

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

    def _message(self) -> Fields | FollowsMessage | None:
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
        return _parse_follows(block) if follows else _parse_block(block)

    def _check_incomplete(self, frame_size_at_least: int) -> None:
        if frame_size_at_least > self._max:
            raise AMIProtocolError(f"incomplete message longer than {self._max} bytes")


def _first_line_end(block: str) -> int:
    i = block.find("\r\n")
    return len(block) if i < 0 else i


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


def _parse_follows(block: str) -> FollowsMessage:
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
    return FollowsMessage(tuple(fields), output)


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
    keys = [k for k, _ in fields]  # a field that is not a pair raises here
    try:
        text = "\r\n".join(map(": ".join, fields)) + "\r\n"  # one C loop, where each field's f-string was Python
    except TypeError:  # a key or value that is not a str is written as its str(), as before
        text = "".join([f"{k}: {v}\r\n" for k, v in fields])
    n = len(fields)
    # Fast path: the joined text holds exactly our own CRLFs and no NUL, and the first ':' of every line is ours.
    if text.count("\n") != n or text.count("\r") != n or "\x00" in text or "" in keys or ":" in "".join(keys):
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
