"""AMI AstDB, variable and UserEvent actions (DBPut/DBDel/DBGet/DBGetTree, Getvar/Setvar, UserEvent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodialer.protocols.ami import Action

from .ami_actions import action, list_end, list_start

if TYPE_CHECKING:
    from .ami_server import AMISession


@action("DBPut", "system")
async def db_put(s: AMISession, a: Action) -> str | None:
    s.pbx.db.setdefault(a.get("Family") or "", {})[a.get("Key") or ""] = a.get("Val") or a.get("Value") or ""
    s.respond(a, "Success", [("Message", "Updated database successfully")])
    return None


@action("DBDel", "system")
async def db_del(s: AMISession, a: Action) -> str | None:
    found = s.pbx.db.get(a.get("Family") or "", {}).pop(a.get("Key") or "", None)
    if found is None:
        s.respond(a, "Error", [("Message", "Database entry not found")])
    else:
        s.respond(a, "Success", [("Message", "Key deleted successfully")])
    return None


@action("DBGet", "system", "reporting")
async def db_get(s: AMISession, a: Action) -> str | None:
    family, key = a.get("Family") or "", a.get("Key") or ""
    value = s.pbx.db.get(family, {}).get(key)
    if value is None:
        s.respond(a, "Error", [("Message", "Database entry not found")])
        return None
    list_start(s, a, "Result will follow")
    s.send_event("DBGetResponse", [("Family", family), ("Key", key), ("Val", value)], a.action_id, id_last=True)
    list_end(s, a, "DBGetComplete", 1)
    return None


@action("DBGetTree", "system", "reporting")
async def db_get_tree(s: AMISession, a: Action) -> str | None:
    family = a.get("Family") or ""
    prefix = a.get("Key") or ""
    list_start(s, a, "Result will follow")
    items = sorted((k, v) for k, v in s.pbx.db.get(family, {}).items() if k.startswith(prefix))
    for key, value in items:
        s.send_event("DBGetTreeResponse", [("Key", f"/{family}/{key}"), ("Val", value)], a.action_id, id_last=True)
    list_end(s, a, "DBGetTreeComplete", len(items))
    return None


@action("Getvar", "call", "reporting")
async def getvar(s: AMISession, a: Action) -> str | None:
    name = a.get("Variable") or ""
    chan_name = a.get("Channel")
    if chan_name:
        ch = s.pbx.channels.by_name(chan_name)
        if ch is None:
            s.respond(a, "Error", [("Message", "No such channel")])
            return None
        value = s.pbx.get_var(ch, name) or ""
    else:
        value = s.pbx.global_vars.get(name, "")
    s.respond(a, "Success", [("Variable", name), ("Value", value)])
    return None


@action("Setvar", "call")
async def setvar(s: AMISession, a: Action) -> str | None:
    name, value = a.get("Variable") or "", a.get("Value") or ""
    chan_name = a.get("Channel")
    if chan_name:
        ch = s.pbx.channels.by_name(chan_name)
        if ch is None:
            s.respond(a, "Error", [("Message", "No such channel")])
            return None
        s.pbx.set_var(ch, name, value)
    else:
        s.pbx.global_vars[name] = value
    s.respond(a, "Success", [("Message", "Variable Set")])
    return None


@action("UserEvent", "user")
async def user_event(s: AMISession, a: Action) -> str | None:
    skip = {"action", "actionid", "userevent"}
    s.pbx.emit(
        "UserEvent", [("UserEvent", a.get("UserEvent") or ""), *((k, v) for k, v in a.fields if k.lower() not in skip)]
    )
    s.respond(a, "Success", [("Message", "Event Sent")])
    return None
