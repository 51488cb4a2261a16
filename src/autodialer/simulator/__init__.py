"""A PBX simulator that speaks AMI and the Asterisk side of FastAGI like Asterisk 22 in the lab traces.

It is the independent oracle our AMI/AGI clients are tested against, so it imports nothing of ours but
`autodialer.protocols`. Public API: `PBXSimulator`, `SimulatorConfig`, `run_simulator`, `Scenario`,
`Behaviour`, `SimulatorControl`.
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
