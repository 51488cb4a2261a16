"""``AMIConnection``: the sans-IO AMI state machine for either end of a manager session.

Bytes in with ``receive_data``, typed items out with ``next_event``/``events``, items to bytes with ``send``.
No sockets, no clock, no threads (the h11 shape).

Roles:
* ``Role.CLIENT`` (our dialer): reads a ``Banner`` first, then ``Response``/``Event`` messages; sends ``Action``.
  ``expect_list(action_id)`` folds that action's answer into one ``ListResult`` (see ``correlation``).
* ``Role.SERVER`` (the simulator): reads ``Action`` messages (an action without an ``Action:`` header still comes
  out, with ``name == ""``, so the server can answer ``Error`` as Asterisk does); sends ``Banner`` (first, once),
  ``Response``, ``Event`` and, for convenience, a whole ``ListResult``.

Invariants: arbitrary input bytes produce only items or ``AMIProtocolError``; the items do not depend on how the
input was split; after an ``AMIProtocolError`` the connection stays broken (every later call raises it again).
EOF (``receive_data(b"")``) between messages gives ``ConnectionClosed``, returned by every later ``next_event``;
EOF inside a message is an ``AMIProtocolError`` (a truncated message must not be half-applied).
"""

from __future__ import annotations

import enum
from collections import deque

from autodialer.protocols.ami.correlation import ListFolder
from autodialer.protocols.ami.errors import AMIProtocolError
from autodialer.protocols.ami.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    FollowsMessage,
    Frame,
    FrameReader,
    encode_banner,
    encode_fields,
)
from autodialer.protocols.ami.messages import (
    NEED_DATA,
    Action,
    Banner,
    ConnectionClosed,
    Event,
    ListResult,
    NeedData,
    Response,
    parsed_event,
)

Item = Banner | Action | Response | Event | ListResult | ConnectionClosed


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class AMIConnection:
    """One end of an AMI session. See the module docstring for roles and invariants."""

    def __init__(self, role: Role, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.role = role
        self._reader = FrameReader(expect_banner=role is Role.CLIENT, max_message_size=max_message_size)
        self._folder = ListFolder()
        # Items parsed but not yet handed out by next_event.
        self._items: deque[Banner | Action | Response | Event] = deque()
        self._eof = False
        self._error: AMIProtocolError | None = None
        self._banner_sent = False
        self._sent_any = False

    # ----- receiving

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means EOF. Feeding after EOF is a programming error."""
        if self._eof:
            raise RuntimeError("receive_data after EOF")
        if data:
            self._reader.feed(data)
        else:
            self._eof = True

    def next_event(self) -> Item | NeedData:
        """The next item in arrival order, ``NEED_DATA``, or ``ConnectionClosed`` once EOF has been reached."""
        if self._error is not None:
            raise self._error
        items = self._items
        try:
            while True:
                if not items:
                    items.extend(self._parsed())
                    if not items:
                        break
                item = items.popleft()
                if isinstance(item, (Response, Event)):
                    folded = self._folder.feed(item)
                    if folded is None:
                        continue
                    return folded
                return item
        except AMIProtocolError as e:
            self._error = e
            raise
        return self._at_end()

    def events(self) -> list[Item]:
        """Everything parseable so far, in arrival order; ends with ``ConnectionClosed`` after EOF."""
        if self._error is not None:
            raise self._error
        out: list[Item] = []
        folder = self._folder
        try:
            while True:
                if self._items:
                    batch: list[Banner | Action | Response | Event] = list(self._items)
                    self._items.clear()
                else:
                    batch = self._parsed()
                    if not batch:
                        break
                if not len(folder):
                    out += batch
                    continue
                for item in batch:
                    if isinstance(item, (Response, Event)):
                        folded = folder.feed(item)
                        if folded is not None:
                            out.append(folded)
                    else:
                        out.append(item)
        except AMIProtocolError as e:
            self._error = e
            raise
        end = self._at_end()
        if end is not NEED_DATA:
            out.append(end)
        return out

    def _at_end(self) -> ConnectionClosed | NeedData:
        if not self._eof:
            return NEED_DATA
        if self._reader.buffered:
            self._error = AMIProtocolError(f"connection closed inside a message ({self._reader.buffered} bytes)")
            raise self._error
        return ConnectionClosed()

    def _parsed(self) -> list[Banner | Action | Response | Event]:
        """The frames complete so far, classified (not folded: folding happens as items are handed out)."""
        frames = self._reader.frames()
        if self.role is Role.SERVER:
            return [self._classify(f) for f in frames]
        # Asterisk writes the kind first ("Event: …", "Response: …"); anything else takes the general path.
        classify = self._classify
        return [parsed_event(f) if type(f) is tuple and f[0][0] == "Event" else classify(f) for f in frames]

    def _classify(self, frame: Frame) -> Banner | Action | Response | Event:
        if isinstance(frame, Banner):
            return frame
        fields, output = (frame.fields, frame.output) if isinstance(frame, FollowsMessage) else (frame, ())
        if self.role is Role.SERVER:
            return Action(fields)
        # Asterisk writes the kind first; the fallback matters for OriginateResponse, which also has "Response:".
        first = fields[0][0].lower()
        if first == "event":
            return Event(fields)
        if first == "response":
            return Response(fields, output)
        keys = {k.lower() for k, _ in fields}
        if "event" in keys:
            return Event(fields)
        if "response" in keys:
            return Response(fields, output)
        raise AMIProtocolError(f"message is neither a Response nor an Event: {fields[0]!r}")

    # ----- list folding (client role)

    def expect_list(self, action_id: str) -> None:
        """Fold the answer to ``action_id`` into one ListResult (call it before the response can arrive)."""
        if self.role is not Role.CLIENT:
            raise RuntimeError("expect_list is for the client role")
        self._folder.expect(action_id)

    def cancel_list(self, action_id: str) -> None:
        """Stop folding ``action_id`` (e.g. its caller timed out); later items of it pass through as Events."""
        self._folder.cancel(action_id)

    # ----- sending

    def send(self, item: Action | Banner | Response | Event | ListResult) -> bytes:
        """Encode ``item`` for this role. Raises AMIProtocolError for unsafe content or an item of the wrong role."""
        if self.role is Role.CLIENT:
            if not isinstance(item, Action):
                raise AMIProtocolError(f"a client sends actions, not {type(item).__name__}")
            return encode_fields(item.fields)
        if isinstance(item, Banner):
            if self._sent_any:
                raise AMIProtocolError("the banner must be the first thing a server sends")
            data = encode_banner(item)
        elif isinstance(item, ListResult):
            data = b"".join(self._encode_server_message(m) for m in _list_messages(item))
        elif isinstance(item, (Response, Event)):
            data = self._encode_server_message(item)
        else:
            raise AMIProtocolError(f"a server does not send {type(item).__name__}")
        self._sent_any = True
        return data

    @staticmethod
    def _encode_server_message(message: Response | Event) -> bytes:
        if isinstance(message, Response) and message.status.strip(" \t").lower() == "follows":
            return encode_fields(message.fields, message.output)
        return encode_fields(message.fields)


def _list_messages(result: ListResult) -> list[Response | Event]:
    out: list[Response | Event] = [result.response, *result.items]
    if result.complete is not None:
        out.append(result.complete)
    return out
