"""Dialplan functions (``${NAME(args)}``) and hangup handlers, as Asterisk runs them, for the few the snippets use.

* HANGUPCAUSE_KEYS() / HANGUPCAUSE(<channel>,tech|ast) (func_hangupcause): a channel keeps, per channel it dialled,
  the last cause that channel reported, "SIP 486 Busy Here" and 17. chan_pjsip records "SIP <code> <reason>" of
  every INVITE response on its own channel and queues it to whoever reads it; app_dial passes it on to its caller
  (ast_indicate_data -> ast_channel_hangupcause_hash_set), so after Dial the caller knows every callee's last
  response (a call answered and hung up later keeps "SIP 200 OK").
* SHIFT(<var>) (func_strings): the first comma-separated item of the variable, which keeps the rest.
* URIENCODE(<text>) (func_uri).
* DB(<family>/<key>) (func_db): reads AstDB, and ``Set(DB(<family>/<key>)=<value>)`` writes it (the family ends at
  the first "/", the key is the rest). AstDB lives on the PBX, so it outlives any AMI or FastAGI client, and a
  simulated restart keeps it, as astdb.sqlite3 does.
* ``Set(CHANNEL(hangup_handler_push)=<context>,<exten>,<priority>)`` pushes a hangup handler; the handlers run when
  the channel is hung up, newest first, before its Hangup event (channel.c ast_hangup ->
  ast_pbx_hangup_handler_run), as subroutines that end with Return(). Only applications that finish at once can
  run in one here (the channel is gone: no media), which is all a hangup handler can usefully do anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .channels import Channel

if TYPE_CHECKING:
    from .pbx import PBX

log = logging.getLogger(__name__)

RETURN = "return"  # the result of Return(): a hangup handler (a subroutine) ends

# The reason phrases the lab's sipp scenarios send (the recorded lab's uas_trunk.xml and uas_emp_*.xml).
SIP_REASON = {
    180: "Ringing",
    200: "OK",
    404: "Not Found",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    503: "Service Unavailable",
}


def record_response(callee: Channel, code: int, cause: int) -> None:
    """chan_pjsip got a SIP response on ``callee``: its own cause hash now holds it."""
    callee.dialed_causes[callee.name] = (f"SIP {code} {SIP_REASON.get(code, '')}".rstrip(), cause)


def pass_causes(caller: Channel, callee: Channel) -> None:
    """app_dial read the callee's cause frames: the caller's hash learns them too."""
    caller.dialed_causes.update(callee.dialed_causes)


def call_function(pbx: PBX, ch: Channel, name: str, args: list[str]) -> str | None:
    """The value of ``name(args)``, or None for a function the simulator does not know (expands to "")."""
    upper = name.upper()
    if upper == "HANGUPCAUSE_KEYS":
        return ",".join(ch.dialed_causes)
    if upper == "HANGUPCAUSE":
        entry = ch.dialed_causes.get(args[0].strip() if args else "")
        if entry is None:
            return ""
        kind = args[1].strip().lower() if len(args) > 1 else ""
        return entry[0] if kind == "tech" else str(entry[1]) if kind == "ast" else ""
    if upper == "SHIFT":
        var = args[0].strip() if args else ""
        first, _, rest = ch.variables.get(var, "").partition(",")
        pbx.set_var(ch, var, rest)
        return first
    if upper == "URIENCODE":
        return quote(",".join(args), safe="")
    if upper == "DB":
        family, _, key = ",".join(args).strip().partition("/")
        return pbx.db.get(family, {}).get(key, "")
    return None


def write_function(pbx: PBX, target: str, value: str) -> bool:
    """``Set(<function>(<args>)=value)`` for the writable functions modelled here; False when ``target`` is none."""
    name, _, rest = target.partition("(")
    if name.strip().upper() != "DB" or not rest.endswith(")"):
        return False
    family, _, key = rest[:-1].strip().partition("/")
    if family and key:  # func_db refuses "DB requires an argument, DB(<family>/<key>)" and writes nothing
        pbx.db.setdefault(family, {})[key] = value
    else:
        log.warning("DB requires an argument, DB(<family>/<key>)=<value>: %r", target)
    return True


def push_hangup_handler(ch: Channel, location: str) -> None:
    ch.hangup_handlers.append(location)


def run_hangup_handlers(pbx: PBX, ch: Channel) -> None:
    """Run the channel's hangup handlers, newest first; its dialplan position is restored afterwards."""
    from .applications import run_application  # late: applications import the PBX helpers

    saved = (ch.context, ch.exten, ch.priority)
    while ch.hangup_handlers:
        context, exten, priority = ([*ch.hangup_handlers.pop().split(","), "", ""])[:3]
        ch.context, ch.exten = context.strip(), exten.strip() or "s"
        ch.priority = int(priority) if priority.strip().isdigit() else 1
        for _ in range(1000):  # a handler that loops for ever must not hang the simulator
            step = pbx.enter_step(ch)
            if step is None:
                break
            result = _run_now(run_application(pbx, ch, *step))
            if result in (RETURN, None) or result == "hangup":
                break
            ch.priority += 1
    ch.context, ch.exten, ch.priority = saved


def _run_now(coro: Coroutine[Any, Any, str]) -> str | None:
    """Run an application that finishes without waiting; None (and a log line) for one that would wait."""
    try:
        coro.send(None)
    except StopIteration as done:
        return str(done.value) if done.value is not None else ""
    coro.close()
    log.warning("a hangup handler ran an application that waits: stopped there")
    return None
