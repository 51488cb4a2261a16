"""The ``autodialer`` command: serve, migrate, sim, demo and admin tasks. Thin: parses flags, calls bootstrap."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from autodialer import cli_admin, cli_sim
from autodialer.settings import load_settings
from autodialer.settings_check import SettingsError


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


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autodialer.demo import main as demo_main

    if not args.verbose:  # the live view is the output; -v brings the service's own log back
        logging.getLogger().setLevel(logging.WARNING)
    return demo_main(args.port, Path(args.data_dir), args.time_scale, args.exit_when_done)


def _dialplan(args: argparse.Namespace) -> int:
    from autodialer.dialplan import snippet

    print(snippet(args.flavour, agi_host=args.agi_host, agi_port=args.agi_port), end="")
    return 0


def _settings(_args: argparse.Namespace) -> int:
    from autodialer.settings import Settings
    from autodialer.settings_check import describe_all

    print("Every setting is an environment variable; shown with its default and, unless free text, what it accepts.")
    print("Meanings: src/autodialer/settings.py; deployment: README.md and docs/.")
    for name, rule, default in describe_all(Settings):
        shown = json.dumps(default) if isinstance(default, list | dict) else str(default)
        print(f"{name}={shown}" + ("" if rule == "text" else f"    ({rule})"))
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

    cli_sim.register(commands)

    demo = commands.add_parser("demo", help="run the simulator and the service with a sample campaign, live")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port of the API (default 8080)")
    demo.add_argument("--data-dir", default="var/demo", help="wiped and reused by every demo run")
    demo.add_argument("--time-scale", type=float, default=0.25, help="real seconds per simulated second")
    demo.add_argument("--exit-when-done", action="store_true", help="exit after the final results")
    demo.set_defaults(handler=_demo)

    dialplan = commands.add_parser("dialplan", help="print the static dialplan snippet to install (docs/dialplan.md)")
    flavour = dialplan.add_mutually_exclusive_group()
    flavour.add_argument("--mikopbx", dest="flavour", action="store_const", const="mikopbx")
    flavour.add_argument("--manager", dest="flavour", action="store_const", const="manager", help="the AMI user")
    dialplan.add_argument("--agi-host", default="127.0.0.1", help="the dialer's address as Asterisk sees it")
    dialplan.add_argument("--agi-port", type=int, default=4573)
    dialplan.set_defaults(handler=_dialplan, flavour="asterisk")

    settings = commands.add_parser("settings", help="list every AUTODIALER_* setting with its default and rule")
    settings.set_defaults(handler=_settings)

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
    except SettingsError as e:
        for problem in e.problems:
            print(f"autodialer: error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
