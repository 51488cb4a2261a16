"""The PBX's own record of which of our calls were answered: an AstDB mark the dialplan writes.

The connect context's first step, run on ;1 the moment the customer answers (docs/dialplan.md), is
``Set(DB(dialer-answered/${DIALER_CALL_ID})=${EPOCH})``. Asterisk runs it whether or not we are alive to hear the
answer, and AstDB outlives our process, so after a crash a call the PBX no longer lists is provably unanswered only
if it has no mark. The FastAGI handler deletes the mark (``DATABASE DEL``, which works on a dead channel too) once
the engine stored the answer itself; the marks of calls answered while we were down stay (a few per crash, named by
call ids that are never reused, ``database deltree dialer-answered`` clears them).

Read with DBGetTree (main/db.c: "system" or "reporting" write class; ours has reporting). Whether the installed
dialplan writes marks at all is read from ShowDialPlan of the connect context (same class): a dialplan from before
the mark proves nothing by a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable

from autodialer.protocols.ami import Event

FAMILY = "dialer-answered"
_WRITE = f"DB({FAMILY}/"


def dialplan_marks(lines: Iterable[Event]) -> bool:
    """Whether the connect context's ShowDialPlan lines include the step that writes the mark."""
    return any(
        (line.get("Application") or "").lower() == "set" and _WRITE in (line.get("AppData") or "") for line in lines
    )


def marked_calls(items: Iterable[Event]) -> frozenset[str]:
    """The call ids of a DBGetTree of the family (``Key: /dialer-answered/<call id>``)."""
    prefix = f"/{FAMILY}/"
    return frozenset(key.removeprefix(prefix) for item in items if (key := item.get("Key") or "").startswith(prefix))
