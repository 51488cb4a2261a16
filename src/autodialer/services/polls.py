"""Poll use cases (the v2 edge and the console): create, replace, read, list and delete voice polls, and their
answers per number.

A poll is stored as the v1 wire stores it (polls / poll_questions / poll_actions, versioned: a replacement bumps the
version, answers keep pointing at the questions they were asked with), so a poll made here runs through the same
FastAGI /poll flow and is served by v1's GET /polling. What v2 adds over v1's checks: the whole graph rule
(domain/poll_graph.check_graph), and every audio prompt named must be in the library now (v1 lets a question with a
text fall back to speech).

Errors are domain CampaignError subclasses (InvalidPoll with every problem, NotFound, Conflict naming the campaigns
that use a poll), translated once by each edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from autodialer.domain.campaigns import Conflict, InvalidField, NotFound
from autodialer.domain.poll_flow import PollAction, Question, plays_file
from autodialer.domain.poll_graph import GraphProblem, check_graph
from autodialer.services.audio_library import AudioLibrary
from autodialer.services.tts_preview import TtsPreview


@dataclass(frozen=True, slots=True)
class PollTimingRule:
    digit_timeout_s: float = 5.0
    max_repeats: int = 3
    max_duration_s: float = 120.0


@dataclass(frozen=True, slots=True)
class NewPoll:
    name: str
    questions: tuple[Question, ...]
    timing: PollTimingRule = PollTimingRule()
    external_id: str = ""  # v1 crmId; "" = generated


@dataclass(frozen=True, slots=True)
class PollRecord:
    id: int
    external_id: str
    name: str
    version: int
    questions: tuple[Question, ...]
    timing: PollTimingRule
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class PollSummary:
    id: int
    external_id: str
    name: str
    version: int
    question_count: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class Answer:
    question_id: str
    question_text: str | None
    key: str | None
    value: str | None
    attempt_id: str | None
    at: float  # the results feed's changeTime, in seconds


@dataclass(frozen=True, slots=True)
class NumberAnswers:
    campaign_id: int
    phone: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class CampaignRef:
    id: int
    name: str


class InvalidPoll(InvalidField):
    """Every graph problem at once (``problems``); ``details['field']`` names the first."""

    error_id = "invalid-poll"

    def __init__(self, problems: Sequence[GraphProblem]) -> None:
        first = problems[0]
        super().__init__(first.message, _field(first))
        self.problems = tuple(problems)


def _field(problem: GraphProblem) -> str:
    """A problem's place in the v2 wire's words (``questions[1].keys[0].next``)."""
    where = f"questions[{problem.question}]"
    if problem.press is not None:
        where += f".keys[{problem.press}]"
    names = {"question_id": "id", "key": "key", "next_question": "next", "press": "keys", "audio": "audio"}
    return f"{where}.{names[problem.attribute]}" if problem.attribute else where


def problem_fields(error: InvalidPoll) -> list[tuple[str, str]]:
    """(field, message) for each problem of ``error``, in the v2 wire's words."""
    return [(_field(p), p.message) for p in error.problems]


class PollRepository(Protocol):
    async def save(self, poll_id: int | None, poll: NewPoll, now: float) -> PollRecord | None:
        """Create (poll_id None) or replace as a new version; None when poll_id names no poll.

        Raises Conflict(field="external_id") when another poll has that external id."""
        ...

    async def get(self, poll_id: int) -> PollRecord | None: ...

    async def list(self, *, after_id: int | None, limit: int) -> Sequence[PollSummary]: ...

    async def delete_unused(self, poll_id: int) -> Sequence[CampaignRef] | None:
        """Delete the poll unless a campaign (not deleted) targets it; returns those campaigns (nothing deleted
        then), [] when deleted, None when there is no such poll. One transaction."""
        ...

    async def answers(
        self, poll_id: int, *, campaign_id: int | None, phone: str | None, after: tuple[int, str] | None, limit: int
    ) -> Sequence[NumberAnswers]:
        """Answers grouped per (campaign, phone), in that order, after the ``after`` key."""
        ...


class AudioNames(Protocol):
    async def audio_by_name(self, name: str) -> object | None: ...


Problems = list[GraphProblem]  # (a name: inside PollService, ``list`` is its method)


class PollService:
    def __init__(
        self,
        polls: PollRepository,
        audio: AudioNames,
        now: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._polls = polls
        self._audio = audio
        self._now = now
        self._on_change = on_change  # polling tasks may wait for a poll's new version

    async def create(self, poll: NewPoll) -> PollRecord:
        await self._check(poll)
        saved = await self._polls.save(None, poll, self._now())
        assert saved is not None
        self._on_change()
        return saved

    async def replace(self, poll_id: int, poll: NewPoll) -> PollRecord:
        await self._check(poll)
        saved = await self._polls.save(poll_id, poll, self._now())
        if saved is None:
            raise NotFound(f"no poll {poll_id}", "poll_id")
        self._on_change()
        return saved

    async def get(self, poll_id: int) -> PollRecord:
        found = await self._polls.get(poll_id)
        if found is None:
            raise NotFound(f"no poll {poll_id}", "poll_id")
        return found

    async def list(self, *, after_id: int | None, limit: int) -> Sequence[PollSummary]:
        return await self._polls.list(after_id=after_id, limit=limit)

    async def delete(self, poll_id: int) -> None:
        users = await self._polls.delete_unused(poll_id)
        if users is None:
            raise NotFound(f"no poll {poll_id}", "poll_id")
        if users:
            names = ", ".join(f"{c.id} ({c.name!r})" for c in users[:10])
            raise Conflict(f"the poll is the target of campaign(s) {names}: change or delete them first", "poll_id")

    async def answers(
        self,
        poll_id: int,
        *,
        campaign_id: int | None = None,
        phone: str | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Sequence[NumberAnswers]:
        await self.get(poll_id)
        return await self._polls.answers(poll_id, campaign_id=campaign_id, phone=phone, after=after, limit=limit)

    async def _check(self, poll: NewPoll) -> None:
        problems = check_graph(poll.questions)
        problems += await self._missing_audio(poll.questions)
        if problems:
            raise InvalidPoll(problems)

    async def _missing_audio(self, questions: Sequence[Question]) -> Problems:
        problems: list[GraphProblem] = []
        wanted = "must be the name of a prompt in the audio library (upload it first)"
        for index, question in enumerate(questions):
            if question.file and await self._audio.audio_by_name(question.file) is None:
                problems.append(GraphProblem("missing-audio", index, None, "audio", f"{wanted}, got {question.file!r}"))
            for position, press in enumerate(question.press):
                is_file = press.action == PollAction.PLAYBACK and plays_file(press.value, press.value_options)
                if is_file and await self._audio.audio_by_name(press.value) is None:
                    message = f"{wanted}, got {press.value!r}"
                    problems.append(GraphProblem("missing-audio", index, position, "audio", message))
        return problems


@dataclass(frozen=True, slots=True)
class PollUseCases:
    """What the v2 poll, audio and TTS routes get from the composition root."""

    polls: PollService
    audio: AudioLibrary
    tts: TtsPreview
