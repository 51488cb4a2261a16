"""The poll graph rules (domain/poll_graph.py) held against what poll_flow actually does with a definition: a question
is "unreachable" exactly when no key sequence makes the flow ask it, and "no-way-out" exactly when from there no key
sequence makes the flow report EVENT_POLLING_END."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.mikopbx_results import EventName
from autodialer.domain.poll_flow import Ask, PollDefinition, Press, Question, Report, on_input, start_poll
from autodialer.domain.poll_graph import check_graph, check_structure

IDS = ["a", "b", "c", "d", "e"]
ACTIONS = ["", "answer", "playback", "dial", "optout"]


def q(qid: str, *press: Press) -> Question:
    return Question(qid, text=f"question {qid}", press=press)


def rules(questions: list[Question]) -> list[tuple[str, int, int | None]]:
    return [(p.rule, p.question, p.press) for p in check_graph(questions)]


def test_a_branching_poll_with_a_repeat_loop_is_sound() -> None:
    poll = [
        q(
            "a",
            Press("1", "answer", "yes", None, "b"),
            Press("2", "answer", "no", None, "c"),
            Press("0", "dial", "201"),
        ),
        q(
            "b", Press("1", "answer", "5"), Press("9", "", "", None, "b")
        ),  # 9 repeats the question: a loop with a way out
        q("c", Press("1", "playback", "thanks", "text"), Press("timeout", "", "", None, "a")),
    ]
    assert rules(poll) == []


def test_each_rule_names_where_it_applies() -> None:
    assert rules([q("a", Press("1", "answer", "x", None, "zz"))]) == [("missing-target", 0, 0)]
    assert rules([q("a", Press("1", "answer"), Press("1", "answer"))]) == [("duplicate-key", 0, 1)]
    assert rules([q("a", Press("1", "answer")), q("a", Press("1", "answer"))]) == [("duplicate-question", 1, None)]
    assert rules([q("a", Press("1", "answer")), q("b", Press("1", "answer"))]) == [("unreachable", 1, None)]
    assert rules([q("a", Press("1", "dial", "201", None, "a"))]) == [("dead-next", 0, 0)]
    trap = [q("a", Press("1", "answer", "x", None, "b")), q("b", Press("1", "", "", None, "a"))]
    assert rules(trap) == [("no-way-out", 0, None), ("no-way-out", 1, None)]
    assert rules([q("a")]) == [("no-way-out", 0, None)]  # no keys: only timeouts, then FAIL_POLLING


def test_v1_names_fields_in_its_own_words() -> None:
    problems = check_structure([q("a", Press("1", "answer", "x", None, "zz"))])
    assert [p.v1_field for p in problems] == ["questions[0].press[0].nextQuestion"]


presses = st.builds(
    Press,
    key=st.sampled_from(["1", "2", "3", "timeout"]),
    action=st.sampled_from(ACTIONS),
    value=st.just("201"),
    value_options=st.just("text"),
    next_question=st.one_of(st.none(), st.sampled_from(IDS)),
)


@st.composite
def polls(draw: st.DrawFn) -> list[Question]:
    count = draw(st.integers(1, len(IDS)))
    questions = []
    for qid in IDS[:count]:
        press = draw(st.lists(presses, max_size=4, unique_by=lambda p: p.key))
        # Targets that exist (missing ones are check_structure's business, tested above)
        press = [
            p if p.next_question in IDS[:count] else Press(p.key, p.action, p.value, p.value_options) for p in press
        ]
        questions.append(q(qid, *press))
    return questions


def explore(questions: list[Question]) -> tuple[set[int], set[int]]:
    """By running poll_flow over every key sequence: the questions ever asked, and those from which the flow can
    reach EVENT_POLLING_END."""
    poll = PollDefinition(1, tuple(questions), max_repeats=0, max_duration_s=1e9)
    index = {x.question_id: i for i, x in enumerate(questions)}
    moves: dict[int, set[int | None]] = {}  # question → next question asked, None for the end
    step = start_poll(poll, {}, 0.0)
    asked, todo = {0}, [step.state]
    while todo:
        state = todo.pop()
        here = state.question_index
        moves.setdefault(here, set())
        for key in ["1", "2", "3", None]:
            after = on_input(poll, {}, state, key, 0.0)
            if any(isinstance(i, Report) and i.event is EventName.EVENT_POLLING_END for i in after.instructions):
                moves[here].add(None)
            elif not after.state.finished:
                asks = [i for i in after.instructions if isinstance(i, Ask)]
                nxt = after.state.question_index
                assert asks and questions[nxt].text in (asks[-1].prompt.text or "")
                moves[here].add(nxt)
                if nxt not in asked:
                    asked.add(nxt)
                    todo.append(after.state)
    can_end: set[int] = set()
    changed = True
    while changed:
        changed = False
        for here, targets in moves.items():
            if here not in can_end and (None in targets or targets & can_end):
                can_end.add(here)
                changed = True
    assert set(index.values()) >= asked
    return asked, can_end


@settings(max_examples=300, deadline=None)
@given(polls())
def test_graph_rules_agree_with_what_the_flow_does(questions: list[Question]) -> None:
    asked, can_end = explore(questions)
    found = check_graph(questions)
    unreachable = {p.question for p in found if p.rule == "unreachable"}
    trapped = {p.question for p in found if p.rule == "no-way-out"}
    assert unreachable == set(range(len(questions))) - asked
    assert trapped == asked - can_end
    dead = {(p.question, p.press) for p in found if p.rule == "dead-next"}
    assert dead == {
        (i, j)
        for i, x in enumerate(questions)
        for j, p in enumerate(x.press)
        if p.action in ("dial", "optout") and p.next_question
    }
