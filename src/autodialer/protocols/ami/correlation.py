"""ActionID correlation: generating ActionIDs and folding list actions into one ``ListResult``.

A list action (``CoreShowChannels``, ``DBGetTree``, ``QueueStatus``…) is answered by ``Response: Success`` with
``EventList: start``, then item events carrying the same ActionID, then a ``…Complete`` event with
``EventList: Complete`` and ``ListItems: N``. An empty list is the Success directly followed by the Complete
(``DBGetTree`` of an unknown family). Older actions only say ``Message: … will follow``; that counts as a start too.
A list that was started and is then answered by a second Response (``ShowDialPlan`` of a missing extension: start,
items, then ``Response: Error``) ends there, as a ListResult carrying that second Response and no Complete event.

Folding is opt-in per ActionID. Invariants: only events whose ActionID is being folded are held back; every other
item passes through in arrival order, so unsolicited events are never delayed behind an unfinished list. The
``ListResult`` is emitted at the position of its Complete event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autodialer.protocols.ami.messages import Event, ListResult, Response

# Actions that Asterisk answers with an event list (EventList: start … …Complete), lower-cased. Used by clients to
# decide whether to fold by default; anything else can still be folded with an explicit request.
LIST_ACTIONS = frozenset(
    name.lower()
    for name in (
        "Agents",
        "BridgeInfo",
        "BridgeList",
        "BridgeTechnologyList",
        "ConfbridgeList",
        "ConfbridgeListRooms",
        "CoreShowChannelMap",
        "CoreShowChannels",
        "DBGet",
        "DBGetTree",
        "DeviceStateList",
        "ExtensionStateList",
        "IAXpeerlist",
        "MeetmeList",
        "MeetmeListRooms",
        "MWIGet",
        "ParkedCalls",
        "Parkinglots",
        "PJSIPShowAors",
        "PJSIPShowAuths",
        "PJSIPShowContacts",
        "PJSIPShowEndpoint",
        "PJSIPShowEndpoints",
        "PJSIPShowRegistrationsInbound",
        "PJSIPShowRegistrationsOutbound",
        "PJSIPShowResourceLists",
        "PJSIPShowSubscriptionsInbound",
        "PJSIPShowSubscriptionsOutbound",
        "PresenceStateList",
        "QueueStatus",
        "QueueSummary",
        "ShowDialPlan",
        "SIPpeers",
        "SIPshowregistry",
        "Status",
        "VoicemailUsersList",
    )
)


def is_list_action(name: str) -> bool:
    """True when Asterisk answers the action ``name`` (case-insensitive) with an event list."""
    return name.lower() in LIST_ACTIONS


class ActionIdSequence:
    """``<prefix>-1``, ``<prefix>-2``, … The caller picks a prefix unique per connection (e.g. per login)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self.prefix}-{self._n}"


def is_list_start(response: Response) -> bool:
    """True when ``response`` opens an event list (``EventList: start`` or a ``… will follow`` message)."""
    if not response.is_success:
        return False
    if (response.get("EventList") or "").lower() == "start":
        return True
    return "will follow" in (response.message or "").lower()


def is_list_complete(event: Event) -> bool:
    """True for the event that closes a list (``EventList: Complete``, or a ``…Complete`` name as a fallback)."""
    return (event.get("EventList") or "").lower() == "complete" or event.name.endswith("Complete")


@dataclass
class _Pending:
    response: Response | None = None
    items: list[Event] = field(default_factory=list)


class ListFolder:
    """Holds the state of the list actions being folded; feed it every Response/Event in arrival order."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def expect(self, action_id: str) -> None:
        self._pending[action_id] = _Pending()

    def cancel(self, action_id: str) -> list[Event]:
        """Stop folding ``action_id``; returns the items collected so far (their later siblings pass through)."""
        pending = self._pending.pop(action_id, None)
        return pending.items if pending else []

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._pending

    def __len__(self) -> int:
        return len(self._pending)

    def feed(self, item: Response | Event) -> Response | Event | ListResult | None:
        """Returns the item to emit now (itself, or a finished ListResult), or None when it was held back."""
        if not self._pending:
            return item
        action_id = item.action_id
        if action_id is None:
            return item
        pending = self._pending.get(action_id)
        if pending is None:
            return item
        if isinstance(item, Response):
            if pending.response is not None:
                # A second answer ends the list with that verdict: pbx.c manager_show_dialplan sends its
                # "DialPlan list will follow" start with the first item, and when the Extension asked for is not
                # found after all, a "Response: Error" instead of the ShowDialPlanComplete event.
                del self._pending[action_id]
                return ListResult(item, tuple(pending.items), None)
            if is_list_start(item):
                pending.response = item
                return None
            del self._pending[action_id]
            return ListResult(item, (), None)
        if pending.response is None:
            return item  # an event before the list started (e.g. a stale OriginateResponse reusing the id)
        if is_list_complete(item):
            del self._pending[action_id]
            return ListResult(pending.response, tuple(pending.items), item)
        pending.items.append(item)
        return None
