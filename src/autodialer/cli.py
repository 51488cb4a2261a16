"""The ``autodialer`` command: serve, migrate, sim, demo and admin tasks. Thin: parses flags, calls bootstrap.

``DESCRIPTION`` is what ``autodialer --help`` shows a user; this docstring is for developers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from autodialer import cli_admin, cli_compliance, cli_sim, log_config
from autodialer.process_signals import until_stopped
from autodialer.settings import Settings, load_settings
from autodialer.settings_check import SettingsError

DESCRIPTION = """\
Outbound auto-dialer and voice polls for Asterisk-based PBXs (MikoPBX first), serving the MikoPBX
ModuleAutoDialer REST API so CRMs such as 1C work unchanged.

Start here:
  autodialer serve           run the REST API and the dialer (AMI + FastAGI to your Asterisk)
  autodialer sim             a simulated Asterisk to try it without a PBX
  autodialer dialplan        the dialplan snippet to install in Asterisk once
  autodialer settings        every AUTODIALER_* setting with its default"""

EPILOG = """\
Settings come from AUTODIALER_* environment variables (`autodialer settings`). Docs in the repository:
README.md, docs/api-v1.md (the REST API), docs/dialplan.md (Asterisk and MikoPBX setup), docs/polls.md,
docs/simulator.md."""


def _load_settings(args: argparse.Namespace, **overrides: object) -> Settings:
    """Settings from the environment and the flags, with logging set up as they say (log_config)."""
    settings = load_settings(**overrides)
    log_config.configure(
        verbose=args.verbose, wire_trace=settings.ami_trace, levels=log_config.parse_levels(settings.log_levels)
    )
    return settings


def _serve(args: argparse.Namespace) -> int:
    from autodialer.bootstrap import run_service

    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["http_port"] = args.port
    if args.host is not None:
        overrides["http_host"] = args.host
    if args.ami_trace:
        overrides["ami_trace"] = True
    asyncio.run(until_stopped(run_service(_load_settings(args, **overrides))))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from autodialer.bootstrap import run_migrations

    asyncio.run(run_migrations(_load_settings(args)))
    print("database is at the current schema")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from autodialer.demo import main as demo_main

    if not args.verbose:  # the live view is the output; -v brings the service's own log back
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("autodialer").setLevel(logging.WARNING)
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


VERBOSE_HELP = "debug logging of autodialer's own components (not SQL; see AUTODIALER_LOG_LEVELS)"
SERVE_DESCRIPTION = """\
Run the REST API (MikoPBX ModuleAutoDialer v1) and, unless AUTODIALER_DIALER_ENABLED=false, the dialer: an AMI
client to Asterisk (AUTODIALER_AMI_HOST/_PORT/_USERNAME/_SECRET) and a FastAGI server for the answered calls
(AUTODIALER_FASTAGI_HOST/_PORT, default 127.0.0.1:4573). The database is migrated first. Every setting is an
AUTODIALER_* variable (`autodialer settings`); the flags below override their variable. Health: GET /health,
readiness: GET /status. The REST API is served by a worker process this one starts, at a lower CPU priority, so API
load cannot slow dialing (AUTODIALER_API_WORKERS=0: one process); SIGTERM stops both."""


def _port(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autodialer", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the REST API and the dialer",
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host",
        metavar="ADDRESS",
        default=None,
        help="address the REST API listens on (default: AUTODIALER_HTTP_HOST, else 0.0.0.0 = every IPv4 address; "
        "127.0.0.1 = this host only, :: = every IPv6 address, and IPv4 too on Linux)",
    )
    serve.add_argument(
        "--port",
        metavar="PORT",
        type=_port,
        default=None,
        help="TCP port of the REST API (default: AUTODIALER_HTTP_PORT, else 8080)",
    )
    serve.add_argument(
        "--ami-trace",
        action="store_true",
        help="log every AMI message sent and received, secrets redacted (same as AUTODIALER_AMI_TRACE=true)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
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
    flavour.add_argument(
        "--mikopbx", dest="flavour", action="store_const", const="mikopbx", help="the MikoPBX flavour (outgoing routes)"
    )
    flavour.add_argument("--manager", dest="flavour", action="store_const", const="manager", help="the AMI user")
    dialplan.add_argument("--agi-host", default="127.0.0.1", help="the dialer's address as Asterisk sees it")
    dialplan.add_argument("--agi-port", type=int, default=4573)
    dialplan.set_defaults(handler=_dialplan, flavour="asterisk")

    settings = commands.add_parser("settings", help="list every AUTODIALER_* setting with its default and rule")
    settings.set_defaults(handler=_settings)

    cli_admin.register(commands)
    cli_compliance.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_config.configure(verbose=args.verbose)
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
