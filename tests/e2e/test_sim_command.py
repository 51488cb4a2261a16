"""`autodialer sim` next to `autodialer serve`, both as the user runs them (two processes, real TCP): with nothing
but the shared defaults and a scenario file, any number is dialled to a simulated customer and polls run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

MODULE = "/pbxcore/api/module-dialer/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "autodialer", *args], env=env, stdout=out, stderr=out)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)  # as systemd stops it
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def final_task(http: httpx.Client, task_id: str, seconds: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task: dict[str, Any] = http.get(f"{MODULE}/task/{task_id}").json()["data"]
        if task["results"] and all(row["closeTime"] != "0" for row in task["results"]):
            return task
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not finish: {task}")


def test_serve_dials_any_number_and_runs_a_poll_against_autodialer_sim(tmp_path: Path) -> None:
    ami, agi, http_port = free_port(), free_port(), free_port()
    scenario = tmp_path / "scenario.json"
    # 79522233446 talks 12 s (600 ms real): the connect step must reach 201's Dial (75 ms ring) and the poll read its
    # key inside that; 6 s (300 ms) left ~225 ms, one stall of a loaded machine.
    scenario.write_text(
        json.dumps({"customers": {"79522233446": {"answer_after": 1, "dtmf": [[1.5, "1"]], "hangup_after": 12}}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIALER_")}
    sim_args = ["sim", "--ami-port", str(ami), "--agi-port", str(agi), "--time-scale", "0.05"]
    service_env = env | {
        "AUTODIALER_DATA_DIR": str(tmp_path / "var"),
        "AUTODIALER_HTTP_HOST": "127.0.0.1",
        "AUTODIALER_HTTP_PORT": str(http_port),
        "AUTODIALER_AMI_PORT": str(ami),
        "AUTODIALER_FASTAGI_PORT": str(agi),
        "AUTODIALER_TTS_DEFAULT_LANG": "en-US",
    }
    with (
        started([*sim_args, "--scenario", str(scenario)], env, tmp_path / "sim.log") as sim,
        started(["serve"], service_env, tmp_path / "serve.log") as serve,
    ):
        wait_for_port(ami, sim)
        wait_for_port(http_port, serve)
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            poll = {
                "crmId": "sim-poll",
                "name": "Delivery",
                "questions": [
                    {
                        "questionId": "1",
                        "questionText": "Press 1 to confirm.",
                        "lang": "en-US",
                        "press": [{"key": "1", "action": "answer", "value": "yes"}],
                    }
                ],
            }
            poll_id = http.post(f"{MODULE}/polling", content=json.dumps(poll)).json()["data"]["id"]
            connect = {
                "crmId": "sim-connect",
                "name": "Any number",
                "innerNum": "201",
                "maxCountChannels": 1,
                "numbers": ["79522233446", "74951234567"],
            }
            polling = {
                "crmId": "sim-polling",
                "name": "Poll",
                "innerNum": poll_id,
                "innerNumType": "polling",
                "maxCountChannels": 1,
                "numbers": ["79522233446"],
            }
            ids = [
                http.post(f"{MODULE}/task", content=json.dumps(body)).json()["data"]["id"]
                for body in (connect, polling)
            ]
            connected, polled = (final_task(http, task_id) for task_id in ids)
    assert (sim.returncode, serve.returncode) == (0, 0), "SIGTERM stops both cleanly"
    logs = (tmp_path / "sim.log").read_text() + (tmp_path / "serve.log").read_text()
    assert "Traceback" not in logs, logs
    assert "connected -> closed" in logs  # the service logged off AMI on SIGTERM instead of dying mid-session
    results = {row["phone"]: row["result"] for row in connected["results"]}
    # 79522233446 hangs up 6 s into the call (the scenario); the default customer after 10 s: both talked to 201.
    assert results == {"79522233446": "SUCCESS_CLIENT_H", "74951234567": "SUCCESS_CLIENT_H"}, connected
    assert [(row["result"], row["state"]) for row in polled["results"]] == [("SUCCESS_POLLING", "EVENT_POLLING_END")]
    assert [(a["questionCrmId"], a["exten"], a["result"]) for a in polled["resultsPoling"]] == [("1", "1", "yes")]
