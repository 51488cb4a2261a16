"""AGICall's decoding of Asterisk's answers and AGIChannel's hangup translation, over a scripted runner.

No sockets: ``ScriptedRunner`` plays Asterisk's side as a list of expected command lines, each with the
items Asterisk sends back (a HANGUP notice before the result flips ``hung_up`` exactly as the session does).
The last tests run the real connect service on top, to show the port contract holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from autodialer.adapters.asterisk.agi_call import (
    AGICall,
    AGICommandError,
    AGICommandFailed,
    AGIHangup,
)
from autodialer.adapters.asterisk.agi_channel import AGIChannel, channel_handler
from autodialer.adapters.clock import SystemClock
from autodialer.protocols.agi import Command, CommandResult, Environment, HangupNotice
from autodialer.services.call_channel import CallChannel, PromptChannel
from autodialer.services.call_progress import ConnectContext, PollContext
from autodialer.services.connect_call import ConnectCallHandler

Reply = CommandResult | HangupNotice | None  # None: the connection drops instead of answering


class ScriptedRunner:
    def __init__(self, script: list[tuple[str, list[Reply]]]) -> None:
        self.script = list(script)
        self._hung_up = False
        self._closed = False

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def mark_hung_up(self) -> None:
        self._hung_up = True

    async def execute(self, command: Command) -> CommandResult:
        if self._closed:
            raise AGIHangup("closed")
        expected, replies = self.script.pop(0)
        assert command.raw == expected
        for reply in replies:
            if reply is None:
                self._closed = self._hung_up = True
                raise AGIHangup("connection lost")
            if isinstance(reply, HangupNotice):
                self._hung_up = True
            else:
                return reply
        raise AssertionError("script gave no result")


def make_call(
    *script: tuple[str, list[Reply]], args: tuple[str, ...] = ("201", "poll")
) -> tuple[AGICall, ScriptedRunner]:
    runner = ScriptedRunner(list(script))
    return AGICall(Environment({"agi_uniqueid": "dlr-1"}, args), runner), runner


ok = CommandResult.success


async def test_digit_results_are_decoded_per_command() -> None:
    call, runner = make_call(
        ('STREAM FILE prompt "0123456789*#"', [ok(49, endpos=7520)]),
        ('STREAM FILE thanks ""', [ok(0, endpos=8000)]),
        ("GET DATA prompt 6000 2", [ok(35)]),
        ("GET DATA prompt 6000 2", [CommandResult(200, "", "timeout")]),
        ("WAIT FOR DIGIT 5000", [ok(35)]),
        ("WAIT FOR DIGIT 5000", [ok(0)]),
    )
    assert await call.stream_file("prompt", "0123456789*#") == ("1", 7520)
    assert await call.stream_file("thanks") == (None, 8000)
    assert await call.get_data("prompt", 6000, 2) == "35"
    assert await call.get_data("prompt", 6000, 2) is None
    assert await call.wait_for_digit(5000) == "#"
    assert await call.wait_for_digit(5000) is None
    assert runner.script == []
    assert call.args == ("201", "poll") and call.uniqueid == "dlr-1"


async def test_variables_exec_and_verbose() -> None:
    call, _ = make_call(
        ("GET VARIABLE CAMPAIGN_ID", [ok(1, "42")]),
        ("GET VARIABLE NOPE", [ok(0)]),
        ("GET VARIABLE EMPTY", [ok(1, "")]),
        ("GET FULL VARIABLE ${CALLERID(num)}", [ok(1, "5551001")]),
        ('SET VARIABLE NAME "two words"', [ok(1)]),
        ("EXEC Dial PJSIP/201,60,g", [ok(-1)]),
        ("EXEC NoOp", [ok(0)]),
        ('VERBOSE "a \\"quoted\\" word" 3', [ok(1)]),
    )
    assert await call.get_variable("CAMPAIGN_ID") == "42"
    assert await call.get_variable("NOPE") is None
    assert await call.get_variable("EMPTY") == ""
    assert await call.get_full_variable("${CALLERID(num)}") == "5551001"
    await call.set_variable("NAME", "two words")
    assert await call.exec("Dial", "PJSIP/201", "60", "g") == -1
    assert await call.exec("NoOp") == 0
    await call.verbose('a "quoted" word', 3)


async def test_rejections_failures_and_hangups_raise_typed_errors() -> None:
    call, _ = make_call(
        ("ANSWER", [CommandResult.invalid_command()]),
        ("GET DATA", [CommandResult.usage_error("Usage: GET DATA <file>")]),
        ('STREAM FILE missing ""', [ok(-1, endpos=0)]),
        ("CHANNEL STATUS", [ok(6)]),
        ('STREAM FILE prompt ""', [HangupNotice(), ok(-1, endpos=100)]),
        ("WAIT FOR DIGIT 100", [CommandResult.dead_channel()]),
        ("GET VARIABLE DIALSTATUS", [ok(1, "BUSY")]),
        ("HANGUP", [CommandResult.dead_channel()]),
        ("ANSWER", [None]),
    )
    with pytest.raises(AGICommandError):
        await call.answer()
    with pytest.raises(AGICommandError) as usage:
        await call.command("GET DATA")
    assert usage.value.result is not None and "Usage: GET DATA" in usage.value.result.usage
    with pytest.raises(AGICommandFailed):
        await call.stream_file("missing")
    assert not call.hung_up
    with pytest.raises(AGIHangup):
        await call.stream_file("prompt")
    assert call.hung_up
    with pytest.raises(AGIHangup):
        await call.wait_for_digit(100)
    assert await call.get_variable("DIALSTATUS") == "BUSY"
    await call.hangup()  # already dead: not an error
    with pytest.raises(AGIHangup):
        await call.answer()
    with pytest.raises(AGIHangup):
        await call.verbose("after the connection is gone")


async def test_agi_channel_turns_hangups_into_the_values_a_dialplan_would_see() -> None:
    call, runner = make_call(
        ('STREAM FILE missing "0123456789*#"', [ok(-1, endpos=0)]),
        ("CHANNEL STATUS", [ok(6)]),
        ('STREAM FILE q "0123456789*#"', [ok(51, endpos=10)]),
        ('STREAM FILE q "0123456789*#"', [HangupNotice(), CommandResult.dead_channel()]),
        ("WAIT FOR DIGIT 5000", [CommandResult.dead_channel()]),
        ("EXEC Dial PJSIP/201,60,g", [CommandResult.dead_channel()]),
        ("SET VARIABLE X 1", [CommandResult.dead_channel()]),
        ("ANSWER", [CommandResult.dead_channel()]),
        ("GET VARIABLE DIALSTATUS", [None]),
    )
    channel = AGIChannel(call)
    assert await channel.stream_file("missing", "0123456789*#") == (None, 0)
    assert await channel.stream_file("q", "0123456789*#") == ("3", 10)
    assert not channel.hung_up
    assert await channel.stream_file("q", "0123456789*#") == (None, 0)
    assert channel.hung_up
    assert await channel.wait_for_digit(5000) is None
    assert await channel.exec("Dial", "PJSIP/201", "60", "g") == -1
    await channel.set_variable("X", "1")
    await channel.answer()
    assert await channel.get_variable("DIALSTATUS") is None
    await channel.hangup()  # the socket is gone: nothing is sent, nothing raised
    assert runner.script == []


def test_agi_channel_satisfies_the_service_ports() -> None:
    call, _ = make_call()
    prompt: PromptChannel = AGIChannel(call)
    plain: CallChannel = AGIChannel(call)
    assert prompt is not plain


def _committed() -> asyncio.Future[bool]:
    stored = asyncio.get_running_loop().create_future()
    stored.set_result(True)
    return stored


class FakeProgress:
    """CallProgress that knows one connect call and records the reports."""

    def __init__(self) -> None:
        self.reports: list[tuple[object, ...]] = []

    async def connect_context(self, call_id: str) -> ConnectContext | None:
        return ConnectContext(call_id, 1, "201", "PJSIP/201") if call_id == "dlr-1" else None

    async def customer_answered(self, call_id: str) -> None:
        pass  # the answer is stored by the engine; here only the order of the channel's commands matters

    def connect_started(self, call_id: str, verbose_call_id: str | None) -> Awaitable[bool]:
        self.reports.append(("started", call_id, verbose_call_id))
        return _committed()

    def agent_busy(self, call_id: str) -> Awaitable[bool]:
        self.reports.append(("busy", call_id))
        return _committed()

    def abandoned(self, call_id: str) -> Awaitable[bool]:
        self.reports.append(("abandoned", call_id))
        return _committed()

    def connect_ended(self, call_id: str, dial_status: str, customer_hung_up_first: bool) -> Awaitable[bool]:
        self.reports.append(("ended", call_id, dial_status, customer_hung_up_first))
        return _committed()

    async def poll_context(self, call_id: str) -> PollContext | None:
        return None

    async def poll_started(self, call_id: str, verbose_call_id: str | None = None) -> None: ...

    async def poll_answer(self, call_id: str, question_id: str, result: str, exten: str) -> None: ...

    async def poll_completed(self, call_id: str) -> None: ...

    async def transfer_ended(self, call_id: str, dial_status: str) -> bool:
        return True

    async def opt_out(self, call_id: str) -> None: ...


class FreeAgents:
    def free_agents(self, inner_num: str) -> frozenset[str]:
        return frozenset({"PJSIP/201"})

    def queue_load(self, inner_num: str) -> None:
        return None

    def is_connected(self) -> bool:
        return True

    def on_change(self, callback: Callable[[], None]) -> None: ...


@pytest.mark.parametrize(
    ("dial_replies", "status_reply", "expected_end"),
    [
        # Trace 02: the customer hangs up during the bridge; HANGUP arrives after Dial's -1.
        ([ok(-1)], [HangupNotice(), ok(1, "ANSWER")], ("ended", "dlr-1", "ANSWER", True)),
        # The customer hung up before EXEC was read: 511, yet the outcome is still reported.
        ([HangupNotice(), CommandResult.dead_channel()], [ok(0)], ("ended", "dlr-1", "NOANSWER", True)),
    ],
)
async def test_connect_service_reports_the_outcome_whatever_the_hangup_timing(
    dial_replies: list[Reply], status_reply: list[Reply], expected_end: tuple[object, ...]
) -> None:
    call, runner = make_call(
        ("GET VARIABLE CHANNEL(callid)", [ok(1, "abc")]),
        ("EXEC Dial PJSIP/201,60,g", dial_replies),  # at once: startDial is queued, not waited for
        ("GET VARIABLE DIALSTATUS", status_reply),
        ("DATABASE DEL dialer-answered dlr-1", [ok(1)]),  # the dialplan's answer mark, once the answer is stored
    )
    progress = FakeProgress()
    handler = channel_handler(ConnectCallHandler(progress, FreeAgents(), SystemClock()).handle)
    await handler(call)
    assert progress.reports == [("started", "dlr-1", "abc"), expected_end]
    assert runner.script == []


async def test_the_shipped_dialplan_passes_the_log_call_id_so_the_dial_goes_out_first() -> None:
    # docs/dialplan.md: AGI(.../connect,${EXTEN},${DIALER_MODE},${CHANNEL(callid)}): agi_arg_3 is the call id of
    # the PBX's log, so nothing but the Dial is sent before the Dial.
    call, runner = make_call(
        ("EXEC Dial PJSIP/201,60,g", [ok(0)]),
        ("GET VARIABLE DIALSTATUS", [ok(1, "ANSWER")]),
        ("DATABASE DEL dialer-answered dlr-1", [ok(1)]),
        ("HANGUP", [ok(1)]),
        args=("201", "connect", "[C-0000001b]"),
    )
    progress = FakeProgress()
    await channel_handler(ConnectCallHandler(progress, FreeAgents(), SystemClock()).handle)(call)
    assert progress.reports[0] == ("started", "dlr-1", "[C-0000001b]")
    assert runner.script == []


@pytest.mark.parametrize(
    ("args", "script", "expected"),
    [
        # A dialplan installed before the call id was an argument: read from the channel.
        (("201", "connect"), [("GET VARIABLE CHANNEL(callid)", [ok(1, "[C-00000002]")])], "[C-00000002]"),
        # Passed empty (a channel without a call id): none, as GET VARIABLE would say.
        (("201", "connect", ""), [], None),
    ],
)
async def test_log_call_id_falls_back_to_the_channel(
    args: tuple[str, ...], script: list[tuple[str, list[Reply]]], expected: str | None
) -> None:
    call, runner = make_call(*script, args=args)
    assert await AGIChannel(call).log_call_id() == expected
    assert runner.script == []
