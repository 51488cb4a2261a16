"""An engine wired to fakes and the in-memory store, plus helpers that drive whole calls."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields

from tests.services.fakes import FakeAvailability, FakeCallControl, FakeClock, FakeUserEvents

from autodialer.domain.call_events import CallEnded, CustomerAnswered, CustomerFailed, CustomerOutcome
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.services.dialer_engine import DialerEngine, EngineSettings
from autodialer.services.memory_store import InMemoryDialerStore
from autodialer.services.number_eligibility import NumberEligibility
from autodialer.services.planning_reads import PlanningReads

_CALL_IDS = itertools.count(1)
NO_RETRIES = RetryPolicy(*(RetryRule(60.0, 0) for _ in range(len(fields(RetryPolicy)))))


@dataclass
class Harness:
    settings: EngineSettings = field(default_factory=lambda: EngineSettings(retry_policy=NO_RETRIES))
    store: InMemoryDialerStore = field(default_factory=InMemoryDialerStore)
    calls: FakeCallControl = field(default_factory=FakeCallControl)
    availability: FakeAvailability = field(default_factory=FakeAvailability)
    clock: FakeClock = field(default_factory=FakeClock)
    events: FakeUserEvents = field(default_factory=FakeUserEvents)
    eligibility: NumberEligibility | None = None  # the call window, when a test sets one
    planning: bool = False  # the engine reads through PlanningReads, as bootstrap wires it
    planning_refresh_s: float = 1e9  # its safety net for other processes' writes: off, so that it hides no bug
    reads: PlanningReads | None = field(init=False, default=None)
    engine: DialerEngine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = self.new_engine()

    def new_engine(self) -> DialerEngine:
        """Another engine on the same store and PBX, as after a restart."""
        self.reads = PlanningReads(self.store, self.clock, refresh_s=self.planning_refresh_s) if self.planning else None
        return DialerEngine(
            self.reads or self.store,
            self.calls,
            self.availability,
            self.clock,
            self.clock,
            self.events,
            self.settings,
            call_ids=lambda: f"dlr-{next(_CALL_IDS)}",
            eligibility=self.eligibility,
        )

    async def dial_one(self, phone: str = "5551001", inner: str = "201") -> int:
        """Task 1 on ``inner`` with one number, dialed: returns the number id (the call is ``last_call()``)."""
        self.store.add_task(1, inner)
        number = self.store.add_number(1, phone)
        await self.step()
        return number.number_id

    def row(self, number_id: int) -> ResultRow:
        return self.store.numbers[number_id].row

    def task_changed(self) -> None:
        """What the API does after a change of tasks or numbers (bootstrap's wiring)."""
        if self.reads is not None:
            self.reads.invalidate()
        self.engine.task_changed()

    async def step(self) -> float | None:
        await self.engine.start()
        return await self.engine.step()

    def last_call(self) -> str:
        return self.calls.originated[-1].call_id

    def end(self, call_id: str, cause: str = "Normal Clearing") -> None:
        self.calls.live.pop(call_id, None)
        self.calls.emit(CallEnded(call_id, 16, cause))

    def fail(self, call_id: str, outcome: CustomerOutcome, cause: int | None, text: str, dial: str | None) -> None:
        self.calls.live.pop(call_id, None)
        self.calls.emit(CustomerFailed(call_id, outcome, cause, text, dial))

    def answer(self, call_id: str) -> None:
        """The customer answers: the dialplan marks it (AstDB) and AMI reports it."""
        self.calls.live[call_id] = "Up"
        if self.calls.answer_marks is not None:
            self.calls.answer_marks.add(call_id)
        self.calls.emit(CustomerAnswered(call_id, call_id, "Local/x@dialer-out-00000001;1"))
