"""AMI ``UserEvent`` sender: the production UserEventSink (MikoPBX ``AutoDialer`` StartDial/EndCall events).

Field values come from our own rows (numbers, task ids, DIALSTATUS); the protocol layer still refuses CR/LF, so a
stray control character fails this one event instead of injecting headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from autodialer.protocols.ami import Action, Response


class _ActionSender(Protocol):
    async def send(self, action: Action, *, timeout: float | None = None) -> object: ...


class AmiUserEventSink:
    def __init__(self, ami: _ActionSender, timeout: float = 5.0) -> None:
        self._ami = ami
        self._timeout = timeout

    async def user_event(self, name: str, fields: Mapping[str, str]) -> None:
        """Send the event; every failure is a ConnectionError, as the port promises (lose the notice, not the call)."""
        try:
            action = Action.build("UserEvent", [("UserEvent", name), *fields.items()])
            reply = await self._ami.send(action, timeout=self._timeout)
        except (TimeoutError, ValueError) as e:
            raise ConnectionError(f"UserEvent {name} not sent: {e}") from e
        if isinstance(reply, Response) and reply.status != "Success":
            raise ConnectionError(f"UserEvent {name} refused: {reply.get('Message')}")
