"""The simulator's command-line flags, shared by `autodialer sim` and `python -m autodialer.simulator`.

Each flag maps onto one SimulatorConfig field and shows its default in ``-h``. What differs between the two entry
points is only the dialplan used when ``--dialplan`` is not given: the caller passes it as ``default_dialplan``
(`autodialer sim`: the product's own snippet; the bare module: the recorded lab's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import SimulatorConfig
from .scenario import Scenario, ScenarioError, lab_scenario, read_scenario_file

DEFAULTS = SimulatorConfig()


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _port(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535 (0: any free port), got {text!r}")
    return value


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each flag's default when it has one (``(default: 5038)``), and says nothing when it has not."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS, False) and "%(default)" not in help_text:
            help_text += " (default: %(default)s)"
        return help_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's flags on ``parser`` (create it with ``formatter_class=HelpFormatter`` to show defaults)."""
    ami = parser.add_argument_group("AMI (what the dialer's AUTODIALER_AMI_* settings must match)")
    ami.add_argument("--host", metavar="ADDRESS", default=DEFAULTS.host, help="address the AMI server listens on")
    ami.add_argument("--ami-port", metavar="PORT", type=_port, default=DEFAULTS.ami_port, help="AMI TCP port")
    ami.add_argument("--ami-username", metavar="NAME", default=DEFAULTS.username, help="the AMI user that may log in")
    ami.add_argument("--ami-secret", metavar="SECRET", default=DEFAULTS.secret, help="that user's secret")
    ami.add_argument(
        "--ami-read",
        metavar="CLASSES",
        default=DEFAULTS.read_classes,
        help="the user's manager.conf read= classes, e.g. system,call,agent,user (what we ship)",
    )
    ami.add_argument(
        "--ami-write",
        metavar="CLASSES",
        default=DEFAULTS.write_classes,
        help="the user's manager.conf write= classes, e.g. originate,call,reporting,user (what we ship)",
    )
    calls = parser.add_argument_group("calls")
    calls.add_argument(
        "--agi-host",
        metavar="ADDRESS",
        default=None,
        help="send every AGI() to this host instead of the one in the dialplan (the dialer's FastAGI address)",
    )
    calls.add_argument(
        "--agi-port",
        metavar="PORT",
        type=_port,
        default=None,
        help="send every AGI() to this port instead of the dialplan's (4573)",
    )
    calls.add_argument(
        "--dialplan",
        metavar="FILE",
        type=Path,
        default=None,
        help="an extensions.conf to run instead of the default one",
    )
    calls.add_argument(
        "--scenario",
        metavar="FILE",
        type=Path,
        default=None,
        help="JSON file: how customers and employees behave, merged onto the default (docs/simulator.md)",
    )
    calls.add_argument(
        "--time-scale",
        metavar="FACTOR",
        type=_positive,
        default=DEFAULTS.time_scale,
        help="real seconds per simulated second (0.1: calls run ten times faster)",
    )
    calls.add_argument(
        "--originate-rate",
        metavar="PER_S",
        type=_positive,
        default=None,
        help="cap Originates per simulated second (a real Asterisk on 2 vCPUs: ~850); no cap by default",
    )
    parser.add_argument(
        "--control-port",
        metavar="PORT",
        type=_port,
        default=None,
        help="serve the JSON control API (channels, requests, scenario changes) on this port; off by default",
    )


def config_from_args(args: argparse.Namespace, default_dialplan: str | None = None) -> SimulatorConfig:
    """The SimulatorConfig the flags describe; ``default_dialplan`` (text) applies when ``--dialplan`` is absent."""
    return SimulatorConfig(
        host=args.host,
        ami_port=args.ami_port,
        username=args.ami_username,
        secret=args.ami_secret,
        read_classes=args.ami_read,
        write_classes=args.ami_write,
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        dialplan_path=args.dialplan,
        dialplan_text=None if args.dialplan else default_dialplan,
        scenario_path=args.scenario,
        time_scale=args.time_scale,
        control_http_port=args.control_port,
        originate_rate=args.originate_rate,
    )


# Run on its own, any customer answers and later hangs up, so every campaign call ends without a test driving it
# (the lab's default customer waits for our BYE forever).
STANDALONE_DEFAULTS = {"default_customer": {"outcome": "answer", "answer_after": 2.0, "hangup_after": 10.0}}


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The lab's people (scenarios/lab.json) and STANDALONE_DEFAULTS, with the ``--scenario`` file merged on top.

    Raises ScenarioError naming the file, the entry and the rule when the file cannot be used.
    """
    scenario = lab_scenario()
    scenario.update(STANDALONE_DEFAULTS)
    if args.scenario is not None:
        data = read_scenario_file(args.scenario)
        try:
            scenario.update(data)
        except ScenarioError as e:
            raise ScenarioError(f"{args.scenario}: {e}") from e
    return scenario
