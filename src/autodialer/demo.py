"""``autodialer demo``: the PBX simulator and the service together, running a sample campaign you can watch.

It is wired exactly like production (``bootstrap.run_service``: AMI client, FastAGI server, engine, REST API);
only the PBX is the simulator, on a compressed clock. The sample campaign is loaded through the REST API the way a
CRM would load it: a task on extension 201, a task on queue 2200 and a voice poll, with customers who answer, talk,
hang up early, are busy, do not answer, press keys or have a number that does not exist. Progress is shown live,
then the final MikoPBX results; the API stays up for curl until Ctrl-C (or exits with ``--exit-when-done``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import httpx

from autodialer.bootstrap import run_service
from autodialer.cli_sim import product_dialplan
from autodialer.settings import load_settings
from autodialer.simulator.config import SimulatorConfig
from autodialer.simulator.scenario import Scenario
from autodialer.simulator.simulator import PBXSimulator

MODULE = "/pbxcore/api/module-dialer/v1"

# Simulated people (customers by number, employees by extension).
SCENARIO: dict[str, Any] = {
    "default_customer": {"outcome": "answer", "answer_after": 2.0, "hangup_after": 6.0},
    "employees": {
        # 201 rings 12 s: 5552003 hangs up 6 s after answering, after our connect step began and while 201 rings
        # (FAIL_CLIENT_H_BEFORE_ANSWER), 6 s from either. At the test's time scale (0.05) that is 300 ms each way;
        # 1.5 s of talk and 3 s of ring left 75 ms to start the connect step, 2 s of ring 25 ms to the answer,
        # and a stall of the loaded test process reordered them. The others talk long enough to outlast the ring.
        "201": {"outcome": "answer", "answer_after": 12.0},
        "202": {"outcome": "answer", "answer_after": 1.5, "hangup_after": 5.0},
    },
    "customers": {
        "5552001": {"outcome": "answer", "answer_after": 2.0, "hangup_after": 24.0},
        "5552002": {"outcome": "busy", "ring": False},
        "5552003": {"outcome": "answer", "answer_after": 1.0, "hangup_after": 6.0},
        "5552004": {"outcome": "unallocated", "ring": False},
        "5552005": {"outcome": "noanswer"},
        "5553001": {"outcome": "answer", "answer_after": 1.0, "hangup_after": 30.0},
        "5553002": {"outcome": "answer", "answer_after": 3.0, "hangup_after": 30.0},
        "5553003": {"outcome": "congestion", "ring": False},
        "5554001": {"outcome": "answer", "answer_after": 1.0, "dtmf": [[2.0, "1"], [8.0, "2"]]},
        "5554002": {"outcome": "answer", "answer_after": 1.0, "dtmf": [[2.0, "2"]]},
        "5554003": {"outcome": "answer", "answer_after": 1.0},
    },
}

POLL: dict[str, Any] = {
    "crmId": "demo-survey",
    "name": "Delivery survey",
    "questions": [
        {
            "questionId": "1",
            "questionText": "Hello <name>. Was your delivery on time? Press 1 for yes, 2 for no.",
            "lang": "en-US",
            "press": [
                {"key": "1", "action": "answer", "value": "on time", "nextQuestion": "2"},
                {"key": "2", "action": "playback", "value": "We are sorry. Thank you.", "valueOptions": "text"},
            ],
        },
        {
            "questionId": "2",
            "questionText": "Would you order again? Press 1 for yes, 2 for no.",
            "lang": "en-US",
            "press": [
                {"key": "1", "action": "answer", "value": "yes"},
                {"key": "2", "action": "answer", "value": "no"},
            ],
        },
    ],
}


def _tasks(poll_id: str) -> list[dict[str, Any]]:
    return [
        {
            "crmId": "demo-debtors",
            "name": "Debtors (extension 201)",
            "innerNum": "201",
            "innerNumType": "exten",
            "maxCountChannels": 1,
            "numbers": ["5552001", "5552002", "5552003", "5552004", "5552005"],
        },
        {
            "crmId": "demo-sales",
            "name": "Sales (queue 2200)",
            "innerNum": "2200",
            "innerNumType": "exten",
            "maxCountChannels": 2,
            "numbers": ["5553001", "5553002", "5553003"],
        },
        {
            "crmId": "demo-survey",
            "name": "Delivery survey (poll)",
            "innerNum": poll_id,
            "innerNumType": "polling",
            "maxCountChannels": 2,
            "numbers": [
                {"number": "5554001", "params": {"name": "Anna"}},
                {"number": "5554002", "params": {"name": "Boris"}},
                {"number": "5554003", "params": {"name": "Clara"}},
            ],
        },
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ProgressView:
    """Redraws a small table on a terminal; on a pipe, prints a line whenever a task's counts change."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last: dict[str, str] = {}

    def show(self, tasks: list[dict[str, Any]], elapsed: float) -> None:
        lines = [f"autodialer demo — {elapsed:5.1f}s"]
        for task in tasks:
            line = f"  {task['name']:<28} {summary(task)}"
            lines.append(line)
            if not self._tty and self._last.get(task["id"]) != line:
                self._last[task["id"]] = line
                print(f"[{elapsed:5.1f}s] {line.strip()}", file=self._out, flush=True)
        if self._tty:
            self._out.write("\x1b[H\x1b[J" + "\n".join(lines) + "\n")
            self._out.flush()


def summary(task: dict[str, Any]) -> str:
    rows = task["results"]
    final = [r for r in rows if r["closeTime"] != "0"]
    tried = [r for r in rows if r["closeTime"] == "0" and r["state"] != "CreateTask"]  # in a call or awaiting a retry
    results = Counter(r["result"] for r in final)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
    state = {"0": "open", "1": "closed", "2": "paused"}.get(task["state"], task["state"])
    return f"{state:<6} {len(final)}/{len(rows)} final, {len(tried)} tried and open  {counts}"


def final_report(tasks: list[dict[str, Any]], out: TextIO) -> None:
    print("\nFinal results (GET /task/{id}, as a CRM reads them):", file=out)
    for task in tasks:
        print(f"\n  {task['name']} — task {task['id']}, state {task['state']}", file=out)
        for r in task["results"]:
            print(
                f"    {r['phone']:<9} {r['result'] or '(open)':<28} state={r['state']:<18} "
                f"tries={r['countTry'] or 0} out={r['outDialState'] or '-'} in={r['inDialState'] or '-'} "
                f"cause={r['cause'] or '-'}",
                file=out,
            )
        for p in task.get("resultsPoling") or []:
            answer = f"question {p['questionCrmId']} key {p['exten']} → {p['result']}"
            print(f"      poll answer: {p['phone']} {answer}", file=out)


async def run_demo(*, port: int, data_dir: Path, time_scale: float, exit_when_done: bool, out: TextIO) -> int:
    shutil.rmtree(data_dir, ignore_errors=True)
    agi_port = free_port()
    data_dir.mkdir(parents=True)
    sim = PBXSimulator(
        SimulatorConfig(ami_port=0, agi_port=agi_port, time_scale=time_scale, dialplan_text=product_dialplan(agi_port)),
        scenario=Scenario.from_json(SCENARIO),
    )
    await sim.start()
    settings = load_settings(
        data_dir=data_dir,
        database_url="",
        http_host="127.0.0.1",
        http_port=port,
        ami_port=sim.ami_port,
        fastagi_port=agi_port,
        tts_default_lang="en-US",
        retry_policy={
            "customer_busy": {"delay_s": 4, "max_retries": 1},
            "customer_no_answer": {"delay_s": 4, "max_retries": 1},
            "customer_congestion": {"delay_s": 4, "max_retries": 1},
            "agent_busy": {"delay_s": 2, "max_retries": 10},
        },
    )
    ready = asyncio.Event()
    service = asyncio.create_task(run_service(settings, ready=ready))
    try:
        done, _ = await asyncio.wait({service, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if service in done:
            service.result()
        base = f"http://127.0.0.1:{port}"
        print(f"PBX simulator: AMI on 127.0.0.1:{sim.ami_port}; service API on {base}", file=out, flush=True)
        print(f"Web console (live progress of the demo campaigns): {base}/console/", file=out, flush=True)
        print(f"Live wallboard (agents, calls, rates as they change): {base}/console/#/wallboard", file=out, flush=True)
        async with httpx.AsyncClient(base_url=base + MODULE, timeout=10) as http:
            poll = (await http.post("/polling", content=json.dumps(POLL))).json()["data"]
            ids = []
            for body in _tasks(str(poll["id"])):
                reply = (await http.post("/task", content=json.dumps(body))).json()
                if not reply["result"]:
                    raise RuntimeError(f"the sample task was refused: {reply['messages']}")
                ids.append(reply["data"]["id"])
            view = ProgressView(out)
            started = time.monotonic()
            while True:
                tasks = [(await http.get(f"/task/{i}")).json()["data"] for i in ids]
                view.show(tasks, time.monotonic() - started)
                if all(t["state"] == "1" for t in tasks):
                    break
                if service.done():
                    service.result()
                await asyncio.sleep(0.5)
            final_report(tasks, out)
        print(
            f"\nThe web console is at {base}/console/ and the API at {base}{MODULE}"
            " (local requests need no login), e.g.\n"
            f"  curl {base}{MODULE}/task\n  curl {base}{MODULE}/results/0",
            file=out,
            flush=True,
        )
        if not exit_when_done:
            print("Ctrl-C stops the demo.", file=out, flush=True)
            await service
        return 0
    finally:
        service.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await service
        await sim.stop()


def main(port: int, data_dir: Path, time_scale: float, exit_when_done: bool) -> int:
    try:
        return asyncio.run(
            run_demo(port=port, data_dir=data_dir, time_scale=time_scale, exit_when_done=exit_when_done, out=sys.stdout)
        )
    except KeyboardInterrupt:
        return 0
