"""A poll's questions as a graph: the rules a poll definition must keep to be runnable by ``poll_flow``.

Each question is a node; a key whose action goes on (``answer``, ``playback``, ``""``) with a ``next_question`` is an
edge to that question, and without one it ends the poll (EVENT_POLLING_END); ``dial`` and ``optout`` always end it
(poll_flow ignores their ``next_question``). The poll starts at the first question.

Rules, each reported with where it applies (question index, key index, attribute) so each edge names the field in
its own wire's words (v1 ``questions[i].press[j].nextQuestion``, v2 ``questions[i].keys[j].next``):
- ``duplicate-question``: question ids are unique;
- ``duplicate-key``: a key is defined once per question;
- ``missing-target``: a ``next_question`` names a question of the poll;
- (strict) ``dead-next``: a ``dial``/``optout`` key has no ``next_question`` (it would never be followed);
- (strict) ``unreachable``: every question can be reached from the first;
- (strict) ``no-way-out``: from every question some keys lead to an end. Loops are allowed (a "repeat the menu"
  key going back, as poll_flow runs them, bounded by max_duration_s), but a question from which every path only
  loops or waits can end only by the poll failing (FAIL_POLLING), which no author means.

The MikoPBX v1 wire checks only the first three (its clients may send polls with unused questions); the v2 API checks
all of them. Pure: no I/O, deterministic order of problems (question by question, key by key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autodialer.domain.poll_flow import PollAction, Question

ENDS_THE_POLL = frozenset({PollAction.DIAL.value, PollAction.OPT_OUT.value})


@dataclass(frozen=True, slots=True)
class GraphProblem:
    rule: str  # stable kebab-case id
    question: int  # index into the questions
    press: int | None  # index into that question's keys; None: the question itself
    attribute: str | None  # "question_id", "key", "next_question"; None: the question or key as a whole
    message: str

    @property
    def v1_field(self) -> str:
        """The field as the MikoPBX v1 wire names it."""
        where = f"questions[{self.question}]"
        if self.press is not None:
            where += f".press[{self.press}]"
        names = {"question_id": "questionId", "key": "key", "next_question": "nextQuestion", "press": "press"}
        return f"{where}.{names[self.attribute]}" if self.attribute else where


def continues_to(question: Question) -> list[str | None]:
    """Where each key of ``question`` goes: a question id, or None for a key that ends the poll."""
    return [None if p.action in ENDS_THE_POLL else (p.next_question or None) for p in question.press]


def check_structure(questions: Sequence[Question]) -> list[GraphProblem]:
    """The rules both wires keep: unique question ids, one definition per key, targets that exist."""
    problems: list[GraphProblem] = []
    ids: set[str] = set()
    for index, question in enumerate(questions):
        if question.question_id in ids:
            problems.append(
                GraphProblem(
                    "duplicate-question", index, None, "question_id", f"duplicates questionId {question.question_id!r}"
                )
            )
        ids.add(question.question_id)
    for index, question in enumerate(questions):
        keys: set[str] = set()
        for position, press in enumerate(question.press):
            if press.key in keys:
                message = f"duplicates key {press.key!r} in this question"
                problems.append(GraphProblem("duplicate-key", index, position, "key", message))
            keys.add(press.key)
            if press.next_question and press.next_question not in ids:
                problems.append(
                    GraphProblem(
                        "missing-target",
                        index,
                        position,
                        "next_question",
                        f"must name a questionId of this poll, got {press.next_question!r}",
                    )
                )
    return problems


def check_graph(questions: Sequence[Question]) -> list[GraphProblem]:
    """Every rule (the v2 API's): structure first; the graph rules only once the structure is sound."""
    problems = check_structure(questions)
    if problems or not questions:
        return problems
    for index, question in enumerate(questions):
        for position, press in enumerate(question.press):
            if press.action in ENDS_THE_POLL and press.next_question:
                problems.append(
                    GraphProblem(
                        "dead-next",
                        index,
                        position,
                        "next_question",
                        "must be empty: this action ends the poll, so no next question would be asked",
                    )
                )
    index_of = {q.question_id: i for i, q in enumerate(questions)}
    edges = [[index_of[t] for t in continues_to(q) if t is not None] for q in questions]
    reached = _reachable(edges, [0])
    for index, question in enumerate(questions):
        if index not in reached:
            problems.append(
                GraphProblem(
                    "unreachable",
                    index,
                    None,
                    None,
                    f"question {question.question_id!r} is never asked: no key of a reachable question leads to it",
                )
            )
    ending = {i for i, q in enumerate(questions) if None in continues_to(q)}
    reverse: list[list[int]] = [[] for _ in questions]
    for source, targets in enumerate(edges):
        for target in targets:
            reverse[target].append(source)
    can_end = _reachable(reverse, sorted(ending))
    for index, question in enumerate(questions):
        if index in reached and index not in can_end:
            problems.append(
                GraphProblem(
                    "no-way-out",
                    index,
                    None,
                    "press",
                    f"from question {question.question_id!r} no key leads to an end of the poll (only loops or"
                    " no keys): the call could only end by the poll failing",
                )
            )
    return problems


def _reachable(edges: Sequence[Sequence[int]], starts: Sequence[int]) -> set[int]:
    seen = set(starts)
    stack = list(starts)
    while stack:
        for target in edges[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
