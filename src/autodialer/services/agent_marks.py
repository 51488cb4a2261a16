"""The Dial option that asks the PBX to mark an employee's answer in AstDB (docs/dialplan.md), for every step that
dials an employee: the connect step and a voice poll's transfer.

``U(<connect context>^<call id>)`` makes app_dial run the connect context's ``s`` extension as a subroutine on the
employee's channel as they answer, before the bridge; it writes ``dialer-agent-answered/<call id>``. The call id is
the Gosub's argument (the employee's channel does not inherit our variables), so only ids and context names that
app_dial's option parser and Gosub cannot read as syntax get the option: anything else dials with ``g`` alone.
"""

from __future__ import annotations

import re

# Our ids are "dlr-" and 16 hex digits; nothing app_dial's option parser or Gosub would read as syntax.
_MARKABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MARKABLE_CONTEXT = re.compile(r"[A-Za-z0-9._-]+")


def check_mark_context(field: str, context: str | None) -> None:
    """ValueError naming ``field`` when ``context`` could not be a plain dialplan context name."""
    if context is not None and not _MARKABLE_CONTEXT.fullmatch(context):
        raise ValueError(f"{field}: {context!r} must be a plain dialplan context name")


def employee_dial_options(mark_context: str | None, call_id: str) -> str:
    """``g`` (an employee's hangup returns to us), and ``U(<mark_context>^<call id>)`` when the employee's answer is
    to be marked: ``mark_context`` set (None: the installed dialplan has no such step) and a call id safe in it."""
    if mark_context is None or not _MARKABLE_ID.fullmatch(call_id):
        return "g"
    return f"gU({mark_context}^{call_id})"


def marks_employee(options: str) -> bool:
    """The Dial with these options asked for the employee's mark (so there may be one to delete)."""
    return options != "g"
