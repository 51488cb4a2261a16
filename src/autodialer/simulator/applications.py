"""Dialplan applications the simulator understands, by name (case-insensitive, as Asterisk).

Each returns HANGUP to stop the PBX loop or "" to go on to the next priority. Unknown applications are
skipped like NoOp so that a production dialplan with extras still runs; only what changes call flow or
events is modelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .channels import SOFT_APPUNLOAD, UP, Channel, wait_any
from .dial import dial, parse_options
from .dialplan import split_args
from .dialplan_functions import RETURN, push_hangup_handler, write_function
from .pbx import HANGUP

if TYPE_CHECKING:
    from .pbx import PBX

App = Callable[["PBX", Channel, str], Awaitable[str]]


async def app_noop(pbx: PBX, ch: Channel, data: str) -> str:
    return ""


async def app_answer(pbx: PBX, ch: Channel, data: str) -> str:
    if ch.state == UP:
        return ""
    pbx.new_state(ch, UP)
    # Asterisk's __ast_answer then waits up to 500 ms for the first voice frame; a Local channel never gets
    # one, so the other half runs its dialplan first (trace 11).
    delay = float(data) / 1000 if data.strip().isdigit() else 0.5
    return "" if await hold(pbx, ch, delay) else HANGUP


async def app_hangup(pbx: PBX, ch: Channel, data: str) -> str:
    if data.strip().isdigit():
        ch.hangup_cause = int(data)
    elif ch.hangup_cause == 0:
        ch.hangup_cause = 16
    ch.pbx_soft_hangup_sent = True
    pbx.soft_hangup(ch, SOFT_APPUNLOAD)
    return HANGUP


async def hold(pbx: PBX, ch: Channel, seconds: float) -> bool:
    """Stay on `ch` for `seconds` simulated seconds; False if it was hung up meanwhile."""
    end = asyncio.get_running_loop().time() + pbx.clock.real(seconds)
    while not ch.hungup:
        remaining = end - asyncio.get_running_loop().time()
        if remaining <= 0:
            return True
        await wait_any([ch], remaining)
    return False


async def app_wait(pbx: PBX, ch: Channel, data: str) -> str:
    return "" if await hold(pbx, ch, float(data or 0)) else HANGUP


async def app_playback(pbx: PBX, ch: Channel, data: str) -> str:
    for name in (split_args(data)[:1] or [""])[0].split("&"):
        if name in pbx.config.missing_sounds:
            continue
        pbx.prompts.append((ch.name, name))
        if not await hold(pbx, ch, pbx.config.sound_seconds.get(name, pbx.config.default_sound_seconds)):
            return HANGUP
    return ""


async def app_dial(pbx: PBX, ch: Channel, data: str) -> str:
    args = split_args(data)
    targets = args[0].split("&") if args else []
    timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
    options = parse_options(args[2] if len(args) > 2 else "")
    return await dial(pbx, ch, targets, timeout, go_on="g" in options, callee_gosub=options.get("U"))


async def app_set(pbx: PBX, ch: Channel, data: str) -> str:
    name, _, value = data.partition("=")
    if name.strip().upper() == "CHANNEL(HANGUP_HANDLER_PUSH)":
        push_hangup_handler(ch, value)
        return ""
    if write_function(pbx, name.strip(), value):
        return ""
    pbx.set_var(ch, name.strip(), value)
    return ""


async def app_return(pbx: PBX, ch: Channel, data: str) -> str:
    # app_stack's return_exec: GOSUB_RETVAL is always set, to "" when Return() has no value.
    pbx.set_var(ch, "GOSUB_RETVAL", data)
    return RETURN


async def app_user_event(pbx: PBX, ch: Channel, data: str) -> str:
    args = split_args(data)
    extra = [("UserEvent", args[0] if args else "")]
    for item in args[1:]:
        key, _, value = item.partition(":")
        extra.append((key.strip(), value.strip()))
    pbx.chan_event("UserEvent", ch, extra)
    return ""


async def app_amd(pbx: PBX, ch: Channel, data: str) -> str:
    # AMD() sends no AMI event (trace 08); the scenario decides what it "hears" from the customer.
    status = pbx.scenario.amd(ch.caller_num)
    pbx.set_var(ch, "AMDSTATUS", status[0])
    pbx.set_var(ch, "AMDCAUSE", status[1])
    return "" if await hold(pbx, ch, status[2]) else HANGUP


def _jump(pbx: PBX, ch: Channel, target: str) -> str:
    """Goto semantics: ``[[context,]exten,]priority`` where priority may be a label; the PBX loop adds 1 after
    every application, so land one before the target. An unknown target ends the call as Asterisk does."""
    parts = [p.strip() for p in split_args(target)]
    context, exten = ch.context, ch.exten
    if len(parts) == 3:
        context, exten = parts[0], parts[1]
    elif len(parts) == 2:
        exten = parts[0]
    priority = pbx.dialplan.priority_of(context, exten, parts[-1] if parts else "")
    if priority is None:
        return HANGUP
    ch.context, ch.exten, ch.priority = context, exten, priority - 1
    return ""


def _expression_true(text: str) -> bool:
    """The few ``$[...]`` forms a dialplan snippet uses: ``"a" = "b"``, ``"a" != "b"``, or a bare value."""
    body = text.strip()
    if body.startswith("$[") and body.endswith("]"):
        body = body[2:-1]
    for op in ("!=", "="):
        if op in body:
            left, right = (side.strip().strip('"') for side in body.split(op, 1))
            return (left == right) if op == "=" else (left != right)
    return body.strip().strip('"') not in ("", "0")


async def app_goto(pbx: PBX, ch: Channel, data: str) -> str:
    return _jump(pbx, ch, data)


async def app_goto_if(pbx: PBX, ch: Channel, data: str) -> str:
    condition, _, targets = data.partition("?")
    when_true, _, when_false = targets.partition(":")
    target = when_true if _expression_true(condition) else when_false
    return _jump(pbx, ch, target) if target.strip() else ""


async def app_queue(pbx: PBX, ch: Channel, data: str) -> str:
    return await pbx.queues.run(ch, data)


async def app_agi(pbx: PBX, ch: Channel, data: str) -> str:
    from .agi_client import run_agi

    return await run_agi(pbx, ch, data)


APPLICATIONS: dict[str, App] = {
    "noop": app_noop,
    "answer": app_answer,
    "hangup": app_hangup,
    "wait": app_wait,
    "playback": app_playback,
    "dial": app_dial,
    "set": app_set,
    "userevent": app_user_event,
    "amd": app_amd,
    "queue": app_queue,
    "goto": app_goto,
    "return": app_return,
    "gotoif": app_goto_if,
    "agi": app_agi,
}


async def run_application(pbx: PBX, ch: Channel, app: str, data: str) -> str:
    handler = APPLICATIONS.get(app.lower(), app_noop)
    return await handler(pbx, ch, data)
