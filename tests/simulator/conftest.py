"""Fixtures for the simulator tests: an in-process simulator on an ephemeral port with a fast clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autodialer.simulator import PBXSimulator, SimulatorConfig

from .harness import AMITestClient

FAST = 0.01  # real seconds per simulated second (5 ms let simulated timeouts expire during event-loop stalls)


@pytest.fixture
async def sim() -> AsyncIterator[PBXSimulator]:
    simulator = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami(sim: PBXSimulator) -> AsyncIterator[AMITestClient]:
    client = AMITestClient()
    await client.login(sim.ami_port)
    yield client
    await client.close()
