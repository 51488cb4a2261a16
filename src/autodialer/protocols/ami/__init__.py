"""Sans-IO Asterisk Manager Interface (AMI): bytes in, typed items out; items in, bytes out.

Stdlib only, no asyncio, no clock. ``AMIConnection`` is the state machine (client or server role), ``messages``
holds the immutable data types, ``framing`` the wire rules, ``correlation`` ActionID and list folding. Errors:
``AMIProtocolError`` (a ``ValueError``) for anything that is not valid AMI, in either direction.
"""

from autodialer.protocols.ami.connection import AMIConnection, Item, Role
from autodialer.protocols.ami.correlation import (
    LIST_ACTIONS,
    ActionIdSequence,
    is_list_action,
    is_list_complete,
    is_list_start,
)
from autodialer.protocols.ami.errors import AMIProtocolError
from autodialer.protocols.ami.framing import DEFAULT_MAX_MESSAGE_SIZE, encode_fields
from autodialer.protocols.ami.messages import (
    NEED_DATA,
    Action,
    Banner,
    ConnectionClosed,
    Event,
    ListResult,
    Message,
    NeedData,
    Response,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "LIST_ACTIONS",
    "NEED_DATA",
    "AMIConnection",
    "AMIProtocolError",
    "Action",
    "ActionIdSequence",
    "Banner",
    "ConnectionClosed",
    "Event",
    "Item",
    "ListResult",
    "Message",
    "NeedData",
    "Response",
    "Role",
    "encode_fields",
    "is_list_action",
    "is_list_complete",
    "is_list_start",
]
