"""AvailabilityView over AMI: the pure AvailabilityState plus the connection lifecycle and the re-sync queries.

Invariants: while the link is down or a re-sync is running, ``is_connected()`` is False and nothing is free. Every
(re)connect clears the state and asks Asterisk again for everything (hints, device states, PJSIP endpoints, queues,
queue names, the MikoPBX DND family), because events missed while disconnected are gone for good. Events that arrive
during the re-sync are applied as they come; a list snapshot that completes later may briefly hold an older value,
which the next state event corrects (Asterisk sends one per change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from autodialer.adapters.asterisk import availability_state
from autodialer.adapters.asterisk.ami_link import AMILink
from autodialer.adapters.asterisk.availability_state import DND_FAMILY, AvailabilityState
from autodialer.domain.live_state import AgentFacts
from autodialer.protocols.ami import Action, Event, ListResult
from autodialer.services.ports import QueueLoad

log = logging.getLogger(__name__)


def resync_queries(internal_context: str = "internal") -> tuple[Action, ...]:
    """The list actions sent on every (re)connect, in this order. DeviceStateList before PJSIPShowEndpoints so that
    the endpoint list (which also knows "Unavailable" endpoints without contacts) has the last word for PJSIP devices;
    ShowDialPlan of the internal context maps queue numbers to app_queue names."""
    return (
        Action.build("ExtensionStateList"),
        Action.build("DeviceStateList"),
        Action.build("PJSIPShowEndpoints"),
        Action.build("QueueStatus"),
        Action.build("ShowDialPlan", [("Context", internal_context)]),
        Action.build("DBGetTree", [("Family", DND_FAMILY)]),
    )


class AvailabilityTracker:
    """Implements services.ports.AvailabilityView. Feed it the AMI events named in ``EVENT_NAMES`` with
    ``handle_event`` (any other event changes nothing)."""

    EVENT_NAMES = availability_state.EVENT_NAMES | {"shutdown"}

    def __init__(self, internal_context: str = "internal") -> None:
        self._queries = resync_queries(internal_context)
        self._state = AvailabilityState()
        self._connected = False
        self._callbacks: list[Callable[[], None]] = []
        self._resync_generation = 0

    # ---- AvailabilityView

    def free_agents(self, inner_num: str) -> frozenset[str]:
        if not self._connected:
            return frozenset()
        return self._state.free_agents(inner_num)

    def queue_load(self, inner_num: str) -> QueueLoad | None:
        return self._state.queue_load(inner_num)

    def is_connected(self) -> bool:
        return self._connected

    # ---- services.ports.AgentRoster (the wallboard)

    def agents(self) -> list[AgentFacts]:
        """Every agent and its state as the PBX reports it; none while the link is down or re-syncing."""
        return self._state.agents() if self._connected else []

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    # ---- fed by the AMI client

    def handle_event(self, item: Event | ListResult) -> None:
        """Apply one unsolicited event (or a list result someone else asked for)."""
        if isinstance(item, Event) and item.name == "Shutdown":
            # really_quit: Asterisk is going away (EOF follows); nothing is free from now on, not after the EOF.
            self.disconnected()
            return
        if self._state.apply(item) and self._connected:
            self._notify()

    def disconnected(self) -> None:
        """The link dropped: nothing is known to be free until the next re-sync completes."""
        self._resync_generation += 1
        was_connected = self._connected
        self._connected = False
        self._state.clear()
        if was_connected:
            log.info("availability: PBX link down, no agent counts as free")
            self._notify()

    async def resync(self, ami: AMILink) -> None:
        """Rebuild the state from list queries; call after every successful login.

        A list that Asterisk refuses (e.g. QueueStatus without app_queue) just leaves that fact unknown. If the link
        drops meanwhile, the ConnectionError propagates and the tracker stays disconnected.
        """
        self._resync_generation += 1
        generation = self._resync_generation
        self._connected = False
        self._state.clear()
        for query in self._queries:
            result = await ami.send_list_action(query)
            if generation != self._resync_generation:
                return  # a disconnect or a newer re-sync took over
            if result.response.status != "Success":
                log.warning("availability: %s refused: %s", query.name, result.response.get("Message"))
                continue
            self._state.apply(result)
        self._connected = True
        log.info("availability: re-synced from the PBX")
        self._notify()

    def _notify(self) -> None:
        for callback in list(self._callbacks):
            callback()
