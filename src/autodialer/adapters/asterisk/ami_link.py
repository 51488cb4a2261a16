"""What the availability tracker and the PBX gateway need from the AMI client, as a Protocol.

Kept this narrow so the two can be tested against a tiny fake and so the client (adapters/asterisk/ami_client.py)
can change shape without touching them: send one action and await its response, or a list action and await the
whole folded list. Both raise ``ConnectionError`` when the link is down or drops before the answer arrives.
"""

from __future__ import annotations

from typing import Protocol

from autodialer.protocols.ami import Action, ListResult, Response


class AMILink(Protocol):
    def is_connected(self) -> bool:
        """True while logged in."""
        ...

    async def send_action(self, action: Action) -> Response:
        """Send ``action`` and return the response that echoes its ActionID."""
        ...

    async def send_list_action(self, action: Action) -> ListResult:
        """Send a list action (EventList) and return its response with every item, after the ``…Complete`` event.
        An ``Error`` response comes back as a ListResult with no items."""
        ...
