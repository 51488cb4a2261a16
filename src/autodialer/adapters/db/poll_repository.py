"""Polls (MikoPBX Polling / Question / QuestionActions), versioned.

POST /polling creates a poll or replaces the one with the same crm_id (its timing too: see PollTiming). Replacing
does not delete anything: the poll's ``version`` is bumped and the new questions and actions are inserted under
it, so answers given under an older version still point at the question rows they were asked with; reads show the
current version only.
A poll posted without crmId gets ``MAX(id) + 1`` (the original's rule), moved up past any crm_id already taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db.tables import poll_actions, poll_questions, polls
from autodialer.adapters.db.transactions import write_transaction
from autodialer.services.mikopbx_polls import (
    PollActionData,
    PollListing,
    PollQuestionData,
    PollQuestionView,
    PollTiming,
    PollView,
    SavedPoll,
)

__all__ = ["PollActionData", "PollQuestionData", "PollTiming", "SqlPollRepository"]


class SqlPollRepository:
    """services.mikopbx_polls.MikoPollRepository on the shared schema."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save_poll(
        self,
        *,
        crm_id: str,
        name: str | None,
        questions: Sequence[PollQuestionData],
        now: float,
        timing: PollTiming | None = None,
    ) -> SavedPoll:
        # A re-POST replaces the whole definition, timing included: fields it leaves out go back to the defaults.
        timing_values = asdict(timing or PollTiming())  # field names are the polls columns
        async with write_transaction(self._engine) as connection:
            generated = not crm_id
            if generated:
                crm_id = await _free_crm_id(connection)
            existing = (await connection.execute(select(polls).where(polls.c.crm_id == crm_id))).mappings().first()
            if existing is None:
                poll_id = (
                    await connection.execute(
                        insert(polls)
                        .values(
                            crm_id=crm_id, name=name or "", version=1, created_at=now, updated_at=now, **timing_values
                        )
                        .returning(polls.c.id)
                    )
                ).scalar_one()
                version, stored_name = 1, name or ""
            else:
                poll_id, version = existing["id"], existing["version"] + 1
                stored_name = existing["name"] if name is None else name
                await connection.execute(
                    update(polls)
                    .where(polls.c.id == poll_id)
                    .values(version=version, name=stored_name, updated_at=now, **timing_values)
                )
            await _insert_questions(connection, poll_id, version, questions)
            return SavedPoll(poll_id, crm_id, stored_name, existing is None, generated)

    async def list_polls(self) -> Sequence[PollListing]:
        async with self._engine.connect() as connection:
            query = select(polls.c.id, polls.c.crm_id, polls.c.name).order_by(polls.c.id)
            return [PollListing(r.id, r.crm_id, r.name) for r in (await connection.execute(query)).all()]

    async def get_poll(self, poll_id: int) -> PollView | None:
        async with self._engine.connect() as connection:
            poll = (
                await connection.execute(
                    select(polls.c.id, polls.c.crm_id, polls.c.name, polls.c.version).where(polls.c.id == poll_id)
                )
            ).first()
            if poll is None:
                return None
            questions = (
                await connection.execute(
                    select(
                        poll_questions.c.id,
                        poll_questions.c.question_text,
                        poll_questions.c.question_file,
                        poll_questions.c.lang,
                    )
                    .where(poll_questions.c.poll_id == poll_id, poll_questions.c.version == poll.version)
                    .order_by(poll_questions.c.position)
                )
            ).all()
            ids = [q.id for q in questions]
            actions = (
                (
                    await connection.execute(
                        select(
                            poll_actions.c.question_id,
                            poll_actions.c.key,
                            poll_actions.c.action,
                            poll_actions.c.value,
                            poll_actions.c.value_options,
                            poll_actions.c.next_question,
                        )
                        .where(poll_actions.c.question_id.in_(ids))
                        .order_by(poll_actions.c.question_id, poll_actions.c.position)
                    )
                ).all()
                if ids
                else []
            )
            by_question: dict[int, list[PollActionData]] = {}
            for a in actions:
                data = PollActionData(a.key, a.action, a.value, a.value_options, a.next_question)
                by_question.setdefault(a.question_id, []).append(data)
            return PollView(
                PollListing(poll.id, poll.crm_id, poll.name),
                [
                    (
                        PollQuestionView(q.id, q.question_text, q.question_file, q.lang),
                        by_question.get(q.id, []),
                    )
                    for q in questions
                ],
            )

    async def poll_exists(self, poll_id: int) -> bool:
        async with self._engine.connect() as connection:
            return (await connection.execute(select(polls.c.id).where(polls.c.id == poll_id))).first() is not None


async def _free_crm_id(connection: AsyncConnection) -> str:
    candidate = int((await connection.execute(select(func.max(polls.c.id)))).scalar_one() or 0) + 1
    while (await connection.execute(select(polls.c.id).where(polls.c.crm_id == str(candidate)))).first():
        candidate += 1
    return str(candidate)


async def _insert_questions(
    connection: AsyncConnection, poll_id: int, version: int, questions: Sequence[PollQuestionData]
) -> None:
    for position, question in enumerate(questions):
        question_id = (
            await connection.execute(
                insert(poll_questions)
                .values(
                    poll_id=poll_id,
                    version=version,
                    position=position,
                    crm_id=question.crm_id,
                    question_text=question.question_text,
                    question_file=question.question_file,
                    lang=question.lang,
                )
                .returning(poll_questions.c.id)
            )
        ).scalar_one()
        if question.actions:
            await connection.execute(
                insert(poll_actions),
                [
                    {
                        "question_id": question_id,
                        "poll_id": poll_id,
                        "position": index,
                        "key": a.key,
                        "action": a.action,
                        "value": a.value,
                        "value_options": a.value_options,
                        "next_question": a.next_question,
                    }
                    for index, a in enumerate(question.actions)
                ],
            )
