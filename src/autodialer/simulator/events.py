"""The event bus: every AMI event the simulated PBX produces goes through `EventBus.emit`.

An event is its name plus ordered (key, value) fields, exactly as they go on the wire after `Event:` and
`Privilege:`. Subscribers (AMI sessions, test recorders) get the full field list synchronously and in emission
order, which is what makes the order of events within one PBX step deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

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
    "InvalidPassword": "security,all",
    "UserEvent": "user,all",
    "RTCPSent": "reporting,all",
    "RTCPReceived": "reporting,all",
}


def privilege(name: str) -> str:
    return _PRIVILEGE.get(name, "call,all")


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.count = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, name: str, fields: Fields) -> None:
        full: Fields = [("Event", name), ("Privilege", privilege(name)), *fields]
        self.count += 1
        for subscriber in tuple(self._subscribers):
            subscriber(name, full)
