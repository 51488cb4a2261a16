"""Configuration of the PBX simulator: the recorded Asterisk 22 lab's topology (tests/fixtures/asterisk) + test knobs.

Every default mirrors the real lab (AMI 127.0.0.1:5038, user dialer/dialerpass, employees 201/202, queue 2200,
trunk endpoint `trunk`, dialer contexts) so the simulator can stand in for it unchanged; tests use port 0 and a
small `time_scale` so that a 6 s call lasts 6 ms of real time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EmployeeConfig:
    """One internal extension with a PJSIP endpoint of the same name (`PJSIP/201`)."""

    exten: str
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or f"Employee {self.exten}"


QUEUE_STRATEGIES = ("ringall", "linear", "rrmemory", "rrordered", "leastrecent", "fewestcalls", "random")


@dataclass
class QueueConfig:
    """An app_queue queue whose members are employee extensions (queues.conf of the lab: ringall, timeout 15,
    retry 2, ringinuse=no; ``autofill`` is the [general] setting, off when not given, as in the lab)."""

    name: str = "2200"
    members: tuple[str, ...] = ("201", "202")
    timeout_s: float = 15.0  # how long one member rings (queues.conf ``timeout``)
    ringinuse: bool = False
    strategy: str = "ringall"
    retry_s: float = 2.0  # the pause between two rounds of ringing (``retry``)
    autofill: bool = False
    # queues.conf ``wrapuptime``: after a call a member is not rung for this many seconds (its wrap-up)
    wrapup_s: float = 0.0
    # queues.conf ``membergosub``: the subroutine run on a member's channel once it answered, when Queue() names none
    member_gosub: str = ""

    def __post_init__(self) -> None:
        if self.strategy not in QUEUE_STRATEGIES:
            raise ValueError(f"strategy: {self.strategy!r} is not one of {QUEUE_STRATEGIES}")


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    ami_port: int = 5038
    username: str = "dialer"
    secret: str = "dialerpass"  # noqa: S105 - the lab's documented AMI secret, not a real credential
    # The AMI user's manager.conf classes, as written there ("system,call,agent" or "all"). Actions whose
    # registered authority is outside `write_classes` get "Permission denied"; events whose class is outside
    # `read_classes` are not delivered (manager.c). The lab's manager.conf grants read=all, write=all.
    read_classes: str = "all"
    write_classes: str = "all"
    # Dialplan: a path to an extensions.conf, else `dialplan_text`, else the built-in lab dialplan (the lab's
    # extensions.conf: only _555XXXX has a route). Contexts the dialplan lacks are generated (topology.py).
    dialplan_path: Path | None = None
    dialplan_text: str | None = None
    extra_dialplan: str = ""  # extensions.conf text appended to the dialplan (tests, production snippets)
    # Rewrites `agi://127.0.0.1:4573/...` targets so tests can point AGI() at an ephemeral port.
    agi_host: str | None = None
    agi_port: int | None = None
    outgoing_context: str = "dialer-out"
    connect_context: str = "dialer-connect"
    internal_context: str = "internal"
    trunk_endpoint: str = "trunk"
    employees: tuple[EmployeeConfig, ...] = (EmployeeConfig("201"), EmployeeConfig("202"))
    queues: tuple[QueueConfig, ...] = (QueueConfig(),)
    # Real seconds per simulated second (1.0 = real time; tests use ~0.002).
    time_scale: float = 1.0
    # Originates started per simulated second at most (None = as fast as we can; the lab Asterisk did ~850/s).
    originate_rate: float | None = None
    scenario_path: Path | None = None
    control_http_port: int | None = None  # optional JSON control endpoint; None = off, 0 = ephemeral
    # Length of sound files played by STREAM FILE / Playback / GET DATA (seconds); missing ones fail.
    sound_seconds: dict[str, float] = field(default_factory=dict)
    default_sound_seconds: float = 1.0
    missing_sounds: frozenset[str] = frozenset({"no-such-file"})
    # Asterisk waits forever for the FastAGI server to close after a hangup; the simulator gives up after this
    # many simulated seconds so a buggy server cannot leak channels in long test runs.
    agi_hangup_grace_s: float = 3600.0
    uniqueid_counter_start: int = 0
    local_counter_start: int = 0
    pjsip_counter_start: int = 0
