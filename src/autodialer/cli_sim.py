"""``autodialer sim``: the PBX simulator run as a stand-in for Asterisk, on the product's own dialplan.

By default it runs exactly the contexts docs/dialplan.md installs (``autodialer dialplan``: ``[dialer-out]`` rings
any number through the trunk, ``[dialer-connect]`` hands answered calls to FastAGI ``/connect`` or ``/poll``), plus
the lab's employees 201/202 and queue 2200, so ``autodialer serve`` next to it can dial any number and run any
poll. ``--dialplan`` runs another extensions.conf; ``--scenario`` chooses what customers and employees do
(docs/simulator.md). The demo uses the same dialplan (:func:`product_dialplan`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from autodialer.dialplan import snippet
from autodialer.process_signals import until_stopped

if TYPE_CHECKING:
    from autodialer.simulator import Scenario, SimulatorConfig


def product_dialplan(agi_port: int = 4573) -> str:
    """The plain-Asterisk snippet we ship, with FastAGI at 127.0.0.1:``agi_port``; the simulator generates the lab's
    ``[internal]`` extensions (201, 202, queue 2200) around it."""
    return snippet("asterisk", agi_port=agi_port)


DESCRIPTION = """\
Run the PBX simulator: an AMI server and FastAGI caller that behave like Asterisk 22, for trying the dialer without
a PBX. By default it runs the dialplan we ship (`autodialer dialplan`), so any number rings a simulated customer and
every poll works; employees are 201 and 202 and queue 2200 rings both. `autodialer serve` with default settings
connects to it (AMI 127.0.0.1:5038, user dialer / dialerpass; FastAGI 127.0.0.1:4573)."""


def register(subparsers: Any) -> None:
    """Add ``sim`` to an argparse ``add_subparsers()`` object."""
    from autodialer.simulator.options import HelpFormatter, add_arguments

    sim = subparsers.add_parser(
        "sim",
        help="run the PBX simulator (a stand-in for Asterisk) on our dialplan",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_arguments(sim)
    sim.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from autodialer.simulator.options import config_from_args, scenario_from_args
    from autodialer.simulator.scenario import ScenarioError

    try:
        scenario = scenario_from_args(args)
    except ScenarioError as e:
        print(f"autodialer sim: error: {e}", file=sys.stderr)
        return 2
    config = config_from_args(args, default_dialplan=product_dialplan())
    asyncio.run(until_stopped(_serve(args, config, scenario)))
    return 0


async def _serve(args: argparse.Namespace, config: SimulatorConfig, scenario: Scenario) -> None:
    from autodialer.simulator import PBXSimulator
    from autodialer.simulator.simulator import tune_gc

    async with PBXSimulator(config, scenario) as sim:
        tune_gc()  # this process is the simulator's
        control = f", control API on {config.host}:{sim.http_port}" if sim.http_port is not None else ""
        if args.agi_host or args.agi_port:
            agi = f"AGI() goes to {args.agi_host or 'the dialplan host'}:{args.agi_port or 'the dialplan port'}"
        else:
            agi = "AGI() goes where the dialplan says" + ("" if args.dialplan else " (127.0.0.1:4573)")
        print(
            f"autodialer sim: AMI on {config.host}:{sim.ami_port} (user {config.username!r}){control}; {agi}; "
            f"dialplan: {args.dialplan or 'ours (autodialer dialplan)'}",
            flush=True,
        )
        await asyncio.Event().wait()
