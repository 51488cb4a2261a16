"""AMI actions: one small handler per action, answers shaped exactly like Asterisk 22's (trace 01).

List actions answer `Success` + `EventList: start` + Message, then items carrying the ActionID, then
`<Name>Complete` with `EventList: Complete` and `ListItems`. An unknown action gets the exact error text and a
RequestBadFormat security event. Actions other than Login/Logoff/Ping need an authenticated session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from autodialer.protocols.ami import Action

from .channels import SOFT_EXPLICIT, STATE_DESC
from .devices import EXT_STATUS
from .events import Fields
from .originate import OriginateRequest, local_route_missing, run_originate, validate

if TYPE_CHECKING:
    from .ami_server import AMISession

Handler = Callable[["AMISession", Action], Awaitable[str | None]]
HANDLERS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[name.lower()] = fn
        return fn

    return register


def _tv(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _security(s: AMISession, name: str, severity: str, extra: Fields) -> Fields:
    now = _tv(s.pbx.clock.now())
    return [
        ("EventTV", now),
        ("Severity", severity),
        ("Service", "AMI"),
        ("EventVersion", "1"),
        *extra,
        ("SessionID", s.session_id),
        ("LocalAddress", s.local),
        ("RemoteAddress", s.remote),
    ]


def list_start(s: AMISession, a: Action, message: str) -> None:
    s.respond(a, "Success", [("EventList", "start"), ("Message", message)])


def list_end(s: AMISession, a: Action, name: str, count: int) -> None:
    s.send_event(name, [("EventList", "Complete"), ("ListItems", str(count))], a.action_id)


async def dispatch(s: AMISession, a: Action) -> str | None:
    name = a.name.lower()
    if not s.authenticated and name not in ("login", "logoff", "ping", "challenge"):
        s.respond(a, "Error", [("Message", "Permission denied")])
        return None
    handler = HANDLERS.get(name)
    if handler is None:
        s.respond(
            a,
            "Error",
            [("Message", f"Invalid/unknown command: {a.name}. Use Action: ListCommands to show available commands.")],
        )
        s.pbx.emit(
            "RequestBadFormat",
            [
                *_security(s, "RequestBadFormat", "Error", []),
                ("RequestType", f"Action: {a.name}"),
                ("AccountID", s.pbx.config.username),
            ],
        )
        return None
    return await handler(s, a)


@action("Login")
async def login(s: AMISession, a: Action) -> str | None:
    cfg = s.pbx.config
    if a.get("Username") != cfg.username or a.get("Secret") != cfg.secret:
        s.respond(a, "Error", [("Message", "Authentication failed")])
        return "close"
    s.authenticated = True
    s.events_on = (a.get("Events") or "on").lower() not in ("off", "no", "false", "0")
    s.respond(a, "Success", [("Message", "Authentication accepted")])
    if asyncio.get_running_loop().time() < s.server.booting_until:
        _login_while_booting(s)
        return None
    uptime = str(int(s.pbx.clock.now() - s.pbx.started_at))
    if s.events_on:
        s.send_event(
            "FullyBooted",
            [("Privilege", "system,all"), ("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
        )
    s.pbx.emit(
        "SuccessfulAuth",
        [
            *_security(s, "SuccessfulAuth", "Informational", [("AccountID", cfg.username)]),
            ("UsingPassword", "0"),
            ("SessionTV", _tv(s.pbx.clock.now())),
        ],
    )
    return None


def _login_while_booting(s: AMISession) -> None:
    """Trace 09: a login during boot sees SuccessfulAuth, PeerStatus per endpoint, the hints, then FullyBooted."""
    cfg = s.pbx.config
    s.pbx.emit(
        "SuccessfulAuth",
        [
            *_security(s, "SuccessfulAuth", "Informational", [("AccountID", cfg.username)]),
            ("UsingPassword", "0"),
            ("SessionTV", _tv(s.pbx.clock.now())),
        ],
    )
    for name in [e.exten for e in cfg.employees] + [cfg.trunk_endpoint]:
        s.pbx.emit("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{name}"), ("PeerStatus", "Reachable")])
    for ctx, exten, device in s.pbx.dialplan.hints():
        s.pbx.emit("ExtensionStatus", _ext_fields(ctx, exten, device, s.pbx.devices.get(device)))
    delay = max(0.0, s.server.booting_until - asyncio.get_running_loop().time())

    def booted() -> None:
        if s in s.server.sessions and s.events_on:
            s.send_event(
                "FullyBooted",
                [("Privilege", "system,all"), ("Uptime", "1"), ("LastReload", "1"), ("Status", "Fully Booted")],
            )

    asyncio.get_running_loop().call_later(delay, booted)


@action("Logoff")
async def logoff(s: AMISession, a: Action) -> str | None:
    s.respond(a, "Goodbye", [("Message", "Thanks for all the fish.")])
    return "close"


@action("Ping")
async def ping(s: AMISession, a: Action) -> str | None:
    s.respond(a, "Success", [("Ping", "Pong"), ("Timestamp", f"{s.pbx.clock.now():.6f}")])
    return None


@action("Events")
async def events(s: AMISession, a: Action) -> str | None:
    s.events_on = (a.get("EventMask") or "on").lower() not in ("off", "no", "false", "0")
    s.respond(a, "Success", [("Events", "On" if s.events_on else "Off")])
    return None


@action("Filter")
async def filter_(s: AMISession, a: Action) -> str | None:
    from .ami_server import EventFilter

    if (a.get("Operation") or "Add").lower() != "add" or not a.get("Filter"):
        s.respond(a, "Error", [("Message", "Unknown operation")])
        return None
    try:
        s.filters.append(EventFilter(a.get("Filter") or ""))
    except Exception:
        s.respond(a, "Error", [("Message", "Filter Not Added")])
        return None
    s.respond(a, "Success", [("Message", "Success")])
    return None


@action("Originate")
async def originate(s: AMISession, a: Action) -> str | None:
    pbx = s.pbx
    req = OriginateRequest.from_fields(a.get, a.get_all)
    pbx.requests.append(req.record(pbx.clock.now()))
    error = validate(pbx, req)
    if error is not None:
        s.respond(a, "Error", [("Message", error)])
        return None
    if req.is_async:
        s.respond(a, "Success", [("Message", "Originate successfully queued")])
        pbx.spawn(run_originate(pbx, req))
        return None
    if local_route_missing(pbx, req):  # Asterisk answers before the doomed channels' events (trace 05)
        s.respond(a, "Error", [("Message", "Originate failed")])
        await run_originate(pbx, req)
        return None
    answered: list[bool] = []

    def respond(ok: bool) -> None:
        answered.append(ok)
        if ok:
            s.respond(a, "Success", [("Message", "Originate successfully queued")])
        else:
            s.respond(a, "Error", [("Message", "Originate failed")])

    req.on_result = respond
    ok = await run_originate(pbx, req)
    if not answered:
        respond(ok)
    return None


@action("Hangup")
async def hangup(s: AMISession, a: Action) -> str | None:
    name = a.get("Channel") or ""
    cause = int(a.get("Cause") or 16)
    chans = s.pbx.channels.live.values()
    if name.startswith("/") and name.endswith("/") and len(name) > 2:
        import re

        rx = re.compile(name[1:-1])
        targets = [c for c in chans if rx.search(c.name)]
    else:
        targets = [c for c in chans if c.name == name]
    if not targets:
        s.respond(a, "Error", [("Message", "No such channel")])
        return None
    for ch in targets:
        ch.hangup_cause = cause
        s.pbx.soft_hangup(ch, SOFT_EXPLICIT)
    s.respond(
        a,
        "Success",
        [("Message", "Channel Hungup") if len(targets) == 1 else ("Message", f"{len(targets)} channels hungup.")],
    )
    return None


@action("CoreShowChannels")
async def core_show_channels(s: AMISession, a: Action) -> str | None:
    list_start(s, a, "Channels will follow")
    chans = list(s.pbx.channels.live.values())
    now = s.pbx.clock.now()
    for ch in chans:
        secs = int(now - ch.created_at)
        s.send_event(
            "CoreShowChannel",
            [
                *ch.fields(),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", ""),
                ("ApplicationData", ""),
                ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
            ],
            a.action_id,
        )
    list_end(s, a, "CoreShowChannelsComplete", len(chans))
    return None


def _ext_fields(ctx: str, exten: str, device: str, state: str) -> Fields:
    code, text = EXT_STATUS[state]
    return [("Exten", exten), ("Context", ctx), ("Hint", device), ("Status", str(code)), ("StatusText", text)]


@action("ExtensionStateList")
async def extension_state_list(s: AMISession, a: Action) -> str | None:
    list_start(s, a, "Extension Statuses will follow")
    hints = list(reversed(s.pbx.dialplan.hints()))  # Asterisk walks its hint container newest-first
    for ctx, exten, device in hints:
        s.send_event("ExtensionStatus", _ext_fields(ctx, exten, device, s.pbx.devices.get(device)), a.action_id)
    list_end(s, a, "ExtensionStateListComplete", len(hints))
    return None


@action("ExtensionState")
async def extension_state(s: AMISession, a: Action) -> str | None:
    ctx, exten = a.get("Context") or "default", a.get("Exten") or ""
    hint = next((d for c, e, d in s.pbx.dialplan.hints() if c == ctx and e == exten), None)
    if hint is None:
        s.respond(
            a,
            "Success",
            [
                ("Message", "Extension Status"),
                ("Exten", exten),
                ("Context", ctx),
                ("Hint", ""),
                ("Status", "-1"),
                ("StatusText", "Unknown"),
            ],
        )
        return None
    s.respond(a, "Success", [("Message", "Extension Status"), *_ext_fields(ctx, exten, hint, s.pbx.devices.get(hint))])
    return None


@action("DeviceStateList")
async def device_state_list(s: AMISession, a: Action) -> str | None:
    list_start(s, a, "Device State Changes will follow")
    states = [*s.pbx.queues.device_states(), *sorted(s.pbx.devices.state.items(), reverse=True)]
    for device, state in states:
        s.send_event("DeviceStateChange", [("Device", device), ("State", state)], a.action_id)
    list_end(s, a, "DeviceStateListComplete", len(states))
    return None


@action("QueueStatus")
async def queue_status(s: AMISession, a: Action) -> str | None:
    queues = s.pbx.queues
    wanted = a.get("Queue")
    list_start(s, a, "Queue status will follow")
    count = 0
    for q in queues.queues.values():
        if wanted and q.name != wanted:
            continue
        s.send_event(
            "QueueParams",
            [
                ("Queue", q.name),
                ("Max", "0"),
                ("Strategy", "ringall"),
                ("Calls", str(len(q.callers))),
                ("Holdtime", str(q.holdtime)),
                ("TalkTime", str(q.talktime)),
                ("Completed", str(q.completed)),
                ("Abandoned", str(q.abandoned)),
                ("ServiceLevel", "0"),
                ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"),
                ("Weight", "0"),
            ],
            a.action_id,
            id_last=True,
        )
        count += 1
        for m in reversed(q.members):
            s.send_event("QueueMember", queues.member_fields(q, m, listing=True), a.action_id, id_last=True)
            count += 1
    list_end(s, a, "QueueStatusComplete", count)
    return None


@action("QueueSummary")
async def queue_summary(s: AMISession, a: Action) -> str | None:
    queues = s.pbx.queues
    wanted = a.get("Queue")
    list_start(s, a, "Queue summary will follow")
    count = 0
    for q in queues.queues.values():
        if wanted and q.name != wanted:
            continue
        available = sum(1 for m in q.members if queues._available(q, m))
        s.send_event(
            "QueueSummary",
            [
                ("Queue", q.name),
                ("LoggedIn", str(len(q.members))),
                ("Available", str(available)),
                ("Callers", str(len(q.callers))),
                ("HoldTime", str(q.holdtime)),
                ("TalkTime", str(q.talktime)),
                ("LongestHoldTime", "0"),
            ],
            a.action_id,
            id_last=True,
        )
        count += 1
    list_end(s, a, "QueueSummaryComplete", count)
    return None


@action("QueuePause")
async def queue_pause(s: AMISession, a: Action) -> str | None:
    paused = (a.get("Paused") or "true").lower() in ("true", "yes", "1", "on")
    if s.pbx.queues.pause(a.get("Queue"), a.get("Interface") or "", paused, a.get("Reason") or ""):
        s.respond(
            a,
            "Success",
            [("Message", "Interface paused successfully" if paused else "Interface unpaused successfully")],
        )
    else:
        s.respond(a, "Error", [("Message", "Interface not found")])
    return None


@action("PJSIPShowEndpoints")
async def pjsip_show_endpoints(s: AMISession, a: Action) -> str | None:
    cfg = s.pbx.config
    list_start(s, a, "A listing of Endpoints follows, presented as EndpointList events")
    endpoints = [(e.exten, f"{e.exten}/sip:{e.exten}@127.0.0.1:5{e.exten}") for e in cfg.employees]
    endpoints.append((cfg.trunk_endpoint, f"{cfg.trunk_endpoint}/sip:127.0.0.1:5300"))
    text = {
        "NOT_INUSE": "Not in use",
        "INUSE": "In use",
        "RINGING": "Ringing",
        "BUSY": "Busy",
        "RINGINUSE": "Ring+Inuse",
        "UNAVAILABLE": "Unavailable",
    }
    for name, contact in endpoints:
        device = f"PJSIP/{name}"
        active = sum(1 for c in s.pbx.channels.live.values() if c.device == device)
        s.send_event(
            "EndpointList",
            [
                ("ObjectType", "endpoint"),
                ("ObjectName", name),
                ("Transport", "transport-udp"),
                ("Aor", name),
                ("Auths", ""),
                ("OutboundAuths", ""),
                ("Contacts", f"{contact},"),
                ("DeviceState", text.get(s.pbx.devices.get(device), "Unknown")),
                ("ActiveChannels", str(active)),
            ],
            a.action_id,
        )
    list_end(s, a, "EndpointListComplete", len(endpoints))
    return None


@action("DBPut")
async def db_put(s: AMISession, a: Action) -> str | None:
    s.pbx.db.setdefault(a.get("Family") or "", {})[a.get("Key") or ""] = a.get("Val") or a.get("Value") or ""
    s.respond(a, "Success", [("Message", "Updated database successfully")])
    return None


@action("DBDel")
async def db_del(s: AMISession, a: Action) -> str | None:
    found = s.pbx.db.get(a.get("Family") or "", {}).pop(a.get("Key") or "", None)
    if found is None:
        s.respond(a, "Error", [("Message", "Database entry not found")])
    else:
        s.respond(a, "Success", [("Message", "Key deleted successfully")])
    return None


@action("DBGet")
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


@action("DBGetTree")
async def db_get_tree(s: AMISession, a: Action) -> str | None:
    family = a.get("Family") or ""
    prefix = a.get("Key") or ""
    list_start(s, a, "Result will follow")
    items = sorted((k, v) for k, v in s.pbx.db.get(family, {}).items() if k.startswith(prefix))
    for key, value in items:
        s.send_event("DBGetTreeResponse", [("Key", f"/{family}/{key}"), ("Val", value)], a.action_id, id_last=True)
    list_end(s, a, "DBGetTreeComplete", len(items))
    return None


@action("Getvar")
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


@action("Setvar")
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


@action("UserEvent")
async def user_event(s: AMISession, a: Action) -> str | None:
    skip = {"action", "actionid", "userevent"}
    s.pbx.emit(
        "UserEvent", [("UserEvent", a.get("UserEvent") or ""), *((k, v) for k, v in a.fields if k.lower() not in skip)]
    )
    s.respond(a, "Success", [("Message", "Event Sent")])
    return None


@action("CoreSettings")
async def core_settings(s: AMISession, a: Action) -> str | None:
    s.respond(
        a,
        "Success",
        [
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", "22.10.1"),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "No"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        ],
    )
    return None


@action("CoreStatus")
async def core_status(s: AMISession, a: Action) -> str | None:
    start = dt.datetime.fromtimestamp(s.pbx.started_at, dt.UTC)
    date, time = start.strftime("%Y-%m-%d"), start.strftime("%H:%M:%S")
    calls = len({c.linkedid for c in s.pbx.channels.live.values()})
    s.respond(
        a,
        "Success",
        [
            ("CoreStartupDate", date),
            ("CoreStartupTime", time),
            ("CoreReloadDate", date),
            ("CoreReloadTime", time),
            ("CoreCurrentCalls", str(calls)),
            ("CoreProcessedCalls", str(s.pbx.channels.processed)),
        ],
    )
    return None


@action("ListCommands")
async def list_commands(s: AMISession, a: Action) -> str | None:
    s.respond(a, "Success", [(name, name) for name in sorted(HANDLERS)])
    return None


__all__ = ["HANDLERS", "STATE_DESC", "dispatch"]
