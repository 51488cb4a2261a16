"""How the long-running commands (serve, sim, demo) stop: SIGTERM and SIGINT both end them cleanly.

systemd, ``docker stop`` and ``kill`` send SIGTERM, whose default kills the process where it stands (no AMI Logoff,
calls' sockets cut). :func:`until_stopped` runs the command's coroutine and, on SIGTERM or SIGINT, cancels it so its
``finally`` blocks run (the service stops the dialer, then HTTP); the command then exits 0. It also works when a
script started us in the background, where the shell ignores SIGINT. uvicorn's own signal capture is off
(bootstrap): two handlers racing would cancel the cleanup itself.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def until_stopped(main: Coroutine[Any, Any, Any]) -> None:
    """Await ``main``; a SIGTERM or SIGINT cancels it, and that counts as a normal end."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    stopping: list[int] = []

    def stop(signum: int) -> None:
        if not stopping:  # a second signal while cleaning up must not cut the cleanup short
            stopping.append(signum)
            task.cancel()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        await task
    except asyncio.CancelledError:
        if not stopping:
            raise
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)
