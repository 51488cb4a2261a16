"""The Queue() application for one caller, as apps/app_queue.c runs it (queue_exec, try_calling, ring_one,
wait_for_answer).

Trace 12 (ringall): QueueCallerJoin -> AgentCalled + DialBegin per member rung -> the first member to answer gets
DialEnd ANSWER, the others DialEnd CANCEL and Hangup cause 26 ("Answered elsewhere") -> QueueCallerLeave ->
AgentConnect -> bridge -> AgentComplete (HoldTime/TalkTime, Reason caller|agent) when it ends.

The loop: wait for our turn (checked every second, RECHECK), ring, and if nobody answered wait ``retry`` seconds
and ring again, until the Queue() timeout. Whom one round rings is the strategy's metric (calc_metric): ringall
rings every member it can at once; the others ring the best member and, when it rejects or fails, the next best
at once (a member that just rings out ends the round: AgentRingNoAnswer, then ``retry``). rrmemory continues after
the member that was rung last, linear starts each caller from the first member, leastrecent prefers the member
whose last call ended longest ago, fewestcalls the one with the fewest calls. Members whose metrics tie are taken
in queues.conf order (Asterisk's hash container makes that order arbitrary). A member that rejects the call
(busy) gives DialEnd BUSY and AgentRingNoAnswer, as rna() does.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .channels import RINGING, SOFT_APPUNLOAD, UP, Channel, wait_any
from .dial import Target, behaviour_for, dial_event, make_callee, update_connected_line
from .endpoints import far_end
from .pbx import HANGUP

if TYPE_CHECKING:
    from .queues import Member, Queue, Queues

RECHECK_S = 1.0  # app_queue's RECHECK: how often a waiting caller looks whether it is its turn


@dataclass(eq=False, slots=True)
class _Attempt:
    """One member in one round of ringing (app_queue's struct callattempt)."""

    member: Member
    metric: int
    pos: int  # the member's place in queues.conf order
    still_going: bool = True
    channel: Channel | None = None
    tried: bool = False


def rotated_order(n: int, start: int) -> Iterator[tuple[int, int]]:
    """``(metric, pos)`` of ``n`` members in the order ``sorted`` by metric (stable) puts them, lazily, where
    calc_metric gives ``pos`` from ``start`` on and ``1000 + pos`` before it (rrmemory's rrpos, linear's linpos).
    Two runs, each rising: the members before ``start`` win ties, as they come first in queues.conf order."""
    before = ((1000 + pos, pos) for pos in range(min(start, n)))
    after = ((pos, pos) for pos in range(max(start, 0), n))
    if n <= 1000:  # metrics below 1000 after start, 1000 and up before it: no ties, no interleaving
        return itertools.chain(after, before)
    return heapq.merge(before, after, key=lambda item: item[0])


class _Attempts:
    """One round's attempts, and find_best over them in O(1) amortised: an attempt once rung, tried or given up
    never becomes a candidate again and metrics do not change within a round, so a cursor over the attempts in
    metric order (stable: ties in queues.conf order, as ``min`` picks) finds what a fresh scan would. A scan per
    pick made each caller's round O(members²): 1,260 members at 1,000 live calls took the simulator's whole core and
    delayed its AGI answers by seconds (issue 11).

    The attempts are made as the cursor reaches them: an attempt not reached yet would be untouched (still going,
    no channel, not tried), so rrmemory and linear, whose order is known without computing every metric, do not
    build an attempt per member for each caller's round (another second per thousand members at 1,000 live).
    ``every`` makes them all (ringall rings every member at once)."""

    def __init__(self, members: list[Member], order: Iterable[tuple[int, int]]) -> None:
        self._members = members
        self._order = iter(order)
        self._made: list[_Attempt] = []
        self._head: _Attempt | None = None
        self.rung: list[_Attempt] = []  # attempts given a channel, in queues.conf order

    def _next(self) -> _Attempt | None:
        item = next(self._order, None)
        if item is None:
            return None
        metric, pos = item
        attempt = _Attempt(self._members[pos], metric, pos)
        self._made.append(attempt)
        return attempt

    def best(self) -> _Attempt | None:
        while True:
            a = self._head
            if a is None:
                a = self._head = self._next()
                if a is None:
                    return None
            if a.still_going and a.channel is None and not a.tried:
                return a
            self._head = None

    def every(self) -> list[_Attempt]:
        """Every attempt, in queues.conf order."""
        while self._next() is not None:
            pass
        return sorted(self._made, key=lambda a: a.pos)

    def mark_rung(self, attempt: _Attempt) -> None:
        bisect.insort(self.rung, attempt, key=lambda a: a.pos)


class QueueCall:
    """One caller waiting in one queue."""

    def __init__(self, queues: Queues, queue: Queue, caller: Channel, timeout: float | None, gosub: str = "") -> None:
        self.q, self.queue, self.caller = queues, queue, caller
        self.gosub = gosub  # Queue()'s gosub argument, else the queue's membergosub: run on the member's channel
        self.pbx = queues._pbx
        self.loop = asyncio.get_running_loop()
        self.start = self.pbx.clock.now()
        self.losers: list[Channel] = []
        self.deadline = None if timeout is None else self.loop.time() + self.pbx.clock.real(timeout)
        self.linpos = 0  # linear: per caller
        self.linwrapped = False

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.loop.time()

    async def run(self) -> str:
        self.q.join(self.queue, self.caller)
        while True:
            answered = None
            if not self.caller.hungup and self.q.is_our_turn(self.queue, self.caller):
                answered = await self._try_calling()
                pause = self.queue.config.retry_s
            else:
                pause = RECHECK_S
            if self.caller.hungup:
                if answered is not None:
                    # The member answered in the same instant the caller left: its leg is cleared too.
                    winner = answered[1]
                    winner.hangup_cause = 16
                    self.pbx.destroy(winner)
                    self.q.pending_members.discard(answered[0].interface)
                self.q.leave(self.queue, self.caller, abandoned=True, hold=self._hold())
                return HANGUP
            if answered is not None:
                return await self._connect(*answered)
            left = self._left()
            if left is not None and left <= 0:
                self.q.leave(self.queue, self.caller)
                self.pbx.set_var(self.caller, "QUEUESTATUS", "TIMEOUT")
                return ""
            wait = self.pbx.clock.real(pause)
            await wait_any([self.caller], wait if left is None else min(wait, left))

    def _hold(self) -> int:
        return int(self.pbx.clock.now() - self.start)

    # --- one round of ringing (try_calling) -------------------------------------------------------------
    async def _try_calling(self) -> tuple[Member, Channel, float] | None:
        self.queue.pending.add(self.caller.name)
        try:
            attempts = _Attempts(self.queue.members, self._order())
            self._ring_one(attempts)
            answered = await self._wait(attempts)
            self._store_next(attempts)
            return answered
        finally:
            self.queue.pending.discard(self.caller.name)

    def _order(self) -> Iterable[tuple[int, int]]:
        """``(metric, pos)`` of every member, lowest metric first, ties in queues.conf order: calc_metric for each
        member as try_calling computes it (with its side effects), sorted as find_best picks."""
        strategy, queue, n = self.queue.config.strategy, self.queue, len(self.queue.members)
        if strategy == "linear":
            self.linwrapped = self.linwrapped or n - 1 > self.linpos  # some member after linpos
            return rotated_order(n, self.linpos)
        if strategy in ("rrmemory", "rrordered"):
            queue.wrapped = queue.wrapped or n - 1 > queue.rrpos  # queuepos is the member's place
            return rotated_order(n, queue.rrpos)
        if strategy == "ringall":
            return ((0, pos) for pos in range(n))
        metrics = [(self._metric(m), pos) for pos, m in enumerate(queue.members)]
        return sorted(metrics, key=lambda item: item[0])

    def _metric(self, m: Member) -> int:
        """calc_metric (every penalty 0) of the strategies whose metric is not the member's place."""
        strategy = self.queue.config.strategy
        if strategy == "leastrecent":
            return 0 if not m.last_call else 1000000 - (int(self.pbx.clock.now()) - m.last_call)
        if strategy == "fewestcalls":
            return m.calls_taken
        if strategy == "random":
            return random.randrange(1000)  # noqa: S311 - a ring order, not a secret
        return 0  # ringall: everyone equal

    @staticmethod
    def _best(attempts: _Attempts) -> _Attempt | None:
        """find_best: the waiting attempt with the lowest metric (the first in queues.conf order on a tie)."""
        return attempts.best()

    def _ring_one(self, attempts: _Attempts) -> bool:
        """ring_one: ring the best member (ringall: every member sharing the best metric) until one rings."""
        while True:
            best = self._best(attempts)
            if best is None:
                return False
            if self.queue.config.strategy == "ringall":
                every = attempts.every()
                rung = [
                    self._ring(attempts, a) for a in every if a.still_going and not a.tried and a.metric <= best.metric
                ]
                if any(rung):
                    return True
            elif self._ring(attempts, best):
                return True

    def _ring(self, attempts: _Attempts, attempt: _Attempt) -> bool:
        """ring_entry: call one member, or mark it done when it cannot be rung (paused, busy, no channel)."""
        attempt.tried = True
        m = attempt.member
        if not self.q.can_ring(self.queue, m):
            attempt.still_going = False
            return False
        target = Target(m.exten, m.exten, m.exten)
        behaviour = behaviour_for(self.pbx, target)
        if behaviour.outcome == "noroute":  # ast_request fails: no channel, no events
            self.q.pending_members.discard(m.interface)
            attempt.still_going = False
            return False
        out = make_callee(self.pbx, self.caller, target, app="AppQueue")
        out.queue_call = True
        # AgentCalled already shows where the member will be and whom it will see; DialBegin does not yet.
        seen = {
            "DestConnectedLineNum": self.caller.caller_num,
            "DestConnectedLineName": self.caller.caller_name,
            "DestExten": self.caller.exten,
        }
        dest = [(k, seen.get(k, v)) for k, v in out.fields("Dest")]
        self.pbx.chan_event(
            "AgentCalled",
            self.caller,
            [*dest, ("Queue", self.queue.name), ("Interface", m.interface), ("MemberName", m.name)],
        )
        dial_event(self.pbx, "DialBegin", self.caller, out, [("DialString", m.interface)])
        out.connected_num, out.connected_name = self.caller.caller_num, self.caller.caller_name
        out.exten = self.caller.exten
        self.pbx.spawn(far_end(self.pbx, out, behaviour))
        attempt.channel = out
        attempts.mark_rung(attempt)
        return True

    def _store_next(self, attempts: _Attempts) -> None:
        """store_next_rr / store_next_lin: where the next round starts."""
        strategy = self.queue.config.strategy
        if strategy not in ("rrmemory", "rrordered", "linear"):
            return
        best = self._best(attempts)
        if strategy == "linear":
            self.linpos = best.metric % 1000 if best else (0 if self.linwrapped else self.linpos + 1)
            self.linwrapped = False
            return
        queue = self.queue
        queue.rrpos = best.metric % 1000 if best else (0 if queue.wrapped else queue.rrpos + 1)
        queue.wrapped = False

    def _ring_no_answer(self, m: Member, out: Channel, ring_time: float) -> None:
        self.pbx.chan_event(
            "AgentRingNoAnswer",
            self.caller,
            [
                *out.fields("Dest"),
                ("Queue", self.queue.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("RingTime", str(int(ring_time))),
            ],
        )

    async def _wait(self, attempts: _Attempts) -> tuple[Member, Channel, float] | None:
        """wait_for_answer: follow the rung members until one answers, all are done, or the ring time is up."""
        ring_end = self.loop.time() + self.pbx.clock.real(self.queue.config.timeout_s)
        rang: set[int] = set()
        t0 = self.pbx.clock.now()
        ringall = self.queue.config.strategy == "ringall"

        def live() -> list[_Attempt]:
            return [a for a in attempts.rung if a.channel is not None and a.still_going]

        while True:
            for a in live():
                out = a.channel
                assert out is not None
                if out.state == RINGING and id(out) not in rang:
                    rang.add(id(out))
                    self.pbx.new_exten(out, "AppQueue", "(Outgoing Line)")
                    self.pbx.new_connected_line(out)
                    dial_event(self.pbx, "DialState", self.caller, out, [("DialStatus", "RINGING")])
            winner = next((a for a in live() if a.channel is not None and a.channel.state == UP), None)
            for a in [a for a in live() if a.channel is not None and a.channel.hungup and a is not winner]:
                out = a.channel
                assert out is not None
                dial_event(self.pbx, "DialEnd", self.caller, out, [("DialStatus", "BUSY")])
                self._ring_no_answer(a.member, out, self.pbx.clock.now() - t0)
                a.still_going, a.channel = False, None
                self.pbx.destroy(out)
                self.q.pending_members.discard(a.member.interface)
                left_ms = ring_end - self.loop.time()
                if not ringall and left_ms > self.pbx.clock.real(0.5):
                    self._ring_one(attempts)
            left = self._left()
            expired = self.loop.time() >= ring_end or (left is not None and left <= 0)
            ringing = live()
            if winner is not None or self.caller.hungup or expired or not ringing:
                return self._end_round(ringing, winner, t0)
            budget = ring_end - self.loop.time()
            if left is not None:
                budget = min(budget, left)
            await wait_any([self.caller, *(a.channel for a in ringing if a.channel is not None)], budget)

    def _end_round(
        self, ringing: list[_Attempt], winner: _Attempt | None, t0: float
    ) -> tuple[Member, Channel, float] | None:
        if winner is not None:
            assert winner.channel is not None
            dial_event(self.pbx, "DialEnd", self.caller, winner.channel, [("DialStatus", "ANSWER")])
        for a in ringing:
            out = a.channel
            if out is None or a is winner:
                continue
            timed_out = winner is None and not self.caller.hungup
            if timed_out:
                self._ring_no_answer(a.member, out, self.pbx.clock.now() - t0)
            dial_event(self.pbx, "DialEnd", self.caller, out, [("DialStatus", "NOANSWER" if timed_out else "CANCEL")])
            if winner is not None:
                self.losers.append(out)
            out.hangup_cause = 26 if winner is not None else 0
            self.pbx.destroy(out)
            self.q.pending_members.discard(a.member.interface)
        if winner is None:
            return None
        assert winner.channel is not None
        return winner.member, winner.channel, self.pbx.clock.now() - t0

    async def _member_gosub(self, out: Channel) -> None:
        """try_calling after leave_queue: ``<context>[,<args>]`` runs as Gosub(<context>,s,1(<args>)) on the member's
        channel (the caller in autoservice); app_queue ignores how it ended ("The gosub simply returns")."""
        from .subroutines import run_subroutine  # late: subroutines run applications

        context, comma, args = self.gosub.partition(",")
        await run_subroutine(self.pbx, out, f"{context},s,1({args})" if comma else f"{context},s,1")

    # --- connected --------------------------------------------------------------------------------------
    async def _connect(self, m: Member, out: Channel, ring_time: float) -> str:
        pbx, caller = self.pbx, self.caller
        hold = self._hold()
        update_connected_line(pbx, caller, out)
        for loser in self.losers:  # app_queue really reports the losers' CANCEL twice (trace 12)
            dial_event(pbx, "DialEnd", caller, loser, [("DialStatus", "CANCEL")])
        self.q.leave(self.queue, caller)
        if self.gosub:
            await self._member_gosub(out)
        pbx.chan_event(
            "AgentConnect",
            caller,
            [
                *out.fields("Dest"),
                ("Queue", self.queue.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(int(ring_time))),
            ],
        )
        pbx.set_var(caller, "QUEUESTATUS", "CONNECTED")
        if caller.state != UP:
            # ast_bridge_call answers a caller that is not up yet (Queue() itself never answers): a Local ;2 that
            # runs Queue() goes Up here, which answers its ;1 and so the Dial that reached the queue.
            pbx.new_state(caller, UP)
        bridge = pbx.bridges.create()
        pbx.bridges.enter(bridge, out)
        pbx.bridges.enter(bridge, caller)
        m.in_call = True
        talk_start = pbx.clock.now()
        while not caller.hungup and not out.hungup:
            await wait_any([caller, out], None)
        m.in_call = False
        m.calls_taken += 1
        m.last_call = int(pbx.clock.now())
        self.q.pending_members.discard(m.interface)  # update_queue: the call is complete
        talk = int(pbx.clock.now() - talk_start)
        self.queue.completed += 1
        self.queue.holdtime, self.queue.talktime = hold, talk
        reason = "caller" if caller.hungup else "agent"
        pbx.chan_event(
            "AgentComplete",
            caller,
            [
                *out.fields("Dest"),
                ("Queue", self.queue.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", reason),
            ],
        )
        pbx.bridges.leave(caller)
        pbx.bridges.leave(out)
        if reason == "agent":
            caller.pbx_soft_hangup_sent = True
            pbx.soft_hangup(caller, SOFT_APPUNLOAD)
        if not caller.in_agi:
            pbx.end_pbx(caller)
        out.hangup_cause = 16
        pbx.destroy(out)
        return HANGUP
