"""``EventRoutes``: which ``on_event`` callbacks an AMI event goes to, decided once per event name.

A loaded dialer receives ~60 events per call and each consumer reads a handful of names (call tracking 9,
availability ~25), so handing every event to every consumer and letting each one look the name up and drop it
cost more than the reading itself. A consumer registers with the names it reads (``None``: every event); the
first event of a name builds the tuple of interested callbacks, in registration order, and every later event of
that name costs one dict lookup.

Names match case-insensitively, as the consumers' own handler tables do (availability lower-cases what it
receives). Names excluded by the client (filters Asterisk refused, applied here) route to nobody. Any change of
the registrations or exclusions drops the cached routes; so does a cache that grew past ``_MAX_ROUTES`` names (a
peer that invents names must not grow it without bound).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from autodialer.protocols.ami import Event

EventCallback = Callable[[Event], None]
_MAX_ROUTES = 1024


class EventRoutes:
    def __init__(self) -> None:
        self._registered: list[tuple[EventCallback, frozenset[str] | None]] = []
        self._excluded: frozenset[str] = frozenset()
        self._routes: dict[str, tuple[EventCallback, ...]] = {}

    def add(self, callback: EventCallback, names: Iterable[str] | None = None) -> Callable[[], None]:
        """Route the events named ``names`` (every event when None) to ``callback``; returns its remover."""
        entry = (callback, None if names is None else frozenset(n.lower() for n in names))
        self._registered.append(entry)
        self._routes.clear()

        def remove() -> None:
            if entry in self._registered:
                self._registered.remove(entry)
                self._routes.clear()

        return remove

    def exclude(self, names: frozenset[str]) -> None:
        """Route the events named exactly ``names`` to nobody (replaces the previous exclusions)."""
        self._excluded = names
        self._routes.clear()

    def targets(self, name: str) -> tuple[EventCallback, ...]:
        """The callbacks for an event called ``name``, in registration order."""
        route = self._routes.get(name)
        if route is None:
            route = self._route(name)
        return route

    def _route(self, name: str) -> tuple[EventCallback, ...]:
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        key = name.lower()
        route: tuple[EventCallback, ...] = ()
        if name not in self._excluded:
            route = tuple(cb for cb, names in self._registered if names is None or key in names)
        self._routes[name] = route
        return route
