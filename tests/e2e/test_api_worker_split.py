"""``autodialer serve`` with the API in its own worker process (api_workers=1, the default), end to end.

The real command runs as a subprocess against the simulator in this test process. Through the PUBLIC port only:
a v1 task posted there is dialled at once (the worker's wake-up reaches the dialer: the engine's own re-read, the
watchdog, is set to 60 s here), the live wallboard, its event stream and explain's live holds come from the
dialer process, ``GET /status`` shows the AMI link. A worker that dies is replaced. SIGTERM ends both processes
with exit code 0 (the event stream ends too); after ``kill -9`` of the service the worker dies with it and the port
is free for a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.harness import until
from tests.e2e.service_process import ServiceProcess, simulator

from autodialer.domain.number_explain import LIVE_UNKNOWN
from autodialer.simulator import Behaviour, PBXSimulator

pytestmark = pytest.mark.slow

WATCHDOG_S = 60  # the engine's own re-read: without the wake-up, a new task would wait this long


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def ready_to_dial(http: httpx.AsyncClient, root: str) -> bool:
    status = await http.get(f"{root}/status")
    live = (await http.get(f"{root}/api/v2/live")).json()
    return status.status_code == 200 and live["pbx_link"]["connected"] and live["agents"]["free"] >= 1


async def first_originate_after_post(
    http: httpx.AsyncClient, sim: PBXSimulator, body: dict[str, Any]
) -> tuple[int, float]:
    """Post a v1 task; (its id, seconds from sending the POST to the simulator receiving its first Originate)."""
    before = len(sim.control.requests)
    started = time.monotonic()
    reply = (await http.post("/task", content=json.dumps(body))).json()
    answered = time.monotonic()
    await until(lambda: len(sim.control.requests) > before, 10, "the task's first Originate")
    done = time.monotonic()
    post_ms, then_ms = (answered - started) * 1000, (done - answered) * 1000
    print(f"POST /task answered in {post_ms:.0f} ms, the first Originate {then_ms:.0f} ms later")
    return int(reply["data"]["id"]), done - started


async def read_events(http: httpx.AsyncClient, url: str, lines: list[str]) -> None:
    async with http.stream("GET", url, timeout=httpx.Timeout(5, read=None)) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        async for line in reply.aiter_lines():
            lines.append(line)


async def test_split_service_dials_at_once_serves_live_state_and_stops_cleanly(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with simulator(time_scale=1.0) as sim:
        sim.control.set_employee("201", Behaviour(answer_after=0.5))
        sim.control.set_customer("5557001", Behaviour(answer_after=60))  # rings for the whole test
        service = ServiceProcess(tmp_path, sim.ami_port, database_url=db_url, watchdog_interval_s=WATCHDOG_S)
        sim.config.agi_port = service.agi_port
        root = f"http://127.0.0.1:{service.http_port}"
        stream: asyncio.Task[None] | None = None
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            try:
                await service.start(http)
                assert f"REST API on {root} (API worker pid" in service.log.read_text()
                (worker,) = service.worker_pids()
                assert service.process is not None and alive(worker) and worker != service.process.pid
                assert (await http.get(f"{root}/health")).json()["pid"] == worker  # the public port is the worker's
                await until(lambda: ready_to_dial(http, root), 15, "AMI logged in and extension 201 free")

                status = (await http.get(f"{root}/status")).json()
                assert status["ami"]["loggedIn"] is True and status["dialer"]["enabled"] is True
                # Forwarded with the real peer: 127.0.0.1 is exempt; relayed by a proxy we do not trust, it is not.
                relayed = await http.get(f"{root}/status", headers={"X-Forwarded-For": "203.0.113.9"})
                assert relayed.status_code == 401
                spoofed = await http.get(f"{root}/status", headers={"X-Autodialer-Peer": "http 203.0.113.9 1"})
                assert spoofed.status_code == 200  # the worker replaced the client's header with the real peer

                events: list[str] = []
                stream = asyncio.create_task(read_events(http, f"{root}/api/v2/events", events))
                await until(lambda: "event: hello" in events, 5, "the event stream's hello")

                task_id, latency = await first_originate_after_post(
                    http, sim, {"name": "split", "innerNum": "201", "numbers": ["5557001", "5557002"]}
                )
                print(f"split mode: POST /task -> first Originate {latency * 1000:.0f} ms")
                assert latency < 1.5, f"dialled {latency:.2f}s after the POST (the engine re-reads every {WATCHDOG_S}s)"
                await until(lambda: "event: call" in events, 5, "a call event relayed from the dialer")

                live = (await http.get(f"{root}/api/v2/live/calls")).json()
                assert [c["campaign_id"] for c in live["items"]] == [task_id]
                numbers = (await http.get(f"{root}/api/v2/campaigns/{task_id}/numbers")).json()["items"]
                waiting = next(n for n in numbers if n["phone"].endswith("5557002"))
                url = f"{root}/api/v2/campaigns/{task_id}/numbers/{waiting['id']}/explain"
                explained = (await http.get(url)).json()
                assert LIVE_UNKNOWN not in explained["text"]
                assert "target-busy" in [h["kind"] for h in explained["holds"]], explained

                os.kill(worker, signal.SIGKILL)  # the worker dies: the service starts another
                with contextlib.suppress(httpx.TransportError):
                    await asyncio.wait_for(stream, 5)  # cut, not hanging
                await until(lambda: len(service.worker_pids()) == 2, 10, "a new API worker")
                worker = service.worker_pids()[-1]
                await until(lambda: port_free(service.http_port) is False, 5, "the new worker's port")
                assert (await http.get(f"{root}/health")).json()["pid"] == worker
                assert (await http.get(f"{root}/status")).json()["ami"]["loggedIn"] is True

                service.kill()  # kill -9: the worker dies with it, the port is free for a restart at once
                await until(lambda: not alive(worker), 2, "the API worker to die with its parent")
                await until(lambda: port_free(service.http_port), 2, "the public port to be free")

                await service.start(http)
                worker = service.worker_pids()[-1]
                assert (await http.get(f"{root}/health")).json()["pid"] == worker
                events.clear()
                stream = asyncio.create_task(read_events(http, f"{root}/api/v2/events", events))
                await until(lambda: "event: hello" in events, 5, "the event stream's hello")
                service.process.terminate()
                assert service.process.wait(15) == 0
                await asyncio.wait_for(stream, 5)  # the relayed event stream ended with the service
                await until(lambda: not alive(worker), 5, "the API worker to exit")
                assert port_free(service.http_port)
                assert not (tmp_path / "run" / "dialer.sock").exists()
            except AssertionError as e:
                raise AssertionError(f"{e}\n{service.log.read_text()[-4000:]}") from e
            finally:
                service.stop()
                for pid in service.worker_pids():
                    with contextlib.suppress(ProcessLookupError):
                        if alive(pid):
                            os.kill(pid, 9)
                if stream is not None and not stream.done():
                    stream.cancel()


async def test_single_process_mode_dials_at_once_without_a_worker(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with simulator(time_scale=1.0) as sim:
        sim.control.set_employee("201", Behaviour(answer_after=0.5))
        sim.control.set_customer("5557101", Behaviour(answer_after=60))
        service = ServiceProcess(
            tmp_path, sim.ami_port, database_url=db_url, watchdog_interval_s=WATCHDOG_S, api_workers="0"
        )
        sim.config.agi_port = service.agi_port
        root = f"http://127.0.0.1:{service.http_port}"
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            try:
                await service.start(http)
                assert service.process is not None and service.worker_pids() == []
                assert (await http.get(f"{root}/health")).json()["pid"] == service.process.pid
                await until(lambda: ready_to_dial(http, root), 15, "AMI logged in and extension 201 free")
                _, latency = await first_originate_after_post(
                    http, sim, {"name": "single", "innerNum": "201", "numbers": ["5557101"]}
                )
                print(f"single process: POST /task -> first Originate {latency * 1000:.0f} ms")
                assert latency < 1.5
                service.process.terminate()
                assert service.process.wait(15) == 0
            except AssertionError as e:
                raise AssertionError(f"{e}\n{service.log.read_text()[-4000:]}") from e
            finally:
                service.stop()
