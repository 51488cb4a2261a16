"""The voice poll (IVR survey) as a pure state machine that returns instructions for the FastAGI runner.

A poll asks its first question and waits for one key; the key's action runs (``answer``: save the configured value;
``playback``: save the key and play the value; ``dial``: save the value, end the poll as SUCCESS_POLLING and connect
to the extension; ``optout``: save, put the number on the do-not-call list and end; ``""``: save nothing) and the poll
goes on with the action's ``nextQuestion`` or ends with EVENT_POLLING_END. A timeout or an unknown key replays the
question, unless the question has a ``timeout`` / ``invalid`` pseudo-key, which then acts like a pressed key.

Invariants: after ``Hangup`` the flow emits nothing more; EVENT_POLLING_END is emitted at most once and never after
the poll failed; replays are bounded by ``max_repeats`` per question and the whole poll by ``max_duration_s``
(exceeding either hangs up without EVENT_POLLING_END, which MikoPBX's endCall turns into FAIL_POLLING).

``<key>`` placeholders in question and playback texts are replaced by the number's params in one pass (a value that
itself contains ``<x>`` is not expanded again); placeholders without a param are dropped, as MikoPBX's
``strip_tags`` did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from autodialer.domain.mikopbx_results import EventName

TIMEOUT_KEY = "timeout"
INVALID_KEY = "invalid"
DIGITS = "0123456789*#"


class PollAction(StrEnum):
    NONE = ""
    ANSWER = "answer"
    PLAYBACK = "playback"
    DIAL = "dial"
    OPT_OUT = "optout"


@dataclass(frozen=True, slots=True)
class Press:
    key: str  # one of DIGITS, or TIMEOUT_KEY / INVALID_KEY
    action: str
    value: str = ""
    value_options: str | None = None  # "text" | "file" | None (guess from the value)
    next_question: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    question_id: str  # the client's questionId (PolingResults.questionCrmId)
    text: str = ""
    file: str | None = None  # a prompt file; when set, ``text`` is not spoken
    lang: str = "ru-RU"
    press: tuple[Press, ...] = ()


@dataclass(frozen=True, slots=True)
class PollDefinition:
    poll_id: int
    questions: tuple[Question, ...]
    digit_timeout_s: float = 5.0
    max_repeats: int = 3  # replays of one question after a timeout or an unknown key
    max_duration_s: float = 120.0  # MikoPBX: TIMEOUT(absolute)=120
    version: int | None = None  # the stored definition's version, so answers point at the questions asked


@dataclass(frozen=True, slots=True)
class Prompt:
    """Something to play: a text to synthesize in ``lang`` or a file. Exactly one of text/file is set.

    ``fallback_text`` (with ``file`` only): what to speak when the file is not there, as MikoPBX did for a question
    with both a ``questionFile`` and a ``questionText`` ("if that file exists it is used; otherwise questionText").
    """

    lang: str
    text: str | None = None
    file: str | None = None
    fallback_text: str | None = None


@dataclass(frozen=True, slots=True)
class Ask:
    """Play ``prompt`` (a key interrupts it), then wait up to ``timeout_s`` for one key; feed the key to on_input."""

    prompt: Prompt
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Play:
    prompt: Prompt


@dataclass(frozen=True, slots=True)
class SaveAnswer:
    question_id: str
    result: str
    exten: str  # the key pressed (or the pseudo-key)


@dataclass(frozen=True, slots=True)
class Report:
    event: EventName  # EVENT_POLLING or EVENT_POLLING_END


@dataclass(frozen=True, slots=True)
class OptOut:
    pass


@dataclass(frozen=True, slots=True)
class Dial:
    exten: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


Instruction = Ask | Play | SaveAnswer | Report | OptOut | Dial | Hangup


@dataclass(frozen=True, slots=True)
class PollState:
    question_index: int
    repeats: int
    started_at: float
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    state: PollState
    instructions: tuple[Instruction, ...]


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_]+)>")


def substitute(text: str, params: Mapping[str, str]) -> str:
    """Replace every ``<key>`` by ``params[key]`` in one pass; unknown placeholders are removed."""
    return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), text)


def start_poll(poll: PollDefinition, params: Mapping[str, str], now: float) -> Step:
    state = PollState(question_index=0, repeats=0, started_at=now)
    if not poll.questions:
        return Step(replace(state, finished=True), (Hangup(),))
    return Step(state, (Report(EventName.EVENT_POLLING), _ask(poll, 0, params)))


def on_input(poll: PollDefinition, params: Mapping[str, str], state: PollState, key: str | None, now: float) -> Step:
    """Advance after the Ask returned ``key`` (None: no key within the timeout) at ``now``."""
    if state.finished:
        return Step(state, ())
    if now - state.started_at >= poll.max_duration_s:
        return _fail(state)
    question = poll.questions[state.question_index]
    press = _find_press(question, key)
    if press is None:
        if state.repeats >= poll.max_repeats:
            return _fail(state)
        return Step(replace(state, repeats=state.repeats + 1), (_ask(poll, state.question_index, params),))
    exten = key if key is not None and press.key not in (TIMEOUT_KEY, INVALID_KEY) else press.key
    return _act(poll, params, state, question, press, exten)


def _find_press(question: Question, key: str | None) -> Press | None:
    wanted = TIMEOUT_KEY if key is None else key
    for press in question.press:
        if press.key == wanted:
            return press
    if key is not None:
        for press in question.press:
            if press.key == INVALID_KEY:
                return press
    return None


def _act(
    poll: PollDefinition, params: Mapping[str, str], state: PollState, question: Question, press: Press, exten: str
) -> Step:
    qid = question.question_id
    match press.action:
        case PollAction.DIAL:
            done = replace(state, finished=True)
            return Step(
                done,
                (SaveAnswer(qid, press.value, exten), Report(EventName.EVENT_POLLING_END), Dial(press.value), Hangup()),
            )
        case PollAction.OPT_OUT:
            saved = (SaveAnswer(qid, press.value or PollAction.OPT_OUT.value, exten), OptOut())
            return _end(state, saved, ())
        case PollAction.ANSWER:
            before: tuple[Instruction, ...] = (SaveAnswer(qid, press.value, exten),)
            after: tuple[Instruction, ...] = ()
        case PollAction.PLAYBACK:
            before = (SaveAnswer(qid, exten, exten),)
            after = (Play(_playback_prompt(press, question.lang, params)),)
        case _:
            before, after = (), ()
    next_index = _question_index(poll, press.next_question)
    if next_index is None:
        return _end(state, before, after)
    asked = (*before, *after, _ask(poll, next_index, params))
    return Step(PollState(question_index=next_index, repeats=0, started_at=state.started_at), asked)


def _end(state: PollState, before: tuple[Instruction, ...], after: tuple[Instruction, ...]) -> Step:
    # EVENT_POLLING_END goes before the final playback, so a customer who hangs up during "thank you" still counts.
    return Step(replace(state, finished=True), (*before, Report(EventName.EVENT_POLLING_END), *after, Hangup()))


def _fail(state: PollState) -> Step:
    return Step(replace(state, finished=True), (Hangup(),))


def _question_index(poll: PollDefinition, question_id: str | None) -> int | None:
    if not question_id:
        return None
    for index, question in enumerate(poll.questions):
        if question.question_id == question_id:
            return index
    return None


def _ask(poll: PollDefinition, index: int, params: Mapping[str, str]) -> Ask:
    question = poll.questions[index]
    if question.file:
        fallback = substitute(question.text, params) if question.text else None
        prompt = Prompt(lang=question.lang, file=question.file, fallback_text=fallback or None)
    else:
        prompt = Prompt(lang=question.lang, text=substitute(question.text, params))
    return Ask(prompt, poll.digit_timeout_s)


def _playback_prompt(press: Press, lang: str, params: Mapping[str, str]) -> Prompt:
    if plays_file(press.value, press.value_options):
        return Prompt(lang=lang, file=press.value)
    return Prompt(lang=lang, text=substitute(press.value, params))


def plays_file(value: str, value_options: str | None) -> bool:
    """Whether a playback action's ``value`` is a file to play (else a text to speak).

    ``valueOptions`` decides when given; 1C never sends it, so then a value that looks like a path is a file."""
    if value_options:
        return value_options == "file"
    return value.startswith("/") or value.lower().endswith((".wav", ".mp3", ".gsm", ".ulaw", ".alaw", ".sln"))
