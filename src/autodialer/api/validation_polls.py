"""POST /polling bodies: a survey's questions and key actions, checked before anything is stored.

Rules: ``questions`` 1..100, each with a unique ``questionId`` (default: its index, as in the original) and a
``questionText`` or ``questionFile``; ``lang`` like ``ru-RU``; ``press`` items with a ``key`` in 0-9 * # (or our
pseudo-keys ``timeout``/``invalid``), unique within the question, an ``action`` in "" answer playback dial
(or our ``optout``), ``valueOptions`` text/file; a ``dial`` value must be an extension; ``nextQuestion`` must name
a ``questionId`` of the same poll. Question-level ``nextQuestion`` (a quirk of the docs) is ignored, as the
original ignores it; so is a body ``id`` (the original wrote it into the primary key; we find polls by crmId).
Optional poll-level timing (ours): ``digitTimeout`` seconds to wait for a key (0.1..60,
default 5 as the original's WaitExten), ``maxRepeats`` replays of a question after a timeout or an unknown key
(0..20, default 3), ``maxDuration`` seconds for the whole poll (1..3600, default 120 as TIMEOUT(absolute)).

Files: a ``questionFile`` or a playback file must be one of our uploads (audio.prompt_files) to play. A question
whose file is not ours but that has a ``questionText`` is accepted and speaks the text (MikoPBX: "if that file
exists it is used; otherwise questionText is synthesized"); one with neither is refused, as is a playback file that
is not ours: they could never play. Checked against the store at POST (services.mikopbx_polls), and again
at call time, since an upload can be deleted afterwards.

The opt-out action is called ``optout`` everywhere (wire, database, domain); it is the only spelling accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from autodialer.api.validation import FieldErrors, integer, one_of, text
from autodialer.domain.poll_flow import Press, Question
from autodialer.domain.poll_graph import check_structure
from autodialer.services.mikopbx_polls import PollActionData, PollQuestionData, PollTiming

MAX_QUESTIONS = 100
KEYS = (*"0123456789", "*", "#", "timeout", "invalid")
ACTIONS = ("", "answer", "playback", "dial", "optout")
VALUE_OPTIONS = ("", "text", "file")
LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
EXTENSION = re.compile(r"[0-9*#]{1,32}")


@dataclass(frozen=True, slots=True)
class PollBody:
    crm_id: str  # "" = generate
    echo: dict[str, Any]  # crmId/name as the client typed them
    name: str | None
    questions: list[PollQuestionData]
    timing: PollTiming


def parse_poll_body(body: dict[str, Any]) -> PollBody:
    errors = FieldErrors()
    echo: dict[str, Any] = {}
    crm_id = text(errors, "crmId", body.get("crmId"), max_len=255, allow_int=True) or ""
    if crm_id:
        echo["crmId"] = body["crmId"]
    name = None
    if body.get("name") is not None:  # null keeps the stored name (addPolling: ``$data[$key] ?? $oldValue``)
        name = text(errors, "name", body["name"], max_len=255, allow_int=True)
        echo["name"] = body["name"]
    questions: list[PollQuestionData] = []
    raw = body.get("questions")
    if not isinstance(raw, list) or not raw:
        errors.add("questions", "must be a non-empty list")
    elif len(raw) > MAX_QUESTIONS:
        errors.add("questions", f"must have at most {MAX_QUESTIONS} items")
    else:
        questions = _questions(errors, raw)
    timing = _timing(errors, body)
    errors.raise_if_any()
    return PollBody(crm_id, echo, name, questions, timing)


def _timing(errors: FieldErrors, body: dict[str, Any]) -> PollTiming:
    default = PollTiming()
    digit_timeout = _seconds(errors, "digitTimeout", body.get("digitTimeout"), 0.1, 60.0)
    repeats = body.get("maxRepeats")
    max_repeats = None if repeats is None else integer(errors, "maxRepeats", repeats, 0, 20)
    max_duration = _seconds(errors, "maxDuration", body.get("maxDuration"), 1.0, 3600.0)
    return PollTiming(
        digit_timeout_s=default.digit_timeout_s if digit_timeout is None else digit_timeout,
        max_repeats=default.max_repeats if max_repeats is None else max_repeats,
        max_duration_s=default.max_duration_s if max_duration is None else max_duration,
    )


def _seconds(errors: FieldErrors, field: str, value: object, lo: float, hi: float) -> float | None:
    """A number of seconds in lo..hi, as a JSON number or a numeric string; None when absent."""
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 20:
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not lo <= number <= hi:  # NaN fails both comparisons
        errors.add(field, f"must be a number of seconds in {lo:g}..{hi:g}")
        return None
    return number


def _questions(errors: FieldErrors, raw: list[Any]) -> list[PollQuestionData]:
    questions: list[PollQuestionData] = []
    for index, item in enumerate(raw):
        where = f"questions[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "must be an object")
            continue
        qid = text(errors, f"{where}.questionId", item.get("questionId"), max_len=255, allow_int=True)
        qid = qid if qid not in (None, "") else str(index)
        question_text = text(errors, f"{where}.questionText", item.get("questionText"), max_len=4000)
        question_file = text(errors, f"{where}.questionFile", item.get("questionFile"), max_len=1024)
        if item.get("questionText") in (None, "") and item.get("questionFile") in (None, ""):
            errors.add(where, "needs a questionText or a questionFile")
        lang = "ru-RU"
        if item.get("lang") not in (None, ""):
            rule = "must be a language tag like ru-RU"
            lang = text(errors, f"{where}.lang", item["lang"], max_len=16, pattern=LANG, rule=rule) or lang
        actions = _actions(errors, where, item.get("press"))
        questions.append(PollQuestionData(qid, question_text, question_file, lang, actions))
    # Unique ids and keys, targets that exist: the domain's rule, the one the v2 API applies too. Checked once the
    # items themselves are sound, so the positions it names are the body's (a refused item is not in ``questions``).
    if errors.errors:
        return questions
    for problem in check_structure([as_domain_question(q) for q in questions]):
        errors.add(problem.v1_field, problem.message)
    return questions


def as_domain_question(question: PollQuestionData) -> Question:
    press = tuple(
        Press(a.key, a.action, a.value or "", a.value_options, a.next_question or None) for a in question.actions
    )
    return Question(question.crm_id, question.question_text or "", question.question_file, question.lang, press)


def _actions(errors: FieldErrors, where: str, raw: object) -> list[PollActionData]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > len(KEYS):
        errors.add(f"{where}.press", f"must be a list of at most {len(KEYS)} items")
        return []
    actions: list[PollActionData] = []
    for index, item in enumerate(raw):
        at = f"{where}.press[{index}]"
        if not isinstance(item, dict):
            errors.add(at, "must be an object")
            continue
        key = one_of(errors, f"{at}.key", item.get("key"), KEYS)
        action = one_of(errors, f"{at}.action", item.get("action") or "", ACTIONS)
        value = text(errors, f"{at}.value", item.get("value"), max_len=1000, allow_int=True)
        if action == "dial" and (value is None or not EXTENSION.fullmatch(value)):
            errors.add(f"{at}.value", "a dial action needs an extension (digits, * or #)")
        options = item.get("valueOptions")
        if options is not None:
            options = one_of(errors, f"{at}.valueOptions", options, VALUE_OPTIONS)
        next_question = text(errors, f"{at}.nextQuestion", item.get("nextQuestion"), max_len=255, allow_int=True)
        if key is not None and action is not None:
            actions.append(PollActionData(key, action, value, options, next_question))
    return actions
