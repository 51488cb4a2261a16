"""The v2 poll wire ↔ domain mapping (api/v2/poll_models.py): whatever a client may send comes back the same from a
read (the domain stores v1's spelling in between), and what an action does not take is refused, never dropped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from autodialer.api.v2.poll_models import KeyIn, KeyOut, QuestionIn

KEYS = ["0", "1", "9", "*", "#", "timeout", "invalid"]
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
names = st.from_regex(r"[A-Za-z0-9 _.\-]{1,20}\.wav", fullmatch=True)
nexts = st.none() | st.from_regex(r"q[0-9]{1,3}", fullmatch=True)


@st.composite
def keys(draw: st.DrawFn) -> dict[str, object]:
    key = draw(st.sampled_from(KEYS))
    action = draw(st.sampled_from(["save_answer", "play", "transfer", "next_question", "opt_out"]))
    body: dict[str, object] = {"key": key, "action": action}
    if action == "save_answer":
        body["value"] = draw(texts)
    elif action == "play":
        body.update({"audio": draw(names)} if draw(st.booleans()) else {"text": draw(texts)})
    elif action == "transfer":
        body["extension"] = draw(st.from_regex(r"[0-9*#]{1,8}", fullmatch=True))
    elif action == "opt_out" and draw(st.booleans()):
        body["value"] = draw(texts)
    if action == "next_question":
        body["next"] = draw(st.from_regex(r"q[0-9]{1,3}", fullmatch=True))
    elif action in ("save_answer", "play"):
        body["next"] = draw(nexts)
    return body


@given(keys())
def test_a_key_reads_back_as_it_was_sent(body: dict[str, object]) -> None:
    out = KeyOut.of(KeyIn.model_validate(body).domain()).model_dump()
    sent = {k: v for k, v in body.items() if v is not None}
    read = {k: v for k, v in out.items() if v is not None}
    if body["action"] == "opt_out" and "value" not in body:
        assert read.pop("value") == ""  # stored as no value; the flow saves "optout" then
    assert read == sent


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"key": "1", "action": "next_question"}, "needs next"),
        ({"key": "1", "action": "save_answer", "value": "x", "text": "y"}, "does not take text"),
        ({"key": "1", "action": "play", "text": "a", "audio": "b.wav"}, "exactly one of text or audio"),
    ],
)
def test_fields_an_action_does_not_take_are_refused(body: dict[str, object], words: str) -> None:
    # (a next on a transfer or opt_out key is domain/poll_graph's dead-next, tested in test_v2_polls.py)
    with pytest.raises(ValidationError, match=words):
        KeyIn.model_validate(body)


def test_a_question_needs_something_to_say() -> None:
    with pytest.raises(ValidationError, match="needs text or audio"):
        QuestionIn.model_validate({"id": "q1", "text": "  "})
    assert QuestionIn.model_validate({"id": "q1", "audio": "a.wav"}).domain().file == "a.wav"
