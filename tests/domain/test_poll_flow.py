"""The poll state machine: actions, branches, replays and limits, pseudo-keys, params substitution."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.mikopbx_results import EventName
from autodialer.domain.poll_flow import (
    Ask,
    Dial,
    Hangup,
    OptOut,
    Play,
    PollDefinition,
    PollState,
    Press,
    Prompt,
    Question,
    Report,
    SaveAnswer,
    Step,
    on_input,
    start_poll,
    substitute,
)

END = Report(EventName.EVENT_POLLING_END)
START = Report(EventName.EVENT_POLLING)

POLL = PollDefinition(
    poll_id=7,
    questions=(
        Question(
            "1",
            "Ready to accept the delivery? Debt <speach>.",
            press=(
                Press("1", "answer", "yes", next_question="2"),
                Press("2", "answer", "no"),
                Press("3", "dial", "201"),
                Press("5", "playback", "Thanks <name>", "text"),
                Press("4", "", "", next_question="2"),
                Press("9", "optout", ""),
            ),
        ),
        Question("2", "", file="/audio/taxi.wav", press=(Press("1", "answer", "taxi"),)),
    ),
    digit_timeout_s=5,
    max_repeats=2,
    max_duration_s=120,
)
PARAMS = {"speach": "1000", "name": "Ann"}


def ask(index: int) -> Ask:
    q = POLL.questions[index]
    prompt = Prompt(q.lang, file=q.file) if q.file else Prompt(q.lang, text=substitute(q.text, PARAMS))
    return Ask(prompt, 5)


def press(state: PollState, key: str | None, now: float = 10.0) -> Step:
    return on_input(POLL, PARAMS, state, key, now)


def test_start_reports_and_asks_with_params_substituted() -> None:
    step = start_poll(POLL, PARAMS, 0.0)
    assert step.instructions == (START, Ask(Prompt("ru-RU", text="Ready to accept the delivery? Debt 1000."), 5))


def test_answer_then_next_question_then_end() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "1")
    assert step.instructions == (SaveAnswer("1", "yes", "1"), ask(1))
    step = press(step.state, "1")
    assert step.instructions == (SaveAnswer("2", "taxi", "1"), END, Hangup())
    assert step.state.finished
    assert press(step.state, "1").instructions == ()


def test_answer_without_next_question_ends_the_poll() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "2")
    assert step.instructions == (SaveAnswer("1", "no", "2"), END, Hangup())


def test_dial_saves_ends_successfully_and_connects() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "3")
    assert step.instructions == (SaveAnswer("1", "201", "3"), END, Dial("201"), Hangup())


def test_playback_saves_the_key_and_plays_the_text_after_the_end_report() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "5")
    assert step.instructions == (SaveAnswer("1", "5", "5"), END, Play(Prompt("ru-RU", text="Thanks Ann")), Hangup())


def test_empty_action_saves_nothing_and_goes_on() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "4")
    assert step.instructions == (ask(1),)


def test_opt_out() -> None:
    step = press(start_poll(POLL, PARAMS, 0.0).state, "9")
    assert step.instructions == (SaveAnswer("1", "optout", "9"), OptOut(), END, Hangup())


def test_timeout_and_unknown_keys_replay_until_max_repeats_then_fail() -> None:
    state = start_poll(POLL, PARAMS, 0.0).state
    step = press(state, None)
    assert step.instructions == (ask(0),)
    step = press(step.state, "7")
    assert step.instructions == (ask(0),)
    step = press(step.state, None)
    assert step.instructions == (Hangup(),)  # no EVENT_POLLING_END: endCall makes it FAIL_POLLING
    assert step.state.finished


def test_total_duration_bounds_the_poll() -> None:
    state = start_poll(POLL, PARAMS, 0.0).state
    assert press(state, "1", now=120.0).instructions == (Hangup(),)


def test_pseudo_keys_branch_explicitly() -> None:
    poll = PollDefinition(
        1,
        (
            Question(
                "a",
                "Press 1",
                press=(
                    Press("1", "answer", "one"),
                    Press("timeout", "answer", "silent"),
                    Press("invalid", "", "", next_question="b"),
                ),
            ),
            Question("b", "Bye", press=(Press("1", "answer", "x"),)),
        ),
    )
    state = start_poll(poll, {}, 0.0).state
    assert on_input(poll, {}, state, None, 1.0).instructions == (SaveAnswer("a", "silent", "timeout"), END, Hangup())
    step = on_input(poll, {}, state, "8", 1.0)
    assert step.instructions == (Ask(Prompt("ru-RU", text="Bye"), 5.0),)


def test_playback_value_options() -> None:
    poll = PollDefinition(1, (Question("a", "Q", press=(Press("1", "playback", "/audio/thanks.mp3"),)),))
    step = on_input(poll, {}, start_poll(poll, {}, 0).state, "1", 1.0)
    assert Play(Prompt("ru-RU", file="/audio/thanks.mp3")) in step.instructions


def test_empty_poll_hangs_up() -> None:
    assert start_poll(PollDefinition(1, ()), {}, 0).instructions == (Hangup(),)


def test_substitute_is_one_pass_and_drops_unknown_placeholders() -> None:
    assert substitute("Debt <speach> rub <other>.", {"speach": "<other>"}) == "Debt <other> rub ."
    assert substitute("a < b > c", {}) == "a < b > c"


@settings(deadline=None)  # a loaded CI box must not turn slowness into a failure
@given(st.lists(st.sampled_from([None, "1", "2", "3", "4", "5", "7", "9", "#"]), max_size=20), st.integers(0, 200))
def test_poll_invariants(keys: list[str | None], step_s: int) -> None:
    step = start_poll(POLL, PARAMS, 0.0)
    emitted = list(step.instructions)
    state = step.state
    for i, key in enumerate(keys):
        step = on_input(POLL, PARAMS, state, key, float(i * step_s))
        state = step.state
        emitted.extend(step.instructions)
    hangups = [i for i, x in enumerate(emitted) if isinstance(x, Hangup)]
    assert len(hangups) <= 1
    if hangups:
        assert hangups[0] == len(emitted) - 1 or isinstance(emitted[-1], Hangup)
        assert state.finished
    assert emitted.count(END) <= 1
    asks = sum(isinstance(x, Ask) for x in emitted)
    assert asks <= 1 + len(keys)
