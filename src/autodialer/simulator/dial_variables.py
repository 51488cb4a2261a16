"""The channel variables Dial and bridging set, in the order VarSet reports them (unfiltered trace 02).

Values that depend on time (RINGTIME, ANSWEREDTIME, RTP statistics) are computed from the simulated clock or
are plausible constants; a dialer should not read them, but a client's VarSet handling sees the same names on
the same channels as with Asterisk.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from .channels import Channel

if TYPE_CHECKING:
    from .pbx import PBX

RESET = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)
QOS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES")
_QOS_VALUE = {
    "RTPAUDIOQOS": "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;"
    "rtt=0.000000;rxmes=0.000000;txmes=0.000000",
    "RTPAUDIOQOSJITTER": "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;",
    "RTPAUDIOQOSLOSS": "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;",
    "RTPAUDIOQOSRTT": "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;",
    "RTPAUDIOQOSMES": "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;",
}


def reset(pbx: PBX, caller: Channel) -> None:
    for name in RESET:
        pbx.set_var(caller, name, "")


def dialled(pbx: PBX, out: Channel, dial_string: str) -> None:
    pbx.set_var(out, "DIALEDPEERNUMBER", dial_string)


def ringing(pbx: PBX, caller: Channel, started: float) -> None:
    elapsed = pbx.clock.now() - started
    pbx.set_var(caller, "RINGTIME", str(int(elapsed)))
    pbx.set_var(caller, "RINGTIME_MS", str(int(elapsed * 1000)))


def answered(pbx: PBX, caller: Channel, out: Channel) -> None:
    pbx.set_var(caller, "DIALSTATUS", "ANSWER")
    pbx.set_var(caller, "DIALEDPEERNAME", out.name)
    pbx.set_var(caller, "DIALEDPEERNUMBER", out.variables.get("DIALEDPEERNUMBER", ""))


def bridged(pbx: PBX, caller: Channel, callee: Channel) -> None:
    pbx.set_var(callee, "BRIDGEPEER", caller.name)
    pbx.set_var(caller, "BRIDGEPEER", callee.name)
    pbx.set_var(caller, "BRIDGEPVTCALLID", str(uuid.uuid4()))


def left_bridge(pbx: PBX, ch: Channel, *, dial_caller: bool) -> None:
    """`ch` left the Dial bridge; the Dial caller also forgets its bridge call id."""
    pbx.set_var(ch, "BRIDGEPEER", "")
    if dial_caller:
        pbx.set_var(ch, "BRIDGEPVTCALLID", "")


def finished(pbx: PBX, caller: Channel, started: float, answered_at: float | None) -> None:
    now = pbx.clock.now()
    talk = now - answered_at if answered_at is not None else 0.0
    pbx.set_var(caller, "ANSWEREDTIME", str(int(talk)))
    pbx.set_var(caller, "ANSWEREDTIME_MS", str(int(talk * 1000)))
    pbx.set_var(caller, "DIALEDTIME", str(int(now - started)))
    pbx.set_var(caller, "DIALEDTIME_MS", str(int((now - started) * 1000)))
    pbx.set_var(caller, "DIALSTATUS", caller.variables.get("DIALSTATUS", ""))


def rtp_quality(pbx: PBX, ch: Channel) -> None:
    """RTP statistics of an answered PJSIP channel as it hangs up; its bridge peer gets the *BRIDGED copies."""
    if ch.tech != "PJSIP" or ch.answered_at is None or ch.qos_reported:
        return
    ch.qos_reported = True
    peer = pbx.bridges.peer_of(ch)
    for name in QOS:
        pbx.set_var(ch, name, _QOS_VALUE[name])
        if peer is not None:
            pbx.set_var(peer, f"{name}BRIDGED", _QOS_VALUE[name])
