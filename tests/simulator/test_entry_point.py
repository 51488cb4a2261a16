"""`python -m autodialer.simulator` / `autodialer sim`: flags map onto SimulatorConfig, and the server runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autodialer.simulator import SimulatorConfig, run_simulator
from autodialer.simulator.__main__ import parse_args

from .harness import AMITestClient


def test_flags_map_onto_the_config() -> None:
    config = parse_args(
        [
            "--ami-port",
            "0",
            "--agi-port",
            "4600",
            "--time-scale",
            "0.5",
            "--originate-rate",
            "850",
            "--scenario",
            "s.json",
            "--control-port",
            "8099",
        ]
    )
    assert (config.ami_port, config.agi_port, config.time_scale, config.originate_rate) == (0, 4600, 0.5, 850.0)
    assert (config.scenario_path, config.control_http_port) == (Path("s.json"), 8099)
    assert parse_args([]) == SimulatorConfig()
    shipped = parse_args(["--ami-read", "system,call,agent,user", "--ami-write", "originate,call,reporting,user"])
    assert (shipped.read_classes, shipped.write_classes) == ("system,call,agent,user", "originate,call,reporting,user")


async def test_run_simulator_serves_until_cancelled(unused_tcp_port: int) -> None:
    task = asyncio.create_task(run_simulator(SimulatorConfig(ami_port=unused_tcp_port)))
    client = AMITestClient()
    for _ in range(100):
        try:
            await client.login(unused_tcp_port)
            break
        except OSError:
            await asyncio.sleep(0.01)
    assert (await client.request("Ping")).get("Ping") == "Pong"
    await client.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
