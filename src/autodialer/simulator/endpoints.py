"""The far ends of PJSIP channels: customers behind the trunk and employees' phones.

`far_end` plays one `Behaviour` against a freshly dialled channel, exactly as the lab's sipp UAS did: 180
(Ringing), then 200 (Up) or a final error (a HangupRequest with the SIP-mapped cause), then optional RFC 4733
digits and a BYE. DTMF from the far end crosses the bridge: DTMFBegin/DTMFEnd appear on the trunk
(Received), on the bridged Local ;2 (Sent) and on its ;1 (Received), 6 events per digit (trace 07); the digit is
then readable by the app running on the last channel (AGI GET DATA, WAIT FOR DIGIT, STREAM FILE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import RINGING, UP, Channel
from .dialplan_functions import record_response
from .scenario import Behaviour

if TYPE_CHECKING:
    from .pbx import PBX

REJECT_CAUSE = {"busy": 17, "dnd": 17, "congestion": 34, "unallocated": 1}
SIP_STATUS = {"busy": 486, "dnd": 486, "congestion": 503, "unallocated": 404}
SIP_CANCELLED = 480  # what chan_pjsip records when Asterisk CANCELs a ringing call (traces 04, 10)


async def far_end(pbx: PBX, out: Channel, behaviour: Behaviour) -> None:
    b = behaviour
    if b.outcome in REJECT_CAUSE:
        if b.ring:
            _ringing(pbx, out)
        await pbx.sleep(b.reject_after)
        if not out.hungup:
            out.tech_cause = SIP_STATUS[b.outcome]
            record_response(out, SIP_STATUS[b.outcome], REJECT_CAUSE[b.outcome])
            pbx.hangup_request(out, REJECT_CAUSE[b.outcome])
        return
    if b.ring:
        _ringing(pbx, out)
    if b.outcome == "noanswer":
        return
    await pbx.sleep(b.answer_after)
    if out.hungup:
        return
    record_response(out, 200, 16)
    pbx.new_state(out, UP)
    elapsed = 0.0
    for at, digit in sorted(b.dtmf):
        await pbx.sleep(at - elapsed)
        elapsed = at
        if out.hungup:
            return
        await send_dtmf(pbx, out, digit, b.dtmf_duration_ms)
        elapsed += b.dtmf_duration_ms / 1000
    if b.hangup_after is not None:
        await pbx.sleep(b.hangup_after - elapsed)
        if not out.hungup:
            pbx.hangup_request(out, 16)


def _ringing(pbx: PBX, out: Channel) -> None:
    record_response(out, 180, 16)  # the response's cause is recorded before the state changes (chan_pjsip)
    pbx.new_state(out, RINGING)


def dtmf_path(pbx: PBX, source: Channel) -> list[tuple[Channel, str]]:
    path = [(source, "Received")]
    peer = pbx.bridges.peer_of(source)
    if peer is not None:
        path.append((peer, "Sent"))
        if peer.tech == "Local" and peer.peer is not None and not peer.peer.destroyed:
            path.append((peer.peer, "Received"))
    return path


async def send_dtmf(pbx: PBX, source: Channel, digit: str, duration_ms: int) -> None:
    path = dtmf_path(pbx, source)
    for ch, direction in path:
        pbx.chan_event("DTMFBegin", ch, [("Digit", digit), ("Direction", direction)])
    await pbx.sleep(duration_ms / 1000)
    for ch, direction in path:
        if not ch.destroyed:
            pbx.chan_event(
                "DTMFEnd", ch, [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", direction)]
            )
    target = path[-1][0]
    target.dtmf.append(digit)
    target.poke()
