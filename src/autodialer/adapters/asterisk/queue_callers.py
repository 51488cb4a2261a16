"""Who is in each app_queue queue right now, from the queue's own events. Pure: events in, facts out.

Facts kept (apps/app_queue.c names the caller by its channel's Uniqueid, and its Linkedid is the call's, so for
our calls the Linkedid is our call id):

* callers waiting or ringing members: QueueCallerJoin adds, QueueCallerLeave / QueueCallerAbandon remove, a
  QueueStatus ``QueueEntry`` (after a reconnect) adds one without a Linkedid;
* members being rung for a caller: AgentCalled adds; AgentRingNoAnswer, the AgentConnect of that member, or the
  member's QueueMemberStatus saying anything but "ringing" removes it. Not the caller leaving the queue: with
  ringall the losers only get DialEnd CANCEL, and Asterisk reports QueueCallerLeave and AgentConnect before the
  members' new status, so a loser still ringing for a moment stays what it is, a member about to be free;
* callers the queue connected to a member: AgentConnect adds, AgentComplete / AgentDump or the caller channel's
  Hangup removes.

Everything is bounded by the calls in the queues; a re-sync starts from nothing (``clear``). QueueStatus names
waiting callers only by Uniqueid, so right after a reconnect our own waiting calls also count as other people's
until they leave the queue: the dialer then dials a little less for a few seconds, never more.
"""

from __future__ import annotations

from autodialer.protocols.ami import Event

_RINGING = "6"  # QueueMemberStatus Status of a ringing member (AST_DEVICE_RINGING)


class QueueCallers:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._callers: dict[str, dict[str, str]] = {}  # queue -> caller Uniqueid -> Linkedid (or the Uniqueid)
        self._rung: dict[tuple[str, str], set[str]] = {}  # (queue, member interface) -> caller Uniqueids
        self._served: dict[str, str] = {}  # caller Uniqueid -> Linkedid, between AgentConnect and its end

    # ---- queries

    def callers(self, queue: str) -> frozenset[str]:
        return frozenset(self._callers.get(queue, {}).values())

    def served(self) -> frozenset[str]:
        return frozenset(self._served.values())

    def rung_by_caller(self, queue: str, interface: str) -> bool:
        """The member is being rung for a caller of this queue."""
        return bool(self._rung.get((queue, interface)))

    def snapshot(self) -> tuple[object, ...]:
        return (
            sorted((q, sorted(c.items())) for q, c in self._callers.items() if c),
            sorted((k, sorted(v)) for k, v in self._rung.items() if v),
            sorted(self._served.items()),
        )

    # ---- updates (each returns whether it changed anything)

    def apply(self, event: Event) -> bool:
        handler = _HANDLERS.get(event.name.lower())
        return handler(self, event) if handler is not None else False

    def _on_join(self, event: Event) -> bool:
        queue, uid = event.get("Queue"), event.get("Uniqueid")
        if not queue or not uid:
            return False
        callers = self._callers.setdefault(queue, {})
        linked = event.get("Linkedid") or uid
        if callers.get(uid) == linked:
            return False
        callers[uid] = linked
        return True

    def _on_entry(self, event: Event) -> bool:
        queue, uid = event.get("Queue"), event.get("Uniqueid")
        if not queue or not uid or uid in self._callers.get(queue, {}):
            return False
        self._callers.setdefault(queue, {})[uid] = uid  # QueueEntry carries no Linkedid
        return True

    def _on_leave(self, event: Event) -> bool:
        queue, uid = event.get("Queue") or "", event.get("Uniqueid") or ""
        callers = self._callers.get(queue)
        removed = callers is not None and callers.pop(uid, None) is not None
        if callers is not None and not callers:
            del self._callers[queue]
        return removed

    def _on_member_status(self, event: Event) -> bool:
        if (event.get("Status") or "") == _RINGING:
            return False
        return self._rung.pop((event.get("Queue") or "", event.get("Interface") or ""), None) is not None

    def _on_agent_called(self, event: Event) -> bool:
        queue, interface, uid = event.get("Queue"), event.get("Interface"), event.get("Uniqueid")
        if not queue or not interface or not uid:
            return False
        rung = self._rung.setdefault((queue, interface), set())
        if uid in rung:
            return False
        rung.add(uid)
        return True

    def _on_ring_no_answer(self, event: Event) -> bool:
        key = (event.get("Queue") or "", event.get("Interface") or "")
        rung = self._rung.get(key)
        if rung is None or (event.get("Uniqueid") or "") not in rung:
            return False
        rung.discard(event.get("Uniqueid") or "")
        if not rung:
            del self._rung[key]
        return True

    def _on_agent_connect(self, event: Event) -> bool:
        uid = event.get("Uniqueid") or ""
        if not uid:
            return False
        stopped = self._on_ring_no_answer(event)  # the member who answered rings no more; the others stop later
        linked = event.get("Linkedid") or uid
        if self._served.get(uid) == linked:
            return stopped
        self._served[uid] = linked
        return True

    def _on_call_over(self, event: Event) -> bool:
        # AgentComplete / AgentDump, or the Hangup of any channel: only a served caller's matters.
        return self._served.pop(event.get("Uniqueid") or "", None) is not None


_HANDLERS = {
    "queuecallerjoin": QueueCallers._on_join,
    "queueentry": QueueCallers._on_entry,
    "queuecallerleave": QueueCallers._on_leave,
    "queuecallerabandon": QueueCallers._on_leave,
    "queuememberstatus": QueueCallers._on_member_status,
    "agentcalled": QueueCallers._on_agent_called,
    "agentringnoanswer": QueueCallers._on_ring_no_answer,
    "agentconnect": QueueCallers._on_agent_connect,
    "agentcomplete": QueueCallers._on_call_over,
    "agentdump": QueueCallers._on_call_over,
    "hangup": QueueCallers._on_call_over,
}
# What ``apply`` reads (lower-cased); every other event changes nothing.
EVENT_NAMES = frozenset(_HANDLERS)
