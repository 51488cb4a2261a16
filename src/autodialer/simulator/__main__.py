"""`python -m autodialer.simulator`: the PBX simulator on the recorded lab's dialplan (only _555XXXX routes).

Users run `autodialer sim`, which takes the same flags but runs the product's own dialplan snippet by default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from .config import SimulatorConfig
from .options import HelpFormatter, add_arguments, config_from_args, scenario_from_args
from .scenario import ScenarioError
from .simulator import run_simulator, tune_gc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autodialer.simulator",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    add_arguments(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    return config_from_args(build_parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        scenario = scenario_from_args(args)
    except ScenarioError as e:
        print(f"python -m autodialer.simulator: error: {e}", file=sys.stderr)
        return 2
    tune_gc()  # this process is the simulator's
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(config_from_args(args), scenario))
    return 0


if __name__ == "__main__":
    sys.exit(main())
