"""PbxLinkMonitor: the AMI link as people see it (services.ports.PbxLinkView): connected (logged in and the agents
re-synced), the client's state and since when, the last error. It listens to the AMI client's state changes and the
availability tracker's re-syncs and tells its listeners only when one of those facts changed."""

from __future__ import annotations

from collections.abc import Callable

from autodialer.adapters.asterisk.ami_client import AMIClient
from autodialer.adapters.asterisk.availability import AvailabilityTracker
from autodialer.domain.live_state import PbxLink


class PbxLinkMonitor:
    def __init__(self, ami: AMIClient, availability: AvailabilityTracker, now: Callable[[], float]) -> None:
        self._ami = ami
        self._availability = availability
        self._now = now
        self._callbacks: list[Callable[[], None]] = []
        self._facts = self._current()
        self._since = now()
        ami.on_state_change(self._check)
        availability.on_change(self._check)

    def link(self) -> PbxLink:
        connected, state = self._facts
        error = self._ami.last_error
        return PbxLink(
            connected=connected,
            state=state,
            since=self._since,
            last_error=None if error is None else str(error) or type(error).__name__,
            logins=self._ami.connect_count,
        )

    def on_link_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _current(self) -> tuple[bool, str]:
        return self._availability.is_connected(), self._ami.state.value

    def _check(self) -> None:
        facts = self._current()
        if facts == self._facts:
            return
        self._facts = facts
        self._since = self._now()
        for callback in tuple(self._callbacks):
            callback()
