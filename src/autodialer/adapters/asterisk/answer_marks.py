"""The PBX's own record of which of our calls were answered: AstDB marks the dialplan writes.

* The customer's answer: the connect context's first step, run on ;1 the moment the customer answers
  (docs/dialplan.md), is ``Set(DB(dialer-answered/${DIALER_CALL_ID})=${EPOCH})``.
* An employee's answer: the connect step dials the employee (or the queue) with Dial option
  ``U(<connect context>^<call id>)``, so as the employee answers, and before the two are put through, Asterisk runs
  the connect context's ``s`` extension as a subroutine on the employee's channel:
  ``Set(DB(dialer-agent-answered/${ARG1})=${EPOCH})``. The call id comes as the Gosub argument because the
  employee's channel does not have our channel variables.

Asterisk writes both whether or not we are alive to hear the answer, and AstDB outlives our process, so after a crash
a call the PBX no longer lists is provably unanswered only if it has no customer mark, and is the success it was
if it has an employee mark. The FastAGI handler deletes each mark (``DATABASE DEL``, which works on a dead channel
too) once the engine stored the same fact itself; the marks that outlive their call (answered while we were down, a
step cancelled before its answer was stored) are found and deleted later (services/stale_marks.py).

Read with DBGetTree (main/db.c: "system" or "reporting" write class; ours has reporting). Whether the installed
dialplan writes each mark at all is read from ShowDialPlan of the connect context (same class): a dialplan from
before a mark proves nothing by a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable

from autodialer.protocols.ami import Event

FAMILY = "dialer-answered"  # the customer answered
AGENT_FAMILY = "dialer-agent-answered"  # an employee the connect step dialled answered


def dialplan_marks(lines: Iterable[Event], family: str = FAMILY) -> bool:
    """Whether the connect context's ShowDialPlan lines include the step that writes ``family``'s mark."""
    write = f"DB({family}/"
    return any(
        (line.get("Application") or "").lower() == "set" and write in (line.get("AppData") or "") for line in lines
    )


def marked_calls(items: Iterable[Event], family: str = FAMILY) -> frozenset[str]:
    """The call ids of a DBGetTree of ``family`` (``Key: /dialer-answered/<call id>``)."""
    prefix = f"/{family}/"
    return frozenset(key.removeprefix(prefix) for item in items if (key := item.get("Key") or "").startswith(prefix))
