"""Sans-IO FastAGI protocol (stdlib only): bytes in, typed events out; typed items in, bytes out.

Usage, server side::

    conn = AGIConnection(Role.SERVER)
    conn.receive_data(chunk)            # b"" when the peer closed
    for event in conn.events():         # Environment, CommandResult, HangupNotice, ConnectionClosed
        ...
    sock.send(conn.send(Command.build("STREAM FILE", "prompt", "#")))

The simulator uses ``Role.ASTERISK``: it receives ``Command`` events (split with Asterisk's own quoting
rules) and sends ``Environment``, ``CommandResult`` and ``HangupNotice``. Every framing violation raises
:class:`AGIProtocolError` (a ValueError); see ``connection.py`` for the invariants.
"""

from autodialer.protocols.agi.arguments import (
    MAX_KEPT_ARGS,
    join_arguments,
    quote_argument,
    split_arguments,
)
from autodialer.protocols.agi.command import Command, encode_command
from autodialer.protocols.agi.connection import AGIConnection, Role
from autodialer.protocols.agi.environment import Environment
from autodialer.protocols.agi.errors import AGIProtocolError
from autodialer.protocols.agi.events import NEED_DATA, ConnectionClosed, Event, HangupNotice, NeedData
from autodialer.protocols.agi.results import (
    DEAD_CHANNEL,
    INVALID_COMMAND,
    SUCCESS,
    USAGE,
    CommandResult,
    parse_result_line,
)
from autodialer.protocols.agi.transcript import (
    ASTERISK_TO_SERVER,
    SERVER_TO_ASTERISK,
    TranscriptSession,
    parse_transcript,
)

__all__ = [
    "ASTERISK_TO_SERVER",
    "DEAD_CHANNEL",
    "INVALID_COMMAND",
    "MAX_KEPT_ARGS",
    "NEED_DATA",
    "SERVER_TO_ASTERISK",
    "SUCCESS",
    "USAGE",
    "AGIConnection",
    "AGIProtocolError",
    "Command",
    "CommandResult",
    "ConnectionClosed",
    "Environment",
    "Event",
    "HangupNotice",
    "NeedData",
    "Role",
    "TranscriptSession",
    "encode_command",
    "join_arguments",
    "parse_result_line",
    "parse_transcript",
    "quote_argument",
    "split_arguments",
]
