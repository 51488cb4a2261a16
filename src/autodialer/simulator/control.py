"""The test/operator control surface of the simulator (Python API + optional tiny JSON-over-HTTP endpoint).

Everything a test needs to stage a situation or check what the client did: set customer/employee behaviour,
pause queue members, toggle DND the MikoPBX way (AstDB family `UserBuddyStatus` plus a
`UserEvent: DB_UserBuddyStatus` with lower-case `key`/`val`), drop all AMI connections as a restart would,
list live channels, and read every Originate received (`requests`, wazo-mock style) and every prompt played.

HTTP (when enabled): GET /channels, /requests, /prompts, /scenario; POST /scenario (merge JSON),
/requests/reset, /dnd {"exten","on"}, /pause {"interface","paused","queue"?}, /drop {"graceful"},
/hangup {"channel","cause"?}, /reachable {"exten","reachable"}, /restart {"graceful","down_s","shutdown_s"},
/freeze, /thaw.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .channels import SOFT_EXPLICIT, STATE_DESC
from .scenario import Behaviour

if TYPE_CHECKING:
    from .ami_server import AMIServer
    from .pbx import PBX

DND_FAMILY = "UserBuddyStatus"


class SimulatorControl:
    def __init__(self, pbx: PBX, ami: AMIServer) -> None:
        self._pbx = pbx
        self._ami = ami
        self._background: set[asyncio.Task[None]] = set()

    # --- behaviour ---------------------------------------------------------------------------------
    def set_customer(self, number: str, behaviour: Behaviour | None = None, **changes: Any) -> None:
        base = behaviour or self._pbx.scenario.customer(number)
        self._pbx.scenario.customers[number] = replace(base, **changes)

    def set_default_customer(self, behaviour: Behaviour) -> None:
        self._pbx.scenario.default_customer = behaviour

    def set_employee(self, exten: str, behaviour: Behaviour | None = None, **changes: Any) -> None:
        base = behaviour or self._pbx.scenario.employee(exten)
        self._pbx.scenario.employees[exten] = replace(base, **changes)

    def load_scenario(self, data: dict[str, Any]) -> None:
        self._pbx.scenario.update(data)

    # --- employees and queues ------------------------------------------------------------------------
    def set_dnd(self, exten: str, on: bool = True) -> None:
        value = "1" if on else "0"
        self._pbx.db.setdefault(DND_FAMILY, {})[exten] = value
        self._pbx.devices.set_dnd(f"PJSIP/{exten}", on)
        self._pbx.emit("UserEvent", [("UserEvent", f"DB_{DND_FAMILY}"), ("key", exten), ("val", value)])

    def set_reachable(self, exten: str, reachable: bool = True) -> None:
        """Make an employee's phone vanish (UNAVAILABLE, calls fail with CHANUNAVAIL) or come back."""
        self._pbx.devices.set_reachable(f"PJSIP/{exten}", reachable)

    def pause_member(self, interface: str, paused: bool = True, queue: str | None = None, reason: str = "") -> bool:
        return self._pbx.queues.pause(queue, interface, paused, reason)

    # --- connections and calls ------------------------------------------------------------------------
    def drop_ami_connections(self, graceful: bool = True) -> None:
        """`Event: Shutdown` then EOF (graceful, like `core restart now`) or an abrupt EOF (like kill -9)."""
        self._ami.drop_all(graceful=graceful)

    async def restart(
        self, graceful: bool = True, down_s: float = 0.5, boot_s: float = 0.14, shutdown_s: float | None = None
    ) -> None:
        """Restart the "PBX" as trace 09 recorded it; every call is gone afterwards (simulated seconds).

        Graceful (`core restart now`): for `shutdown_s` every AMI action is answered "Asterisk is shutting down"
        (Asterisk waits there while its channels die), then `Event: Shutdown`, EOF, `down_s` of connections closed
        before the banner and `boot_s` of booting. Not graceful (kill -9): EOF, `down_s` of refused connections.
        """
        clock = self._pbx.clock
        if shutdown_s is None:
            # asterisk.c can_safely_quit: with channels to hang up it waits for them and then sleep(1)s before
            # really_quit; idle, the Shutdown event followed the CLI command by 19 ms (trace 09).
            shutdown_s = 1.019 if self._pbx.channels.live else 0.019
        if graceful:
            self._pbx.hang_up_all()  # ast_begin_shutdown + ast_softhangup_all, then the refusal window
        else:
            self._pbx.reset()  # kill -9: everything is gone at once, without a single event
        await self._ami.restart(graceful, clock.real(down_s), clock.real(boot_s), clock.real(shutdown_s))
        self._pbx.reset()  # whatever was still up is gone with the process

    def _spawn_restart(self, body: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(
            self.restart(
                bool(body.get("graceful", True)),
                float(body.get("down_s", 0.5)),
                shutdown_s=float(body["shutdown_s"]) if "shutdown_s" in body else None,
            )
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def freeze(self) -> None:
        """SIGSTOP: the TCP connections stay up, but nothing is read or answered until `thaw()`."""
        self._ami.freeze()

    def thaw(self) -> None:
        self._ami.thaw()

    def hangup(self, channel: str, cause: int = 16) -> bool:
        ch = self._pbx.channels.by_name(channel)
        if ch is None:
            return False
        ch.hangup_cause = cause
        self._pbx.soft_hangup(ch, SOFT_EXPLICIT)
        return True

    def channels(self) -> list[dict[str, Any]]:
        return [
            {
                "channel": c.name,
                "uniqueid": c.uniqueid,
                "linkedid": c.linkedid,
                "state": c.state,
                "state_desc": STATE_DESC.get(c.state, "Unknown"),
                "context": c.context,
                "exten": c.exten,
                "caller_num": c.caller_num,
                "bridge": c.bridge.uniqueid if c.bridge else None,
            }
            for c in self._pbx.channels.live.values()
        ]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._pbx.requests

    def reset_requests(self) -> None:
        self._pbx.forget_requests()
        self._pbx.prompts.clear()

    @property
    def prompts(self) -> list[tuple[str, str]]:
        return self._pbx.prompts

    @property
    def ami_port(self) -> int:
        return self._ami.port

    @property
    def event_count(self) -> int:
        return self._pbx.bus.count

    # --- HTTP ----------------------------------------------------------------------------------------
    def handle_http(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        routes: dict[tuple[str, str], Any] = {
            ("GET", "/channels"): lambda: self.channels(),
            ("GET", "/requests"): lambda: self.requests,
            ("GET", "/prompts"): lambda: [list(p) for p in self.prompts],
            ("GET", "/scenario"): lambda: self._pbx.scenario.to_json(),
            ("POST", "/scenario"): lambda: self.load_scenario(body),
            ("POST", "/requests/reset"): lambda: self.reset_requests(),
            ("POST", "/dnd"): lambda: self.set_dnd(str(body["exten"]), bool(body.get("on", True))),
            ("POST", "/reachable"): lambda: self.set_reachable(str(body["exten"]), bool(body.get("reachable", True))),
            ("POST", "/pause"): lambda: self.pause_member(
                str(body["interface"]), bool(body.get("paused", True)), body.get("queue")
            ),
            ("POST", "/drop"): lambda: self.drop_ami_connections(bool(body.get("graceful", True))),
            ("POST", "/restart"): lambda: self._spawn_restart(body),
            ("POST", "/freeze"): lambda: self.freeze(),
            ("POST", "/thaw"): lambda: self.thaw(),
            ("POST", "/hangup"): lambda: self.hangup(str(body["channel"]), int(body.get("cause", 16))),
        }
        route = routes.get((method, path))
        if route is None:
            return 404, {"error": "not-found"}
        try:
            result = route()
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"error": "bad-request", "message": str(exc)}
        return 200, result if result is not None else {"ok": True}


class ControlHTTPServer:
    """A deliberately tiny HTTP/1.0 JSON server: one request per connection."""

    def __init__(self, control: SimulatorControl, host: str, port: int) -> None:
        self._control = control
        self.host, self.port = host, port
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = next(
                (
                    int(v)
                    for k, _, v in (ln.partition(":") for ln in lines[1:])
                    if k.strip().lower() == "content-length"
                ),
                0,
            )
            raw = await reader.readexactly(length) if length else b""
            body = json.loads(raw) if raw else {}
            status, payload = self._control.handle_http(method, path, body if isinstance(body, dict) else {})
        except (ValueError, asyncio.IncompleteReadError):
            status, payload = 400, {"error": "bad-request"}
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.0 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        writer.close()
