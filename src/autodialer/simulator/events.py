"""The event bus: every AMI event the simulated PBX produces goes through `EventBus.emit`.

An event is its name plus ordered (key, value) fields, exactly as they go on the wire after `Event:` and
`Privilege:`. Subscribers (AMI sessions, test recorders) get the full field list synchronously and in emission
order, which is what makes the order of events within one PBX step deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

Fields = list[tuple[str, str]]
Subscriber = Callable[[str, Fields], None]

# Privilege class of each event, as in the traces (manager.c / stasis event classes).
_PRIVILEGE = {
    "AGIExecStart": "agi,all",
    "AGIExecEnd": "agi,all",
    "AgentCalled": "agent,all",
    "AgentComplete": "agent,all",
    "AgentConnect": "agent,all",
    "AgentRingNoAnswer": "agent,all",
    "QueueCallerJoin": "agent,all",
    "QueueCallerLeave": "agent,all",
    "QueueCallerAbandon": "agent,all",
    "QueueMemberStatus": "agent,all",
    "QueueMemberPause": "agent,all",
    "DTMFBegin": "dtmf,all",
    "DTMFEnd": "dtmf,all",
    "Newexten": "dialplan,all",
    "VarSet": "dialplan,all",
    "FullyBooted": "system,all",
    "Shutdown": "system,all",
    "PeerStatus": "system,all",
    "SuccessfulAuth": "security,all",
    "RequestBadFormat": "security,all",
    "RequestNotAllowed": "security,all",
    "InvalidPassword": "security,all",
    "UserEvent": "user,all",
    "RTCPSent": "reporting,all",
    "RTCPReceived": "reporting,all",
}


def privilege(name: str) -> str:
    return _PRIVILEGE.get(name, "call,all")


# manager.conf read=/write= class names (include/asterisk/manager.h EVENT_FLAG_*, manager.c perms[]).
MANAGER_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)


def manager_classes(spec: str | Iterable[str]) -> frozenset[str]:
    """The classes a manager.conf ``read=``/``write=`` value grants: comma-separated names, "all" = every class.

    As manager.c get_perm (ast_instring per class name): names match exactly, case and spaces included, so
    "system, call" grants only system; unknown names grant nothing.
    """
    names = set(spec.strip().split(",") if isinstance(spec, str) else spec)
    return MANAGER_CLASSES if "all" in names else frozenset(names & MANAGER_CLASSES)


@lru_cache(maxsize=64)
def event_classes(privilege_header: str) -> frozenset[str]:
    """An event's category from its ``Privilege:`` header ("call,all" -> {"call"}); the "all" is decoration."""
    return frozenset(c.strip() for c in privilege_header.split(",") if c.strip() and c.strip() != "all")


class EventBus:
    """Subscribers get every event; one that says which names it wants (``wants``) lets the PBX skip building the
    fields of an event nobody takes (at a thousand live calls about half of what it produces is VarSet and
    Newexten, which a dialer filters out). ``count`` counts every event produced, built or not."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._wants: list[Callable[[str], bool] | None] = []
        self._wanted: dict[str, bool] = {}  # wanted() per event name, until a subscriber or its wishes change
        self.count = 0

    def subscribe(self, subscriber: Subscriber, wants: Callable[[str], bool] | None = None) -> Callable[[], None]:
        """``wants(name)`` False promises that ``subscriber`` would drop every event of that name as things stand;
        without it the subscriber is taken to want everything. A subscriber whose wishes change calls
        ``wishes_changed``."""
        self._subscribers.append(subscriber)
        self._wants.append(wants)
        self._wanted.clear()

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                i = self._subscribers.index(subscriber)
                del self._subscribers[i], self._wants[i]
                self._wanted.clear()

        return unsubscribe

    def wishes_changed(self) -> None:
        self._wanted.clear()

    def wanted(self, name: str) -> bool:
        """Would any subscriber take an event called ``name`` now? When not, its producer may only count it."""
        answer = self._wanted.get(name)
        if answer is None:
            answer = self._wanted[name] = any(wants is None or wants(name) for wants in self._wants)
        return answer

    def emit(self, name: str, fields: Fields) -> None:
        full: Fields = [("Event", name), ("Privilege", privilege(name)), *fields]
        self.count += 1
        for subscriber in tuple(self._subscribers):
            subscriber(name, full)
