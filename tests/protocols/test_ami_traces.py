"""Every recorded Asterisk 22 AMI stream, fed to both roles whole, byte by byte and in random splits.

For each connection of each ``*.ami.jsonl`` trace the S->C bytes go to a client-role connection and the C->S
bytes to a server-role one. The item lists must not depend on the split, and every recorded message must
re-encode to exactly the bytes Asterisk (or the lab client) sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.asterisk_fixtures import TRACES

from autodialer.protocols.ami import (
    NEED_DATA,
    Action,
    AMIConnection,
    Banner,
    ConnectionClosed,
    Event,
    Item,
    ListResult,
    Response,
    Role,
)

EOF_MARK = "<<TCP connection closed"
LIST_ACTIONS = {
    "PJSIPShowEndpoints",
    "ExtensionStateList",
    "DeviceStateList",
    "QueueStatus",
    "QueueSummary",
    "DBGetTree",
    "DBGet",
    "CoreShowChannels",
}


@dataclass(frozen=True)
class Stream:
    trace: str
    conn: str
    direction: str
    chunks: tuple[bytes, ...]  # one per recorded message, as it arrived
    eof: bool

    @property
    def role(self) -> Role:
        return Role.CLIENT if self.direction == "S->C" else Role.SERVER

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    def __str__(self) -> str:
        return f"{self.trace[:2]}-{self.conn}-{self.direction}"


def _load() -> list[Stream]:
    raw: dict[tuple[str, str, str], list[str]] = {}
    for path in sorted(TRACES.glob("*.ami.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if "conn" not in rec:
                continue  # the lab's NOTE lines
            raw.setdefault((path.name, rec["conn"], rec["dir"]), []).append(rec["raw"])
    streams = []
    for (name, conn, direction), records in raw.items():
        eof = bool(records) and records[-1].startswith(EOF_MARK)
        body = records[:-1] if eof else records
        assert not any(r.startswith(EOF_MARK) for r in body)
        streams.append(Stream(name, conn, direction, tuple(r.encode() for r in body), eof))
    return streams


STREAMS = _load()
BY_KEY = {(s.trace[:2], s.conn, s.direction): s for s in STREAMS}


def _list_ids(stream: Stream) -> list[str]:
    """ActionIDs of the list actions the client sent on the same connection (what the adapter would fold)."""
    partner = next((s for s in STREAMS if (s.trace, s.conn) == (stream.trace, stream.conn) and s is not stream), None)
    if partner is None or stream.role is Role.SERVER:
        return []
    actions = _parse(partner, [partner.data])
    return [a.action_id for a in actions if isinstance(a, Action) and a.name in LIST_ACTIONS and a.action_id]


def _parse(stream: Stream, chunks: list[bytes], fold: bool = False) -> list[Item]:
    conn = AMIConnection(stream.role)
    if fold:
        for action_id in _list_ids(stream):
            conn.expect_list(action_id)
    items: list[Item] = []
    for chunk in chunks:
        if not chunk:
            continue  # b"" would mean EOF
        conn.receive_data(chunk)
        items.extend(conn.events())
    if stream.eof:
        conn.receive_data(b"")
        items.extend(conn.events())
        assert conn.next_event() == ConnectionClosed()  # stays closed
    else:
        assert conn.next_event() is NEED_DATA
    return items


def _bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_every_trace_is_loaded() -> None:
    assert len({s.trace for s in STREAMS}) == 14
    assert sum(len(s.chunks) for s in STREAMS) > 1250


@pytest.mark.parametrize("stream", STREAMS, ids=str)
@pytest.mark.parametrize("fold", [False, True], ids=["plain", "folded"])
def test_split_does_not_change_items(stream: Stream, fold: bool) -> None:
    whole = _parse(stream, [stream.data], fold)
    assert _parse(stream, list(stream.chunks), fold) == whole
    assert _parse(stream, _bytewise(stream.data), fold) == whole


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_splits_give_identical_items(data: st.DataObject) -> None:
    stream = data.draw(st.sampled_from(STREAMS), label="stream")
    raw = stream.data
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=40), label="cuts"))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _parse(stream, chunks, fold=True) == _parse(stream, [raw], fold=True)


@pytest.mark.parametrize("stream", STREAMS, ids=str)
def test_one_item_per_recorded_message_and_exact_reencoding(stream: Stream) -> None:
    items = _parse(stream, [stream.data])
    if stream.eof:
        assert items.pop() == ConnectionClosed()
    assert len(items) == len(stream.chunks)
    encoder = AMIConnection(Role.SERVER if stream.role is Role.CLIENT else Role.CLIENT)
    for item, chunk in zip(items, stream.chunks, strict=True):
        assert isinstance(item, (Banner, Action, Response, Event))
        assert encoder.send(item) == chunk


@pytest.mark.parametrize("stream", [s for s in STREAMS if s.role is Role.CLIENT], ids=str)
def test_folding_keeps_every_other_item_in_arrival_order(stream: Stream) -> None:
    plain = _parse(stream, [stream.data])
    folded = _parse(stream, [stream.data], fold=True)
    ids = set(_list_ids(stream))
    unfolded_rest = [i for i in plain if not (isinstance(i, (Response, Event)) and i.action_id in ids)]
    assert [i for i in folded if not isinstance(i, ListResult)] == unfolded_rest
    results = [i for i in folded if isinstance(i, ListResult)]
    assert sorted(r.action_id or "" for r in results) == sorted(ids)
    for result in results:
        # The folded parts are exactly the plain items with that ActionID, in order.
        parts = [i for i in plain if isinstance(i, (Response, Event)) and i.action_id == result.action_id]
        assert parts == [result.response, *result.items, result.complete]
        assert result.complete is not None
        assert result.complete.get("ListItems") == str(len(result.items))


def _items(key: tuple[str, str, str], fold: bool = False) -> list[Item]:
    stream = BY_KEY[key]
    return _parse(stream, [stream.data], fold)


def _results(key: tuple[str, str, str]) -> dict[str, ListResult]:
    return {i.action_id or "": i for i in _items(key, fold=True) if isinstance(i, ListResult)}


def test_trace01_banner_login_and_lists() -> None:
    items = _items(("01", "main", "S->C"), fold=True)
    assert items[0] == Banner(version="11.0.0", product="Asterisk Call Manager")
    login = items[1]
    assert isinstance(login, Response)
    assert (login.status, login.action_id, login.message) == ("Success", "main-1", "Authentication accepted")
    results = _results(("01", "main", "S->C"))
    ext = results["main-6"]
    assert [e.name for e in ext.items] == ["ExtensionStatus", "ExtensionStatus"]
    assert [e.get("Exten") for e in ext.items] == ["202", "201"]
    assert ext.complete is not None and ext.complete.name == "ExtensionStateListComplete"
    assert ext.complete.get("ListItems") == "2"
    empty = results["main-14"]  # DBGetTree of an unknown family: Success, then the Complete directly
    assert empty.response.message == "Result will follow" and empty.items == ()
    assert empty.complete is not None and empty.complete.name == "DBGetTreeComplete"
    assert [e.get("Val") for e in results["main-13"].items] == ["5", "running"]
    assert len(results["main-8"].items) == 7  # DeviceStateList


def test_trace01_unknown_action_and_pong() -> None:
    items = _items(("01", "main", "S->C"))
    i = next(n for n, x in enumerate(items) if isinstance(x, Response) and x.action_id == "main-17")
    error, bad = items[i], items[i + 1]
    assert isinstance(error, Response) and error.status == "Error"
    assert error.message is not None and error.message.startswith("Invalid/unknown command: NoSuchAction.")
    assert isinstance(bad, Event) and bad.name == "RequestBadFormat"
    pong = items[i + 2]  # the Ping sent without an ActionID is answered without one
    assert isinstance(pong, Response) and pong.action_id is None and pong.get("ping") == "Pong"


def test_empty_values_and_values_with_separators() -> None:
    events = [i for i in _items(("02", "main", "S->C")) if isinstance(i, Event)]
    newchannel = next(e for e in events if e.name == "Newchannel")
    assert newchannel.get("AccountCode") == ""
    assert newchannel.get("accountcode") == ""  # case-insensitive lookup
    actions = [i for i in _items(("02", "main", "C->S")) if isinstance(i, Action)]
    assert [a.get("Filter") for a in actions if a.name == "Filter"] == [
        "!Event: VarSet",
        "!Event: RTCPSent",
        "!Event: RTCPReceived",
    ]


def test_trace02_originate_variables_and_originate_response_actionid() -> None:
    actions = [i for i in _items(("02", "main", "C->S")) if isinstance(i, Action)]
    originate = next(a for a in actions if a.name == "Originate")
    assert originate.get_all("Variable") == ["DIALER_MODE=bridge", "CAMPAIGN_ID=42", "LEAD_ID=5551001"]
    assert originate.get("Variable") == "DIALER_MODE=bridge"
    events = [i for i in _items(("02", "main", "S->C")) if isinstance(i, Event)]
    (response,) = [e for e in events if e.name == "OriginateResponse"]
    assert response.action_id == originate.action_id == "orig-5551001-c8de"
    assert response.get("Response") == "Success" and response.get("Reason") == "4"
    assert response.get("Uniqueid") == originate.get("ChannelId")


def test_trace09_reconnects() -> None:
    assert _items(("09", "reconnect1", "S->C")) == [ConnectionClosed()]  # accepted, closed before any banner
    restart = _items(("09", "main", "S->C"))
    shutdown = restart[-2]
    assert isinstance(shutdown, Event) and shutdown.name == "Shutdown" and shutdown.get("Restart") == "True"
    assert restart[-1] == ConnectionClosed()
    logoff = _items(("09", "after-crash3", "S->C"))
    goodbye = logoff[-2]
    assert isinstance(goodbye, Response) and goodbye.status == "Goodbye"


def test_lf_only_copy_of_every_trace_parses_to_the_same_items() -> None:
    # Asterisk's own reader accepts bare LF; so do we, with identical results.
    for stream in STREAMS:
        lf = Stream(stream.trace, stream.conn, stream.direction, (stream.data.replace(b"\r\n", b"\n"),), stream.eof)
        assert _parse(lf, list(lf.chunks)) == _parse(stream, [stream.data]), str(stream)
