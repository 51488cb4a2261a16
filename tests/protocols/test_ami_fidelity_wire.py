"""AMI shapes Asterisk 22 really sends that the recorded traces do not happen to contain.

Each byte string below is what main/manager.c or main/pbx.c writes for the case (the function is named per test).
"""

from __future__ import annotations

from autodialer.protocols.ami import AMIConnection, Banner, Event, Item, ListResult, Response, Role

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _client(data: bytes, *lists: str) -> list[Item]:
    conn = AMIConnection(Role.CLIENT)
    for action_id in lists:
        conn.expect_list(action_id)
    conn.receive_data(data)
    return conn.events()


def test_userevent_relayed_from_another_client_with_a_line_without_colon() -> None:
    # manager.c do_message keeps every non-empty line of an action as a header, colon or not, and action_userevent
    # copies each header line but "UserEvent:" into the event it broadcasts to every session reading "user" (our
    # shipped AMI user does). One stray line from some other AMI client must not end our session.
    relayed = (
        b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Probe\r\n"
        b"Action: UserEvent\r\njust some text\r\nStatus: ok\r\n\r\n"
    )
    after = b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/201-00000001\r\nCause: 16\r\n\r\n"
    items = _client(BANNER + relayed + after)
    assert items[0] == Banner("11.0.0")
    user_event, hangup = items[1], items[2]
    assert isinstance(user_event, Event) and user_event.name == "UserEvent"
    assert user_event.get("UserEvent") == "Probe" and user_event.get("Status") == "ok"
    assert all(key != "just some text" for key, _ in user_event.fields)
    assert isinstance(hangup, Event) and hangup.get("Cause") == "16"


def test_value_with_an_embedded_newline_keeps_the_stream_in_step() -> None:
    # A raw variable value holding a newline ("Value: %s\r\n" in VarSet) splits its line; the rest of the event and
    # the next one still parse.
    varset = (
        b"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: Local/5551001@dialer-out-00000001;1\r\n"
        b"Variable: SHELL_OUT\r\nValue: first line\nsecond line\r\nUniqueid: 1795804636.10\r\n\r\n"
    )
    items = _client(BANNER + varset + b"Event: Newstate\r\nChannelStateDesc: Up\r\n\r\n")
    assert [type(i).__name__ for i in items] == ["Banner", "Event", "Event"]
    event = items[1]
    assert isinstance(event, Event)
    assert event.get("Value") == "first line" and event.get("Uniqueid") == "1795804636.10"


def test_show_dialplan_started_then_refused_ends_the_list() -> None:
    # pbx.c manager_show_dialplan_helper sends the "DialPlan list will follow" start with its first item; when an
    # Extension was asked for and not found after all (an ignorepat of the context matched it), manager_show_dialplan
    # then answers "Response: Error" with the same ActionID and never sends ShowDialPlanComplete.
    wire = (
        b"Response: Success\r\nActionID: ad-1-5\r\nEventList: start\r\nMessage: DialPlan list will follow\r\n\r\n"
        b"Event: ListDialplan\r\nActionID: ad-1-5\r\nContext: internal\r\nIgnorePattern: 9\r\n"
        b"Registrar: pbx_config\r\n\r\n"
        b"Response: Error\r\nActionID: ad-1-5\r\nMessage: Did not find extension 9xx@internal\r\n\r\n"
        b"Event: ListDialplan\r\nActionID: ad-1-5\r\nContext: late\r\n\r\n"
    )
    items = _client(BANNER + wire, "ad-1-5")
    assert [type(i).__name__ for i in items] == ["Banner", "ListResult", "Event"]
    result = items[1]
    assert isinstance(result, ListResult) and isinstance(result.response, Response)
    assert result.response.status == "Error" and result.response.action_id == "ad-1-5"
    assert result.response.message == "Did not find extension 9xx@internal"
    assert [e.get("IgnorePattern") for e in result.items] == ["9"] and result.complete is None
    assert isinstance(items[2], Event)  # the list is over: later items with the id are no longer held
