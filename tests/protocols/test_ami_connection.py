"""AMIConnection and framing rules beyond the traces: leniency, limits, encoding refusals, Follows, folding."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.protocols.ami import (
    NEED_DATA,
    Action,
    ActionIdSequence,
    AMIConnection,
    AMIProtocolError,
    Banner,
    ConnectionClosed,
    Event,
    Item,
    ListResult,
    Response,
    Role,
)
from autodialer.protocols.ami.framing import _parse_block, _parse_fields
from autodialer.protocols.ami.messages import parsed_event

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def client(*chunks: bytes, **kw: int) -> list[Item]:
    conn = AMIConnection(Role.CLIENT, **kw)
    out: list[Item] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        out.extend(conn.events())
    return out


def server(data: bytes) -> list[Item]:
    conn = AMIConnection(Role.SERVER)
    conn.receive_data(data)
    return conn.events()


def test_banner_then_need_data_until_blank_line() -> None:
    conn = AMIConnection(Role.CLIENT)
    conn.receive_data(BANNER + b"Response: Success\r\nActionID: a\r\n")
    assert conn.next_event() == Banner("11.0.0")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\r\n")
    assert conn.next_event() == Response((("Response", "Success"), ("ActionID", "a")))


def test_bare_lf_and_mixed_line_ends_are_accepted() -> None:
    crlf = client(BANNER + b"Event: A\r\nX: 1\r\n\r\n")
    assert client(b"Asterisk Call Manager/11.0.0\nEvent: A\nX: 1\n\n") == crlf
    assert client(b"Asterisk Call Manager/11.0.0\r\nEvent: A\nX: 1\r\n\n") == crlf


def test_value_rules() -> None:
    [_, event] = client(BANNER + b"Event: A\r\nEmpty: \r\nNoSpace:x\r\nColons: a: b: c\r\nSpaces:   x \r\n\r\n")
    assert isinstance(event, Event)
    assert event.get("Empty") == ""
    assert event.get("NoSpace") == "x"
    assert event.get("Colons") == "a: b: c"
    assert event.get("Spaces") == "  x "
    assert event.get("Missing") is None and event.get("Missing", "d") == "d"
    assert "empty" in event and "missing" not in event


def test_blank_lines_between_messages_are_skipped() -> None:
    assert client(BANNER + b"\r\n\r\nEvent: A\r\n\r\n\nEvent: B\r\n\r\n") == [
        Banner("11.0.0"),
        Event.build("A"),
        Event.build("B"),
    ]


def test_outgoing_event_with_response_field_is_an_event() -> None:
    # OriginateResponse carries "Response: Failure" as a field; the first line decides the kind.
    [_, event] = client(BANNER + b"Event: OriginateResponse\r\nResponse: Failure\r\nReason: 0\r\n\r\n")
    assert isinstance(event, Event) and event.name == "OriginateResponse"


@pytest.mark.parametrize(
    "data",
    [
        b"Event: no banner\r\n\r\n",
        b"not a banner\r\n",
        BANNER + b"no colon here\r\n\r\n",
        BANNER + b": empty key\r\n\r\n",
        BANNER + b"Foo: neither response nor event\r\n\r\n",
    ],
)
def test_invalid_input_raises_and_stays_broken(data: bytes) -> None:
    conn = AMIConnection(Role.CLIENT)
    conn.receive_data(data)
    with pytest.raises(AMIProtocolError):
        conn.events()
    with pytest.raises(AMIProtocolError):
        conn.next_event()


def test_eof_between_messages_and_inside_one() -> None:
    conn = AMIConnection(Role.CLIENT)
    conn.receive_data(BANNER)
    conn.receive_data(b"")
    assert conn.events() == [Banner("11.0.0"), ConnectionClosed()]
    assert conn.next_event() == ConnectionClosed()
    with pytest.raises(RuntimeError):
        conn.receive_data(b"more")
    cut = AMIConnection(Role.CLIENT)
    cut.receive_data(BANNER + b"Event: Hal")
    cut.receive_data(b"")
    with pytest.raises(AMIProtocolError, match="inside a message"):
        cut.events()


def test_message_size_limit_is_the_same_whole_or_split() -> None:
    big = BANNER + b"Event: A\r\nX: " + b"x" * 200 + b"\r\n\r\n"
    for chunks in ([big], [big[i : i + 7] for i in range(0, len(big), 7)]):
        with pytest.raises(AMIProtocolError, match="longer than 100"):
            client(*chunks, max_message_size=100)
    assert len(client(big, max_message_size=300)) == 2


def test_incomplete_frame_buffer_is_bounded() -> None:
    conn = AMIConnection(Role.CLIENT, max_message_size=1000)
    conn.receive_data(BANNER + b"Event: A\r\n")
    conn.events()
    with pytest.raises(AMIProtocolError, match="incomplete"):
        for _ in range(200):
            conn.receive_data(b"X: 0123456789\r\n")
            conn.events()
    endless_banner = AMIConnection(Role.CLIENT, max_message_size=1000)
    endless_banner.receive_data(b"A" * 2000)
    with pytest.raises(AMIProtocolError):
        endless_banner.events()


def test_server_role_reads_actions_including_one_without_action_header() -> None:
    items = server(b"Action: Ping\r\nActionID: 1\r\n\r\nActionID: 2\r\n\r\n")
    assert items == [Action.build("Ping", action_id="1"), Action((("ActionID", "2"),))]
    assert [a.name for a in items if isinstance(a, Action)] == ["Ping", ""]


def test_build_puts_kind_then_actionid_first() -> None:
    action = Action.build("Originate", [("Variable", "A=1"), ("Variable", "B=2")], action_id="x")
    assert action.fields == (("Action", "Originate"), ("ActionID", "x"), ("Variable", "A=1"), ("Variable", "B=2"))
    assert action.get_all("variable") == ["A=1", "B=2"]
    assert AMIConnection(Role.CLIENT).send(action) == (
        b"Action: Originate\r\nActionID: x\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    )
    assert Response.build("Error", [("Message", "m")], action_id="y").status == "Error"
    assert Event.build("Hangup", [("Cause", "16")], action_id="z").action_id == "z"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "\r\n"])
def test_encoding_refuses_line_breaks_and_nul(bad: str) -> None:
    conn = AMIConnection(Role.CLIENT)
    with pytest.raises(AMIProtocolError):
        conn.send(Action.build("Originate", [("Variable", bad)]))
    with pytest.raises(AMIProtocolError):
        conn.send(Action.build("Originate", [(bad, "x")]))
    with pytest.raises(AMIProtocolError):
        conn.send(Action.build(bad))
    with pytest.raises(ValueError):  # AMIProtocolError is a ValueError
        AMIConnection(Role.SERVER).send(Event.build("UserEvent", [("Body", bad)]))


def test_encoding_refuses_lone_surrogates() -> None:
    with pytest.raises(AMIProtocolError, match="UTF-8"):
        AMIConnection(Role.CLIENT).send(Action.build("Originate", [("CallerID", "\ud800")]))


@pytest.mark.parametrize("key", ["", "a:b"])
def test_encoding_refuses_keys_that_would_not_parse_back(key: str) -> None:
    with pytest.raises(AMIProtocolError):
        AMIConnection(Role.CLIENT).send(Action.build("X", [(key, "v")]))


def test_roles_only_send_their_own_items() -> None:
    with pytest.raises(AMIProtocolError):
        AMIConnection(Role.CLIENT).send(Event.build("X"))
    with pytest.raises(AMIProtocolError):
        AMIConnection(Role.SERVER).send(Action.build("Ping"))
    srv = AMIConnection(Role.SERVER)
    assert srv.send(Banner("11.0.0")) == BANNER
    with pytest.raises(AMIProtocolError, match="first"):
        srv.send(Banner("11.0.0"))
    with pytest.raises(AMIProtocolError):
        AMIConnection(Role.SERVER).send(Action(()))


def test_server_sends_whole_list_result_that_folds_back() -> None:
    result = ListResult(
        Response.build("Success", [("EventList", "start"), ("Message", "Channels will follow")], action_id="L"),
        (Event.build("CoreShowChannel", [("Channel", "PJSIP/201-1")], action_id="L"),),
        Event.build("CoreShowChannelsComplete", [("EventList", "Complete"), ("ListItems", "1")], action_id="L"),
    )
    data = AMIConnection(Role.SERVER).send(result)
    conn = AMIConnection(Role.CLIENT)
    conn.expect_list("L")
    conn.receive_data(BANNER + data)
    assert conn.events() == [Banner("11.0.0"), result]


def test_list_folding_emits_unsolicited_events_first_and_error_as_empty_result() -> None:
    conn = AMIConnection(Role.CLIENT)
    conn.expect_list("L")
    conn.expect_list("E")
    conn.receive_data(
        BANNER
        + b"Response: Success\r\nActionID: L\r\nEventList: start\r\nMessage: Result will follow\r\n\r\n"
        + b"Event: DBGetTreeResponse\r\nKey: /a\r\nVal: 1\r\nActionID: L\r\n\r\n"
        + b"Event: Newchannel\r\nChannel: X\r\n\r\n"
        + b"Response: Error\r\nActionID: E\r\nMessage: nope\r\n\r\n"
        + b"Event: DBGetTreeComplete\r\nActionID: L\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
        + b"Event: DBGetTreeResponse\r\nKey: /late\r\nActionID: L\r\n\r\n"
    )
    items = conn.events()
    assert [type(i).__name__ for i in items] == ["Banner", "Event", "ListResult", "ListResult", "Event"]
    error, done = items[2], items[3]
    assert isinstance(error, ListResult) and error.response.status == "Error" and error.complete is None
    assert isinstance(done, ListResult) and [e.get("Key") for e in done.items] == ["/a"]
    late = items[4]
    assert isinstance(late, Event) and late.get("Key") == "/late"  # the list is over: no longer held


def test_cancel_list_releases_later_items() -> None:
    conn = AMIConnection(Role.CLIENT)
    conn.expect_list("L")
    conn.receive_data(BANNER + b"Response: Success\r\nActionID: L\r\nEventList: start\r\n\r\n")
    assert conn.events() == [Banner("11.0.0")]
    conn.cancel_list("L")
    conn.receive_data(b"Event: Item\r\nActionID: L\r\n\r\n")
    assert conn.events() == [Event.build("Item", action_id="L")]


def test_legacy_follows_response_with_blank_output_lines() -> None:
    wire = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
        b"Name/username   Host\n\n201/201         127.0.0.1\n--END COMMAND--\r\n\r\n"
    )
    [_, response, event] = client(BANNER + wire + b"Event: After\r\n\r\n")
    assert isinstance(response, Response) and response.status == "Follows" and response.is_success
    assert response.action_id == "c1"
    assert response.output == ("Name/username   Host", "", "201/201         127.0.0.1")
    assert event == Event.build("After")
    assert AMIConnection(Role.SERVER).send(response) == wire
    bytewise = client(*[bytes([b]) for b in BANNER + wire])
    assert bytewise[1] == response


def test_action_id_sequence() -> None:
    ids = ActionIdSequence("dlr")
    assert [ids.next(), ids.next()] == ["dlr-1", "dlr-2"]


# ----- invariants

_key = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\x00:"), min_size=1, max_size=12)
_value = st.text(st.characters(codec="utf-8", blacklist_characters="\r\n\x00"), max_size=30)
_fields = st.lists(st.tuples(_key, _value), max_size=6)


def _feed_all(role: Role, data: bytes, cuts: list[int]) -> list[Item]:
    conn = AMIConnection(role, max_message_size=512)
    out: list[Item] = []
    bounds = sorted({0, *cuts, len(data)})
    for a, b in itertools.pairwise(bounds):
        conn.receive_data(data[a:b])
        out.extend(conn.events())
    conn.receive_data(b"")
    out.extend(conn.events())
    return out


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from(Role),
    prefix=st.sampled_from([b"", BANNER, BANNER + b"Event: A\r\n", b"Response: Follows\r\n"]),
    data=st.binary(max_size=300)
    | st.lists(st.sampled_from([b"\r", b"\n", b":", b" ", b"a", b"\x00", b"\xff"])).map(b"".join),
    cuts=st.lists(st.integers(0, 400), max_size=10),
)
def test_arbitrary_bytes_give_items_or_protocol_error_only(
    role: Role, prefix: bytes, data: bytes, cuts: list[int]
) -> None:
    payload = prefix + data
    try:
        whole = _feed_all(role, payload, [])
    except AMIProtocolError:
        whole = None
    try:
        split = _feed_all(role, payload, [c for c in cuts if c < len(payload)])
    except AMIProtocolError:
        split = None
    assert split == whole  # the split never changes the outcome


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(st.tuples(st.sampled_from(["Event", "Response"]), _value, _fields), max_size=5),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_encode_then_parse_round_trips(messages: list[tuple[str, str, list[tuple[str, str]]]], cuts: list[int]) -> None:
    srv = AMIConnection(Role.SERVER)
    sent: list[Item] = [Banner("11.0.0")]
    wire = srv.send(Banner("11.0.0"))
    for kind, name, fields in messages:
        item = Event.build(name, fields) if kind == "Event" else Response.build(name or "Success", fields)
        if isinstance(item, Response) and item.status.strip(" \t").lower() == "follows":
            continue  # Follows has its own framing, covered above
        sent.append(item)
        wire += srv.send(item)
    got = _feed_all(Role.CLIENT, wire, [c for c in cuts if c < len(wire)])
    assert got == [*sent, ConnectionClosed()]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(["\r", "\n", "\r\n", ":", ": ", " ", "a", "Key", "é", "\x00"]), max_size=30).map("".join)
)
def test_block_parser_fast_path_matches_line_by_line_rules(block: str) -> None:
    def outcome(parse: Callable[[], object]) -> object:
        try:
            return parse()
        except AMIProtocolError:
            return "error"

    slow = outcome(lambda: _parse_fields(block.split("\n")))
    assert outcome(lambda: _parse_block(block)) == slow


@settings(max_examples=300)
@given(
    fields=st.lists(st.tuples(st.sampled_from(["Key", "key", "KEY", "Other", "x", "X", "Linkedid"]), st.text())),
    key=st.sampled_from(["Key", "key", "kEY", "Other", "OTHER", "x", "X", "Linkedid", "Missing"]),
)
def test_get_is_the_first_exact_field_else_the_first_field_of_any_case(fields: list[tuple[str, str]], key: str) -> None:
    # The lookup tables built on the first get hold Message.get to the scan it replaced.
    def scan() -> str | None:
        for k, v in fields:
            if k == key:
                return v
        return next((v for k, v in fields if k.lower() == key.lower()), None)

    for message in (Event.build("E", fields), parsed_event((("Event", "E"), *fields)), Action.build("A", fields)):
        assert message.get(key) == message.get(key, None) == scan()
        if isinstance(message, Event):
            assert message.name == "E"
        assert message.get(key, "absent") == (scan() if scan() is not None else "absent")
        assert (key in message) == (scan() is not None)
    # An event whose "Event:" is not first (not as Asterisk writes it) is still named by its first such field.
    late = Event((*fields, ("event", "Late"), ("Event", "Exact")))
    assert late.name == late.get("Event") == "Exact"
