"""Who is free right now, as a pure state machine fed parsed AMI events and list results.

Facts kept, each written by exactly one kind of event so that the several events Asterisk sends for one state change
(ExtensionStatus, DeviceStateChange, QueueMemberStatus: their relative order varies, shared/asterisk/README.md §6)
converge to the same state in any order:

* extension → hint devices and ExtensionStatus bit mask (ExtensionStatus, ExtensionStateList);
* device → device state name (DeviceStateChange, DeviceStateList, PJSIPShowEndpoints ``DeviceState``);
* devices reported unreachable (PeerStatus / ContactStatus);
* extensions on do-not-disturb (MikoPBX AstDB family ``UserBuddyStatus``: DBGetTree and ``UserEvent:
  DB_UserBuddyStatus``; like MikoPBX's WorkerAMI, a stored value other than ``"0"`` means "not available");
* queue → members with their queue status and pause flag (QueueStatus, QueueMember*).

Free means every known fact agrees; a fact never reported does not block (the re-sync asks for all of them). An
extension yields its first hint device; a queue yields its members' state interfaces, so an agent reserved through a
queue and through its own extension is the same string.
"""

from __future__ import annotations

from dataclasses import dataclass

from autodialer.protocols.ami import Event, ListResult

# ExtensionStatus Status is a bit mask: 1 InUse, 2 Busy, 4 Unavailable, 8 Ringing, 16 OnHold; 0 Idle.
# -1 (extension removed) and -2 (hint removed) forget the extension.
EXTENSION_IDLE = 0

# Device states (DeviceStateChange ``State``) that do not stop a call. UNKNOWN is what Asterisk says about devices it
# cannot judge (e.g. Custom: devices in a MikoPBX hint); the extension status already aggregates them.
_DEVICE_OK = frozenset({"NOT_INUSE", "UNKNOWN"})

# PJSIPShowEndpoints reports the device state as text (ast_devstate_str), DeviceStateChange as the enum name.
_ENDPOINT_TEXT_TO_STATE = {
    "not in use": "NOT_INUSE",
    "in use": "INUSE",
    "busy": "BUSY",
    "invalid": "INVALID",
    "unavailable": "UNAVAILABLE",
    "ringing": "RINGING",
    "ring+inuse": "RINGINUSE",
    "on hold": "ONHOLD",
    "unknown": "UNKNOWN",
}

_UNREACHABLE = frozenset({"unreachable", "unregistered", "rejected"})
_REACHABLE = frozenset({"reachable", "registered", "lagged", "nonqualified", "created"})

# QueueMember Status: 0 unknown, 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing, 7 ring+inuse,
# 8 on hold. Only 1 can take a call.
QUEUE_MEMBER_NOT_IN_USE = 1

DND_FAMILY = "UserBuddyStatus"


@dataclass(frozen=True, slots=True)
class QueueMember:
    interface: str
    state_interface: str
    status: int
    paused: bool


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes"}


class AvailabilityState:
    """Pure: ``apply`` parsed AMI items, ask ``free_agents``. No I/O, no clock."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (before a re-sync)."""
        self._hints: dict[str, tuple[str, ...]] = {}
        self._ext_status: dict[str, int] = {}
        self._device_state: dict[str, str] = {}
        self._unreachable: set[str] = set()
        self._dnd: set[str] = set()
        self._queues: dict[str, dict[str, QueueMember]] = {}

    # ---- queries

    def free_agents(self, inner_num: str) -> frozenset[str]:
        """Device interfaces free for ``inner_num`` (a queue number or an extension); empty when unknown or busy."""
        members = self._queues.get(inner_num)
        if members is not None:
            return frozenset(m.state_interface for m in members.values() if self._member_free(m))
        devices = self._hints.get(inner_num)
        if not devices or self._ext_status.get(inner_num) != EXTENSION_IDLE or inner_num in self._dnd:
            return frozenset()
        if not all(self._device_free(d) for d in devices):
            return frozenset()
        return frozenset({devices[0]})

    def extension_status(self, exten: str) -> int | None:
        """The last ExtensionStatus bit mask of ``exten``; None if unknown."""
        return self._ext_status.get(exten)

    def queue_member(self, queue: str, interface: str) -> QueueMember | None:
        return self._queues.get(queue, {}).get(interface)

    def snapshot(self) -> tuple[object, ...]:
        """Everything known, comparable with ``==`` (tests and change detection)."""
        return (
            sorted(self._hints.items()),
            sorted(self._ext_status.items()),
            sorted(self._device_state.items()),
            sorted(self._unreachable),
            sorted(self._dnd),
            sorted((q, sorted(m.items())) for q, m in self._queues.items()),
        )

    def _device_free(self, device: str) -> bool:
        return self._device_state.get(device, "NOT_INUSE") in _DEVICE_OK and device not in self._unreachable

    def _member_free(self, member: QueueMember) -> bool:
        if member.status != QUEUE_MEMBER_NOT_IN_USE or member.paused:
            return False
        if not self._device_free(member.state_interface):
            return False
        return not any(
            devices and devices[0] == member.state_interface and exten in self._dnd
            for exten, devices in self._hints.items()
        )

    # ---- updates

    def apply(self, item: Event | ListResult) -> bool:
        """Fold one event (or every item of a list result) into the state; True if anything changed."""
        events = item.items if isinstance(item, ListResult) else (item,)
        relevant = [(handler, e) for e in events if (handler := _HANDLERS.get(e.name.lower())) is not None]
        if not relevant:
            return False  # most of the event stream (Newchannel, Newexten, …) costs one dict lookup
        before = self.snapshot()
        for handler, event in relevant:
            handler(self, event)
        return self.snapshot() != before

    def _on_extension_status(self, event: Event) -> None:
        exten = event.get("Exten")
        if not exten:
            return
        status = _int(event.get("Status"), -2)
        if status < 0:
            self._hints.pop(exten, None)
            self._ext_status.pop(exten, None)
            return
        # During boot Asterisk sends ExtensionStatus with an empty Hint (trace 09): keep the one we know.
        hint = tuple(d.strip() for d in (event.get("Hint") or "").split("&") if d.strip())
        if hint:
            self._hints[exten] = hint
        self._ext_status[exten] = status

    def _on_device_state(self, event: Event) -> None:
        device, state = event.get("Device"), event.get("State")
        if device and state:
            self._device_state[device] = state.upper()

    def _on_endpoint_list(self, event: Event) -> None:
        name, text = event.get("ObjectName"), event.get("DeviceState")
        if name and text:
            self._device_state[f"PJSIP/{name}"] = _ENDPOINT_TEXT_TO_STATE.get(text.strip().lower(), "UNKNOWN")

    def _on_peer_status(self, event: Event) -> None:
        self._set_reachable(event.get("Peer"), event.get("PeerStatus"))

    def _on_contact_status(self, event: Event) -> None:
        endpoint = event.get("EndpointName")
        self._set_reachable(f"PJSIP/{endpoint}" if endpoint else None, event.get("ContactStatus"))

    def _set_reachable(self, device: str | None, status: str | None) -> None:
        if not device or not status:
            return
        if status.lower() in _UNREACHABLE:
            self._unreachable.add(device)
        elif status.lower() in _REACHABLE:
            self._unreachable.discard(device)

    def _on_db_tree_item(self, event: Event) -> None:
        key = event.get("Key") or ""
        prefix = f"/{DND_FAMILY}/"
        if key.startswith(prefix):
            self._set_dnd(key[len(prefix) :], event.get("Val"))

    def _on_user_event(self, event: Event) -> None:
        if (event.get("UserEvent") or "") != f"DB_{DND_FAMILY}":
            return
        # MikoPBX's 1C panel sends lower-case ``key``/``val``; the key may be a path (WorkerAMI takes its basename).
        key = (event.get("key") or "").rsplit("/", 1)[-1]
        if key:
            self._set_dnd(key, event.get("val"))

    def _set_dnd(self, exten: str, value: str | None) -> None:
        if (value or "").strip() in {"", "0"}:
            self._dnd.discard(exten)
        else:
            self._dnd.add(exten)

    def _on_queue_params(self, event: Event) -> None:
        queue = event.get("Queue")
        if queue:
            self._queues.setdefault(queue, {})

    def _on_queue_member(self, event: Event) -> None:
        queue = event.get("Queue")
        # QueueStatus items call the interface "Location"; the QueueMember* events call it "Interface".
        interface = event.get("Interface") or event.get("Location")
        if not queue or not interface:
            return
        members = self._queues.setdefault(queue, {})
        old = members.get(interface)
        members[interface] = QueueMember(
            interface=interface,
            state_interface=event.get("StateInterface") or (old.state_interface if old else interface),
            status=_int(event.get("Status"), old.status if old else 0),
            paused=_flag(event.get("Paused")) if event.get("Paused") is not None else bool(old and old.paused),
        )

    def _on_queue_member_removed(self, event: Event) -> None:
        queue, interface = event.get("Queue"), event.get("Interface") or event.get("Location")
        if queue and interface:
            self._queues.get(queue, {}).pop(interface, None)

    def _on_queue_member_pause(self, event: Event) -> None:
        queue, interface = event.get("Queue"), event.get("Interface") or event.get("Location")
        old = self._queues.get(queue or "", {}).get(interface or "")
        if old is not None and queue and interface:
            self._queues[queue][interface] = QueueMember(
                old.interface, old.state_interface, old.status, _flag(event.get("Paused"))
            )


_HANDLERS = {
    "extensionstatus": AvailabilityState._on_extension_status,
    "devicestatechange": AvailabilityState._on_device_state,
    "endpointlist": AvailabilityState._on_endpoint_list,
    "peerstatus": AvailabilityState._on_peer_status,
    "contactstatus": AvailabilityState._on_contact_status,
    "dbgettreeresponse": AvailabilityState._on_db_tree_item,
    "userevent": AvailabilityState._on_user_event,
    "queueparams": AvailabilityState._on_queue_params,
    "queuemember": AvailabilityState._on_queue_member,
    "queuememberstatus": AvailabilityState._on_queue_member,
    "queuememberadded": AvailabilityState._on_queue_member,
    "queuememberremoved": AvailabilityState._on_queue_member_removed,
    "queuememberpause": AvailabilityState._on_queue_member_pause,
    # Asterisk < 13 name of QueueMemberPause.
    "queuememberpaused": AvailabilityState._on_queue_member_pause,
}
