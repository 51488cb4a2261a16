"""The Dial application: create the called channels, follow them, bridge the first one that answers.

Outcomes (README §6, traces 02-06): DIALSTATUS ANSWER / BUSY (cause 17) / CONGESTION (34) / NOANSWER (cause 1,
or the Dial timeout) / CANCEL (the caller hung up) / CHANUNAVAIL (nothing could be dialled). The caller's
HANGUPCAUSE takes the failed callee's cause. While bridged: if the callee hangs up the bridge dissolves and
the caller is soft-hung-up (flag 16); if the caller goes away the callee is hung up with cause 16. A Dial run
from AGI EXEC never destroys the caller itself: the AGI session owns it until the AGI server disconnects.

Option ``U(<context>[^arg…])`` (dial_exec_full, OPT_CALLEE_GOSUB): once a callee answered and the others were
cancelled, Gosub(<context>,s,1(<args>)) runs on the *callee* (the caller waits in autoservice), before the DialEnd
ANSWER and the bridge. A destination that does not exist only logs an error: the call is bridged as without
the option. The subroutine may set GOSUB_RESULT on the callee: BUSY, CONGESTION or CHANUNAVAIL end the Dial with
that DIALSTATUS and the caller goes on; CONTINUE hangs the callee up and the caller goes on (DIALSTATUS ANSWER);
ABORT hangs the callee up and the caller too unless it dialled with ``g``; ``GOTO:[[context^]exten^]priority``
sends the caller there. The callee's own variables are not the caller's (only ``_``-inherited ones are copied),
so what the subroutine needs comes as its arguments.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import dial_variables
from .channels import RINGING, SOFT_APPUNLOAD, UP, Channel, wait_any
from .dialplan_functions import pass_causes
from .endpoints import SIP_CANCELLED, far_end
from .pbx import HANGUP
from .scenario import Behaviour

if TYPE_CHECKING:
    from .pbx import PBX


NO_ROUTE = 3  # AST_CAUSE_NO_ROUTE_DESTINATION


def dial_status(cause: int) -> str:
    return {17: "BUSY", 21: "BUSY", 34: "CONGESTION", 38: "CONGESTION", 3: "CHANUNAVAIL"}.get(cause, "NOANSWER")


@dataclass
class Target:
    endpoint: str  # PJSIP endpoint, or "" for a Local target
    number: str  # dialled number / extension
    dial_string: str  # as shown in DialBegin (without the technology)
    context: str = ""  # Local only


def parse_target(pbx: PBX, target: str) -> Target | None:
    tech, _, rest = target.partition("/")
    if tech == "PJSIP":
        number, at, endpoint = rest.partition("@")
        endpoint = endpoint if at else number
        known = endpoint in pbx.employees or endpoint == pbx.config.trunk_endpoint
        return Target(endpoint, number, rest) if known else None
    if tech == "Local":
        exten, _, context = rest.partition("@")
        context = context.split("/", 1)[0]
        return Target("", exten, rest, context) if pbx.dialplan.find(context, exten) else None
    return None


def behaviour_for(pbx: PBX, target: Target) -> Behaviour:
    if target.endpoint == pbx.config.trunk_endpoint:
        return pbx.scenario.customer(target.number)
    behaviour = pbx.scenario.employee(target.endpoint)
    if f"PJSIP/{target.endpoint}" in pbx.devices.unreachable:
        return Behaviour(outcome="noroute")
    if f"PJSIP/{target.endpoint}" in pbx.devices.dnd:
        return Behaviour(outcome="dnd", ring=False)
    return behaviour


def make_callee(pbx: PBX, caller: Channel, target: Target, app: str = "AppDial") -> Channel:
    """Create and announce the called PJSIP channel (Newchannel, Newexten "(Outgoing Line)", callerid)."""
    now = pbx.clock.now()
    trunk = target.endpoint == pbx.config.trunk_endpoint
    context = "from-trunk" if trunk else pbx.config.internal_context
    out = pbx.channels.pjsip(target.endpoint, pbx.channels.new_uniqueid(now), caller.linkedid, context, now)
    if not trunk:
        emp = pbx.employees[target.endpoint]
        out.caller_num, out.caller_name = emp.exten, emp.display_name
    pbx.chan_event("Newchannel", out)
    if app == "AppDial":
        dial_variables.dialled(pbx, out, target.dial_string)
    if app == "AppDial":
        out.exten = target.number
    if app == "AppDial":  # app_queue tells the member who calls only once it rings (trace 12)
        out.connected_num, out.connected_name = caller.caller_num, caller.caller_name
    if trunk:
        out.caller_num, out.caller_name = target.number, caller.caller_name
    if app == "AppDial":
        pbx.new_exten(out, app, "(Outgoing Line)")
    if trunk:
        pbx.new_callerid(out)
    if app == "AppDial":
        pbx.new_connected_line(out)
    return out


def update_connected_line(pbx: PBX, caller: Channel, out: Channel) -> None:
    """The caller now talks to `out`; through a Local pair that reaches the far side's bridge peer too.

    Asterisk 22 also refreshes the caller id of `;2` once, when its bridge breaks up (traces 02, 06, 12).
    """
    caller.connected_num, caller.connected_name = out.caller_num, out.caller_name
    pbx.new_connected_line(caller)
    if caller.tech == "Local" and caller.half == 2 and caller.peer is not None:
        # ;1 learns whom ;2 dials, but takes it over only on ringing or at its very end (traces 02, 03).
        caller.peer.callerid_refresh_pending = (out.caller_num, caller.peer.caller_name)
    two = caller.peer if caller.tech == "Local" and caller.half == 1 else None
    if two is None or two.destroyed:
        return
    two.callerid_refresh_pending = (out.caller_num, out.caller_name)
    far = pbx.bridges.peer_of(two)
    if far is not None:
        far.connected_num, far.connected_name = out.caller_num, out.caller_name
        pbx.new_connected_line(far)


def indicate_ringing(pbx: PBX, caller: Channel, out: Channel) -> None:
    """Ringing on the callee rings the caller's originating side (Local ;2 -> ;1)."""
    one = caller.peer if caller.tech == "Local" and caller.half == 2 else None
    if one is not None and not one.destroyed and one.state not in (RINGING, UP):
        one.caller_num = out.caller_num
        one.callerid_refresh_pending = None
        pbx.new_state(one, RINGING)
        pbx.new_callerid(one)


def dial_event(pbx: PBX, name: str, caller: Channel | None, out: Channel, extra: list[tuple[str, str]]) -> None:
    if not pbx.unwanted(name):
        pbx.emit(name, [*(caller.fields() if caller is not None else []), *out.fields("Dest"), *extra])


def parse_options(text: str) -> dict[str, str]:
    """An application's option letters with their arguments, as main/app.c parse_options reads them: ``gU(a^b)``
    is ``{"g": "", "U": "a^b"}``. Parentheses nest; a backslash outside quotes escapes the next character; an
    argument that starts with a double quote is quoted up to the next one."""
    options: dict[str, str] = {}
    i = 0
    while i < len(text):
        letter = text[i]
        i += 1
        if i < len(text) and text[i] == "(":
            i += 1
            quoted = i < len(text) and text[i] == '"'
            arg: list[str] = []
            depth, quote = 1, False
            while i < len(text):
                char = text[i]
                if char == "(" and not quote:
                    depth += 1
                elif char == ")" and not quote:
                    depth -= 1
                    if depth == 0:
                        break
                elif char == '"' and quoted:
                    quote = not quote
                    i += 1
                    continue
                elif char == "\\" and i + 1 < len(text) and (not quote or text[i + 1] == '"'):
                    i += 1
                    char = text[i]
                arg.append(char)
                i += 1
            if i >= len(text):  # "Missing closing parenthesis": Asterisk stops parsing there
                break
            i += 1
            options[letter] = "".join(arg)
        else:
            options[letter] = ""
    return options


def gosub_location(option: str) -> str:
    """The Gosub that Dial's U(<context>^<arg>…) runs: ``<context>,s,1(<arg>,…)`` (``^`` is the argument separator,
    ast_replace_subargument_delimiter)."""
    context, _, args = option.replace("^", ",").partition(",")
    return f"{context},s,1({args})" if _ else f"{context},s,1"


async def dial(
    pbx: PBX,
    caller: Channel,
    targets: list[str],
    timeout_s: float | None,
    go_on: bool = False,
    callee_gosub: str | None = None,
) -> str:
    """Run Dial(targets, timeout) for `caller`; returns HANGUP if the caller must stop its dialplan.

    `go_on` is Dial option `g`: when the callee hangs up the bridge, the caller continues its dialplan (or AGI).
    `callee_gosub` is the argument of option `U`: the subroutine run on the callee once it answered.
    """
    outs: list[Channel] = []
    started = pbx.clock.now()
    dial_variables.reset(pbx, caller)
    for raw in targets:
        target = parse_target(pbx, raw)
        if target is None or not target.endpoint:
            if target is not None:  # Local targets: dial the ;1 of a new pair
                outs.append(_dial_local(pbx, caller, target))
            continue
        behaviour = behaviour_for(pbx, target)
        if behaviour.outcome == "noroute":  # the channel cannot even be created
            continue
        out = make_callee(pbx, caller, target)
        dial_event(pbx, "DialBegin", caller, out, [("DialString", target.dial_string)])
        update_connected_line(pbx, caller, out)
        pbx.spawn(far_end(pbx, out, behaviour))
        outs.append(out)
    if not outs:
        caller.hangup_cause = NO_ROUTE
        pbx.set_var(caller, "DIALSTATUS", "CHANUNAVAIL")
        return ""
    answered = await _wait_answer(pbx, caller, outs, timeout_s, started)
    if answered is None:
        return HANGUP if caller.hungup else ""
    if callee_gosub:
        ended = await _callee_gosub(pbx, caller, answered, callee_gosub, go_on)
        if ended is not None:
            return ended
    dial_event(pbx, "DialEnd", caller, answered, [("DialStatus", "ANSWER")])
    return await _bridge(pbx, caller, answered, caller.in_agi, go_on, started)


async def _callee_gosub(pbx: PBX, caller: Channel, callee: Channel, option: str, go_on: bool) -> str | None:
    """Dial's U(): the subroutine on the answered callee; None when the call is to be bridged, else the Dial's
    result once GOSUB_RESULT ended it (the callee hung up, DIALSTATUS set)."""
    from .applications import _jump  # late: applications import this module
    from .subroutines import run_subroutine

    if not await run_subroutine(pbx, callee, gosub_location(option)):
        return None
    result = callee.variables.get("GOSUB_RESULT", "")
    if not result:
        return None
    if "GOSUB_RETVAL" in callee.variables:
        pbx.set_var(caller, "GOSUB_RETVAL", callee.variables["GOSUB_RETVAL"])
    upper = result.upper()
    status = "ANSWER"
    if upper in ("BUSY", "CONGESTION", "CHANUNAVAIL"):
        status, go_on = upper, True
    elif upper == "CONTINUE":
        go_on = True
    elif upper.startswith("GOTO:"):
        if _jump(pbx, caller, result[5:].replace("^", ",")) == "":
            go_on = True
    elif upper != "ABORT":
        return None  # any other value: ignored, the call is bridged
    dial_event(pbx, "DialEnd", caller, callee, [("DialStatus", result)])
    if callee.hungup and not caller.hungup:
        caller.hangup_cause = callee.hangup_cause
    _finish_callee(pbx, callee, callee.hangup_cause or 16)
    pbx.set_var(caller, "DIALSTATUS", status)
    return "" if go_on and not caller.hungup else HANGUP


def _dial_local(pbx: PBX, caller: Channel, target: Target) -> Channel:
    from .originate import start_local_pair

    now = pbx.clock.now()
    one = start_local_pair(
        pbx,
        target.number,
        target.context,
        pbx.channels.new_uniqueid(now),
        None,
        caller.linkedid,
        caller_num=caller.caller_num,
        caller_name=caller.caller_name,
    )
    dial_event(pbx, "DialBegin", caller, one, [("DialString", target.dial_string)])
    return one


async def _wait_answer(
    pbx: PBX, caller: Channel, outs: list[Channel], timeout_s: float | None, started: float
) -> Channel | None:
    loop_time = pbx.clock
    deadline = None if timeout_s is None else _now() + loop_time.real(timeout_s)
    rang: set[int] = set()
    status = "NOANSWER"
    while True:
        for out in outs:
            pass_causes(caller, out)
            if out.state == RINGING and id(out) not in rang:
                if not rang:
                    dial_variables.ringing(pbx, caller, started)
                rang.add(id(out))
                indicate_ringing(pbx, caller, out)
                dial_event(pbx, "DialState", caller, out, [("DialStatus", "RINGING")])
        answered = next((o for o in outs if o.state == UP), None)
        if answered is not None:
            for other in outs:
                if other is not answered:
                    _end_callee(pbx, caller, other, "CANCEL", 26)
            if answered.tech == "PJSIP":  # the answered leg leaves its dialplan position (DestExten "")
                answered.exten = ""
            dial_variables.answered(pbx, caller, answered)
            return answered  # its DialEnd ANSWER follows the U() subroutine, if any (dial_exec_full)
        for out in [o for o in outs if o.hungup]:
            status = dial_status(out.hangup_cause)
            dial_event(pbx, "DialEnd", caller, out, [("DialStatus", status)])
            caller.hangup_cause = out.hangup_cause
            outs.remove(out)
            pbx.destroy(out)
        if not outs:
            # A 404 ends the Dial with DialEnd NOANSWER but DIALSTATUS=CHANUNAVAIL (trace 05).
            pbx.set_var(caller, "DIALSTATUS", "CHANUNAVAIL" if caller.hangup_cause == 1 else status)
            return None
        if caller.hungup:
            for out in outs:
                _end_callee(pbx, caller, out, "CANCEL", caller.hangup_cause or 16)
            pbx.set_var(caller, "DIALSTATUS", "CANCEL")
            return None
        remaining = None if deadline is None else deadline - _now()
        if remaining is not None and remaining <= 0:
            for out in outs:
                _end_callee(pbx, caller, out, "NOANSWER", 0)
            pbx.set_var(caller, "DIALSTATUS", "NOANSWER")
            return None
        await wait_any([caller, *outs], remaining)


def _end_callee(pbx: PBX, caller: Channel, out: Channel, status: str, cause: int) -> None:
    dial_event(pbx, "DialEnd", caller, out, [("DialStatus", status)])
    out.hangup_cause = cause
    if out.tech == "PJSIP" and out.state == RINGING and status == "CANCEL" and cause != 26:
        out.tech_cause = SIP_CANCELLED
    pbx.destroy(out)


async def _bridge(
    pbx: PBX, caller: Channel, callee: Channel, from_agi: bool, go_on: bool = False, started: float = 0.0
) -> str:
    if caller.state != UP:
        pbx.new_state(caller, UP)
    bridge = pbx.bridges.create()
    if callee.tech == "PJSIP":
        pbx.new_exten(callee, "AppDial", "(Outgoing Line)")
    pbx.bridges.enter(bridge, callee)
    pbx.bridges.enter(bridge, caller)
    dial_variables.bridged(pbx, caller, callee)
    answered_at = pbx.clock.now()
    while not caller.hungup and not callee.hungup:
        await wait_any([caller, callee], None)
    if caller.callerid_refresh_pending is not None:
        caller.caller_num, caller.caller_name = caller.callerid_refresh_pending
        caller.callerid_refresh_pending = None
        pbx.new_callerid(caller)
    if callee.hungup and not caller.hungup:
        pbx.bridges.leave(callee)
        pbx.bridges.leave(caller)
        dial_variables.left_bridge(pbx, callee, dial_caller=False)
        dial_variables.left_bridge(pbx, caller, dial_caller=True)
        dial_variables.finished(pbx, caller, started, answered_at)
        if go_on:
            _finish_callee(pbx, callee, callee.hangup_cause)
            return ""
        caller.hangup_cause = callee.hangup_cause
        caller.pbx_soft_hangup_sent = True
        pbx.soft_hangup(caller, SOFT_APPUNLOAD)
        if not from_agi:
            pbx.end_pbx(caller)
        _finish_callee(pbx, callee, callee.hangup_cause)
        return HANGUP
    pbx.bridges.leave(caller)
    dial_variables.left_bridge(pbx, caller, dial_caller=True)
    dial_variables.finished(pbx, caller, started, answered_at)
    if not from_agi:
        if caller.hangup_cause == 0:
            caller.hangup_cause = 16
        pbx.end_pbx(caller)
    pbx.bridges.leave(callee)
    dial_variables.left_bridge(pbx, callee, dial_caller=False)
    _finish_callee(pbx, callee, 16)
    return HANGUP


def _finish_callee(pbx: PBX, callee: Channel, cause: int) -> None:
    callee.hangup_cause = cause
    pbx.destroy(callee)


def _now() -> float:
    return asyncio.get_running_loop().time()
