"""Power and predictive campaigns in the engine (issue 13), on fakes and virtual time: calls go to the queue
unreserved, the policy sees its own ringing and waiting calls, and a customer no agent takes within abandon_after_s
hears the safe harbor and is abandoned (FAIL_USER_BUSY, state abandoned, retried as agent-busy). A ringing call
predictive ends is hung up with cause 19 and recorded as a customer no-answer, retried as one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.services.fakes import FakeChannel, FakeClock, FakeRenderer
from tests.services.harness import NO_RETRIES, Harness

from autodialer.domain.call_events import AgentConnected, CustomerOutcome
from autodialer.domain.pacing import (
    CallAnswered,
    CallConnected,
    CallFailed,
    PowerPacing,
    PredictivePacing,
    ProgressivePacing,
    TalkEnded,
)
from autodialer.domain.pacing_config import (
    DEFAULT_SAFE_HARBOR_TEXT,
    PROGRESSIVE_SETTINGS,
    PacingMode,
    PacingSettings,
    SafeHarbor,
)
from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.services.connect_call import ConnectCallHandler, ConnectSettings
from autodialer.services.dialer_engine import EngineSettings

POWER = PacingSettings(PacingMode.POWER, lines_per_agent=2.0)
PREDICTIVE = PacingSettings(PacingMode.PREDICTIVE, abandon_after_s=2.0)
ENDS_RINGING = replace(PREDICTIVE, min_ring_s=15.0)  # opted in: ringing calls may be ended after 15 s


def queue_task(h: Harness, pacing: PacingSettings, numbers: int = 10, lines: int = 20) -> list[int]:
    h.store.add_task(1, "2200", max_channels=lines, pacing=pacing)
    return [h.store.add_number(1, f"55510{i:02d}").number_id for i in range(numbers)]


async def test_power_places_its_lines_per_free_agent_and_reserves_nobody() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    queue_task(h, POWER)
    await h.step()
    assert len(h.calls.originated) == 4  # 2 lines per free agent
    assert {r.variables["DIALER_AGENT"] for r in h.calls.originated} == {""}
    assert h.engine.reserved_agents() == frozenset()
    await h.step()
    assert len(h.calls.originated) == 4  # its own ringing calls count: no more until something changes
    h.fail(h.calls.call_ids[0], CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert len(h.calls.originated) == 5


async def test_a_progressive_campaign_on_the_same_queue_is_unchanged() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    queue_task(h, PROGRESSIVE_SETTINGS)
    await h.step()
    await h.step()
    assert len(h.calls.originated) == 2  # one per member


async def test_the_policy_object_is_kept_while_the_settings_stay_and_replaced_when_they_change() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201"})
    queue_task(h, PREDICTIVE)
    await h.step()
    book = h.engine.state.pacing
    first = book.policy(1)
    assert isinstance(first, PredictivePacing)
    await h.step()
    assert book.policy(1) is first
    h.store.tasks[1] = replace(h.store.tasks[1], pacing=POWER)
    await h.step()
    assert isinstance(book.policy(1), PowerPacing)
    h.store.tasks[1] = replace(h.store.tasks[1], pacing=PROGRESSIVE_SETTINGS)
    await h.step()
    assert isinstance(book.policy(1), ProgressivePacing)


async def test_predictive_dials_progressively_while_cold_and_learns_from_its_calls() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    queue_task(h, PREDICTIVE, numbers=40, lines=40)
    await h.step()
    assert len(h.calls.originated) == 2  # warm-up: one per free agent
    policy = h.engine.state.pacing.policy(1)
    assert isinstance(policy, PredictivePacing)
    h.clock.advance(10)
    h.answer(h.calls.call_ids[0])
    h.fail(h.calls.call_ids[1], CustomerOutcome.NO_ANSWER, 19, "No answer", "NOANSWER")
    await h.step()
    assert policy.model.answer.outcomes == 2


async def test_predictive_counts_abandonment_per_pbx_day_across_a_dst_change() -> None:
    # The engine starts in winter (Berlin at UTC+1); in summer (UTC+2) the campaign day still ends at local midnight,
    # which is 22:00 UTC, not the 23:00 UTC an offset fixed at start would give.
    berlin = ZoneInfo("Europe/Berlin")
    h = Harness(
        settings=EngineSettings(retry_policy=NO_RETRIES, pbx_zone="Europe/Berlin"),
        clock=FakeClock(datetime(2026, 1, 15, 12, tzinfo=berlin).timestamp()),
    )
    h.availability.set_queue("2200", {"PJSIP/201"})
    queue_task(h, PREDICTIVE)
    await h.step()
    policy = h.engine.state.pacing.policy(1)
    assert isinstance(policy, PredictivePacing)
    evening = datetime(2026, 6, 1, 23, 30, tzinfo=berlin).timestamp()
    for i in range(5):
        policy.observe(CallConnected(evening + i))
    assert policy.guard.answered_today == 5
    policy.guard.backoff(evening + 29 * 60)  # 23:59 local
    assert policy.guard.answered_today == 5
    policy.guard.backoff(datetime(2026, 6, 2, 0, 1, tzinfo=berlin).timestamp())  # 22:01 UTC
    assert policy.guard.answered_today == 0


def handler(h: Harness, renderer: FakeRenderer | None = None) -> ConnectCallHandler:
    settings = ConnectSettings(dial_timeout_s=20)
    return ConnectCallHandler(h.engine, h.availability, h.clock, settings, renderer or FakeRenderer())


def nobody_answers_in_time(channel: FakeChannel) -> int:
    channel.variables["DIALSTATUS"] = "NOANSWER"
    return 0


def an_agent_takes_it(channel: FakeChannel) -> int:
    channel.variables["DIALSTATUS"] = "ANSWER"
    return 0


async def answered_paced_call(h: Harness, pacing: PacingSettings) -> tuple[str, int]:
    h.availability.set_queue("2200", {"PJSIP/201"})
    [number_id, *_] = queue_task(h, pacing, numbers=1)
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    return call_id, number_id


async def test_no_agent_within_abandon_after_s_plays_the_safe_harbor_and_abandons() -> None:
    policy = RetryPolicy(agent_busy=RetryRule(delay_s=60, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    call_id, number_id = await answered_paced_call(h, PREDICTIVE)
    h.availability.set_queue("2200", set())  # the member got busy meanwhile: no busy check, the queue decides
    renderer = FakeRenderer()
    channel = FakeChannel(on_dial=nobody_answers_in_time)
    await handler(h, renderer).handle(channel, call_id)
    assert ("EXEC", "Dial", "Local/2200@internal,2,g") in channel.commands
    assert [p.text for p in renderer.rendered] == [DEFAULT_SAFE_HARBOR_TEXT]
    played = [c for c in channel.commands if c[0] == "STREAM FILE"]
    assert played == [("STREAM FILE", "tts/1", "")]
    assert channel.commands[-1] == ("HANGUP",)
    row = h.row(number_id)
    assert (row.result, row.state, row.requeues) == ("", "abandoned", 1)  # retried as agent-busy, not charged
    h.end(call_id)
    await h.step()
    assert [a.outcome for a in h.store.finished if a.call_id == call_id] == ["abandoned"]
    assert h.row(number_id).state == "abandoned"
    h.clock.advance(30)
    h.availability.set_queue("2200", {"PJSIP/201"})
    await h.step()
    assert h.last_call() == call_id  # not before the agent-busy delay
    h.clock.advance(31)
    await h.step()
    call_2 = h.last_call()
    assert call_2 != call_id
    h.answer(call_2)
    await h.step()
    await handler(h).handle(FakeChannel(on_dial=nobody_answers_in_time), call_2)
    row = h.row(number_id)
    assert (row.result, row.state, row.count_try, row.requeues) == ("FAIL_USER_BUSY", "abandoned", 2, 1)


async def test_the_campaigns_audio_and_wait_are_used() -> None:
    h = Harness()
    harbor = SafeHarbor(text="Sorry.", audio="harbor.wav", lang="ru-RU")
    call_id, _ = await answered_paced_call(h, PacingSettings(PacingMode.POWER, abandon_after_s=3.5, safe_harbor=harbor))
    renderer = FakeRenderer()
    channel = FakeChannel(on_dial=nobody_answers_in_time)
    await handler(h, renderer).handle(channel, call_id)
    assert ("EXEC", "Dial", "Local/2200@internal,3.5,g") in channel.commands
    [prompt] = renderer.rendered
    assert (prompt.file, prompt.fallback_text, prompt.lang) == ("harbor.wav", "Sorry.", "ru-RU")


async def test_an_agent_in_time_is_a_normal_connected_call() -> None:
    h = Harness()
    call_id, number_id = await answered_paced_call(h, PREDICTIVE)
    h.calls.emit(AgentConnected(call_id))
    channel = FakeChannel(on_dial=an_agent_takes_it)
    await handler(h).handle(channel, call_id)
    assert not [c for c in channel.commands if c[0] == "STREAM FILE"]
    h.end(call_id)
    await h.step()
    assert h.row(number_id).result == "SUCCESS_USER_H"


async def test_the_safe_harbor_failing_to_render_still_ends_the_call_abandoned() -> None:
    h = Harness()
    call_id, number_id = await answered_paced_call(h, PREDICTIVE)
    channel = FakeChannel(on_dial=nobody_answers_in_time)
    await handler(h, FakeRenderer(broken=True)).handle(channel, call_id)
    assert channel.commands[-1] == ("HANGUP",)
    assert h.row(number_id).state == "abandoned"


def warmed(h: Harness) -> PredictivePacing:
    """The campaign's predictive policy, told 200 calls: a third answered after 3-25 s and talked, the rest failed."""
    policy = h.engine.state.pacing.policy(1)
    assert isinstance(policy, PredictivePacing)
    at = h.clock.now() - 3600
    for i in range(200):
        if i % 3 == 0:
            policy.observe(CallAnswered(at + i, 3 + (i % 23)))
            policy.observe(CallConnected(at + i))
            policy.observe(TalkEnded(at + i + 90, 90.0))
        else:
            policy.observe(CallFailed(at + i, 30.0 if i % 2 else 3.0))
    return policy


async def test_predictive_ends_a_ringing_call_past_the_minimum_as_a_no_answer_retried_as_one() -> None:
    policy_rules = RetryPolicy(customer_no_answer=RetryRule(delay_s=600, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy_rules))
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    numbers = queue_task(h, ENDS_RINGING, numbers=12, lines=12)
    await h.step()  # warm-up: progressive, one call per free member
    policy = warmed(h)
    await h.step()
    placed = list(h.calls.call_ids)
    assert len(placed) >= 2
    h.availability.set_queue("2200", set())  # both members taken by other calls: nobody for an answer now
    h.clock.advance(14.5)
    await h.step()
    assert h.calls.hung_up == []  # under 15 s of ringing nothing is ended, whatever the risk
    h.clock.advance(1.0)
    await h.step()
    ended = list(h.calls.hung_up)
    assert ended and set(ended) <= set(placed)
    assert {h.calls.hangup_causes[c] for c in ended} == {19}
    await h.step()
    assert h.calls.hung_up == ended  # not hung up twice while the PBX confirms
    outcomes = policy.model.answer.outcomes
    failures = len(policy.model.failure)
    first = ended[0]
    # What the PBX reports for a leg hung up while ringing: the Dial cancelled, a cause the tracker cannot classify.
    h.fail(first, CustomerOutcome.FAILED, 16, "Normal Clearing", "CANCEL")
    await h.step()
    (attempt,) = [a for a in h.store.finished if a.call_id == first]
    assert attempt.outcome == "FAIL"  # this attempt's result, as for a no-answer; the number is retried:
    number_id = attempt.number_id
    row = h.row(number_id)
    assert (row.result, row.state, row.cause) == ("", "failedOriginate", "User alerting, no answer")  # open
    assert row.out_dial_state == "CANCEL"
    assert row.next_attempt_at == h.clock.now() + 600  # the no-answer rule's delay
    assert policy.model.answer.outcomes == outcomes + 1  # learned from, as censored: no failure time recorded
    assert len(policy.model.failure) <= failures + 1
    assert number_id in numbers


async def test_a_customer_who_answers_as_our_hangup_goes_out_counts_as_abandoned() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    queue_task(h, ENDS_RINGING, numbers=4, lines=4)
    await h.step()
    policy = warmed(h)
    h.availability.set_queue("2200", set())
    h.clock.advance(16.0)
    await h.step()
    assert h.calls.hung_up
    ended = h.calls.hung_up[0]
    answered, abandoned = policy.guard.answered_today, policy.guard.abandoned_today
    h.answer(ended)  # the answer crossed our Hangup: the customer is cut off after picking up
    await h.step()
    assert (policy.guard.answered_today, policy.guard.abandoned_today) == (answered + 1, abandoned + 1)
    assert not h.engine.state.pacing.is_ending(ended)


async def test_a_predictive_campaign_that_did_not_opt_in_never_ends_a_ringing_call() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    queue_task(h, PREDICTIVE, numbers=4, lines=4)
    await h.step()
    warmed(h)
    await h.step()
    h.availability.set_queue("2200", set())  # an answer now would find nobody: still left to ring
    h.clock.advance(40.0)
    await h.step()
    assert h.calls.hung_up == []
