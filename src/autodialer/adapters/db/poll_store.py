"""SQL storage of polls for the poll use cases (services.polls.PollRepository) and the audio library's "which polls
play this prompt" (services.audio_library.PromptUsers).

Same tables and versioning as v1's poll_repository (whose question/action insert it shares): a replacement bumps
``polls.version`` and inserts the new questions under it; reads show the current version. A poll is deleted (its
questions and actions cascade) only in the transaction that found no live campaign targeting it; answers stay, as
v1's results feed has served them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db.poll_repository import PollActionData, PollQuestionData, _free_crm_id, _insert_questions
from autodialer.adapters.db.tables import poll_actions, poll_answers, poll_questions, polls, tasks
from autodialer.adapters.db.transactions import write_transaction
from autodialer.domain.campaigns import Conflict
from autodialer.domain.poll_flow import Press, Question
from autodialer.services.polls import (
    Answer,
    CampaignRef,
    NewPoll,
    NumberAnswers,
    PollRecord,
    PollSummary,
    PollTimingRule,
)

US = 1_000_000


class SqlPollStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, poll_id: int | None, poll: NewPoll, now: float) -> PollRecord | None:
        timing = {
            "digit_timeout_s": poll.timing.digit_timeout_s,
            "max_repeats": poll.timing.max_repeats,
            "max_duration_s": poll.timing.max_duration_s,
        }
        async with write_transaction(self._engine) as connection:
            external_id = poll.external_id
            if external_id:
                taken = select(polls.c.id).where(polls.c.crm_id == external_id)
                other = (await connection.execute(taken)).scalar()
                if other is not None and other != poll_id:
                    raise Conflict(f"poll {other} already has external_id {external_id!r}", "external_id")
            if poll_id is None:
                external_id = external_id or await _free_crm_id(connection)
                values = {"crm_id": external_id, "name": poll.name, "version": 1, "created_at": now, "updated_at": now}
                statement = insert(polls).values(**values, **timing).returning(polls.c.id)
                poll_id = int((await connection.execute(statement)).scalar_one())
                version = 1
            else:
                found = (await connection.execute(select(polls).where(polls.c.id == poll_id))).mappings().first()
                if found is None:
                    return None
                version = found["version"] + 1
                changes = {"version": version, "name": poll.name, "updated_at": now, **timing}
                if external_id:
                    changes["crm_id"] = external_id
                await connection.execute(update(polls).where(polls.c.id == poll_id).values(**changes))
            await _insert_questions(connection, poll_id, version, [_as_rows(q) for q in poll.questions])
            return await _read(connection, poll_id)

    async def get(self, poll_id: int) -> PollRecord | None:
        async with self._engine.connect() as connection:
            return await _read(connection, poll_id)

    async def list(self, *, after_id: int | None, limit: int) -> Sequence[PollSummary]:
        counted = (
            select(func.count())
            .select_from(poll_questions)
            .where(poll_questions.c.poll_id == polls.c.id, poll_questions.c.version == polls.c.version)
            .scalar_subquery()
        )
        query = select(polls, counted.label("question_count")).order_by(polls.c.id).limit(limit)
        if after_id is not None:
            query = query.where(polls.c.id > after_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            PollSummary(r["id"], r["crm_id"], r["name"], r["version"], int(r["question_count"]), r["updated_at"])
            for r in rows
        ]

    async def delete_unused(self, poll_id: int) -> Sequence[CampaignRef] | None:
        async with write_transaction(self._engine) as connection:
            if (await connection.execute(select(polls.c.id).where(polls.c.id == poll_id))).first() is None:
                return None
            users = (
                await connection.execute(
                    select(tasks.c.id, tasks.c.name)
                    .where(
                        tasks.c.inner_num_type == "polling",
                        tasks.c.inner_num == str(poll_id),
                        tasks.c.deleted.is_(False),
                    )
                    .order_by(tasks.c.id)
                )
            ).all()
            if users:
                return [CampaignRef(int(u.id), u.name) for u in users]
            await connection.execute(delete(poll_actions).where(poll_actions.c.poll_id == poll_id))
            await connection.execute(delete(poll_questions).where(poll_questions.c.poll_id == poll_id))
            await connection.execute(delete(polls).where(polls.c.id == poll_id))
            return []

    async def answers(
        self, poll_id: int, *, campaign_id: int | None, phone: str | None, after: tuple[int, str] | None, limit: int
    ) -> Sequence[NumberAnswers]:
        a = poll_answers.c
        conditions: list[Any] = [a.polling_id == poll_id]
        if campaign_id is not None:
            conditions.append(a.task_id == campaign_id)
        if phone:
            conditions.append(a.phone == phone)
        if after is not None:
            conditions.append(tuple_(a.task_id, a.phone) > tuple_(literal(after[0]), literal(after[1])))
        keys = select(a.task_id, a.phone).where(*conditions).group_by(a.task_id, a.phone)
        keys = keys.order_by(a.task_id, a.phone).limit(limit)
        async with self._engine.connect() as connection:
            groups = (await connection.execute(keys)).all()
            if not groups:
                return []
            # The page's numbers are consecutive in (task_id, phone) order: their answers are those up to the last.
            last = tuple_(a.task_id, a.phone) <= tuple_(literal(groups[-1][0]), literal(groups[-1][1]))
            query = select(poll_answers).where(*conditions, last).order_by(a.task_id, a.phone, a.id)
            rows = (await connection.execute(query)).mappings().all()
        by_number: dict[tuple[int, str], list[Answer]] = {(int(g[0]), g[1]): [] for g in groups}
        for r in rows:
            by_number[(int(r["task_id"]), r["phone"])].append(
                Answer(
                    r["question_crm_id"], r["question_text"], r["exten"], r["result"], r["attempt_id"],
                    r["change_time_us"] / US,
                )
            )  # fmt: skip
        return [NumberAnswers(task, phone_, tuple(found)) for (task, phone_), found in by_number.items()]

    async def polls_using(self, name: str, stored_name: str) -> Sequence[tuple[int, str]]:
        """Polls whose current version plays the prompt called ``name`` (by name, or by a path to its files)."""
        q, act = poll_questions.c, poll_actions.c
        path = f"%/{stored_name}.%"
        current = and_(q.poll_id == polls.c.id, q.version == polls.c.version)
        by_question = select(polls.c.id, polls.c.name).join(poll_questions, current)
        by_question = by_question.where(or_(q.question_file == name, q.question_file.like(path)))
        by_action = (
            select(polls.c.id, polls.c.name)
            .join(poll_questions, current)
            .join(poll_actions, act.question_id == q.id)
            .where(act.action == "playback", or_(act.value == name, act.value.like(path)))
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(by_question.union(by_action))).all()
        return sorted((int(r[0]), r[1]) for r in rows)


def _as_rows(question: Question) -> PollQuestionData:
    actions = [PollActionData(p.key, p.action, p.value, p.value_options, p.next_question) for p in question.press]
    return PollQuestionData(question.question_id, question.text or None, question.file, question.lang, actions)


class PollRows(NamedTuple):
    poll: RowMapping
    questions: list[tuple[RowMapping, list[RowMapping]]]  # the current version's, in order, each with its actions


async def read_poll_rows(connection: AsyncConnection, poll_id: int) -> PollRows | None:
    """A poll's row and its current version's questions and actions in order (the v2 poll API and the dialer's
    poll flow each read them into their own records); None if there is no such poll."""
    poll = (await connection.execute(select(polls).where(polls.c.id == poll_id))).mappings().first()
    if poll is None:
        return None
    current = select(poll_questions).where(
        poll_questions.c.poll_id == poll_id, poll_questions.c.version == poll["version"]
    )
    question_rows = (await connection.execute(current.order_by(poll_questions.c.position))).mappings().all()
    actions: dict[int, list[RowMapping]] = {q["id"]: [] for q in question_rows}
    if actions:
        query = select(poll_actions).where(poll_actions.c.question_id.in_(list(actions)))
        ordered = query.order_by(poll_actions.c.question_id, poll_actions.c.position)
        for action in (await connection.execute(ordered)).mappings():
            actions[action["question_id"]].append(action)
    return PollRows(poll, [(q, actions[q["id"]]) for q in question_rows])


async def _read(connection: AsyncConnection, poll_id: int) -> PollRecord | None:
    rows = await read_poll_rows(connection, poll_id)
    if rows is None:
        return None
    poll = rows.poll
    questions = tuple(
        Question(
            q["crm_id"], q["question_text"] or "", q["question_file"], q["lang"],
            tuple(
                Press(a["key"], a["action"], a["value"] or "", a["value_options"], a["next_question"] or None)
                for a in actions
            ),
        )
        for q, actions in rows.questions
    )  # fmt: skip
    timing = PollTimingRule(poll["digit_timeout_s"], poll["max_repeats"], poll["max_duration_s"])
    return PollRecord(
        poll["id"], poll["crm_id"], poll["name"], poll["version"], questions, timing, poll["created_at"],
        poll["updated_at"],
    )  # fmt: skip
