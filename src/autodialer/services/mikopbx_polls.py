"""The MikoPBX v1 poll use cases: POST /polling (create, or replace by crmId as a new version), list, read.

v1's own rules (looser than v2's PollService, which the console uses): a question whose file is not one of our
uploads but has a text to speak is accepted; a question with neither, and a playback action whose file is not ours,
are refused (:class:`UnplayablePrompts`, every problem named by its wire field) since they could never play.
The graph rules both wires share live in domain.poll_graph (checked by the edge's body parser). Storage is the
:class:`MikoPollRepository` port; which files are ours, the :class:`PromptFiles` port.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autodialer.domain.poll_flow import plays_file
from autodialer.services.polls import PollTimingRule

PollTiming = PollTimingRule  # how long a poll waits for a key, replays, lasts: one rule for v1 and v2
UPLOAD = "must be an audio file uploaded with POST /audio (its data.filename, or the name it was uploaded as)"


@dataclass(frozen=True, slots=True)
class PollActionData:
    key: str
    action: str
    value: str | None
    value_options: str | None
    next_question: str | None


@dataclass(frozen=True, slots=True)
class PollQuestionData:
    crm_id: str
    question_text: str | None
    question_file: str | None
    lang: str
    actions: Sequence[PollActionData] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SavedPoll:
    poll_id: int
    crm_id: str
    name: str
    created: bool
    crm_id_generated: bool


@dataclass(frozen=True, slots=True)
class PollListing:
    id: int
    crm_id: str
    name: str


@dataclass(frozen=True, slots=True)
class PollQuestionView:
    id: int
    question_text: str | None
    question_file: str | None
    lang: str


@dataclass(frozen=True, slots=True)
class PollView:
    """A poll's current version: its questions in order with their key actions."""

    poll: PollListing
    questions: Sequence[tuple[PollQuestionView, Sequence[PollActionData]]]


class MikoPollRepository(Protocol):
    async def save_poll(
        self,
        *,
        crm_id: str,
        name: str | None,
        questions: Sequence[PollQuestionData],
        now: float,
        timing: PollTiming | None = None,
    ) -> SavedPoll: ...

    async def list_polls(self) -> Sequence[PollListing]: ...

    async def get_poll(self, poll_id: int) -> PollView | None: ...


class PromptFiles(Protocol):
    async def locate(self, file: str) -> object | None:
        """The stored recording ``file`` names, or None when it names none of our uploads."""
        ...


class UnplayablePrompts(Exception):
    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems))
        self.problems = list(problems)  # (wire field, rule)


class MikoPolls:
    def __init__(
        self,
        store: MikoPollRepository,
        files: PromptFiles,
        now: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._files = files
        self._now = now
        self.on_change = on_change

    async def save(
        self, *, crm_id: str, name: str | None, questions: Sequence[PollQuestionData], timing: PollTiming
    ) -> SavedPoll:
        problems = await self.unplayable(questions)
        if problems:
            raise UnplayablePrompts(problems)
        saved = await self._store.save_poll(
            crm_id=crm_id, name=name, questions=questions, now=self._now(), timing=timing
        )
        self.on_change()  # polling tasks may be waiting for this poll's new version
        return saved

    async def unplayable(self, questions: Sequence[PollQuestionData]) -> list[tuple[str, str]]:
        """The questions and playback actions whose file is not one of our uploads and has no fallback."""
        problems: list[tuple[str, str]] = []
        for index, question in enumerate(questions):
            where = f"questions[{index}]"
            file = question.question_file
            if file and not question.question_text and await self._files.locate(file) is None:
                problems.append((f"{where}.questionFile", f"{UPLOAD}; there is no questionText to speak instead"))
            for position, action in enumerate(question.actions):
                value = action.value or ""
                is_file = action.action == "playback" and plays_file(value, action.value_options)
                if is_file and await self._files.locate(value) is None:
                    rule = f'{UPLOAD}, or valueOptions "text" to speak it'
                    problems.append((f"{where}.press[{position}].value", rule))
        return problems

    async def list(self) -> Sequence[PollListing]:
        return await self._store.list_polls()

    async def get(self, poll_id: int) -> PollView | None:
        return await self._store.get_poll(poll_id)
