"""A PBX simulator that speaks AMI and the Asterisk side of FastAGI like Asterisk 22 in the lab traces.

It is the independent oracle our AMI/AGI clients are tested against, so it imports nothing of ours but
`autodialer.protocols`. Public API: `PBXSimulator`, `SimulatorConfig`, `run_simulator`, `Scenario`,
`Behaviour`, `SimulatorControl`. In a test::

    config = SimulatorConfig(ami_port=0, agi_port=our_fastagi.port, time_scale=0.002)
    async with PBXSimulator(config) as sim:          # lab topology + lab customers (scenarios/lab.json)
        sim.control.set_customer("5551234", Behaviour(answer_after=2, dtmf=((1.0, "1"),), hangup_after=10))
        sim.control.set_employee("201", Behaviour(outcome="busy"))
        ... connect our AMI client to ("127.0.0.1", sim.ami_port), user dialer / dialerpass ...
        sim.control.requests      # every Originate received
        sim.control.prompts       # every sound file streamed, with the channel
        await sim.control.restart(graceful=False)   # kill -9 as in trace 09

Layout: channels/bridges/devices (state and its events), dialplan/topology (what runs where), applications,
dial/dial_variables, queues, endpoints (the far ends), originate, agi_client/agi_commands (FastAGI),
ami_server/ami_actions/ami_queries/ami_database (AMI), scenario (behaviour), control (test API and HTTP),
simulator (wiring).
"""

from .config import EmployeeConfig, QueueConfig, SimulatorConfig
from .control import SimulatorControl
from .scenario import Behaviour, Scenario, lab_scenario
from .simulator import PBXSimulator, run_simulator

__all__ = [
    "Behaviour",
    "EmployeeConfig",
    "PBXSimulator",
    "QueueConfig",
    "Scenario",
    "SimulatorConfig",
    "SimulatorControl",
    "lab_scenario",
    "run_simulator",
]
