"""Small fakes for the engine's ports: virtual time, a scripted PBX, availability, channels, prompts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from autodialer.domain.call_events import CallEvent
from autodialer.domain.poll_flow import Prompt
from autodialer.services.poll_call import PromptUnavailable
from autodialer.services.ports import CallMarks, LiveCall, OriginateRejected, OriginateRequest, QueueLoad


class FakeClock:
    """Virtual time: ``sleep`` returns when ``advance`` moves the clock past its deadline."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.t + seconds, future))
        await future

    @property
    def sleeping(self) -> list[float]:
        return [at for at, f in self._sleepers if not f.done()]

    def advance(self, seconds: float) -> None:
        self.t += seconds
        for at, future in self._sleepers:
            if at <= self.t and not future.done():
                future.set_result(None)
        self._sleepers = [(at, f) for at, f in self._sleepers if not f.done()]


class FakeCallControl:
    def __init__(self) -> None:
        self.originated: list[OriginateRequest] = []
        self.hung_up: list[str] = []
        self.hangup_causes: dict[str, int] = {}  # call id -> the cause of our last Hangup of it
        self.live: dict[str, str] = {}  # call id -> channel state
        self.agent_connected: set[str] = set()  # live calls whose customer is bridged to an employee
        # The dialplan's AstDB marks of answered calls (docs/dialplan.md); None: a dialplan that writes none.
        self.answer_marks: set[str] | None = set()
        # The same for an employee's answer (the Dial's U() subroutine); None: a dialplan that writes none.
        self.agent_marks: set[str] | None = set()
        self.reject_next = 0
        self.fail_next: list[Exception] = []  # raised by the next Originates, in order (PbxUnavailable …)
        self.unreachable = False
        self._callbacks: list[Callable[[CallEvent], None]] = []

    async def originate(self, request: OriginateRequest) -> None:
        if not request.dial_number.isalnum():
            raise ValueError(f"dial_number: {request.dial_number!r} is not allowed here")
        if self.reject_next:
            self.reject_next -= 1
            raise OriginateRejected("Extension does not exist.")
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.originated.append(request)
        self.live[request.call_id] = "Ring"

    async def hangup(self, call_id: str, cause: int = 16) -> None:
        self.hung_up.append(call_id)
        self.hangup_causes[call_id] = cause

    async def live_calls(self) -> Sequence[LiveCall]:
        if self.unreachable:
            raise ConnectionError("AMI down")
        return [
            LiveCall(call_id, f"Local/x@dialer-out-{i:08x};1", state, agent_connected=call_id in self.agent_connected)
            for i, (call_id, state) in enumerate(self.live.items())
        ]

    async def call_marks(self, call_ids: Sequence[str]) -> CallMarks:
        if self.unreachable:
            raise ConnectionError("AMI down")
        wanted = frozenset(call_ids)
        return CallMarks(
            None if self.answer_marks is None else frozenset(self.answer_marks) & wanted,
            None if self.agent_marks is None else frozenset(self.agent_marks) & wanted,
        )

    def on_call_event(self, callback: Callable[[CallEvent], None]) -> None:
        self._callbacks.append(callback)

    def emit(self, event: CallEvent) -> None:
        for callback in self._callbacks:
            callback(event)

    @property
    def call_ids(self) -> list[str]:
        return [r.call_id for r in self.originated]


class FakeAvailability:
    """Extensions with their free agents (``free``); queues (``queues``) as a QueueLoad each."""

    def __init__(self, free: Mapping[str, set[str]] | None = None) -> None:
        self.free: dict[str, set[str]] = {k: set(v) for k, v in (free or {"201": {"PJSIP/201"}}).items()}
        self.queues: dict[str, QueueLoad] = {}
        self.connected = True
        self._callbacks: list[Callable[[], None]] = []

    def free_agents(self, inner_num: str) -> frozenset[str]:
        return frozenset(self.free.get(inner_num, set())) if self.connected else frozenset()

    def queue_load(self, inner_num: str) -> QueueLoad | None:
        return self.queues.get(inner_num)

    def set_queue(
        self, inner_num: str, able: set[str], callers: set[str] | None = None, served: set[str] | None = None
    ) -> None:
        self.queues[inner_num] = QueueLoad(frozenset(able), frozenset(callers or ()), frozenset(served or ()))
        for callback in self._callbacks:
            callback()

    def is_connected(self) -> bool:
        return self.connected

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def set_free(self, inner_num: str, agents: set[str]) -> None:
        self.free[inner_num] = set(agents)
        for callback in self._callbacks:
            callback()


class FakeUserEvents:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.down = False

    async def user_event(self, name: str, fields: Mapping[str, str]) -> None:
        if self.down:
            raise ConnectionError("AMI down")
        self.sent.append((name, dict(fields)))


class FakeChannel:
    """A scripted answered channel: ``keys`` feed STREAM FILE / WAIT FOR DIGIT; ``on_dial`` decides a Dial."""

    def __init__(
        self,
        variables: dict[str, str] | None = None,
        keys: Sequence[str | None] = (),
        on_dial: Callable[[FakeChannel], int] | None = None,
        log_call_id: str | None = None,  # passed by the dialplan (an AGI argument); None: read as a variable
    ) -> None:
        self.passed_log_call_id = log_call_id
        self.variables = dict(variables or {})
        self.keys = list(keys)
        self.on_dial = on_dial
        self.commands: list[tuple[str, ...]] = []
        self.answer_mark_cleared = False  # DATABASE DEL of the dialplan's mark (allowed on a dead channel)
        self.agent_mark_cleared = False  # DATABASE DEL of the mark of the employee's answer (the Dial's U())
        self._hung_up = False

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def customer_hangs_up(self) -> None:
        self._hung_up = True

    def _command(self, *words: str) -> None:
        assert not self._hung_up or words[0] == "GET VARIABLE", f"{words} sent on a dead channel"
        self.commands.append(words)

    async def answer(self) -> None:
        self._command("ANSWER")

    async def exec(self, app: str, *args: str) -> int:
        self._command("EXEC", app, ",".join(args))
        return self.on_dial(self) if self.on_dial else 0

    async def get_variable(self, name: str) -> str | None:
        self.commands.append(("GET VARIABLE", name))
        return self.variables.get(name)

    async def log_call_id(self) -> str | None:
        if self.passed_log_call_id is not None:
            return self.passed_log_call_id
        return await self.get_variable("CHANNEL(callid)")

    async def set_variable(self, name: str, value: str) -> None:
        self._command("SET VARIABLE", name, value)
        self.variables[name] = value

    async def hangup(self) -> None:
        self._command("HANGUP")
        self._hung_up = True

    async def clear_answer_mark(self) -> None:
        self.answer_mark_cleared = True

    async def clear_agent_mark(self) -> None:
        self.agent_mark_cleared = True

    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        self._command("STREAM FILE", name, escape_digits)
        if escape_digits and self.keys and self.keys[0] is not None:
            return self.keys.pop(0), 4000
        return None, 8000

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._command("WAIT FOR DIGIT", str(timeout_ms))
        if not self.keys:
            self._hung_up = True  # the script ran out: the customer is gone
            return None
        return self.keys.pop(0)


class FakeRenderer:
    def __init__(self, broken: bool = False) -> None:
        self.rendered: list[Prompt] = []
        self.broken = broken

    async def render(self, prompt: Prompt) -> str:
        if self.broken:
            raise PromptUnavailable("espeak-ng failed")
        self.rendered.append(prompt)
        return f"tts/{len(self.rendered)}"
