"""What the readiness endpoint reports about the PBX side, as plain data the composition root fills in.

The API never touches the AMI client or the FastAGI server; bootstrap gives the context a function returning a
:class:`PbxStatus` snapshot (``None`` when the dialer is disabled: an API-only instance needs no PBX to be ready).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PbxStatus:
    ami_address: str  # host:port the client connects to
    ami_username: str
    ami_state: str  # stopped, connecting, connected, waiting (backing off before a retry), closed
    ami_logged_in: bool
    ami_connects: int  # successful logins since start
    ami_last_error: str | None  # why the link is not up (None while it is)
    ami_login_refused: bool  # Asterisk refused the credentials: a configuration problem, retried slowly
    fastagi_address: str
    fastagi_listening: bool
    fastagi_sessions: int
    calls_in_flight: int
