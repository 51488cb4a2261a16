"""Who is free right now, as a pure state machine fed parsed AMI events and list results.

Facts kept, each written by exactly one kind of event so that the several events Asterisk sends for one state change
(ExtensionStatus, DeviceStateChange, QueueMemberStatus: their relative order varies, see
tests/fixtures/asterisk/README.md §6) converge to the same state in any order:

* extension → hint devices and ExtensionStatus bit mask (ExtensionStatus, ExtensionStateList);
* device → device state name (DeviceStateChange, DeviceStateList, PJSIPShowEndpoints ``DeviceState``);
* devices reported unreachable (PeerStatus: for PJSIP the endpoint as a whole, online while any contact is; a
  ContactStatus is about one contact of possibly several, so it is not used);
* extensions on do-not-disturb (MikoPBX AstDB family ``UserBuddyStatus``: DBGetTree and ``UserEvent:
  DB_UserBuddyStatus``; like MikoPBX's WorkerAMI, a stored value other than ``"0"`` means "not available");
* queue → members with their queue status and pause flag (QueueStatus, QueueMember*);
* dialled queue number → app_queue name (ShowDialPlan lines running ``Queue()``; MikoPBX names queues by an id);
* the callers in each queue, the members rung for them and the callers connected (queue_callers.py).

Free means every known fact agrees; a fact never reported does not block (the re-sync asks for all of them). Agents
are named by their primary device (the first device of the hint, e.g. ``PJSIP/201``), whether reached directly or
as a queue member (MikoPBX members are ``Local/201@internal/n`` with state interface ``hint:201@internal-hints``),
so one person is one reservation.

A queue is also a capacity (``queue_load``): the members that can take a call, judged from the queue's own member
status, and the callers already waiting for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from autodialer.adapters.asterisk import queue_callers
from autodialer.adapters.asterisk.queue_callers import QueueCallers
from autodialer.domain.live_state import AgentFacts, AgentState
from autodialer.protocols.ami import Event, ListResult
from autodialer.services.ports import QueueLoad

# ExtensionStatus Status is a bit mask: 1 InUse, 2 Busy, 4 Unavailable, 8 Ringing, 16 OnHold; 0 Idle.
# -1 (AST_EXTENSION_DEACTIVATED: hint removed) and -2 (AST_EXTENSION_REMOVED: extension removed) forget it.
EXTENSION_IDLE = 0

# Device states (DeviceStateChange ``State``). A busy device stops its extension; an absent one (UNAVAILABLE, e.g.
# MikoPBX's "201-WS" WebRTC endpoint with nobody logged in) only matters if every device of the hint is absent,
# which is also how Asterisk aggregates the ExtensionStatus. UNKNOWN (Custom: devices) is neither.
_DEVICE_BUSY = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
_DEVICE_ABSENT = frozenset({"UNAVAILABLE", "INVALID"})

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

# ExtensionStatus bits as the wallboard reads them: in a call (in use, busy, on hold) outranks ringing.
_EXT_UNAVAILABLE = 4
_EXT_RINGING = 8
_EXT_IN_CALL = 1 | 2 | 16
_DEVICE_IN_CALL = frozenset({"INUSE", "BUSY", "RINGINUSE", "ONHOLD"})
# QueueMember Status words for a member known only by its device: 2 in use, 3 busy, 7 ring+inuse, 8 on hold.
_MEMBER_IN_CALL = frozenset({2, 3, 7, 8})
_MEMBER_ABSENT = frozenset({4, 5})

_UNREACHABLE = frozenset({"unreachable", "unregistered", "rejected"})
_REACHABLE = frozenset({"reachable", "registered", "lagged"})

# QueueMember Status: 0 unknown, 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing, 7 ring+inuse,
# 8 on hold. app_queue (is_member_available, member_status_available) rings an unpaused member in 1 or 0: a device
# whose state is unknown is called, not skipped.
QUEUE_MEMBER_NOT_IN_USE = 1
QUEUE_MEMBER_RINGING = 6
_QUEUE_MEMBER_CALLABLE = frozenset({0, QUEUE_MEMBER_NOT_IN_USE})
_QUEUE_MEMBER_RINGABLE = _QUEUE_MEMBER_CALLABLE | {QUEUE_MEMBER_RINGING}

DND_FAMILY = "UserBuddyStatus"
_PSEUDO_DEVICES = ("Local/", "Queue:")
_V = TypeVar("_V")


_MemberRef = tuple[str, str]  # (queue, member interface)


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
        # Dialled number -> app_queue name, from the dialplan (``exten => 2200,n,Queue(QUEUE-1A2B…)``): MikoPBX names
        # its queues by an id, not by the number people dial.
        self._queue_of_exten: dict[str, str] = {}
        self._exten_of_device: dict[str, str] = {}  # primary hint device -> its extension (DND of queue members)
        self._queue_callers = QueueCallers()
        # Free and able queue members, kept up to date as facts change (a round asks for them, an event changes a
        # few): which members each fact concerns, the members to judge again, and each queue's verdicts.
        self._extens_of_device: dict[str, set[str]] = {}  # device -> extensions whose hint lists it
        self._members_of_exten: dict[str, set[_MemberRef]] = {}  # exten -> members with state interface hint:exten
        self._members_of_device: dict[str, set[_MemberRef]] = {}  # device -> members with it as state interface
        self._dirty: set[_MemberRef] = set()
        self._free: dict[str, dict[str, str]] = {}  # queue -> interface -> agent key, of the members free now
        self._able: dict[str, dict[str, str]] = {}  # queue -> interface -> agent key, of the members able now
        self._frozen: dict[tuple[str, bool], frozenset[str]] = {}  # (queue, able?) -> its agents, until they change

    # ---- queries

    def free_agents(self, inner_num: str) -> frozenset[str]:
        """Agents free for ``inner_num`` (a queue's number or name, or an extension); empty when unknown or busy.

        An agent is named by its primary device (the first device of its extension's hint, ``PJSIP/201``) so that the
        same person reached through a queue and directly is one reservation.
        """
        queue = self._queue_name(inner_num)
        if queue is not None:
            return self._members(queue, able=False)
        if not self._extension_free(inner_num):
            return frozenset()
        return frozenset({self._hints[inner_num][0]})

    def queue_load(self, inner_num: str) -> QueueLoad | None:
        """The queue ``inner_num`` names or dials, as a capacity (services.ports.QueueLoad); None if no queue."""
        queue = self._queue_name(inner_num)
        if queue is None:
            return None
        return QueueLoad(
            self._members(queue, able=True), self._queue_callers.callers(queue), self._queue_callers.served()
        )

    def _members(self, queue: str, *, able: bool) -> frozenset[str]:
        """The queue's free (or able) agents: the members whose facts changed are judged again, no other."""
        if self._dirty:
            self._judge_dirty()
        frozen = self._frozen.get((queue, able))
        if frozen is None:
            frozen = frozenset((self._able if able else self._free).get(queue, {}).values())
            self._frozen[(queue, able)] = frozen
        return frozen

    def _judge_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for queue, interface in dirty:
            member = self._queues.get(queue, {}).get(interface)
            key = None if member is None else self._member_key(member)
            for verdicts, able in ((self._free, False), (self._able, True)):
                ok = member is not None and (self._member_able(queue, member) if able else self._member_free(member))
                want = key if ok else None
                mine = verdicts.setdefault(queue, {})
                if mine.get(interface) == want:
                    continue
                if want is None:
                    del mine[interface]
                else:
                    mine[interface] = want
                self._frozen.pop((queue, able), None)

    def _mark_exten(self, exten: str) -> None:
        """A fact of ``exten`` changed (hint, status, do-not-disturb): its members are judged again."""
        self._dirty.update(self._members_of_exten.get(exten, ()))
        devices = self._hints.get(exten)
        if devices:
            self._dirty.update(self._members_of_device.get(devices[0], ()))  # their DND is the extension's

    def _mark_device(self, device: str) -> None:
        """A device's state or reachability changed: the members it is, or whose hint lists it, are judged again."""
        self._dirty.update(self._members_of_device.get(device, ()))
        for exten in self._extens_of_device.get(device, ()):
            self._dirty.update(self._members_of_exten.get(exten, ()))

    def _index_member(self, queue: str, member: QueueMember | None, present: bool) -> None:
        if member is None:
            return
        ref = (queue, member.interface)
        exten = self._hint_exten(member.state_interface)
        index = self._members_of_exten if exten is not None else self._members_of_device
        name = exten if exten is not None else member.state_interface
        refs = index.setdefault(name, set())
        if present:
            refs.add(ref)
        else:
            refs.discard(ref)
            if not refs:
                del index[name]

    def agents(self) -> list[AgentFacts]:
        """Every agent the PBX told us of: each extension with a hint, and queue members known only by a device.

        Unavailable (no device reachable, or the hint says so), talking, ringing, paused (do-not-disturb, or paused
        in a queue), else free. Unknown facts do not make an agent busy, as for ``free_agents``; an extension
        whose state was never reported is unavailable (nothing says it could take a call)."""
        numbers = {queue: exten for exten, queue in self._queue_of_exten.items()}
        queues_of: dict[str, list[str]] = {}
        paused: set[str] = set()
        loose: dict[str, QueueMember] = {}
        for queue, members in self._queues.items():
            for member in members.values():
                key = self._member_key(member)
                queues_of.setdefault(key, []).append(numbers.get(queue, queue))
                if member.paused:
                    paused.add(key)
                if self._exten_of_device.get(key) is None:
                    loose.setdefault(key, member)
        facts = []
        for exten, devices in self._hints.items():
            key = devices[0]
            state = self._extension_word(exten, devices, key in paused)
            facts.append(AgentFacts(key, exten, state, tuple(sorted(queues_of.get(key, ())))))
        for key, member in loose.items():
            facts.append(
                AgentFacts(key, None, self._member_word(key, member, key in paused), tuple(sorted(queues_of[key])))
            )
        return facts

    def _extension_word(self, exten: str, devices: tuple[str, ...], paused: bool) -> AgentState:
        status = self._ext_status.get(exten)
        if status is None or status & _EXT_UNAVAILABLE or all(self._device_absent(d) for d in devices):
            return AgentState.UNAVAILABLE
        states = {self._device_state.get(d) for d in devices}
        if status & _EXT_IN_CALL or states & _DEVICE_IN_CALL:
            return AgentState.TALKING
        if status & _EXT_RINGING or "RINGING" in states:
            return AgentState.RINGING
        if paused or exten in self._dnd:
            return AgentState.PAUSED
        return AgentState.FREE

    def _member_word(self, device: str, member: QueueMember, paused: bool) -> AgentState:
        state = self._device_state.get(device)
        if member.status in _MEMBER_ABSENT or self._device_absent(device):
            return AgentState.UNAVAILABLE
        if member.status in _MEMBER_IN_CALL or state in _DEVICE_IN_CALL:
            return AgentState.TALKING
        if member.status == QUEUE_MEMBER_RINGING or state == "RINGING":
            return AgentState.RINGING
        return AgentState.PAUSED if paused else AgentState.FREE

    def _queue_name(self, inner_num: str) -> str | None:
        if inner_num in self._queues:
            return inner_num
        queue = self._queue_of_exten.get(inner_num)
        return queue if queue is not None and queue in self._queues else None

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
            sorted(self._queue_of_exten.items()),
            self._queue_callers.snapshot(),
        )

    def _device_absent(self, device: str) -> bool:
        return self._device_state.get(device) in _DEVICE_ABSENT or device in self._unreachable

    def _extension_free(self, exten: str) -> bool:
        devices = self._hints.get(exten)
        if not devices or self._ext_status.get(exten) != EXTENSION_IDLE or exten in self._dnd:
            return False
        if any(self._device_state.get(d) in _DEVICE_BUSY for d in devices):
            return False
        return not all(self._device_absent(d) for d in devices)

    @staticmethod
    def _hint_exten(state_interface: str) -> str | None:
        """``hint:201@internal-hints`` (how MikoPBX sets its members' state interface) -> ``201``."""
        if not state_interface.startswith("hint:"):
            return None
        return state_interface[len("hint:") :].split("@", 1)[0] or None

    def _member_key(self, member: QueueMember) -> str:
        exten = self._hint_exten(member.state_interface)
        if exten is not None and self._hints.get(exten):
            return self._hints[exten][0]
        return member.state_interface

    def _member_able(self, queue: str, member: QueueMember) -> bool:
        """The member can take a call of this queue: free, or ringing for one of the queue's own callers (its
        device and extension then say "ringing", but that ringing is the queue serving a caller it counts)."""
        if member.paused:
            return False
        if member.status in _QUEUE_MEMBER_RINGABLE and self._queue_callers.rung_by_caller(queue, member.interface):
            # its phone (and so its device and hint) rings for one of our queue's callers, before and after the
            # member's own status says so
            return self._member_reachable(member)
        return self._member_free(member)

    def _member_reachable(self, member: QueueMember) -> bool:
        """Not unavailable and not on DND, whatever its call state."""
        exten = self._hint_exten(member.state_interface)
        if exten is not None and exten in self._hints:
            devices = self._hints[exten]
            return exten not in self._dnd and not all(self._device_absent(d) for d in devices)
        device = member.state_interface
        return not self._device_absent(device) and self._exten_of_device.get(device) not in self._dnd

    def _member_free(self, member: QueueMember) -> bool:
        if member.status not in _QUEUE_MEMBER_CALLABLE or member.paused:
            return False
        exten = self._hint_exten(member.state_interface)
        if exten is not None:
            return exten not in self._hints or self._extension_free(exten)
        device = member.state_interface
        if self._device_state.get(device) in _DEVICE_BUSY or self._device_absent(device):
            return False
        return self._exten_of_device.get(device) not in self._dnd

    # ---- updates (each handler returns whether it changed anything: apply runs for every state event, up to
    # thousands a second, so change detection must not cost more than the update itself)

    def apply(self, item: Event | ListResult) -> bool:
        """Fold one event (or every item of a list result) into the state; True if anything changed."""
        if isinstance(item, Event):
            return self._apply_one(item)
        changed = False
        for event in item.items:
            changed = self._apply_one(event) or changed
        return changed

    def _apply_one(self, event: Event) -> bool:
        handler = _HANDLERS.get(event.name.lower())
        changed = handler(self, event) if handler is not None else False
        if not self._queue_callers.apply(event):
            return changed
        # Who rings for a queue's caller changed: that member's "able" (every such event names queue and member).
        queue, interface = event.get("Queue"), event.get("Interface")
        if queue and interface:
            self._dirty.add((queue, interface))
        return True

    def _on_extension_status(self, event: Event) -> bool:
        exten = event.get("Exten")
        if not exten:
            return False
        status = _int(event.get("Status"), -2)
        if status < 0:
            had = exten in self._hints or exten in self._ext_status
            self._set_hint(exten, None)
            self._ext_status.pop(exten, None)
            if had:
                self._mark_exten(exten)
            return had
        # During boot Asterisk sends ExtensionStatus with an empty Hint (trace 09): keep the one we know.
        hint = tuple(d.strip() for d in (event.get("Hint") or "").split("&") if d.strip())
        changed = bool(hint) and self._hints.get(exten) != hint
        if changed:
            self._set_hint(exten, hint)
        changed = _put(self._ext_status, exten, status) or changed
        if changed:
            self._mark_exten(exten)
        return changed

    def _set_hint(self, exten: str, hint: tuple[str, ...] | None) -> None:
        self._mark_exten(exten)  # its members' name (the hint's first device) and facts may change
        old = self._hints.pop(exten, None)
        for device in old or ():
            extens = self._extens_of_device.get(device)
            if extens is not None:
                extens.discard(exten)
                if not extens:
                    del self._extens_of_device[device]
        if old and self._exten_of_device.get(old[0]) == exten:
            del self._exten_of_device[old[0]]
            self._dirty.update(self._members_of_device.get(old[0], ()))
        if hint:
            self._hints[exten] = hint
            self._exten_of_device[hint[0]] = exten
            for device in hint:
                self._extens_of_device.setdefault(device, set()).add(exten)
            self._mark_exten(exten)

    def _on_device_state(self, event: Event) -> bool:
        device, state = event.get("Device"), event.get("State")
        # Local/<number>@<context> and Queue:… pseudo-devices are nobody's phone, and one per dialled number
        # would grow without bound.
        if not device or not state or device.startswith(_PSEUDO_DEVICES):
            return False
        return self._put_device_state(device, state.upper())

    def _put_device_state(self, device: str, state: str) -> bool:
        changed = _put(self._device_state, device, state)
        if changed:
            self._mark_device(device)
        return changed

    def _on_endpoint_list(self, event: Event) -> bool:
        name, text = event.get("ObjectName"), event.get("DeviceState")
        if not name or not text:
            return False
        return self._put_device_state(f"PJSIP/{name}", _ENDPOINT_TEXT_TO_STATE.get(text.strip().lower(), "UNKNOWN"))

    def _on_peer_status(self, event: Event) -> bool:
        return self._set_reachable(event.get("Peer"), event.get("PeerStatus"))

    def _set_reachable(self, device: str | None, status: str | None) -> bool:
        if not device or not status:
            return False
        word = status.lower()
        if word not in _UNREACHABLE and word not in _REACHABLE:
            return False
        changed = _set_member(self._unreachable, device, word in _UNREACHABLE)
        if changed:
            self._mark_device(device)
        return changed

    def _on_db_tree_item(self, event: Event) -> bool:
        key = event.get("Key") or ""
        prefix = f"/{DND_FAMILY}/"
        # The extension is the key's last component, as MikoPBX reads the family (older keys were "SIP/201").
        exten = key[len(prefix) :].rsplit("/", 1)[-1] if key.startswith(prefix) else ""
        return bool(exten) and self._set_dnd(exten, event.get("Val"))

    def _on_user_event(self, event: Event) -> bool:
        if (event.get("UserEvent") or "") != f"DB_{DND_FAMILY}":
            return False
        # MikoPBX's 1C panel sends lower-case ``key``/``val``; the key may be a path (WorkerAMI takes its basename).
        key = (event.get("key") or "").rsplit("/", 1)[-1]
        return bool(key) and self._set_dnd(key, event.get("val"))

    def _set_dnd(self, exten: str, value: str | None) -> bool:
        changed = _set_member(self._dnd, exten, (value or "").strip() not in {"", "0"})
        if changed:
            self._mark_exten(exten)
        return changed

    def _on_dialplan_line(self, event: Event) -> bool:
        # ShowDialPlan item (pbx.c manager_show_dialplan_helper): Context, Extension, [ExtensionLabel,] Priority,
        # Application, AppData, Registrar. Unlike most AMI events it says "Extension", not "Exten".
        exten, app = event.get("Extension"), (event.get("Application") or "").lower()
        queue = (event.get("AppData") or "").split(",", 1)[0].strip()
        if exten and app == "queue" and queue and "$" not in queue:
            return _put(self._queue_of_exten, exten, queue)
        return False

    def _on_queue_params(self, event: Event) -> bool:
        queue = event.get("Queue")
        if not queue or queue in self._queues:
            return False
        self._queues[queue] = {}
        return True

    def _on_queue_member(self, event: Event) -> bool:
        queue = event.get("Queue")
        # QueueStatus items call the interface "Location"; the QueueMember* events call it "Interface".
        interface = event.get("Interface") or event.get("Location")
        if not queue or not interface:
            return False
        members = self._queues.setdefault(queue, {})
        old = members.get(interface)
        paused = event.get("Paused")
        return self._put_member(
            queue,
            QueueMember(
                interface=interface,
                state_interface=event.get("StateInterface") or (old.state_interface if old else interface),
                status=_int(event.get("Status"), old.status if old else 0),
                paused=_flag(paused) if paused is not None else bool(old and old.paused),
            ),
        )

    def _put_member(self, queue: str, member: QueueMember) -> bool:
        members = self._queues[queue]
        old = members.get(member.interface)
        if old == member:
            return False
        self._index_member(queue, old, present=False)
        members[member.interface] = member
        self._index_member(queue, member, present=True)
        self._dirty.add((queue, member.interface))
        return True

    def _on_queue_member_removed(self, event: Event) -> bool:
        queue, interface = event.get("Queue"), event.get("Interface") or event.get("Location")
        if not queue or not interface:
            return False
        old = self._queues.get(queue, {}).pop(interface, None)
        if old is None:
            return False
        self._index_member(queue, old, present=False)
        self._dirty.add((queue, interface))
        return True

    def _on_queue_member_pause(self, event: Event) -> bool:
        queue, interface = event.get("Queue") or "", event.get("Interface") or event.get("Location") or ""
        old = self._queues.get(queue, {}).get(interface)
        if old is None:
            return False
        return self._put_member(
            queue, QueueMember(old.interface, old.state_interface, old.status, _flag(event.get("Paused")))
        )


def _put(mapping: dict[str, _V], key: str, value: _V) -> bool:
    if mapping.get(key) == value:
        return False
    mapping[key] = value
    return True


def _set_member(items: set[str], item: str, present: bool) -> bool:
    if (item in items) == present:
        return False
    if present:
        items.add(item)
    else:
        items.discard(item)
    return True


_HANDLERS = {
    "extensionstatus": AvailabilityState._on_extension_status,
    "devicestatechange": AvailabilityState._on_device_state,
    "endpointlist": AvailabilityState._on_endpoint_list,
    "peerstatus": AvailabilityState._on_peer_status,
    "dbgettreeresponse": AvailabilityState._on_db_tree_item,
    "userevent": AvailabilityState._on_user_event,
    "listdialplan": AvailabilityState._on_dialplan_line,
    "queueparams": AvailabilityState._on_queue_params,
    "queuemember": AvailabilityState._on_queue_member,
    "queuememberstatus": AvailabilityState._on_queue_member,
    "queuememberadded": AvailabilityState._on_queue_member,
    "queuememberremoved": AvailabilityState._on_queue_member_removed,
    "queuememberpause": AvailabilityState._on_queue_member_pause,
    # Asterisk < 13 name of QueueMemberPause.
    "queuememberpaused": AvailabilityState._on_queue_member_pause,
}
# What ``apply`` reads (lower-cased): its handlers' and the queue callers'; every other event changes nothing.
EVENT_NAMES = frozenset(_HANDLERS) | queue_callers.EVENT_NAMES
