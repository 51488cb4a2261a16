"""Running a dialplan subroutine on a channel from inside an application, as app_stack.c's ``gosub_run`` does for
``ast_app_exec_sub`` (Dial's ``U()``, Queue's ``gosub`` argument).

* The location is ``[[context,]exten,]priority[(arg1[,arg2…])]`` (gosub_exec): the label is everything before the
  first ``(``, the arguments are the text up to the last ``)``, split on commas without quote processing
  (AST_STANDARD_RAW_ARGS).
* A destination that does not exist is an error (``Gosub attempted to reach non-existent destination``): nothing
  runs and the caller gets -1 (False here); Dial and Queue then carry on as if there had been no subroutine.
* Otherwise the arguments become ``ARG1``…``ARGn`` and ``ARGC`` (frame_set_var: a VarSet of the name and one of
  ``LOCAL(<name>)`` each), the steps run from the destination until ``Return()`` (which sets ``GOSUB_RETVAL``),
  a hangup of the channel, or the end of the extension (app_stack logs "Abnormal exit" and sets GOSUB_RETVAL
  empty). The channel's position and its earlier ``ARGn`` values are restored afterwards (the frame is popped).
* Each step is announced with Newexten like any dialplan step; the Gosub itself is not (run_sub calls gosub_exec
  directly, not through pbx_exec).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .channels import Channel
from .dialplan_functions import RETURN

if TYPE_CHECKING:
    from .pbx import PBX

log = logging.getLogger(__name__)

MAX_STEPS = 1000  # a subroutine that loops for ever must not hang the simulator


def parse_location(ch: Channel, sub_args: str) -> tuple[str, str, str, list[str]]:
    """(context, exten, priority, args) of a Gosub location; omitted parts are the channel's own (ast_parseable_goto:
    one part is a priority, two are exten and priority, three are context, exten and priority)."""
    label, paren, rest = sub_args.partition("(")
    args: list[str] = []
    if paren:
        end = rest.rfind(")")
        inner = rest[:end] if end >= 0 else rest
        args = inner.split(",") if inner else []
    parts = [p.strip() for p in label.split(",")]
    context, exten = ch.context, ch.exten
    if len(parts) >= 3:
        context, exten = parts[0], parts[1]
    elif len(parts) == 2:
        exten = parts[0]
    return context, exten, parts[-1], args


async def run_subroutine(pbx: PBX, ch: Channel, sub_args: str) -> bool:
    """Run the subroutine ``sub_args`` on ``ch`` to its Return(); False (logged) when its destination does not
    exist, as gosub_run returns -1."""
    from .applications import run_application  # late: applications import this module's users

    context, exten, priority_text, args = parse_location(ch, sub_args)
    priority = pbx.dialplan.priority_of(context, exten, priority_text)
    if priority is None or not pbx.dialplan.exists(context, exten, priority):
        log.error(
            "Gosub attempted to reach non-existent destination '%s,%s,%s' from '%s,%s,%d'",
            context,
            exten,
            priority_text,
            ch.context,
            ch.exten,
            ch.priority,
        )
        return False
    saved_position = (ch.context, ch.exten, ch.priority)
    names = [f"ARG{i + 1}" for i in range(len(args))] + ["ARGC"]
    saved_vars = {name: ch.variables.get(name) for name in names}
    for name, value in zip(names, [*args, str(len(args))], strict=True):
        pbx.set_var(ch, name, value)
        pbx.chan_event("VarSet", ch, [("Variable", f"LOCAL({name})"), ("Value", value)])
    ch.context, ch.exten, ch.priority = context, exten, priority
    returned = False
    try:
        for _ in range(MAX_STEPS):
            if ch.hungup:
                break
            step = pbx.enter_step(ch)
            if step is None:
                break
            result = await run_application(pbx, ch, *step)
            if result == RETURN:
                returned = True
                break
            if result == "hangup":
                break
            ch.priority += 1
    finally:
        if not returned:
            log.warning("%s Abnormal 'Gosub(%s)' exit.  Popping routine return locations.", ch.name, sub_args)
            pbx.set_var(ch, "GOSUB_RETVAL", "")
        ch.context, ch.exten, ch.priority = saved_position
        for name, earlier in saved_vars.items():  # the frame's variables go with it
            if earlier is None:
                ch.variables.pop(name, None)
            else:
                ch.variables[name] = earlier
    return True
