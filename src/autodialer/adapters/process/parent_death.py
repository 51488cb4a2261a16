"""The API worker dies with the dialer process that started it.

After ``kill -9`` of ``autodialer serve`` (the dialer process) nothing may keep the public port: a restart binds
it at once (the crash-recovery tests and fault benchmarks do exactly that). On Linux the kernel kills the worker
when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the worker holds nothing that needs a clean end, the
database rolls back what it had not committed, as it does for a killed single-process service). Elsewhere, and as a
second line on Linux, the worker watches its parent pid and ends itself when it changes (reparented to init).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies; exit now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


async def parent_gone(parent_pid: int, interval_s: float = 0.5) -> None:
    """Return once this process's parent is no longer ``parent_pid``."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(interval_s)
    log.error("the dialer process %d is gone: the API worker stops", parent_pid)
