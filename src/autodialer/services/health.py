"""Readiness: whether the database answers (a trivial query with a timeout), for GET /status.

The PBX side's snapshot comes from the composition root (api.status.PbxStatus); the database is asked through the
:class:`DatabasePing` port. Any failure is reported, never raised: the endpoint must answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

DB_TIMEOUT_S = 3.0


class DatabasePing(Protocol):
    @property
    def backend(self) -> str:
        """The database kind (``sqlite``, ``postgresql``)."""
        ...

    async def ping(self) -> None:
        """Raise unless the database answers."""
        ...


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    backend: str
    ok: bool
    error: str | None


class HealthCheck:
    def __init__(self, database: DatabasePing, timeout_s: float = DB_TIMEOUT_S) -> None:
        self._database = database
        self._timeout_s = timeout_s

    async def database(self) -> DatabaseHealth:
        backend = self._database.backend
        try:
            await asyncio.wait_for(self._database.ping(), self._timeout_s)
        except TimeoutError:
            return DatabaseHealth(backend, False, f"no answer within {self._timeout_s:g} s")
        except Exception as e:  # any driver error: report it
            return DatabaseHealth(backend, False, f"{type(e).__name__}: {e}".splitlines()[0][:300])
        return DatabaseHealth(backend, True, None)
