"""Dialplan generated from the configuration, so a topology other than the lab's needs no extensions.conf.

Adds what the loaded dialplan lacks: a hint and `Dial(PJSIP/<ext>,20)` for each configured employee, a
`Queue()` extension per configured queue, and the production dialer contexts under the configured names
(outgoing: Dial the customer through the trunk; connect: hand the answered customer to our FastAGI server).
"""

from __future__ import annotations

from .config import SimulatorConfig
from .dialplan import Dialplan

AGI_URL = "agi://127.0.0.1:4573/connect"


def complete(dialplan: Dialplan, config: SimulatorConfig) -> None:
    lines: list[str] = []
    internal = config.internal_context
    ctx = dialplan.contexts.get(internal)
    known = set(ctx.extensions) if ctx else set()
    for emp in config.employees:
        if emp.exten not in known:
            lines += [
                f"exten => {emp.exten},hint,PJSIP/{emp.exten}",
                f"exten => {emp.exten},1,NoOp(internal call to {emp.exten})",
                f" same => n,Dial(PJSIP/{emp.exten},20)",
                " same => n,Hangup()",
            ]
    for queue in config.queues:
        if queue.name not in known:
            lines += [
                f"exten => {queue.name},1,NoOp(queue {queue.name})",
                f" same => n,Queue({queue.name},,,,30)",
                " same => n,Hangup()",
            ]
    if lines:
        dialplan.load("\n".join([f"[{internal}]", *lines]))
    if config.outgoing_context not in dialplan.contexts:
        dialplan.load(
            f"[{config.outgoing_context}]\n"
            "exten => _X.,1,NoOp(dialer-out ${EXTEN} campaign=${CAMPAIGN_ID})\n"
            f" same => n,Dial(PJSIP/${{EXTEN}}@{config.trunk_endpoint},60)\n"
            " same => n,Hangup()\n"
        )
    if config.connect_context not in dialplan.contexts:
        dialplan.load(
            f"[{config.connect_context}]\n"
            "exten => _X.,1,NoOp(customer answered, connect to ${EXTEN} mode=${DIALER_MODE})\n"
            f" same => n,AGI({AGI_URL},${{EXTEN}},${{DIALER_MODE}})\n"
            " same => n,Hangup()\n"
        )
