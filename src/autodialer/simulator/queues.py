"""app_queue: queues, their members and callers, member status events, and whose turn it is to ring.

The per-caller Queue() application lives in queue_call.py. What is modelled here follows apps/app_queue.c:

* a member is *available* (is_member_available) when it is not paused and its device is not in use, busy, ringing
  or on hold, unless the queue has ringinuse=yes (then only unavailable/invalid devices are out);
* a caller may ring members only on its turn (is_our_turn): counting from the head, callers already ringing
  members ("pending") are skipped, and the caller's place among the others must be below the number of available
  members. With strategy ringall, or autofill=no (the default when [general] does not set it, as in the lab), that
  number is at most 1: only the head caller is served, a second caller waits until the first is connected;
* a member being rung for one caller is "pending" (pending_members) until its device state changes, so with
  ringinuse=no two callers never ring one member at the same time;
* a member whose last call of the queue ended less than ``wrapuptime`` ago is in wrap-up: neither available nor
  rung (is_member_available and can_ring_entry compare ``lastcall`` with the queue's wrapuptime).

Member status changes (from DeviceStates) produce QueueMemberStatus and the `Queue:<q>_avail` device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .channels import UP, Channel
from .config import QueueConfig
from .devices import MEMBER_STATUS
from .dialplan import separate_args

if TYPE_CHECKING:
    from .pbx import PBX


@dataclass
class Member:
    exten: str
    name: str
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    queuepos: int = 0  # place in queues.conf order (rrmemory's position)

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.exten}"


@dataclass
class Queue:
    config: QueueConfig
    members: list[Member] = field(default_factory=list)
    callers: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0
    avail: str = "NOT_INUSE"
    pending: set[str] = field(default_factory=set)  # callers (channel names) ringing members right now
    rrpos: int = 0  # rrmemory: the member position to ring first next time
    wrapped: bool = False
    # Places (queuepos) of the members available but for wrap-up: kept as device states and pauses change, so
    # whose turn it is needs no scan of every member (a thousand at a thousand live calls, per caller per check).
    ready: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.config.name


class Queues:
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx
        now = int(pbx.clock.now())
        names = {e.exten: e.display_name for e in pbx.config.employees}
        self.queues = {
            q.name: Queue(q, [Member(m, names.get(m, m), login_time=now, queuepos=i) for i, m in enumerate(q.members)])
            for q in pbx.config.queues
        }
        self.pending_members: set[str] = set()  # interfaces being rung whose device state has not changed yet
        # Each interface's memberships in queue order (members are static), so a device state change visits the
        # queues that have it and not every member of every queue.
        self._memberships: dict[str, list[tuple[Queue, Member]]] = {}
        for queue in self.queues.values():
            for m in queue.members:
                self._memberships.setdefault(m.interface, []).append((queue, m))
        self.recount()

    def recount(self) -> None:
        """Every queue's `ready` members from scratch (at start, and when the PBX resets its device states)."""
        for queue in self.queues.values():
            queue.ready = {m.queuepos for m in queue.members if self._ready(queue, m)}

    def _update_ready(self, queue: Queue, m: Member) -> None:
        (queue.ready.add if self._ready(queue, m) else queue.ready.discard)(m.queuepos)

    # --- state events ------------------------------------------------------------------------------------
    def member_fields(self, queue: Queue, m: Member, *, listing: bool = False) -> list[tuple[str, str]]:
        status = str(MEMBER_STATUS.get(self._pbx.devices.get(m.interface), 0))
        head = (
            [("Queue", queue.name), ("Name", m.name), ("Location", m.interface)]
            if listing
            else [("Queue", queue.name), ("MemberName", m.name), ("Interface", m.interface)]
        )
        tail = [] if listing else [("Ringinuse", "1" if queue.config.ringinuse else "0")]
        return [
            *head,
            ("StateInterface", m.interface),
            ("Membership", "static"),
            ("Penalty", "0"),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", str(m.last_call)),
            ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)),
            ("InCall", "1" if m.in_call or self._answered_queue_call(m) else "0"),
            ("Status", status),
            ("Paused", "1" if m.paused else "0"),
            ("PausedReason", m.paused_reason),
            *tail,
            ("Wrapuptime", str(int(queue.config.wrapup_s))),
        ]

    def entry_fields(self, queue: Queue, ch: Channel, position: int) -> list[tuple[str, str]]:
        """A QueueEntry of QueueStatus (manager_queues_status), one per caller waiting."""
        return [
            ("Queue", queue.name),
            ("Position", str(position)),
            ("Channel", ch.name),
            ("Uniqueid", ch.uniqueid),
            ("CallerIDNum", ch.caller_num),
            ("CallerIDName", ch.caller_name),
            ("ConnectedLineNum", ch.connected_num),
            ("ConnectedLineName", ch.connected_name),
            ("Wait", str(int(self._pbx.clock.now() - ch.created_at))),
            ("Priority", "0"),
        ]

    def _answered_queue_call(self, m: Member) -> bool:
        # Asterisk reports the member's state after AgentConnect, so an answered queue call already counts.
        return any(c.queue_call and c.state == UP for c in self._pbx.channels.on_device(m.interface))

    def member_state_changed(self, device: str) -> None:
        self.pending_members.discard(device)  # update_status: a real status change ends "pending"
        # device_state_cb: the queues that have the member, each one's status event(s) then its _avail device.
        memberships = self._memberships.get(device, [])
        for queue, m in memberships:
            self._update_ready(queue, m)
        for i, (queue, m) in enumerate(memberships):
            if not self._pbx.unwanted("QueueMemberStatus"):
                self._pbx.emit("QueueMemberStatus", self.member_fields(queue, m))
            if i + 1 == len(memberships) or memberships[i + 1][0] is not queue:
                self._refresh_avail(queue)

    def _available(self, queue: Queue, m: Member) -> bool:
        """is_member_available: not paused; a device in use, busy, ringing or on hold only with ringinuse=yes."""
        return self._ready(queue, m) and not self._wrapping_up(queue, m)

    def _ready(self, queue: Queue, m: Member) -> bool:
        """is_member_available but for wrap-up, the one part that changes with time alone."""
        state = self._pbx.devices.get(m.interface)
        if m.paused or state in ("UNAVAILABLE", "INVALID"):
            return False
        return queue.config.ringinuse or state in ("NOT_INUSE", "UNKNOWN")

    def can_ring(self, queue: Queue, m: Member) -> bool:
        """can_ring_entry: may this member be rung now? With ringinuse=no it is then pending until its device
        state changes, so a second caller (of any queue) cannot ring it in the meantime."""
        if m.paused or self._wrapping_up(queue, m):
            return False
        if queue.config.ringinuse:
            return True
        if self._pbx.devices.get(m.interface) not in ("NOT_INUSE", "UNKNOWN") or m.interface in self.pending_members:
            return False
        self.pending_members.add(m.interface)
        return True

    def _wrapping_up(self, queue: Queue, m: Member) -> bool:
        wrapup = queue.config.wrapup_s
        return bool(wrapup and m.last_call and self._pbx.clock.now() - m.last_call < wrapup)

    def available_count(self, queue: Queue) -> int:
        """num_available_members: with ringall or autofill=no, "at least one" is all that counts."""
        one = queue.config.strategy == "ringall" or not queue.config.autofill
        if not queue.config.wrapup_s:
            count = len(queue.ready)
        else:
            count = 0
            for pos in queue.ready:
                count += not self._wrapping_up(queue, queue.members[pos])
                if count and one:
                    break
        return min(count, 1) if one else count

    def is_our_turn(self, queue: Queue, caller: Channel) -> bool:
        """is_our_turn: the caller's place among the callers ahead that are not ringing anybody is below the
        number of available members (and it is first in line when autofill is off)."""
        available = self.available_count(queue)
        ahead = 0
        for position, ch in enumerate(queue.callers, start=1):
            if ahead >= available:
                return False
            if ch is caller:
                return queue.config.autofill or position == 1
            if ch.name not in queue.pending:
                ahead += 1
        return False

    def _refresh_avail(self, queue: Queue) -> None:
        any_available = any(not self._wrapping_up(queue, queue.members[pos]) for pos in queue.ready)
        new = "NOT_INUSE" if any_available else "INUSE"
        if new != queue.avail:
            queue.avail = new
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}_avail"), ("State", new)])

    def pause(self, queue_name: str | None, interface: str, paused: bool, reason: str = "") -> bool:
        found = False
        for queue in self.queues.values():
            if queue_name and queue.name != queue_name:
                continue
            for m in queue.members:
                if m.interface == interface or m.exten == interface:
                    found = True
                    m.paused, m.paused_reason = paused, reason if paused else ""
                    self._update_ready(queue, m)
                    m.last_pause = int(self._pbx.clock.now())
                    self._pbx.emit("QueueMemberPause", self.member_fields(queue, m))
                    self._pbx.emit(
                        "DeviceStateChange",
                        [
                            ("Device", f"Queue:{queue.name}_pause_{m.interface}"),
                            ("State", "INUSE" if paused else "NOT_INUSE"),
                        ],
                    )
                    self._refresh_avail(queue)
        return found

    def device_states(self) -> list[tuple[str, str]]:
        out = [(f"Queue:{q.name}_avail", q.avail) for q in self.queues.values()]
        for q in self.queues.values():
            out += [(f"Queue:{q.name}_pause_{m.interface}", "INUSE" if m.paused else "NOT_INUSE") for m in q.members]
            out.append((f"Queue:{q.name}", "RINGING" if q.callers else "NOT_INUSE"))
        return out

    # --- the Queue() application ----------------------------------------------------------------------
    async def run(self, caller: Channel, data: str) -> str:
        """Queue(queuename[,options[,URL[,announceoverride[,timeout[,AGI[,gosub[,rule[,position]]]]]]]]), the
        argument order since Asterisk 21 (before it, a macro argument came before gosub)."""
        args = separate_args(data)
        queue = self.queues.get(args[0] if args else "")
        if queue is None:
            self._pbx.set_var(caller, "QUEUESTATUS", "UNKNOWN")
            return ""
        timeout = float(args[4]) if len(args) > 4 and args[4].strip() else None
        gosub = args[6].strip() if len(args) > 6 else ""
        from .queue_call import QueueCall  # late: queue_call builds on this module

        return await QueueCall(self, queue, caller, timeout, gosub or queue.config.member_gosub).run()

    def join(self, queue: Queue, caller: Channel) -> None:
        queue.callers.append(caller)
        if len(queue.callers) == 1:
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}"), ("State", "RINGING")])
        self._pbx.chan_event(
            "QueueCallerJoin",
            caller,
            [("Queue", queue.name), ("Position", str(len(queue.callers))), ("Count", str(len(queue.callers)))],
        )

    def leave(self, queue: Queue, caller: Channel, abandoned: bool = False, hold: int = 0) -> None:
        if caller not in queue.callers:
            return
        position = queue.callers.index(caller) + 1
        queue.callers.remove(caller)
        queue.pending.discard(caller.name)
        if not queue.callers:
            self._pbx.emit("DeviceStateChange", [("Device", f"Queue:{queue.name}"), ("State", "NOT_INUSE")])
        if abandoned:
            queue.abandoned += 1
            self._pbx.chan_event(
                "QueueCallerAbandon",
                caller,
                [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("OriginalPosition", str(position)),
                    ("HoldTime", str(hold)),
                ],
            )
        self._pbx.chan_event(
            "QueueCallerLeave",
            caller,
            [("Queue", queue.name), ("Position", str(position)), ("Count", str(len(queue.callers)))],
        )
