"""The events an :class:`~autodialer.protocols.agi.AGIConnection` produces and accepts.

SERVER role receives Environment, CommandResult, HangupNotice, ConnectionClosed and sends Command.
ASTERISK role receives Command, ConnectionClosed and sends Environment, CommandResult, HangupNotice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from autodialer.protocols.agi.command import Command
from autodialer.protocols.agi.environment import Environment
from autodialer.protocols.agi.results import CommandResult


@dataclass(frozen=True)
class HangupNotice:
    """The bare ``HANGUP`` line Asterisk sends, asynchronously, when the channel goes away.

    It can come between a command and its result; it answers no command.
    """


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed its side (``receive_data(b"")``). Reported once, after every complete line."""


class NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData.NEED_DATA

Event: TypeAlias = Environment | Command | CommandResult | HangupNotice | ConnectionClosed
