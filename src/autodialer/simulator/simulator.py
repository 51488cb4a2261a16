"""PBXSimulator: wires the PBX core, the AMI server and the control API; `run_simulator` runs it forever.

Tests start and stop it in-process (`await sim.start()`, `sim.ami_port`, `await sim.stop()`); the CLI calls
`run_simulator(config)`.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from .ami_server import AMIServer
from .clock import SimClock
from .config import SimulatorConfig
from .control import ControlHTTPServer, SimulatorControl
from .pbx import PBX
from .scenario import Scenario, lab_scenario

log = logging.getLogger(__name__)

# Collection thresholds for a process of its own (tune_gc). A PBX with thousands of live channels holds a few
# hundred thousand objects and makes hundreds of thousands of short-lived ones a second; with CPython's defaults
# (700, 10, 10) it ran ~20 full collections a minute over all of them: at 400 calls/s, 5,000 live (ringall), its
# collections took 15-18 s of wall time in a run of ~20 s of CPU. With these, 3.8 s, and 2.6 -> 1.9 ms of CPU per
# call (sim_live_calls.py, same machine, load 4-6).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Freeze the start-up heap and collect less often. Only where the simulator owns its process (the CLIs, the
    benchmarks' simulator processes): tests embed it in theirs, whose collector is not its business."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class PBXSimulator:
    def __init__(self, config: SimulatorConfig | None = None, scenario: Scenario | None = None) -> None:
        self.config = config or SimulatorConfig()
        if scenario is None:
            scenario = Scenario.load(self.config.scenario_path) if self.config.scenario_path else lab_scenario()
        self.clock = SimClock(self.config.time_scale)
        self.pbx = PBX(self.config, scenario, self.clock)
        self.ami = AMIServer(self.pbx, self.config.host, self.config.ami_port)
        self.control = SimulatorControl(self.pbx, self.ami)
        self._http: ControlHTTPServer | None = None

    @property
    def ami_port(self) -> int:
        return self.ami.port

    @property
    def http_port(self) -> int | None:
        return self._http.port if self._http else None

    async def start(self) -> None:
        await self.ami.start()
        if self.config.control_http_port is not None:
            self._http = ControlHTTPServer(self.control, self.config.host, self.config.control_http_port)
            await self._http.start()
        log.info("PBX simulator: AMI on %s:%s", self.config.host, self.ami.port)

    async def stop(self) -> None:
        await self.ami.stop()
        if self._http is not None:
            await self._http.stop()
        await self.pbx.shutdown()

    async def __aenter__(self) -> PBXSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def run_simulator(config: SimulatorConfig, scenario: Scenario | None = None) -> None:
    sim = PBXSimulator(config, scenario)
    await sim.start()
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
