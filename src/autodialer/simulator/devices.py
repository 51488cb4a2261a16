"""Device and extension state: DeviceStateChange, ExtensionStatus (hints) and QueueMemberStatus.

PJSIP devices aggregate their live channels (any Up -> INUSE, any ringing -> RINGING, both -> RINGINUSE,
none -> NOT_INUSE) and report only real changes; for a device that backs a hint, the
three events of one change are emitted together (their order varied in the real traces). Local devices
(`Local/<exten>@<ctx>`) report on each half's ringing/answer/destruction without deduplication, which is
what Asterisk 22 did (README §7: 4 DeviceStateChange per Local-only call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import RINGING, UP, Channel

if TYPE_CHECKING:
    from .pbx import PBX

# ast_device_state -> (ExtensionStatus code, text), QueueMemberStatus code
EXT_STATUS = {
    "NOT_INUSE": (0, "Idle"),
    "INUSE": (1, "InUse"),
    "BUSY": (2, "Busy"),
    "UNAVAILABLE": (4, "Unavailable"),
    "RINGING": (8, "Ringing"),
    "RINGINUSE": (9, "InUse&Ringing"),
    "ONHOLD": (16, "Hold"),
    "INVALID": (-1, "Unknown"),
    "UNKNOWN": (-1, "Unknown"),
}
MEMBER_STATUS = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}


def extension_status_fields(ctx: str, exten: str, device: str, state: str) -> list[tuple[str, str]]:
    code, text = EXT_STATUS[state]
    return [("Exten", exten), ("Context", ctx), ("Hint", device), ("Status", str(code)), ("StatusText", text)]


class DeviceStates:
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx
        self.state: dict[str, str] = {}
        self.dnd: set[str] = set()  # devices ("PJSIP/201") whose user set do-not-disturb
        self.unreachable: set[str] = set()  # devices whose phone is gone (no contact): UNAVAILABLE
        for ep in pbx.config.employees:
            self.state[f"PJSIP/{ep.exten}"] = "NOT_INUSE"
        self.state[f"PJSIP/{pbx.config.trunk_endpoint}"] = "NOT_INUSE"

    def get(self, device: str) -> str:
        return self.state.get(device, "INVALID")

    def hint_for(self, device: str) -> list[tuple[str, str]]:
        return self._pbx.dialplan.hints_of(device)

    def _aggregate(self, device: str) -> str:
        up = self._pbx.channels.device_has(device, UP)
        ringing = self._pbx.channels.device_has(device, RINGING)
        if up and ringing:
            return "RINGINUSE"
        if up:
            return "INUSE"
        if ringing:
            return "RINGING"
        return "UNAVAILABLE" if device in self.unreachable else "NOT_INUSE"

    def refresh(self, device: str) -> None:
        """Recompute a PJSIP device and announce a change (DeviceStateChange + hint + queue member)."""
        new = self._aggregate(device)
        if self.state.get(device) == new:
            return
        self.state[device] = new
        self._pbx.emit("DeviceStateChange", [("Device", device), ("State", new)])
        for ctx, exten in self.hint_for(device):
            if not self._pbx.unwanted("ExtensionStatus"):
                self._pbx.emit("ExtensionStatus", extension_status_fields(ctx, exten, device, new))
        self._pbx.queues.member_state_changed(device)

    def local(self, ch: Channel, state: str) -> None:
        self._pbx.emit("DeviceStateChange", [("Device", ch.device), ("State", state)])

    def channel_changed(self, ch: Channel) -> None:
        if ch.tech == "PJSIP":
            self.refresh(ch.device)

    def channel_gone(self, ch: Channel) -> None:
        if ch.tech == "PJSIP":
            self.refresh(ch.device)
        elif ch.tech == "Local":
            exists = self._pbx.dialplan.find(ch.device.split("@", 1)[1], ch.device[6:].split("@", 1)[0])
            self.local(ch, "NOT_INUSE" if exists else "INVALID")

    def set_reachable(self, device: str, reachable: bool) -> None:
        """The phone registers or disappears: PeerStatus, then the device (and hint, queue member) state."""
        (self.unreachable.discard if reachable else self.unreachable.add)(device)
        self._pbx.emit(
            "PeerStatus",
            [("ChannelType", "PJSIP"), ("Peer", device), ("PeerStatus", "Reachable" if reachable else "Unreachable")],
        )
        self.refresh(device)

    def set_dnd(self, device: str, on: bool) -> None:
        # MikoPBX DND is a panel status, not a device state: the phone rejects calls, the hint stays as it is.
        (self.dnd.add if on else self.dnd.discard)(device)
