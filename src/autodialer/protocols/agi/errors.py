"""The one exception of the AGI protocol layer.

Whatever bytes arrive, :class:`~autodialer.protocols.agi.AGIConnection` either produces events or raises
:class:`AGIProtocolError`; building something that cannot go on the wire (a CR/LF in an argument, a result
sent with no command to answer) raises it too. After a receive-side error the connection is unusable.
"""

from __future__ import annotations


class AGIProtocolError(ValueError):
    """The peer broke the AGI framing, or we were asked to send something AGI cannot carry."""
