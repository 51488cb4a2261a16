"""``python -m autodialer.api_worker``: the API worker process ``autodialer serve`` starts (api_workers = 1).

Not a command for people: the dialer process (bootstrap_processes) starts it with its sockets, its pid and a pipe,
and writes its settings as JSON on its stdin. The worker dies with that parent (adapters/process/parent_death),
lowers its own CPU priority, then serves the public REST API until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Before anything heavy: the parent may die while this process imports (parent_death).
from autodialer.adapters.process.parent_death import die_with_parent

log = logging.getLogger("autodialer.api_worker")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autodialer.api_worker")
    parser.add_argument("--dialer-socket", type=Path, required=True)
    parser.add_argument("--wake-socket", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid)
    from autodialer import log_config
    from autodialer.bootstrap_processes import API_WORKER_NICENESS, API_WORKER_SWITCH_INTERVAL_S, run_api_worker
    from autodialer.process_signals import until_stopped
    from autodialer.settings import Settings

    settings = Settings.model_validate_json(sys.stdin.buffer.read())
    log_config.configure(
        verbose=args.verbose, wire_trace=settings.ami_trace, levels=log_config.parse_levels(settings.log_levels)
    )
    try:
        os.nice(API_WORKER_NICENESS)
    except OSError as e:  # not allowed here: the worker still serves, at the dialer's priority
        log.warning("could not lower the API worker's CPU priority: %s", e)
    sys.setswitchinterval(API_WORKER_SWITCH_INTERVAL_S)
    log.info("API worker (pid %d, nice %d) for the dialer process %d", os.getpid(), os.nice(0), args.parent_pid)
    run = run_api_worker(settings, args.dialer_socket, args.wake_socket, args.parent_pid, args.ready_fd)
    asyncio.run(until_stopped(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
