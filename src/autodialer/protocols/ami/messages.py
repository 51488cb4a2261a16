"""AMI messages as plain immutable data: what the parser produces and the encoder consumes.

A message is an ordered tuple of ``(key, value)`` pairs in wire order. Keys may repeat (``Variable:`` on an
Originate, ``ChanVariable:``), so the tuple is the truth and lookups are helpers on top of it: ``get`` is
case-insensitive (Asterisk matches header names with ``strncasecmp``) and returns the first occurrence.

The kind of a message (``Action``/``Response``/``Event``) is its class; its name (``Action: Originate``,
``Response: Success``, ``Event: Hangup``) is still one of its fields, so ``fields`` alone encodes it losslessly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Message:
    """Base of Action, Response and Event: the fields in wire order, repeated keys kept."""

    fields: tuple[tuple[str, str], ...]
    # Lookup tables built on the first ``get`` (first occurrence of each key as spelt, then of each lower-cased
    # key): the service looks a dozen fields up per event, many of them absent (Linkedid of a DeviceStateChange),
    # and a scan per lookup, two with lower() per field on a miss, was the largest item of its event handling.
    _exact: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _folded: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def get(self, key: str, default: str | None = None) -> str | None:
        """Value of the first field named ``key`` (case-insensitive), or ``default`` when there is none.

        A field spelt exactly as ``key`` wins over an earlier one that differs in case (Asterisk spells its
        headers one way; a repeated key in another case is a peer's oddity)."""
        exact = self._exact
        if exact is None:
            exact = dict(reversed(self.fields))  # the first occurrence is written last, so it stays
            _set_exact(self, exact)
        value = exact.get(key)
        if value is not None:
            return value
        folded = self._folded
        if folded is None:
            folded = {k.lower(): v for k, v in reversed(self.fields)}
            _set_folded(self, folded)
        value = folded.get(key.lower())
        return default if value is None else value

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (case-insensitive), in wire order; ``[]`` when absent."""
        wanted = key.lower()
        return [v for k, v in self.fields if k.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


def _build_fields(
    head: tuple[str, str], fields: Iterable[tuple[str, str]], action_id: str | None
) -> tuple[tuple[str, str], ...]:
    # Asterisk writes the kind line first and the echoed ActionID right after it (see the traces).
    out = [head]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend((str(k), str(v)) for k, v in fields)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Action(Message):
    """A request from the client. ``name`` is the ``Action:`` value ("" if the header is missing)."""

    @property
    def name(self) -> str:
        return self.get("Action") or ""

    @classmethod
    def build(cls, name: str, fields: Iterable[tuple[str, str]] = (), *, action_id: str | None = None) -> Action:
        """``Action: name``, then ``ActionID`` when given, then ``fields`` in order (repeats allowed)."""
        return cls(_build_fields(("Action", name), fields, action_id))


@dataclass(frozen=True, slots=True)
class Response(Message):
    """The server's answer to one Action.

    ``status`` is the ``Response:`` value: Success, Error, Goodbye, or Follows (the legacy ``Command`` output
    format, whose free-text lines up to ``--END COMMAND--`` are kept in ``output``).
    """

    output: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.get("Response") or ""

    @property
    def message(self) -> str | None:
        return self.get("Message")

    @property
    def is_success(self) -> bool:
        return self.status.lower() in ("success", "follows")

    @classmethod
    def build(
        cls,
        status: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        action_id: str | None = None,
        output: Iterable[str] = (),
    ) -> Response:
        """``Response: status``, then ``ActionID`` when given, then ``fields``; ``output`` only for Follows."""
        return cls(_build_fields(("Response", status), fields, action_id), tuple(output))


@dataclass(frozen=True, slots=True)
class Event(Message):
    """An event from the server; ``name`` is the ``Event:`` value. List items carry their action's ActionID."""

    @property
    def name(self) -> str:
        # Asterisk writes "Event:" first (and the parser keeps wire order): the service asks ~9 times per event.
        fields = self.fields
        if fields and fields[0][0] == "Event":
            return fields[0][1]
        return self.get("Event") or ""

    @classmethod
    def build(cls, name: str, fields: Iterable[tuple[str, str]] = (), *, action_id: str | None = None) -> Event:
        """``Event: name``, then ``ActionID`` when given, then ``fields`` in order."""
        return cls(_build_fields(("Event", name), fields, action_id))


_new_object = object.__new__
# The slots, set as the frozen dataclass's __init__ sets them.
_set_fields = Message.__dict__["fields"].__set__
_set_exact = Message.__dict__["_exact"].__set__
_set_folded = Message.__dict__["_folded"].__set__


def parsed_event(fields: tuple[tuple[str, str], ...]) -> Event:
    """``Event(fields)`` for the parser's hot path (one per message): the same object, without the generated
    ``__init__`` call, which costs as much as the rest of classifying a message."""
    event = _new_object(Event)
    _set_fields(event, fields)
    _set_exact(event, None)
    _set_folded(event, None)
    return event


DEFAULT_PRODUCT = "Asterisk Call Manager"


@dataclass(frozen=True)
class Banner:
    """The greeting line ``Asterisk Call Manager/11.0.0\\r\\n`` (one line, no blank line after it)."""

    version: str
    product: str = DEFAULT_PRODUCT


@dataclass(frozen=True)
class ListResult:
    """A folded list action: its Response, the item events, and the closing ``…Complete`` event.

    ``complete`` is None when the action did not start a list (an ``Error`` response, or a success without
    ``EventList: start``; ``items`` is then empty), or when a started list was ended by a second Response (then
    ``response`` is that one, e.g. ShowDialPlan's ``Error``, and ``items`` holds what came before it).
    """

    response: Response
    items: tuple[Event, ...]
    complete: Event | None

    @property
    def action_id(self) -> str | None:
        return self.response.action_id


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed the connection (EOF) cleanly, between messages."""


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Literal[_Sentinel.NEED_DATA] = _Sentinel.NEED_DATA
"""Returned by ``next_event`` when more bytes are needed before anything else can be produced."""

NeedData = Literal[_Sentinel.NEED_DATA]
