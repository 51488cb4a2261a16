"""AMI actions: one small handler per action, answers shaped exactly like Asterisk 22's (trace 01).

List actions answer `Success` + `EventList: start` + Message, then items carrying the ActionID, then
`<Name>Complete` with `EventList: Complete` and `ListItems`. An unknown action gets the exact error text and a
RequestBadFormat security event. Actions other than Login/Logoff/Ping need an authenticated session.

Each handler is registered with the authority Asterisk registers the action with (the EVENT_FLAG_* classes of
its ast_manager_register_xml call; empty = 0, anyone): main/manager.c __init_manager (Originate is
EVENT_FLAG_ORIGINATE alone; Hangup system|call; Getvar call|reporting; Setvar call; UserEvent user; Filter system;
CoreSettings/CoreStatus/CoreShowChannels system|reporting; ExtensionState/ExtensionStateList call|reporting;
Login/Logoff/Ping/Events/ListCommands 0), main/db.c astdb_init (DBGet/DBGetTree system|reporting, DBPut/DBDel
system), main/devicestate.c (DeviceStateList call|reporting), main/pbx.c (ShowDialPlan config|reporting),
apps/app_queue.c load_module (QueueStatus/QueueSummary 0, QueuePause agent) and
res/res_pjsip/pjsip_configuration.c (PJSIPShowEndpoints system). As manager.c process_message: a user whose
write classes do not intersect it gets `Response: Error` / `Message: Permission denied`, then a
RequestNotAllowed security event, and the action is not run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from autodialer.protocols.ami import Action

from .channels import SOFT_EXPLICIT
from .devices import extension_status_fields
from .events import MANAGER_CLASSES, Fields, manager_classes
from .originate import OriginateRequest, local_route_missing, run_originate, validate

if TYPE_CHECKING:
    from .ami_server import AMISession

Handler = Callable[["AMISession", Action], Awaitable[str | None]]
HANDLERS: dict[str, Handler] = {}
NAMES: list[str] = []  # as Asterisk spells them, for ListCommands
AUTHORITY: dict[str, frozenset[str]] = {}  # lower-case name -> write classes any one of which allows it


def action(name: str, *authority: str) -> Callable[[Handler], Handler]:
    """Register a handler; `authority` = the classes Asterisk registers the action with (none: anyone)."""
    unknown = set(authority) - MANAGER_CLASSES
    if unknown:
        raise ValueError(f"{name}: unknown manager classes {sorted(unknown)}")

    def register(fn: Handler) -> Handler:
        HANDLERS[name.lower()] = fn
        NAMES.append(name)
        AUTHORITY[name.lower()] = frozenset(authority)
        return fn

    return register


def allowed(s: AMISession, name: str) -> bool:
    """manager.c: `(writeperm & authority) || authority == 0`."""
    authority = AUTHORITY.get(name.lower(), frozenset())
    return not authority or bool(authority & s.write_classes)


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
    if not name:
        s.respond(a, "Error", [("Message", "Missing action in request")])
        return None
    handler = HANDLERS.get(name)
    if handler is None:
        s.respond(
            a,
            "Error",
            [("Message", f"Invalid/unknown command: {a.name}. Use Action: ListCommands to show available commands.")],
        )
        _request_security_event(s, "RequestBadFormat", a.name)
        return None
    if not allowed(s, name):
        s.respond(a, "Error", [("Message", "Permission denied")])
        # report_req_not_allowed runs before the reply too, but like RequestBadFormat it goes through stasis
        # and reaches the client after it (trace 01).
        _request_security_event(s, "RequestNotAllowed", a.name)
        return None
    return await handler(s, a)


def _request_security_event(s: AMISession, event: str, action_name: str) -> None:
    """RequestBadFormat (trace 01, lines 471-482) or RequestNotAllowed (the same security-event layout)."""
    s.pbx.emit(
        event,
        [
            *_security(s, event, "Error", []),
            ("RequestType", f"Action: {action_name}"),
            ("SessionTV", _tv(s.login_at)),
            ("AccountID", s.pbx.config.username),
        ],
    )


@action("Login")
async def login(s: AMISession, a: Action) -> str | None:
    cfg = s.pbx.config
    if a.get("Username") != cfg.username or a.get("Secret") != cfg.secret:
        s.respond(a, "Error", [("Message", "Authentication failed")])
        return "close"
    s.authenticated = True
    s.login_at = s.pbx.clock.now()
    s.read_classes = manager_classes(cfg.read_classes)
    s.write_classes = manager_classes(cfg.write_classes)
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
            ("SessionTV", _tv(s.login_at)),
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
            ("SessionTV", _tv(s.login_at)),
        ],
    )
    for name in [e.exten for e in cfg.employees] + [cfg.trunk_endpoint]:
        s.pbx.emit("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{name}"), ("PeerStatus", "Reachable")])
    for ctx, exten, device in s.pbx.dialplan.hints():
        s.pbx.emit("ExtensionStatus", extension_status_fields(ctx, exten, device, s.pbx.devices.get(device)))
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


@action("Filter", "system")
async def filter_(s: AMISession, a: Action) -> str | None:
    from .ami_server import EventFilter

    if (a.get("Operation") or "Add").lower() != "add" or not a.get("Filter"):
        s.respond(a, "Error", [("Message", "Unknown operation")])
        return None
    try:
        s.add_filter(EventFilter(a.get("Filter") or ""))
    except Exception:
        s.respond(a, "Error", [("Message", "Filter Not Added")])
        return None
    s.respond(a, "Success", [("Message", "Success")])
    return None


@action("Originate", "originate")
async def originate(s: AMISession, a: Action) -> str | None:
    pbx = s.pbx
    req = OriginateRequest.from_fields(a.get, a.get_all)
    req.recorded = req.record(pbx.clock.now())
    pbx.record_originate(req.recorded)
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


@action("Hangup", "system", "call")
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
        s.pbx.note_hangup_action(ch, cause)
        ch.hangup_cause = cause
        s.pbx.soft_hangup(ch, SOFT_EXPLICIT)
    s.respond(
        a,
        "Success",
        [("Message", "Channel Hungup") if len(targets) == 1 else ("Message", f"{len(targets)} channels hungup.")],
    )
    return None


@action("CoreSettings", "system", "reporting")
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


@action("CoreStatus", "system", "reporting")
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
    # action_listcommands lists only the actions the user may send.
    s.respond(a, "Success", [(name, name) for name in sorted(NAMES) if allowed(s, name)])
    return None


def _register_all() -> None:
    # The query and AstDB actions live in their own modules; importing them registers their handlers.
    from . import ami_database, ami_queries  # noqa: F401


_register_all()
