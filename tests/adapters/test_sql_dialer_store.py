"""SqlDialerStore keeps the DialerStore contract on both back ends, with tasks and polls written by the REST API's
repositories (the way they really get there)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.poll_repository import PollActionData, PollQuestionData, SqlPollRepository
from autodialer.adapters.db.results_feed import SqlResultsFeed
from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.adapters.db.task_repository import NumberColumns, NumberRow, SqlTaskRepository
from autodialer.domain.attempt_limits import CalleeDayCap
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.dialer_store import Attempt, DialerStore, PollAnswer

T0 = 1_724_235_073.0
TASK = 1_000_000_001


def numbers(*phones: str, allow: int = 0) -> list[NumberColumns]:
    return [
        NumberColumns.of([NumberRow(i, p, p, p[-10:], '{"speach": 1000}', "", allow) for i, p in enumerate(phones)])
    ]


async def make_task(engine: AsyncEngine, *phones: str, crm: str = "c", allow: int = 0, **columns: object) -> int:
    saved = await SqlTaskRepository(engine, page_limit=10_000).save_task(
        task_id=None,
        crm_id=crm,
        columns={"inner_num": "201", "max_count_channels": 2, **columns},
        numbers=numbers(*phones, allow=allow),
        number_count=len(phones),
        now=T0,
    )
    return saved.task.id


def attempt(number_id: int, call_id: str = "call-1", task_id: int = TASK) -> Attempt:
    return Attempt(call_id, task_id, number_id, "100", "201", "connect", "PJSIP/201", T0)


async def start_one(store: SqlDialerStore, attempt: Attempt, row: ResultRow) -> bool:
    """Start the attempt and confirm it with ``row``, as the engine does once the PBX took the Originate."""
    if attempt.call_id not in await store.start_attempts([replace(attempt, confirmed=False)]):
        return False
    await store.confirm_attempts([(attempt, row)])
    return True


@pytest.fixture
def store(migrated_engine: AsyncEngine) -> SqlDialerStore:
    return SqlDialerStore(migrated_engine, page_limit=10_000)


def test_it_is_a_dialer_store(store: SqlDialerStore) -> None:
    port: DialerStore = store
    assert port is store


async def test_tasks_with_open_number_counts(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    await make_task(migrated_engine, "100", "200")
    await make_task(migrated_engine, "300", crm="paused", state=2)
    (task,) = await store.open_tasks()
    assert (task.task_id, task.inner_num, task.max_channels, task.has_open_numbers) == (TASK, "201", 2, True)
    paused = await store.get_task(TASK + 1)
    assert paused is not None and paused.state == 2
    assert await store.get_task(999) is None


async def test_due_numbers_and_the_claim(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    await make_task(migrated_engine, "100", "200")
    due = await store.due_numbers(TASK, T0, 10)
    assert [n.phone for n in due] == ["100", "200"] and due[0].params == {"speach": "1000"}
    first = due[0]
    row = replace(first.row, state="CreateCallFile", change_time=T0 + 1, count_try=1)
    assert await start_one(store, attempt(first.number_id), row)
    assert not await start_one(store, attempt(first.number_id, "call-2"), row)  # already in a call
    assert [n.phone for n in await store.due_numbers(TASK, T0, 10)] == ["200"]
    assert [a.call_id for a in await store.attempts_in_flight()] == ["call-1"]
    stored = await store.get_number(first.number_id)
    assert stored is not None and stored.row.state == "CreateCallFile" and stored.row.count_try == 1
    # The feed delivers the change after everything written before it.
    feed = SqlResultsFeed(migrated_engine, page_limit=10_000)
    rows = await feed.task_results_since(0)
    assert [r[3] for r in rows] == ["200", "100"]


async def test_start_attempt_refuses_closed_deleted_and_paused(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200", "300")
    one, two, three = await store.due_numbers(TASK, T0, 10)
    await store.save_row(one.number_id, replace(one.row, result="FAIL", close_time=int(T0)))
    assert not await start_one(store, attempt(one.number_id), one.row)
    await SqlTaskRepository(migrated_engine, page_limit=10_000).change_task(
        task_id=TASK, crm_id="", columns={"state": 2}, now=T0
    )
    assert not await start_one(store, attempt(two.number_id), two.row)
    await SqlTaskRepository(migrated_engine, page_limit=10_000).delete_task(TASK, T0)
    assert not await start_one(store, attempt(three.number_id), three.row)
    assert await store.attempts_in_flight() == []


async def test_a_number_deleted_during_its_call_goes_when_the_call_ends(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200")
    one, _two = await store.due_numbers(TASK, T0, 10)
    assert await start_one(store, attempt(one.number_id), replace(one.row, state="CreateCallFile"))
    await make_task(migrated_engine, "200")  # re-POST without "100"
    assert await store.get_number(one.number_id) is not None
    answered = replace(attempt(one.number_id), answered=True, m_dial_status="ANSWER", settled=True, outcome="SUCCESS")
    await store.update_attempt(answered)
    (live,) = await store.attempts_in_flight()
    assert (live.answered, live.m_dial_status, live.settled, live.outcome) == (True, "ANSWER", True, "SUCCESS")
    await store.finish_attempt(answered, T0 + 30, replace(one.row, result="SUCCESS", close_time=int(T0 + 30)))
    assert await store.get_number(one.number_id) is None
    assert await store.attempts_in_flight() == []
    await store.save_row(one.number_id, one.row)  # a late event for a deleted number: nothing happens


async def test_finish_releases_the_number_and_close_task(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    await make_task(migrated_engine, "100")
    (one,) = await store.due_numbers(TASK, T0, 10)
    await start_one(store, attempt(one.number_id), one.row)
    await store.close_task(TASK, T0)
    assert (await store.get_task(TASK)).state == 0  # type: ignore[union-attr]
    retry = ResultRow(state="failedOriginate", next_attempt_at=T0 + 300, count_try=1, change_time=T0 + 5)
    await store.finish_attempt(replace(attempt(one.number_id), settled=True, outcome="FAIL"), T0 + 5, retry)
    assert (await store.get_number(one.number_id)).row.next_attempt_at == T0 + 300  # type: ignore[union-attr]
    # Finishing again (a late duplicate) changes nothing, its row included.
    await store.finish_attempt(attempt(one.number_id), T0 + 6, replace(retry, result="FAIL", close_time=int(T0)))
    assert (await store.get_number(one.number_id)).row.result == ""  # type: ignore[union-attr]
    assert await store.due_numbers(TASK, T0 + 10, 10) == []
    assert await store.next_due_at(T0 + 10) == T0 + 300
    assert [n.number_id for n in await store.due_numbers(TASK, T0 + 300, 10)] == [one.number_id]
    await store.save_row(one.number_id, replace(retry, result="FAIL", close_time=int(T0 + 400)))
    await store.close_task(TASK, T0 + 400)
    assert (await store.get_task(TASK)).state == 1  # type: ignore[union-attr]
    assert await store.next_due_at(T0) is None


async def test_time_call_allow_and_dnc(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    await make_task(migrated_engine, "79522233446", "100", allow=int(T0) + 60)
    assert await store.due_numbers(TASK, T0, 10) == []
    assert await store.next_due_at(T0) == T0 + 60
    await store.add_dnc("+7 952 223-34-46", "poll-optout", T0)
    await store.add_dnc("79522233446", "api", T0)  # idempotent
    assert await store.close_do_not_call(T0 + 61, phone="100") == 0  # not on the list
    assert await store.close_do_not_call(T0 + 61) == 1
    async with migrated_engine.connect() as connection:
        query = text("SELECT phone, result, state, cause, close_time FROM task_numbers")
        rows = (await connection.execute(query)).all()
    assert sorted(tuple(r) for r in rows) == [
        ("100", "", "CreateTask", None, 0),
        ("79522233446", "FAIL", "doNotCall", "Do not call list", int(T0) + 61),
    ]
    assert await store.close_do_not_call(T0 + 62) == 0  # closed rows stay as they are
    assert [n.phone for n in await store.due_numbers(TASK, T0 + 60, 10)] == ["100"]
    async with migrated_engine.connect() as connection:
        listed = (await connection.execute(text("SELECT e164, phone, source FROM dnc_numbers"))).all()
    assert [tuple(r) for r in listed] == [("+79522233446", "+7 952 223-34-46", "poll-optout")]


async def test_after_task_changes_only_the_numbers_written_since_are_checked_against_the_lists(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "79522233446", "100")
    await store.add_dnc("100", "api", T0)
    assert await store.close_written_do_not_call(T0 + 1) == 1  # the first call: every open number
    await store.add_dnc("79522233446", "api", T0)  # listed without its closing sweep: rows written before stay
    await make_task(migrated_engine, "84953334455", crm="other")
    await store.add_dnc("84953334455", "api", T0)
    assert await store.close_written_do_not_call(T0 + 2) == 1  # the new task's number only
    assert await store.close_written_do_not_call(T0 + 3) == 0  # nothing written since (its own closing excepted)
    async with migrated_engine.connect() as connection:
        rows = (await connection.execute(text("SELECT phone, state, close_time FROM task_numbers"))).all()
    assert sorted(tuple(r) for r in rows) == [
        ("100", "doNotCall", int(T0) + 1),
        ("79522233446", "CreateTask", 0),
        ("84953334455", "doNotCall", int(T0) + 2),
    ]
    assert await store.close_do_not_call(T0 + 4) == 1  # a list's change sweeps every open number


async def test_a_number_listed_after_it_was_read_as_due_is_refused_at_the_claim_and_closed(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "89522233446", "84953334455")
    due = await store.due_numbers(TASK, T0, 10)
    await store.add_dnc("+7 (952) 223 34 46", "api", T0)  # another spelling, after the number was read as due
    claims = [replace(attempt(n.number_id, f"call-{k}"), phone=n.phone, confirmed=False) for k, n in enumerate(due)]
    assert await store.start_attempts(claims) == {"call-1"}
    listed = await store.get_number(due[0].number_id)
    assert listed is not None and (listed.row.result, listed.row.state) == ("FAIL", "doNotCall")
    assert [a.phone for a in await store.attempts_in_flight()] == ["84953334455"]


async def test_the_list_is_keyed_by_e164_not_by_the_last_ten_digits(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "+79522233446")
    await store.add_dnc("+1 952 223 3446", "api", T0)  # same last ten digits, another country
    assert await store.close_do_not_call(T0 + 1) == 0
    (number,) = await store.due_numbers(TASK, T0 + 1, 10)
    assert await start_one(store, replace(attempt(number.number_id), phone=number.phone), number.row)


async def test_a_campaigns_own_list_refuses_its_number_at_the_claim_and_holds_no_other_campaign(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "89522233446")
    await make_task(migrated_engine, "+7 952 223-34-46", crm="other")
    due = [*(await store.due_numbers(TASK, T0, 10)), *(await store.due_numbers(TASK + 1, T0, 10))]
    async with migrated_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO dnc_campaign_numbers (task_id, e164, phone_id, phone, source, note, created_at) "
                f"VALUES ({TASK}, '+79522233446', '9522233446', '+79522233446', 'api', '', {T0})"
            )
        )
    claims = [
        replace(attempt(n.number_id, f"call-{k}", n.task_id), phone=n.phone, confirmed=False) for k, n in enumerate(due)
    ]
    assert await store.start_attempts(claims) == {"call-1"}
    listed = await store.get_number(due[0].number_id)
    assert listed is not None and (listed.row.result, listed.row.state) == ("FAIL", "doNotCall")
    assert await store.close_do_not_call(T0 + 1) == 0  # the other campaign's number is not on its list


async def test_attempts_toward_a_callee_across_campaigns_by_its_e164_key(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "89522233446")
    await make_task(migrated_engine, "+7 952 223-34-46", "84953334455", crm="other")
    (mine,) = await store.due_numbers(TASK, T0, 10)
    theirs, unrelated = await store.due_numbers(TASK + 1, T0, 10)
    for k, (number, started) in enumerate(((mine, T0 - 40 * 3600), (theirs, T0 - 3600), (unrelated, T0 - 60))):
        claim = replace(attempt(number.number_id, f"c{k}", number.task_id), phone=number.phone, created_at=started)
        assert await start_one(store, claim, number.row)
        await store.finish_attempt(claim, started + 30)
    found = await store.callee_attempts(TASK, ["+79522233446"], T0 - 27 * 3600)
    assert sorted((a.campaign_id, a.started_at, a.ended_at) for a in found["+79522233446"]) == [
        (TASK, T0 - 40 * 3600, T0 - 40 * 3600 + 30),  # its own campaign's, however old
        (TASK + 1, T0 - 3600, T0 - 3600 + 30),
    ]
    recent = await store.callee_attempts(TASK + 1, ["+79522233446"], T0)  # none since T0: its own only
    assert [(a.campaign_id, a.started_at) for a in recent["+79522233446"]] == [(TASK + 1, T0 - 3600)]


async def test_polls_and_answers(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    polls = SqlPollRepository(migrated_engine)
    old = [PollQuestionData("1", "old", None, "ru-RU", [PollActionData("1", "answer", "1", None, None)])]
    new = [
        PollQuestionData("1", "Hello <speach>", None, "en-US", [PollActionData("3", "optout", None, None, "2")]),
        PollQuestionData("2", None, "/audio/x.wav", "ru-RU", []),
    ]
    await polls.save_poll(crm_id="p", name="P", questions=old, now=T0)
    await polls.save_poll(crm_id="p", name="P", questions=new, now=T0)
    poll = await store.get_poll(1)
    assert poll is not None and [q.question_id for q in poll.questions] == ["1", "2"]
    assert poll.questions[0].text == "Hello <speach>" and poll.questions[0].lang == "en-US"
    assert (poll.questions[0].press[0].action, poll.questions[0].press[0].next_question) == ("optout", "2")
    assert poll.questions[1].file == "/audio/x.wav"
    assert await store.get_poll(2) is None
    await store.add_poll_answer(PollAnswer(TASK, "1", 1, "9522233446", "79522233446", "3", "3", "call-1", T0))
    async with migrated_engine.connect() as connection:
        row = (await connection.execute(text("SELECT question_id, attempt_id, change_time_us FROM poll_answers"))).one()
    assert (row[0], row[1], row[2]) == (2, "call-1", int(T0 * 1_000_000))  # question "1" of version 2


async def test_an_answer_points_at_the_version_its_call_ran(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    polls = SqlPollRepository(migrated_engine)
    await polls.save_poll(crm_id="p", name="P", questions=[PollQuestionData("1", "v1 <x>", None, "ru-RU")], now=T0)
    running = await store.get_poll(1)
    assert running is not None and running.version == 1
    await polls.save_poll(crm_id="p", name="P", questions=[PollQuestionData("1", "v2", None, "ru-RU")], now=T0)
    answer = PollAnswer(TASK, "1", 1, "9522233446", "79522233446", "3", "3", "call-1", T0, "v1 ten", running.version)
    await store.add_poll_answer(answer)
    async with migrated_engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT q.version, q.question_text, a.question_text FROM poll_answers a "
                    "JOIN poll_questions q ON q.id = a.question_id"
                )
            )
        ).one()
    assert tuple(row) == (1, "v1 <x>", "v1 ten")


async def test_a_batch_commits_together_and_reads_its_own_writes(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200")
    first, second = await store.due_numbers(TASK, T0, 10)
    async with store.batch():
        assert await start_one(store, attempt(first.number_id), replace(first.row, state="CreateCallFile"))
        assert await start_one(store, attempt(second.number_id, "call-2"), replace(second.row, count_try=1))
        seen = await store.get_number(first.number_id)  # inside: its own uncommitted write
        assert seen is not None and seen.row.state == "CreateCallFile"
        # a claim refused inside a batch must not roll the others back
        assert not await start_one(store, attempt(first.number_id, "call-3"), first.row)
    assert sorted(a.call_id for a in await store.attempts_in_flight()) == ["call-1", "call-2"]


async def test_a_failed_batch_keeps_nothing(store: SqlDialerStore, migrated_engine: AsyncEngine) -> None:
    await make_task(migrated_engine, "100")
    (number,) = await store.due_numbers(TASK, T0, 10)
    with pytest.raises(RuntimeError):
        async with store.batch():
            assert await start_one(store, attempt(number.number_id), replace(number.row, state="CreateCallFile"))
            raise RuntimeError("the engine failed half-way")
    assert await store.attempts_in_flight() == []
    stored = await store.get_number(number.number_id)
    assert stored is not None and stored.row.state == "CreateTask"


async def test_a_batch_reads_the_feed_clock_once_and_stores_where_it_stopped(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200", "300")
    rows = await store.due_numbers(TASK, T0, 10)
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    clock = text("SELECT last_us FROM feed_clocks WHERE feed = 'results'")
    async with migrated_engine.connect() as connection:
        before = (await connection.execute(clock)).scalar_one()
    event.listen(migrated_engine.sync_engine, "before_cursor_execute", note)
    try:
        async with store.batch():
            for n in rows:  # every change at the same instant, as a burst of events
                await store.save_row(n.number_id, replace(n.row, state="CreateCallFile", change_time=T0))
    finally:
        event.remove(migrated_engine.sync_engine, "before_cursor_execute", note)
    assert sum("feed_clocks" in s for s in statements) == 2  # one read-and-bump, one store before commit
    times = [(await store.get_number(n.number_id)).row.change_time for n in rows]  # type: ignore[union-attr]
    assert times == sorted(set(times)) and times[0] > before / 1_000_000
    async with migrated_engine.connect() as connection:
        assert (await connection.execute(clock)).scalar_one() == round(times[-1] * 1_000_000)
    # The next writer continues above the batch's last value, not from the value it first read.
    await store.save_row(rows[0].number_id, replace(rows[0].row, change_time=T0))
    again = (await store.get_number(rows[0].number_id)).row.change_time  # type: ignore[union-attr]
    assert again > times[-1]


async def test_a_round_of_claims_is_one_call_and_refuses_each_bad_one_alone(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200", "300")
    one, two, three = await store.due_numbers(TASK, T0, 10)
    await store.save_row(three.number_id, replace(three.row, result="FAIL", close_time=int(T0)))  # closed meanwhile
    claims = [
        (attempt(one.number_id, "call-1"), replace(one.row, state="CreateCallFile", count_try=1)),
        (attempt(one.number_id, "call-dup"), one.row),  # the same number twice: the second is refused
        (attempt(two.number_id, "call-2"), replace(two.row, state="CreateCallFile", count_try=1)),
        (attempt(three.number_id, "call-3"), three.row),
    ]
    assert await store.start_attempts([replace(a, confirmed=False) for a, _row in claims]) == {"call-1", "call-2"}
    in_flight = await store.attempts_in_flight()
    assert sorted((a.call_id, a.confirmed) for a in in_flight) == [("call-1", False), ("call-2", False)]
    untouched = [await store.get_number(n.number_id) for n in (one, two)]
    assert [n.row for n in untouched if n is not None] == [one.row, two.row]  # nothing dialled yet
    await store.confirm_attempts([claims[0], claims[2]])
    assert all(a.confirmed for a in await store.attempts_in_flight())
    stored = [await store.get_number(n.number_id) for n in (one, two)]
    assert [n.row.state for n in stored if n is not None] == ["CreateCallFile", "CreateCallFile"]
    assert stored[0] is not None and stored[1] is not None and stored[0].row.change_time < stored[1].row.change_time
    assert await store.start_attempts([]) == frozenset()


async def test_ends_inside_a_batch_are_written_together_and_seen_by_what_follows(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200")
    one, two = await store.due_numbers(TASK, T0, 10)
    assert await store.start_attempts([attempt(one.number_id), attempt(two.number_id, "call-2")])
    await make_task(migrated_engine, "200")  # re-POST without "100": removed when its call ends
    failed = replace(one.row, result="FAIL", close_time=int(T0 + 5), change_time=T0 + 5)
    async with store.batch():
        await store.finish_attempt(replace(attempt(one.number_id), settled=True, outcome="FAIL"), T0 + 5, failed)
        await store.finish_attempt(attempt(two.number_id, "call-2"), T0 + 5)  # ended without a row change
        assert await store.attempts_in_flight() == []  # a read in the batch sees the ends before it
        assert await store.get_number(one.number_id) is None
    kept = await store.get_number(two.number_id)
    assert kept is not None and (kept.row.result, kept.row.close_time) == ("", 0)
    assert [n.number_id for n in await store.due_numbers(TASK, T0 + 10, 10)] == [two.number_id]
    async with migrated_engine.connect() as connection:
        ended = (await connection.execute(text("SELECT id, outcome, state FROM attempts ORDER BY id"))).all()
    assert [tuple(r) for r in ended] == [("call-1", "FAIL", "ended"), ("call-2", None, "ended")]


async def test_released_attempts_leave_no_trace_and_their_numbers_as_they_were(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200")
    one, two = await store.due_numbers(TASK, T0, 10)
    assert await store.start_attempts([replace(attempt(one.number_id), confirmed=False)]) == {"call-1"}
    assert await store.due_numbers(TASK, T0, 10) == [two]  # held while in flight
    await make_task(migrated_engine, "200")  # re-POST without "100": removed once released
    two = await store.get_number(two.number_id)  # as the re-POST left it
    assert two is not None
    assert await store.start_attempts([replace(attempt(two.number_id, "call-2"), confirmed=False)])
    async with store.batch():
        await store.release_attempts([attempt(one.number_id), attempt(two.number_id, "call-2")])
    assert await store.attempts_in_flight() == []
    assert await store.get_number(one.number_id) is None
    again = await store.get_number(two.number_id)
    assert again == two  # row, countTry, change time: untouched
    async with migrated_engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM attempts"))).scalar() == 0


async def test_an_attempt_is_stored_then_written_then_confirmed(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100")
    (one,) = await store.due_numbers(TASK, T0, 10)
    fresh = replace(attempt(one.number_id), written=False, confirmed=False)
    await store.start_attempts([fresh])

    async def stage() -> tuple[bool, bool]:
        (stored,) = await store.attempts_in_flight()
        return stored.written, stored.confirmed

    assert await stage() == (False, False)  # a crash now: provably never sent
    await store.mark_written(["call-1"])
    assert await stage() == (True, False)  # a crash now: maybe sent
    await store.confirm_attempts([(fresh, replace(one.row, state="CreateCallFile", count_try=1))])
    assert await stage() == (True, True)
    async with migrated_engine.connect() as connection:
        row = (await connection.execute(text("SELECT state, attempt_no FROM attempts"))).one()
    assert tuple(row) == ("originated", 1)


async def test_a_number_outside_its_window_is_deferred_without_an_attempt_or_a_feed_change(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    await make_task(migrated_engine, "100", "200")
    first, _second = await store.due_numbers(TASK, T0, 10)
    feed = SqlResultsFeed(migrated_engine, page_limit=10_000)
    before = await feed.task_results_since(0)
    await store.defer_numbers([(first.number_id, T0 + 3600)])
    assert [n.phone for n in await store.due_numbers(TASK, T0, 10)] == ["200"]
    assert await store.next_due_at(T0) == T0 + 3600
    deferred = await store.get_number(first.number_id)
    assert deferred is not None and deferred.row.count_try == 0 and deferred.row.state == first.row.state
    assert await feed.task_results_since(0) == before
    assert [n.phone for n in await store.due_numbers(TASK, T0 + 3600, 10)] == ["100", "200"]


async def test_the_cap_across_campaigns_is_checked_again_in_the_claim(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    """Two campaigns capped at one call a day hold the same callee in one round (or on two instances): the claim
    counts the calls already placed toward it, those of its own round included, and refuses the second."""
    await make_task(migrated_engine, "89522233446", "84953334455")
    await make_task(migrated_engine, "+7 952 223-34-46", crm="other")
    mine, unrelated = await store.due_numbers(TASK, T0, 10)
    (theirs,) = await store.due_numbers(TASK + 1, T0, 10)
    day = ((T0 - 3600, T0 + 3600),)
    caps = {f"call-{k}": CalleeDayCap(callee, 1, day) for k, callee in enumerate(["+79522233446"] * 2)}
    caps["call-2"] = CalleeDayCap("+74953334455", 1, day)
    claims = [
        replace(attempt(n.number_id, f"call-{k}", n.task_id), phone=n.phone, confirmed=False)
        for k, n in enumerate((mine, theirs, unrelated))
    ]
    assert await store.start_attempts(claims, caps) == {"call-0", "call-2"}
    refused = await store.get_number(theirs.number_id)
    assert refused is not None and refused.row == theirs.row  # it waits, untouched, and is not held
    assert [n.number_id for n in await store.due_numbers(TASK + 1, T0, 10)] == [theirs.number_id]
    # A later round (another instance's) sees the stored call, in flight or ended, and refuses again.
    again = replace(claims[1], call_id="call-3")
    assert await store.start_attempts([again], {"call-3": CalleeDayCap("+79522233446", 1, day)}) == frozenset()
    # With a cap of two it is allowed.
    assert await store.start_attempts([again], {"call-3": CalleeDayCap("+79522233446", 2, day)}) == {"call-3"}


async def test_two_instances_claiming_a_capped_callee_at_once_place_one_call(
    store: SqlDialerStore, migrated_engine: AsyncEngine, db_url: str
) -> None:
    """Two dialer instances (engines of their own on one database), each with one campaign's number toward the same
    callee, claim in the same instant: the claims are serialised per callee and the second sees the first's call."""
    await make_task(migrated_engine, "89522233446")
    await make_task(migrated_engine, "+7 952 223-34-46", crm="other")
    due = [*(await store.due_numbers(TASK, T0, 10)), *(await store.due_numbers(TASK + 1, T0, 10))]
    other_engine = create_engine(db_url)
    try:
        other = SqlDialerStore(other_engine, page_limit=10_000)
        counted = other._within_caps

        async def counted_then_pause(*args: Any) -> list[Attempt]:
            allowed = await counted(*args)
            await asyncio.sleep(0.3)  # its transaction stays open: the first claim still uncommitted meanwhile
            return allowed

        other._within_caps = counted_then_pause  # type: ignore[method-assign]
        day = ((T0 - 3600, T0 + 3600),)
        claims = [
            replace(attempt(n.number_id, f"call-{k}", n.task_id), phone=n.phone, confirmed=False)
            for k, n in enumerate(due)
        ]
        cap = CalleeDayCap("+79522233446", 1, day)
        first = asyncio.create_task(other.start_attempts([claims[1]], {claims[1].call_id: cap}))
        await asyncio.sleep(0.1)  # it has counted and is paused inside its claim
        second = await store.start_attempts([claims[0]], {claims[0].call_id: cap})
        results = [await first, second]
    finally:
        await other_engine.dispose()
    assert sorted(len(r) for r in results) == [0, 1]


async def test_row_and_progress_writes_inside_a_batch_go_together_seen_by_reads_and_in_order_with_ends(
    store: SqlDialerStore, migrated_engine: AsyncEngine
) -> None:
    """Issue 11: an event batch of hundreds of calls wrote each answer and startDial as its own statement (a round
    trip each to SQLite's worker thread). They are collected now, the last per row and per attempt, and written in one
    statement each before the next read and at commit; a change after an end of the same call keeps its order."""
    await make_task(migrated_engine, "100", "200", "300")
    rows = await store.due_numbers(TASK, T0, 10)
    calls = [attempt(n.number_id, f"call-{i}") for i, n in enumerate(rows)]
    assert await store.start_attempts(calls)
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(migrated_engine.sync_engine, "before_cursor_execute", note)
    try:
        async with store.batch():
            for i, (n, a) in enumerate(zip(rows, calls, strict=True)):
                await store.update_attempt(replace(a, answered=True))
                await store.save_row(n.number_id, replace(n.row, state="CreateCallFile", change_time=T0 + i))
                await store.update_attempt(replace(a, answered=True, agent_connected=i > 0, m_dial_status="ANSWER"))
                await store.save_row(n.number_id, replace(n.row, state="startDial", change_time=T0 + i))
            seen = await store.get_number(rows[2].number_id)  # a read in the batch sees the collected writes
            assert seen is not None and seen.row.state == "startDial"
            ended = replace(calls[0], answered=True, m_dial_status="ANSWER")
            await store.finish_attempt(ended, T0 + 9)
            await store.update_attempt(replace(ended, m_dial_status="NOANSWER"))  # after its end: changes nothing
    finally:
        event.remove(migrated_engine.sync_engine, "before_cursor_execute", note)
    row_writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE TASK_NUMBERS")]
    progress_writes = [s for s in statements if s.lstrip().upper().startswith("UPDATE ATTEMPTS")]
    assert len(row_writes) == 2  # the collected rows, then the end's release
    assert len(progress_writes) == 3  # answered and talking, then the end
    states = [(await store.get_number(n.number_id)).row.state for n in rows]  # type: ignore[union-attr]
    assert states == ["startDial"] * 3
    async with migrated_engine.connect() as connection:
        stored = (await connection.execute(text("SELECT id, dial_status, state FROM attempts ORDER BY id"))).all()
    assert [tuple(r) for r in stored] == [
        ("call-0", "ANSWER", "ended"),
        ("call-1", "ANSWER", "talking"),
        ("call-2", "ANSWER", "talking"),
    ]
