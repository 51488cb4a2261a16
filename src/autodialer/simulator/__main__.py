"""`python -m autodialer.simulator`: run the PBX simulator standalone (the CLI's `autodialer sim` does the same)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from .config import SimulatorConfig
from .simulator import run_simulator


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    p = argparse.ArgumentParser(prog="python -m autodialer.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--agi-host", default=None, help="send AGI() here instead of the dialplan's host")
    p.add_argument("--agi-port", type=int, default=None)
    p.add_argument("--dialplan", type=Path, default=None, help="extensions.conf to use instead of the lab's")
    p.add_argument("--scenario", type=Path, default=None, help="JSON behaviour of customers and employees")
    p.add_argument("--time-scale", type=float, default=1.0, help="real seconds per simulated second")
    p.add_argument("--control-port", type=int, default=None, help="JSON control endpoint port (off by default)")
    p.add_argument("--originate-rate", type=float, default=None, help="cap originates/s (real Asterisk: ~850)")
    p.add_argument("--ami-read", default="all", help='the AMI user\'s manager.conf read= classes ("all")')
    p.add_argument("--ami-write", default="all", help='the AMI user\'s manager.conf write= classes ("all")')
    a = p.parse_args(argv)
    return SimulatorConfig(
        host=a.host,
        ami_port=a.ami_port,
        agi_host=a.agi_host,
        agi_port=a.agi_port,
        dialplan_path=a.dialplan,
        scenario_path=a.scenario,
        time_scale=a.time_scale,
        control_http_port=a.control_port,
        originate_rate=a.originate_rate,
        read_classes=a.ami_read,
        write_classes=a.ami_write,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(parse_args(argv)))


if __name__ == "__main__":
    main()
