"""The v2 wire of polls, audio prompts and the TTS preview: pydantic models and their mapping to domain records.

A poll's key says what it does in words (``save_answer``, ``play``, ``transfer``, ``next_question``, ``opt_out``)
and carries only what that action uses; the domain stores the v1 spelling (``answer``, ``playback``, ``dial``, ``""``,
``optout``), so v1's GET /polling shows a v2 poll and the FastAGI /poll flow runs it unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from autodialer.api.v2.models import Count, Seconds, Text255, _In, utc
from autodialer.domain.poll_flow import PollAction, Press, Question, plays_file
from autodialer.services.audio_library import AudioRecord
from autodialer.services.polls import NewPoll, NumberAnswers, PollRecord, PollSummary, PollTimingRule

QuestionId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Lang = Annotated[str, StringConstraints(max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
AudioName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/\\]+$")]
Extension = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9*#]+$")]
SpokenText = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
AnswerValue = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00-\x1f\x7f]*$")]
KeyName = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "timeout", "invalid"]
ActionName = Literal["save_answer", "play", "transfer", "next_question", "opt_out"]
_TO_DOMAIN = {
    "save_answer": PollAction.ANSWER,
    "play": PollAction.PLAYBACK,
    "transfer": PollAction.DIAL,
    "next_question": PollAction.NONE,
    "opt_out": PollAction.OPT_OUT,
}
_TO_WIRE = {v.value: k for k, v in _TO_DOMAIN.items()}
# What each action takes (besides key and next): anything else sent with it is refused, never silently dropped.
_FIELDS: dict[str, tuple[set[str], set[str]]] = {  # action → (required, allowed)
    "save_answer": ({"value"}, {"value"}),
    "play": (set(), {"text", "audio"}),
    "transfer": ({"extension"}, {"extension"}),
    "next_question": ({"next"}, set()),
    "opt_out": (set(), {"value"}),
}


class KeyIn(_In):
    key: KeyName = Field(description="a DTMF key, or timeout (no key in time) / invalid (a key not listed)")
    action: ActionName = Field(
        description="save_answer: store value; play: store the key and play text or audio; transfer: store the key,"
        " end the poll as answered and connect to extension; next_question: store nothing; opt_out: store and add the"
        " number to the do-not-call list, ending the poll"
    )
    value: AnswerValue | None = Field(default=None, description="the answer stored (save_answer, opt_out)")
    text: SpokenText | None = Field(default=None, description="play: the text to speak")
    audio: AudioName | None = Field(default=None, description="play: the name of a prompt in the audio library")
    extension: Extension | None = Field(default=None, description="transfer: the extension or queue")
    next: QuestionId | None = Field(default=None, description="the question asked next; none: the poll ends")

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> KeyIn:
        required, allowed = _FIELDS[self.action]
        given = {f for f in ("value", "text", "audio", "extension") if getattr(self, f) is not None}
        if self.next is not None:
            given.add("next")
        missing = sorted(required - given)
        extra = sorted(given - allowed - {"next"})
        if missing:
            raise ValueError(f"{self.action} needs {', '.join(missing)}")
        if extra:
            raise ValueError(f"{self.action} does not take {', '.join(extra)}")
        if self.action == "play" and (self.text is None) == (self.audio is None):
            raise ValueError("play needs exactly one of text or audio")
        return self

    def domain(self) -> Press:
        action = _TO_DOMAIN[self.action]
        if self.action == "play":
            if self.audio is not None:
                return Press(self.key, action.value, self.audio, "file", self.next)
            return Press(self.key, action.value, self.text or "", "text", self.next)
        value = self.extension if self.action == "transfer" else self.value
        return Press(self.key, action.value, value or "", None, self.next)


class QuestionIn(_In):
    id: QuestionId = Field(description="unique in the poll; keys name it in next; answers carry it")
    text: SpokenText | None = Field(default=None, description="spoken by TTS (or the fallback when audio is set)")
    audio: AudioName | None = Field(default=None, description="the name of a prompt in the audio library")
    lang: Lang = Field(default="ru-RU", description="language of the text: chooses the voice")
    keys: list[KeyIn] = Field(default_factory=list, max_length=14)

    @model_validator(mode="after")
    def _says_something(self) -> QuestionIn:
        if not (self.text or "").strip() and self.audio is None:
            raise ValueError("a question needs text or audio")
        return self

    def domain(self) -> Question:
        return Question(self.id, self.text or "", self.audio, self.lang, tuple(k.domain() for k in self.keys))


class PollIn(_In):
    name: Text255 = ""
    external_id: Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")] = Field(
        default="", description="the CRM's id (v1 crmId); empty: generated"
    )
    questions: list[QuestionIn] = Field(min_length=1, max_length=100, description="asked from the first")
    digit_timeout_s: Seconds = Field(default=5.0, ge=0.1, le=60, description="how long to wait for a key")
    max_repeats: Count = Field(default=3, ge=0, le=20, description="replays after a timeout or an unknown key")
    max_duration_s: Seconds = Field(default=120.0, ge=1, le=3600, description="the whole poll at most")

    def domain(self) -> NewPoll:
        timing = PollTimingRule(self.digit_timeout_s, self.max_repeats, self.max_duration_s)
        return NewPoll(self.name, tuple(q.domain() for q in self.questions), timing, self.external_id)


class KeyOut(BaseModel):
    key: str
    action: str
    value: str | None = None
    text: str | None = None
    audio: str | None = None
    extension: str | None = None
    next: str | None = None

    @classmethod
    def of(cls, p: Press) -> KeyOut:
        action = _TO_WIRE.get(p.action, p.action)
        out = cls(key=p.key, action=action, next=p.next_question)
        if action == "play":
            if plays_file(p.value, p.value_options):
                out.audio = p.value
            else:
                out.text = p.value
        elif action == "transfer":
            out.extension = p.value
        elif action in ("save_answer", "opt_out"):
            out.value = p.value
        return out


class QuestionOut(BaseModel):
    id: str
    text: str | None
    audio: str | None
    lang: str
    keys: list[KeyOut]


class PollOut(BaseModel):
    id: int
    external_id: str
    name: str
    version: int = Field(description="bumped by every replacement; answers keep the version they were given under")
    questions: list[QuestionOut]
    digit_timeout_s: float
    max_repeats: int
    max_duration_s: float
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: PollRecord) -> PollOut:
        questions = [
            QuestionOut(
                id=q.question_id, text=q.text or None, audio=q.file, lang=q.lang, keys=[KeyOut.of(k) for k in q.press]
            )
            for q in p.questions
        ]
        return cls(
            id=p.id,
            external_id=p.external_id,
            name=p.name,
            version=p.version,
            questions=questions,
            digit_timeout_s=p.timing.digit_timeout_s,
            max_repeats=p.timing.max_repeats,
            max_duration_s=p.timing.max_duration_s,
            created_at=utc(p.created_at),
            updated_at=utc(p.updated_at),
        )


class PollSummaryOut(BaseModel):
    id: int
    external_id: str
    name: str
    version: int
    question_count: int
    updated_at: datetime

    @classmethod
    def of(cls, s: PollSummary) -> PollSummaryOut:
        return cls(
            id=s.id,
            external_id=s.external_id,
            name=s.name,
            version=s.version,
            question_count=s.question_count,
            updated_at=utc(s.updated_at),
        )


class PollList(BaseModel):
    items: list[PollSummaryOut]
    next_cursor: str | None


class AnswerOut(BaseModel):
    question_id: str
    question_text: str | None
    key: str | None = Field(description="the key pressed, or timeout / invalid")
    value: str | None = Field(description="what was stored for it")
    attempt_id: str | None
    at: datetime


class NumberAnswersOut(BaseModel):
    campaign_id: int
    phone: str
    answers: list[AnswerOut]

    @classmethod
    def of(cls, n: NumberAnswers) -> NumberAnswersOut:
        answers = [
            AnswerOut(
                question_id=a.question_id,
                question_text=a.question_text,
                key=a.key,
                value=a.value,
                attempt_id=a.attempt_id,
                at=utc(a.at),
            )
            for a in n.answers
        ]
        return cls(campaign_id=n.campaign_id, phone=n.phone, answers=answers)


class PollResults(BaseModel):
    items: list[NumberAnswersOut]
    next_cursor: str | None


class AudioOut(BaseModel):
    id: int
    name: str = Field(description="the uploaded file name: how polls name the prompt")
    format: str | None = Field(description="the uploaded format, as recognised by its content")
    duration_s: float | None

    @classmethod
    def of(cls, r: AudioRecord) -> AudioOut:
        return cls(id=r.id, name=r.name, format=r.content_type, duration_s=r.duration_s)


class AudioList(BaseModel):
    items: list[AudioOut]


class VoiceList(BaseModel):
    voices: list[str]
