"""Basic two-party bridges (what Dial and Queue create once someone answers).

Events match Asterisk's basic/simple_bridge: BridgeCreate (0 channels), BridgeEnter/BridgeLeave carrying the
bridge snapshot after the change, BridgeDestroy when the last channel leaves. A channel leaving a bridge
pokes the others so that the Dial/Queue app holding them notices the bridge broke up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .events import Fields

if TYPE_CHECKING:
    from .channels import Channel
    from .pbx import PBX


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    members: list[Channel] = field(default_factory=list)
    destroyed: bool = False

    def fields(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.members))),
            ("BridgeVideoSourceMode", "none"),
        ]


class Bridges:
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx

    def create(self) -> Bridge:
        bridge = Bridge(str(uuid.uuid4()))
        self._pbx.emit("BridgeCreate", bridge.fields())
        return bridge

    def enter(self, bridge: Bridge, ch: Channel) -> None:
        bridge.members.append(ch)
        ch.bridge = bridge
        if not self._pbx.unwanted("BridgeEnter"):
            self._pbx.emit("BridgeEnter", [*bridge.fields(), *ch.fields()])

    def leave(self, ch: Channel) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        bridge.members.remove(ch)
        ch.bridge = None
        if not self._pbx.unwanted("BridgeLeave"):
            self._pbx.emit("BridgeLeave", [*bridge.fields(), *ch.fields()])
        for other in bridge.members:
            other.poke()
        if not bridge.members and not bridge.destroyed:
            bridge.destroyed = True
            self._pbx.emit("BridgeDestroy", bridge.fields())

    def peer_of(self, ch: Channel) -> Channel | None:
        if ch.bridge is None:
            return None
        return next((c for c in ch.bridge.members if c is not ch), None)
