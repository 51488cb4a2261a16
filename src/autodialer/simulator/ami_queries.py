"""AMI query actions: channel, extension, device, queue and endpoint listings (trace 01 shapes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autodialer.protocols.ami import Action

from .ami_actions import action, list_end, list_start
from .devices import extension_status_fields

if TYPE_CHECKING:
    from .ami_server import AMISession


@action("CoreShowChannels", "system", "reporting")
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
                ("Application", ch.app),
                ("ApplicationData", ch.app_data),
                ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
            ],
            a.action_id,
        )
    list_end(s, a, "CoreShowChannelsComplete", len(chans))
    return None


@action("ExtensionStateList", "call", "reporting")
async def extension_state_list(s: AMISession, a: Action) -> str | None:
    list_start(s, a, "Extension Statuses will follow")
    hints = list(reversed(s.pbx.dialplan.hints()))  # Asterisk walks its hint container newest-first
    for ctx, exten, device in hints:
        s.send_event(
            "ExtensionStatus", extension_status_fields(ctx, exten, device, s.pbx.devices.get(device)), a.action_id
        )
    list_end(s, a, "ExtensionStateListComplete", len(hints))
    return None


@action("ExtensionState", "call", "reporting")
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
    s.respond(
        a,
        "Success",
        [("Message", "Extension Status"), *extension_status_fields(ctx, exten, hint, s.pbx.devices.get(hint))],
    )
    return None


@action("DeviceStateList", "call", "reporting")
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
                ("Strategy", q.config.strategy),
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
        for position, ch in enumerate(q.callers, start=1):  # callers waiting (app_queue: no Linkedid here)
            s.send_event("QueueEntry", queues.entry_fields(q, ch, position), a.action_id, id_last=True)
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


@action("QueuePause", "agent")
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


@action("PJSIPShowEndpoints", "system")
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
        active = len(s.pbx.channels.on_device(device))
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


@action("ShowDialPlan", "config", "reporting")
async def show_dial_plan(s: AMISession, a: Action) -> str | None:
    """pbx.c manager_show_dialplan: one ListDialplan per priority (the hint as ``Priority: hint`` with the device as
    its Application), optionally one context and one extension; an unknown one is an error, not an empty list."""
    dialplan = s.pbx.dialplan
    want_context, want_exten = a.get("Context") or "", a.get("Extension") or ""
    contexts = [c for c in dialplan.contexts.values() if not want_context or c.name == want_context]
    if want_context and not contexts:
        s.respond(a, "Error", [("Message", f"Did not find context {want_context}")])
        return None
    items: list[list[tuple[str, str]]] = []
    listed_contexts, extensions = 0, 0
    for context in contexts:
        # Asterisk keeps a context's extensions sorted, plain names before patterns.
        chosen = sorted(
            (e for e in context.extensions.values() if not want_exten or dialplan.matches(e.pattern, want_exten)),
            key=lambda e: (e.pattern.startswith("_"), e.pattern),
        )
        listed_contexts += 1 if chosen or not want_exten else 0
        for ext in chosen:
            extensions += 1
            head = [("Context", context.name), ("Extension", ext.pattern)]
            if ext.hint is not None:
                items.append([*head, ("Priority", "hint"), ("Application", ext.hint)])
            labels = {number: label for label, number in ext.labels.items()}
            for number, step in sorted(ext.steps.items()):
                label = [("ExtensionLabel", labels[number])] if number in labels else []
                items.append(
                    [*head, *label, ("Priority", str(number)), ("Application", step.app), ("AppData", step.data)]
                )
    if want_exten and not extensions:
        where = f"{want_exten}@{want_context}" if want_context else want_exten
        s.respond(a, "Error", [("Message", f"Did not find extension {where}")])
        return None
    list_start(s, a, "DialPlan list will follow")
    for fields in items:
        s.send_event("ListDialplan", [*fields, ("Registrar", "pbx_config")], a.action_id)
    s.send_event(
        "ShowDialPlanComplete",
        [
            ("EventList", "Complete"),
            ("ListItems", str(len(items))),
            ("ListExtensions", str(extensions)),
            ("ListPriorities", str(len(items))),
            ("ListContexts", str(listed_contexts)),
        ],
        a.action_id,
    )
    return None
