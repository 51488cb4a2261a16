"""AMI Originate: validation, the Local/PJSIP originate flows and OriginateResponse (README §6).

* Context/Exten/Priority must exist unless Application is given, else `Extension does not exist.` at once.
* Async: `Originate successfully queued` at once; the outcome comes as OriginateResponse with Reason 4
  (answered), 3 (Originate Timeout while ringing) or 0 (any other failure: busy, congestion, 404, no route,
  unknown endpoint). On failure its Channel is the dial string; on success the channel name.
* Uniqueid is the ChannelId (even when no channel was made); `;2` gets OtherChannelId or `X;2`.
* The Dial that Originate performs shows as DialBegin/DialState/DialEnd with only Dest* fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .channels import RINGING, UP, Channel, wait_any
from .dial import Target, behaviour_for, dial_event, dial_status, parse_target
from .endpoints import SIP_CANCELLED, far_end

if TYPE_CHECKING:
    from .pbx import PBX


def separate_args(data: str, delim: str = ",") -> list[str]:
    """app.c __ast_app_separate_args with remove_chars (AST_STANDARD_APP_ARGS): split on ``delim`` outside (), []
    and double quotes; the quotes are removed and a backslash keeps the next character as it is."""
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    chars = iter(data)
    for c in chars:
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"' and delim != '"':
            quote = not quote
            continue
        elif c == "\\":
            c = next(chars, "")
        elif c == delim and not (paren or quote or bracket):
            args.append("".join(current))
            current = []
            continue
        current.append(c)
    args.append("".join(current))
    return args


def variable_pairs(header: str) -> list[tuple[str, str]]:
    """manager.c man_do_variable_value: one Variable header may hold several name=value pairs; an item without
    "=" or without a name is skipped; leading blanks of the header are ignored, names and values are not trimmed."""
    pairs = []
    for item in separate_args(header.lstrip(" \t")):
        name, sep, value = item.partition("=")
        if sep and name:
            pairs.append((name, value))
    return pairs


@dataclass
class OriginateRequest:
    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str | None = None
    data: str = ""
    timeout_s: float = 30.0
    caller_num: str | None = None
    caller_name: str | None = None
    variables: list[tuple[str, str]] = field(default_factory=list)
    channel_id: str | None = None
    other_channel_id: str | None = None
    is_async: bool = False
    action_id: str | None = None
    # Its entry in the PBX's record of Originates (``record``), completed with the outcome and any AMI Hangup.
    recorded: dict[str, Any] | None = None
    # Sync originate: called once with the outcome, before the failed channels' Hangup events (trace 05).
    on_result: Callable[[bool], None] | None = None

    @classmethod
    def from_fields(cls, get: Any, get_all: Any) -> OriginateRequest:
        num, name = parse_callerid(get("CallerID") or "")
        variables = [pair for item in get_all("Variable") for pair in variable_pairs(item)]
        prio = get("Priority") or "1"
        return cls(
            channel=get("Channel") or "",
            context=get("Context") or "",
            exten=get("Exten") or "",
            priority=int(prio) if prio.isdigit() else 1,
            application=get("Application"),
            data=get("Data") or "",
            timeout_s=int(get("Timeout") or 30000) / 1000,
            caller_num=num,
            caller_name=name,
            variables=variables,
            channel_id=get("ChannelId"),
            other_channel_id=get("OtherChannelId"),
            is_async=(get("Async") or "").lower() in ("true", "yes", "1", "on"),
            action_id=get("ActionID"),
        )

    def record(self, now: float) -> dict[str, Any]:
        return {
            "time": now,
            "action_id": self.action_id,
            "channel": self.channel,
            "context": self.context,
            "exten": self.exten,
            "priority": self.priority,
            "application": self.application,
            "data": self.data,
            "timeout_s": self.timeout_s,
            "caller_num": self.caller_num,
            "caller_name": self.caller_name,
            "variables": dict(self.variables),
            "channel_id": self.channel_id,
            "other_channel_id": self.other_channel_id,
            "async": self.is_async,
            "response": None,  # "Success"/"Failure" once the outcome is known, with the Reason sent
            "reason": None,
            "hangups": [],  # AMI Hangup actions on this call's channels: {"time", "channel", "state", "cause"}
        }


def parse_callerid(text: str) -> tuple[str | None, str | None]:
    text = text.strip()
    if not text:
        return None, None
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return (text, "") if text.replace("+", "").isdigit() else (None, text)


def validate(pbx: PBX, req: OriginateRequest) -> str | None:
    """The synchronous error message for a bad Originate, or None."""
    if not req.channel:
        return "Channel not specified"
    if req.application is None and not pbx.dialplan.exists(req.context, req.exten, req.priority):
        return "Extension does not exist."
    return None


def local_route_missing(pbx: PBX, req: OriginateRequest) -> bool:
    tech, _, rest = req.channel.partition("/")
    exten, _, ctx = rest.partition("@")
    return tech == "Local" and pbx.dialplan.find(ctx.split("/", 1)[0], exten) is None


def start_local_pair(
    pbx: PBX,
    exten: str,
    context: str,
    uid1: str,
    uid2: str | None,
    linkedid: str | None = None,
    *,
    caller_num: str | None = None,
    caller_name: str | None = None,
    variables: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
) -> Channel:
    """Create `Local/exten@context` ;1/;2, start ;2's dialplan; returns ;1 (destroyed if no route)."""
    now = pbx.clock.now()
    one, two = pbx.channels.local_pair(exten, context, uid1, uid2 or f"{uid1};2", now)
    if linkedid:
        one.linkedid = two.linkedid = linkedid
    pbx.chan_event("Newchannel", one)
    pbx.chan_event("Newchannel", two)
    for ch in (one, two):
        for key, value in variables:
            pbx.set_var(ch, key, value)
    pbx.new_exten(one, "AppDial2", "(Outgoing Line)")
    if caller_num is not None or caller_name is not None:
        # The caller id lands first (NewCallerid still shows no connected line), then the connected line,
        # which the pair shares at once (trace 02).
        for ch in (one, two):
            ch.caller_num, ch.caller_name = caller_num or "", caller_name or ""
            pbx.new_callerid(ch)
            for half in (one, two):
                half.connected_num, half.connected_name = caller_num or "", caller_name or ""
            pbx.new_connected_line(ch)
    if pbx.dialplan.find(context, exten) is None:
        one.peer = two.peer = None  # no HangupRequest crosses a pair that never got bridged (trace 05)
        pbx.destroy(two)
        pbx.destroy(one)
        return one
    pbx.emit(
        "LocalBridge",
        [
            *one.fields("LocalOne"),
            *two.fields("LocalTwo"),
            ("Context", context),
            ("Exten", exten),
            ("LocalOptimization", "Yes"),
        ],
    )
    pbx.spawn(pbx.run_pbx(two, context, exten, 1))
    return one


def originate_response(
    pbx: PBX, req: OriginateRequest, success: bool, channel: str, reason: int, uniqueid: str
) -> None:
    if req.recorded is not None:
        req.recorded.update(response="Success" if success else "Failure", reason=reason)
    if not req.is_async:  # only Async originates report through an event; sync ones answer in the Response
        if req.on_result is not None:
            req.on_result(success)
            req.on_result = None
        return
    fields = [("ActionID", req.action_id)] if req.action_id is not None else []
    fields += [("Response", "Success" if success else "Failure"), ("Channel", channel)]
    if req.application is not None:
        fields += [("Application", req.application), ("Data", req.data)]
    else:
        fields += [("Context", req.context), ("Exten", req.exten)]
    fields += [
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", req.caller_num or "<unknown>"),
        ("CallerIDName", req.caller_name or "<unknown>"),
    ]
    pbx.emit("OriginateResponse", fields)


async def run_originate(pbx: PBX, req: OriginateRequest) -> bool:
    """Perform the originate; returns True when the channel was answered."""
    await pbx.originate_slot()
    now = pbx.clock.now()
    uid = req.channel_id or pbx.channels.new_uniqueid(now)
    tech, _, rest = req.channel.partition("/")
    if tech == "Local":
        exten, _, ctx = rest.partition("@")
        one = start_local_pair(
            pbx,
            exten,
            ctx.split("/", 1)[0],
            uid,
            req.other_channel_id,
            caller_num=req.caller_num,
            caller_name=req.caller_name,
            variables=req.variables,
        )
        if one.destroyed:
            originate_response(pbx, req, False, req.channel, 0, uid)
            return False
        dial_event(pbx, "DialBegin", None, one, [("DialString", rest)])
        return await _follow(pbx, req, one, uid)
    target = parse_target(pbx, req.channel) if tech == "PJSIP" else None
    if target is None or behaviour_for(pbx, target).outcome == "noroute":
        originate_response(pbx, req, False, req.channel, 0, uid)
        return False
    out = _pjsip_channel(pbx, req, target, uid)
    dial_event(pbx, "DialBegin", None, out, [("DialString", target.dial_string)])
    pbx.spawn(far_end(pbx, out, behaviour_for(pbx, target)))
    return await _follow(pbx, req, out, uid)


def _pjsip_channel(pbx: PBX, req: OriginateRequest, target: Target, uid: str) -> Channel:
    now = pbx.clock.now()
    trunk = target.endpoint == pbx.config.trunk_endpoint
    context = "from-trunk" if trunk else pbx.config.internal_context
    out = pbx.channels.pjsip(target.endpoint, uid, uid, context, now)
    if not trunk:
        emp = pbx.employees[target.endpoint]
        out.caller_num, out.caller_name = emp.exten, emp.display_name
    pbx.chan_event("Newchannel", out)
    for key, value in req.variables:
        pbx.set_var(out, key, value)
    pbx.new_exten(out, "AppDial2", "(Outgoing Line)")
    if req.caller_num is not None or req.caller_name is not None:
        out.caller_num, out.caller_name = req.caller_num or "", req.caller_name or ""
        pbx.new_callerid(out)
        out.connected_num, out.connected_name = out.caller_num, out.caller_name
        pbx.new_connected_line(out)
    return out


async def _follow(pbx: PBX, req: OriginateRequest, ch: Channel, uid: str) -> bool:
    deadline = asyncio.get_running_loop().time() + pbx.clock.real(req.timeout_s)
    rang = False
    while True:
        if ch.state == RINGING and not rang:
            rang = True
            dial_event(pbx, "DialState", None, ch, [("DialStatus", "RINGING")])
        if ch.state == UP:
            originate_response(pbx, req, True, ch.name, 4, uid)
            dial_event(pbx, "DialEnd", None, ch, [("DialStatus", "ANSWER")])
            pbx.spawn(_after_answer(pbx, req, ch))
            return True
        if ch.hungup:
            cause = ch.hangup_cause
            originate_response(pbx, req, False, req.channel, 0, uid)
            if ch.callerid_refresh_pending is not None:
                ch.caller_num, ch.caller_name = ch.callerid_refresh_pending
                ch.callerid_refresh_pending = None
            dial_event(pbx, "DialEnd", None, ch, [("DialStatus", dial_status(cause))])
            pbx.destroy(ch)
            if ch.tech == "Local":
                pbx.new_callerid(ch)  # Asterisk 22 really reports this after the Hangup (traces 03, 05)
            return False
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            ch.hangup_cause = 19
            if ch.tech == "PJSIP":
                ch.tech_cause = SIP_CANCELLED
            pbx.destroy(ch)
            originate_response(pbx, req, False, req.channel, 3, uid)
            return False
        await wait_any([ch], remaining)


async def _after_answer(pbx: PBX, req: OriginateRequest, ch: Channel) -> None:
    from .applications import run_application

    if req.application is None:
        await pbx.run_pbx(ch, req.context, req.exten, req.priority)
        return
    ch.app, ch.app_data = req.application, req.data
    await run_application(pbx, ch, req.application, req.data)
    if not ch.destroyed:
        if ch.bridge is not None:
            pbx.bridges.leave(ch)
        pbx.destroy(ch)
