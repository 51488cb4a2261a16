"""The ``autodialer`` command: serve, migrate, sim, demo and admin tasks. Thin: parses flags, calls bootstrap."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from autodialer import cli_admin
from autodialer.settings import load_settings


def _serve(args: argparse.Namespace) -> int:
    from autodialer.bootstrap import run_service

    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["http_port"] = args.port
    if args.host is not None:
        overrides["http_host"] = args.host
    asyncio.run(run_service(load_settings(**overrides)))
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from autodialer.bootstrap import run_migrations

    asyncio.run(run_migrations(load_settings()))
    print("database is at the current schema")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from autodialer.simulator.__main__ import parse_args
    from autodialer.simulator.simulator import run_simulator

    asyncio.run(run_simulator(parse_args(args.sim_args)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autodialer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the REST API (and the dialer when a PBX is configured)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="bring the database to the current schema")
    migrate.set_defaults(handler=_migrate)

    sim = commands.add_parser(
        "sim", help="run the PBX simulator (AMI + FastAGI caller); flags as `python -m autodialer.simulator -h`"
    )
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    sim.set_defaults(handler=_sim)

    cli_admin.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
