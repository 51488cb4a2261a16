"""LiveBoard with fakes: what the engine, the roster and the link tell it becomes events, coalesced where it costs
(agents, campaign counters), and a client that resumes across counters nobody was sent is told to resync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from autodialer.domain.campaigns import (
    AttemptCounts,
    Campaign,
    CampaignState,
    NotFound,
    Target,
    TargetKind,
    stats_from,
)
from autodialer.domain.live_state import AgentFacts, AgentState, PbxLink
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.dialer_store import Attempt
from autodialer.services.live_board import AGENT_BURST, LiveBoard
from autodialer.services.live_events import RESYNC, LiveEvents, Subscription


@dataclass
class FakeRoster:
    facts: list[AgentFacts] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def agents(self) -> list[AgentFacts]:
        return list(self.facts)

    def on_change(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def change(self, facts: list[AgentFacts]) -> None:
        self.facts = facts
        for callback in self.callbacks:
            callback()


@dataclass
class FakeEngine:
    attempts: dict[str, Attempt] = field(default_factory=dict)

    def calls_now(self) -> list[Attempt]:
        return list(self.attempts.values())

    def reserved_agents(self) -> frozenset[str]:
        return frozenset(a.agent for a in self.attempts.values() if a.agent)


@dataclass
class FakeLink:
    state: PbxLink = field(default_factory=lambda: PbxLink(False, "connecting", 1.0, "refused", 0))
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def link(self) -> PbxLink:
        return self.state

    def on_link_change(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)


class FakeCampaigns:
    """The three reads the board makes of CampaignService."""

    def __init__(self) -> None:
        self.reads = 0
        self.campaign = Campaign(
            7, "", "c", CampaignState.ACTIVE, Target(TargetKind.EXTENSION, "201"), 1, "", None, False, 0.0, 0.0
        )

    async def get(self, campaign_id: int) -> Campaign:
        if campaign_id != 7:
            raise NotFound("no", "campaign_id")
        return self.campaign

    async def list(self, **_: object) -> list[Campaign]:
        return [self.campaign]

    async def stats(self, campaign_id: int):  # type: ignore[no-untyped-def]
        self.reads += 1
        return stats_from(7, {"endCall": 2}, {"": 1, "SUCCESS_USER_H": 1}, AttemptCounts(1, 4, 2, 5, 3, abandoned=1))


def attempt(call_id: str = "c1", agent: str | None = "PJSIP/201") -> Attempt:
    return Attempt(call_id, 7, 11, "5551001", "201", "connect", agent, 100.0)


def board(**kw: object) -> tuple[LiveBoard, FakeRoster, FakeEngine, FakeCampaigns]:
    roster, engine, campaigns = FakeRoster(), FakeEngine(), FakeCampaigns()
    live = LiveBoard(LiveEvents(boot="b"), campaigns, roster=roster, calls=engine, settle_s=0, **kw)  # type: ignore[arg-type]
    return live, roster, engine, campaigns


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def kinds(subscription: Subscription) -> list[tuple[str, object]]:
    out = []
    while len(subscription):
        event = subscription._queue.popleft()
        out.append((event.kind, event.data))
    return out


async def test_a_call_is_published_as_it_starts_is_answered_and_ends_with_its_number_result() -> None:
    live, roster, engine, _ = board()
    roster.facts = [AgentFacts("PJSIP/201", "201", AgentState.FREE)]
    stream = live.subscribe(None)
    a = attempt()
    engine.attempts[a.call_id] = a
    live.call_changed(a)
    live.call_changed(a)  # nothing new: no event
    answered = replace(a, answered=True)
    live.call_changed(answered)
    del engine.attempts[a.call_id]
    live.call_finished(answered, ResultRow(state="endCall", result="SUCCESS_USER_H", count_try=1))
    events = kinds(stream)
    assert [k for k, _ in events] == ["call", "call", "call", "number"]
    assert [(d.phase, d.ended) for k, d in events if k == "call"] == [
        ("ringing", False),
        ("talking", False),
        ("talking", True),
    ]
    number = events[-1][1]
    assert (number.result, number.count_try, number.retry_at) == ("SUCCESS_USER_H", 1, None)  # type: ignore[attr-defined]
    await settle()
    after = kinds(stream)
    assert ("campaign", "c") in [(k, getattr(d, "name", None)) for k, d in after]
    line = next(d for k, d in after if k == "campaign")
    assert (line.numbers_open, line.abandoned, line.abandon_rate, line.originates_last_minute) == (1, 1, 0.5, 3)
    live.close()


async def test_reservations_show_as_reserved_after_one_coalesced_diff() -> None:
    live, roster, engine, _ = board()
    roster.facts = [AgentFacts("PJSIP/201", "201", AgentState.FREE), AgentFacts("PJSIP/202", "202", AgentState.FREE)]
    stream = live.subscribe(None)
    a = attempt()
    engine.attempts[a.call_id] = a
    live.call_changed(a)
    roster.change(roster.facts)  # several notifications before the diff: one diff
    roster.change(roster.facts)
    await settle()
    agents = [d for k, d in kinds(stream) if k.startswith("agent")]
    assert [(v.agent, v.state) for v in agents] == [("PJSIP/201", "reserved"), ("PJSIP/202", "free")]
    roster.change([AgentFacts("PJSIP/201", "201", AgentState.RINGING)])
    await settle()
    assert kinds(stream) == [("agent_gone", "PJSIP/202"), ("agent", live.agents()[0])]
    live.close()


async def test_agents_are_not_read_while_nobody_listens_and_a_resuming_client_gets_what_changed() -> None:
    live, roster, _, _ = board()
    reads = 0
    facts = roster.agents

    def counted() -> list[AgentFacts]:
        nonlocal reads
        reads += 1
        return facts()

    roster.agents = counted  # type: ignore[method-assign]
    roster.change([AgentFacts("PJSIP/201", "201", AgentState.FREE), AgentFacts("PJSIP/202", "202", AgentState.FREE)])
    first = live.subscribe(None)
    await settle()
    last = first._queue[-1]
    first.end()
    reads_then = reads
    roster.change([AgentFacts("PJSIP/201", "201", AgentState.TALKING)])  # nobody listens: no diff
    roster.change([AgentFacts("PJSIP/201", "201", AgentState.RINGING)])
    await settle()
    assert reads == reads_then
    resumed = live.subscribe(last.id)
    assert kinds(resumed) == [("agent_gone", "PJSIP/202"), ("agent", live.agents()[0])]
    assert live.agents()[0].state == "ringing"
    fresh = live.subscribe(live.events.last_id)
    await settle()
    assert kinds(fresh) == []  # nothing changed since
    live.close()


async def test_a_burst_of_agent_changes_is_one_list() -> None:
    live, roster, _, _ = board()
    stream = live.subscribe(None)
    roster.change([AgentFacts(f"PJSIP/{i}", str(i), AgentState.FREE) for i in range(AGENT_BURST + 1)])
    await settle()
    [(kind, items)] = kinds(stream)
    assert kind == "agents" and len(items) == AGENT_BURST + 1  # type: ignore[arg-type]
    live.close()


async def test_counters_nobody_was_sent_make_a_resuming_client_re_read_the_campaigns() -> None:
    live, _, _, campaigns = board()
    first = live.subscribe(None)
    live.call_changed(attempt("c1"))
    await settle()
    last = first._queue[-1]
    first.end()
    live.call_changed(attempt("c2"))  # nobody listens: the counters are not read
    await settle()
    reads = campaigns.reads
    assert reads == 1
    resumed = live.subscribe(last.id)
    assert [k for k, _ in kinds(resumed)] == ["call", "campaigns"]
    fresh = live.subscribe(live.events.last_id)
    assert kinds(fresh) == []  # read after the gap: nothing to fix
    assert [k for k, _ in kinds(live.subscribe("elsewhere-3"))] == [RESYNC]
    live.close()


class SlowCampaigns(FakeCampaigns):
    """Counters whose read takes ``read_s`` of the loop's time (a big campaign's GROUP BYs)."""

    def __init__(self, read_s: float) -> None:
        super().__init__()
        self.read_s = read_s
        self.open = 1

    async def stats(self, campaign_id: int):  # type: ignore[no-untyped-def]
        self.reads += 1
        await asyncio.sleep(self.read_s)
        return stats_from(7, {}, {"": self.open}, AttemptCounts(0, 0, 0, 0, 0))


async def test_a_campaign_whose_counters_cost_is_read_again_only_after_a_wait_in_proportion() -> None:
    campaigns = SlowCampaigns(read_s=0.05)
    engine = FakeEngine()
    live = LiveBoard(LiveEvents(boot="s"), campaigns, calls=engine, settle_s=0, read_share=0.1)  # type: ignore[arg-type]
    stream = live.subscribe(None)
    first = attempt("c1")
    engine.attempts[first.call_id] = first
    live.call_changed(first)
    while campaigns.reads < 1 or not any(e.kind == "campaign" for e in stream._queue):
        await asyncio.sleep(0.01)
    kinds(stream)
    campaigns.open = 0  # changed in the store meanwhile
    second = attempt("c2", agent=None)
    engine.attempts[second.call_id] = second
    live.call_changed(second)  # within 9 x 0.05 s of the read: the line with the calls now, the counters as read
    await settle()
    lines = [d for k, d in kinds(stream) if k == "campaign"]
    assert [(line.calls_ringing, line.numbers_open) for line in lines] == [(2, 1)]  # type: ignore[attr-defined]
    assert campaigns.reads == 1
    started = asyncio.get_running_loop().time()
    for _ in range(500):  # the read booked for the end of the wait (>= 0.45 s), and only one
        await asyncio.sleep(0.01)
        if campaigns.reads == 2 and any(e.kind == "campaign" for e in stream._queue):
            break
    assert asyncio.get_running_loop().time() - started >= 0.4
    lines = [d for k, d in kinds(stream) if k == "campaign"]
    assert [(line.calls_ringing, line.numbers_open) for line in lines] == [(2, 0)]  # type: ignore[attr-defined]
    assert campaigns.reads == 2
    line = await live.campaign(7)  # a client's GET reads now
    assert campaigns.reads == 3 and line.numbers_open == 0
    live.close()


async def test_link_changes_and_campaign_list_changes_are_published() -> None:
    link = FakeLink()
    live, _, _, _ = board(link=link)
    stream = live.subscribe(None)
    link.state = PbxLink(True, "connected", 2.0, None, 1)
    for callback in link.callbacks:
        callback()
    live.campaigns_changed()
    assert kinds(stream) == [("pbx_link", link.state), ("campaigns", None)]
    live.close()
    assert stream.closed


async def test_the_engine_tells_the_board_of_each_call_and_its_numbers_verdict() -> None:
    from tests.services.harness import Harness
    from tests.services.test_dialer_engine import connected_call

    h = Harness()
    live = LiveBoard(LiveEvents(boot="e"), FakeCampaigns(), calls=h.engine, settle_s=0)  # type: ignore[arg-type]
    h.engine.observe_calls(live)
    stream = live.subscribe(None)
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001")
    call_id = await connected_call(h, employee_answers=True, customer_first=True)
    events = [(k, d) for k, d in kinds(stream) if k in ("call", "number")]
    calls = [(d.call_id, d.phase, d.agent_connected, d.ended) for k, d in events if k == "call"]
    assert calls[0] == (call_id, "ringing", False, False) and calls[-1][3] is True
    assert (call_id, "talking", False, False) in calls  # answered (this helper reports the employee by FastAGI only)
    [number] = [d for k, d in events if k == "number"]  # the verdict, once, with the connect step's end
    assert (number.call_id, number.result, number.retry_at) == (call_id, "SUCCESS_CLIENT_H", None)
    assert live.calls() == []
    live.close()
