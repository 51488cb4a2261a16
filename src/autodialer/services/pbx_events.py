"""The port for the MikoPBX ``AutoDialer`` UserEvents that the 1C telephony panel listens to.

MikoPBX's dialplan sends ``UserEvent(AutoDialer, dEvent: StartDial, OUT_NUMBER: …, TASK_ID: …)`` when a call starts
and ``dEvent: EndCall`` with ``DIAL_STATUS`` when it ends; since we place the calls, the engine sends them through
this port (the PBX adapter implements it with AMI ``Action: UserEvent``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

AUTODIALER_EVENT = "AutoDialer"


class UserEventSink(Protocol):
    async def user_event(self, name: str, fields: Mapping[str, str]) -> None:
        """Send ``UserEvent: name`` with ``fields`` as headers. Raises ConnectionError while the PBX is down."""
        ...


def start_dial_fields(phone: str, task_id: int) -> dict[str, str]:
    return {"dEvent": "StartDial", "OUT_NUMBER": phone, "TASK_ID": str(task_id)}


def end_call_fields(phone: str, task_id: int, dial_status: str) -> dict[str, str]:
    return {"dEvent": "EndCall", "OUT_NUMBER": phone, "TASK_ID": str(task_id), "DIAL_STATUS": dial_status}
