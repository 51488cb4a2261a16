"""Opt-in AMI wire trace: one DEBUG line per message on logger ``autodialer.ami.wire``, secrets redacted.

Traced from the parsed messages rather than raw bytes so that redaction cannot miss a header split across reads.
Redacted: ``Secret`` (plain login) and ``Key`` of a ``Login`` (the MD5 challenge answer). Off unless the client is
built with ``trace=True`` *and* the logger is enabled for DEBUG, so the hot path pays one boolean test.
"""

from __future__ import annotations

import logging

from autodialer.protocols.ami import Action, Banner, Event, ListResult, Message, Response

wire_log = logging.getLogger("autodialer.ami.wire")

REDACTED = "***"
_SECRET_KEYS = frozenset({"secret"})


def redacted_fields(message: Message) -> list[tuple[str, str]]:
    login = isinstance(message, Action) and message.name.lower() == "login"
    return [
        (k, REDACTED if k.lower() in _SECRET_KEYS or (login and k.lower() == "key") else v) for k, v in message.fields
    ]


def render(item: Banner | Message | ListResult) -> str:
    """One line: ``Key: Value | Key: Value …``; a ListResult shows its response, item count and completion."""
    if isinstance(item, Banner):
        return f"{item.product}/{item.version}"
    if isinstance(item, ListResult):
        complete = item.complete.name if item.complete else "-"
        return f"{render(item.response)} || {len(item.items)} items || {complete}"
    return " | ".join(f"{k}: {v}" for k, v in redacted_fields(item))


class WireTrace:
    """Logs ``C->S`` / ``S->C`` lines when enabled; ``peer`` tells connections apart in the log."""

    def __init__(self, enabled: bool, peer: str) -> None:
        self.enabled = enabled
        self.peer = peer

    def sent(self, action: Action) -> None:
        if self.enabled and wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s C->S %s", self.peer, render(action))

    def received(self, item: Banner | Response | Event | ListResult) -> None:
        if self.enabled and wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s S->C %s", self.peer, render(item))
