"""The one exception of the AMI protocol layer.

``AMIProtocolError`` covers both directions: bytes from the peer that do not form valid AMI (after which the
connection is unusable and should be closed), and items we were asked to encode that cannot be put on the wire
safely (a CR, LF or NUL in a key or value would let a value inject extra headers or end the message early).
It subclasses ``ValueError`` so callers that validate input generically still catch it.
"""

from __future__ import annotations


class AMIProtocolError(ValueError):
    """Invalid AMI: unparseable input from the peer, or an item that cannot be encoded safely."""
