"""The one-pass cut of ``FrameReader.frames`` gives exactly what the message-at-a-time rules give.

Inputs are built from the pieces that decide framing (CR, LF, CRLF, blank lines, ``:`` with and without a
space, empty keys, Follows, non-UTF-8 bytes) and fed in random splits to a reader with the batch path and one
without; frames, errors and what stays buffered must agree at every step.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.protocols.ami.errors import AMIProtocolError
from autodialer.protocols.ami.framing import FrameReader

_LINES = st.sampled_from(
    [
        b"Event: Newchannel",
        b"Event: Hangup",
        b"Response: Success",
        b"Response: Follows",
        b"response:\tFOLLOWS ",
        b"Output: 1 active channel",
        b"--END COMMAND--",
        b"Channel: PJSIP/201-00000001",
        b"AccountCode: ",
        b"Key:value",
        b"Key:",
        b"a:b: c",
        b": no key",
        b"no colon",
        b"Value:   three spaces",
        b"Name: \xff\xfe caf\xc3\xa9",
        b"",
    ]
)
_ENDS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n"])


@st.composite
def _streams(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 8))):
        lines = draw(st.lists(st.tuples(_LINES, _ENDS), min_size=1, max_size=6))
        out += b"".join(line + end for line, end in lines) + draw(st.sampled_from([b"\r\n", b"\r\n", b"\n", b""]))
    return out


def _run(reader: FrameReader, data: bytes, cuts: list[int]) -> list[object]:
    seen: list[object] = []
    for a, b in itertools.pairwise(sorted({0, *cuts, len(data)})):
        reader.feed(data[a:b])
        while True:
            try:
                frames = reader.frames()
            except AMIProtocolError as e:
                seen.append(("error", str(e)))
                return seen
            seen.extend(frames)
            if not frames:
                break
        seen.append(("buffered", reader.buffered))
    return seen


@settings(max_examples=600, deadline=None)
@given(data=_streams(), cuts=st.lists(st.integers(0, 600), max_size=6), limit=st.sampled_from([40, 1024 * 1024]))
def test_batch_cut_equals_message_at_a_time(data: bytes, cuts: list[int], limit: int) -> None:
    cuts = [c for c in cuts if c < len(data)]
    quick = _run(FrameReader(expect_banner=False, max_message_size=limit), data, cuts)
    slow = _run(FrameReader(expect_banner=False, max_message_size=limit, batch=False), data, cuts)
    assert quick == slow


def test_a_line_seen_before_maps_to_the_same_field_in_any_message() -> None:
    reader = FrameReader(expect_banner=False)
    reader.feed(b"Event: A\r\nX: 1\r\n\r\nEvent: B\r\nX: 1\r\nY:2\r\n\r\n")
    assert reader.frames() == [(("Event", "A"), ("X", "1")), (("Event", "B"), ("X", "1"), ("Y", "2"))]


def test_frames_before_a_broken_message_come_out_first() -> None:
    reader = FrameReader(expect_banner=False)
    reader.feed(b"Event: A\r\n\r\nno colon\r\n\r\nEvent: B\r\n\r\n")
    assert reader.frames() == [(("Event", "A"),)]
    try:
        reader.frames()
    except AMIProtocolError as e:
        assert "not a 'Key: Value' line" in str(e)
    else:
        raise AssertionError("the broken message must raise")
