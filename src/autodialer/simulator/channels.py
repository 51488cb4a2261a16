"""Channels: names, ids and the per-channel state that AMI events describe.

Naming follows Asterisk 22 (README §6): Local pairs are `Local/<exten>@<ctx>-<8 hex>;1/;2` with one shared
counter per pair; PJSIP channels are `PJSIP/<endpoint>-<8 hex>` with their own counter. `ChannelId` becomes the
Uniqueid of the originated channel, `OtherChannelId` (default `X;2`) that of `;2`; channels the PBX makes
itself get `<epoch>.<counter>`. Every channel of one call shares the originated channel's Linkedid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from .events import Fields

if TYPE_CHECKING:
    from .bridges import Bridge

DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7
STATE_DESC = {
    DOWN: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    RING: "Ring",
    RINGING: "Ringing",
    UP: "Up",
    BUSY: "Busy",
}

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    34: "Circuit/channel congestion",
    38: "Network out of order",
}
# SoftHangupRequest's Cause is not a Q.850 cause but Asterisk's soft-hangup flag: 4 = AST_SOFTHANGUP_SHUTDOWN
# (ast_softhangup_all at core stop/restart), 16 = AST_SOFTHANGUP_APPUNLOAD (the PBX loop ending),
# 32 = AST_SOFTHANGUP_EXPLICIT (AGI HANGUP, AMI Hangup).
SOFT_SHUTDOWN, SOFT_APPUNLOAD, SOFT_EXPLICIT = 4, 16, 32


_CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)


@lru_cache(maxsize=16)
def _field_keys(prefix: str) -> tuple[str, ...]:
    """A channel's field names in event order, ``prefix`` (Dest, DestBridge…) before each."""
    return tuple(prefix + key for key in _CHANNEL_KEYS)


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    tech: str  # "Local" or "PJSIP"
    device: str  # device-state key: "PJSIP/201", "Local/5551001@dialer-out"
    priority: int = 1
    state: int = DOWN
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    accountcode: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    peer: Channel | None = None  # the other half of a Local pair
    endpoint: str = ""  # PJSIP endpoint name
    bridge: Bridge | None = None
    hangup_cause: int = 0
    tech_cause: int | None = None  # the SIP status that ended a PJSIP channel (486, 503, 404, 480 on CANCEL)
    queue_call: bool = False
    qos_reported: bool = False
    app: str = ""  # the application the channel is running, for CoreShowChannels
    app_data: str = ""  # dialled by app_queue: its member counts as InCall once it answers
    hungup: bool = False  # a hangup was requested (soft or hard); apps must stop
    destroyed: bool = False
    dtmf: list[str] = field(default_factory=list)  # digits received and not yet read by an app
    watchers: set[Waiter] = field(default_factory=set)
    created_at: float = 0.0
    answered_at: float | None = None
    pbx_soft_hangup_sent: bool = False
    callerid_refresh_pending: tuple[str, str] | None = None  # (num, name) ;2 takes when its bridge breaks
    in_agi: bool = False  # an AGI session owns the channel: apps it EXECs must not destroy it
    # func_hangupcause's hash: dialled channel name -> (tech cause "SIP 486 Busy Here", Q.850 cause)
    dialed_causes: dict[str, tuple[str, int]] = field(default_factory=dict)
    hangup_handlers: list[str] = field(default_factory=list)  # "context,exten,priority", pushed in order

    @property
    def half(self) -> int:
        return 2 if self.name.endswith(";2") else 1

    def fields(self, prefix: str = "") -> Fields:
        return list(
            zip(
                _field_keys(prefix),
                (
                    self.name,
                    str(self.state),
                    STATE_DESC.get(self.state, "Unknown"),
                    self.caller_num,
                    self.caller_name,
                    self.connected_num,
                    self.connected_name,
                    self.language,
                    self.accountcode,
                    self.context,
                    self.exten,
                    str(self.priority),
                    self.uniqueid,
                    self.linkedid,
                ),
                strict=True,
            )
        )

    def poke(self) -> None:
        """Wake whatever app is waiting on this channel (hangup, state, bridge or DTMF changed)."""
        for waiter in self.watchers:
            waiter.set()


class Waiter:
    """One wait for a poke: a future set True by the first ``set`` (a poke) or False by ``expire`` (a timeout).

    A future and a timer handle, where an asyncio.Event waited on through wait_for cost a task per wait: the apps
    wait on their channels ~16 times per queue call, and at 400 calls a second that was a fifth of the loop's work."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self.future.done():
            self.future.set_result(True)

    def expire(self) -> None:
        if not self.future.done():
            self.future.set_result(False)


async def wait_any(channels: list[Channel], timeout: float | None) -> bool:
    """Wait until one of `channels` is poked or `timeout` real seconds pass; True if poked.

    Callers re-check their condition after every wake-up: a poke only says "something changed".
    """
    waiter = Waiter()
    for ch in channels:
        ch.watchers.add(waiter)
    timer = None if timeout is None else asyncio.get_running_loop().call_later(timeout, waiter.expire)
    try:
        return await waiter.future
    finally:
        if timer is not None:
            timer.cancel()
        for ch in channels:
            ch.watchers.discard(waiter)


class ChannelRegistry:
    """Live channels plus the counters that name them."""

    def __init__(self, now: float, uniqueid_start: int = 0, local_start: int = 0, pjsip_start: int = 0) -> None:
        self._epoch = int(now)
        self._uid = uniqueid_start
        self._local = local_start
        self._pjsip = pjsip_start
        self.live: dict[str, Channel] = {}
        # The live channels of each device, so a device's state is computed from its own channels and not from a
        # walk over every call in the PBX (5,000 calls, thousands of state changes a second).
        self._by_device: dict[str, dict[str, Channel]] = {}
        # Per device, its live channels that are up and those ringing: the two facts a PJSIP device state is made
        # of, found without a walk over the trunk's thousands of calls.
        self._up: dict[str, dict[str, Channel]] = {}
        self._ringing: dict[str, dict[str, Channel]] = {}
        self.processed = 0

    def new_uniqueid(self, now: float) -> str:
        self._uid += 1
        return f"{int(now)}.{self._uid}"

    def local_pair(self, exten: str, context: str, uid1: str, uid2: str, now: float) -> tuple[Channel, Channel]:
        suffix = f"{self._local:08x}"
        self._local += 1
        base = f"Local/{exten}@{context}-{suffix}"
        device = f"Local/{exten}@{context}"
        one = Channel(f"{base};1", uid1, uid1, context, exten, "Local", device, created_at=now)
        two = Channel(f"{base};2", uid2, uid1, context, exten, "Local", device, state=RING, created_at=now)
        one.peer, two.peer = two, one
        self._add(one)
        self._add(two)
        return one, two

    def pjsip(self, endpoint: str, uniqueid: str, linkedid: str, context: str, now: float) -> Channel:
        name = f"PJSIP/{endpoint}-{self._pjsip:08x}"
        self._pjsip += 1
        ch = Channel(
            name,
            uniqueid,
            linkedid or uniqueid,
            context,
            "s",
            "PJSIP",
            f"PJSIP/{endpoint}",
            endpoint=endpoint,
            created_at=now,
        )
        self._add(ch)
        return ch

    def _add(self, ch: Channel) -> None:
        self.live[ch.name] = ch
        self._by_device.setdefault(ch.device, {})[ch.name] = ch
        self.processed += 1

    def remove(self, ch: Channel) -> None:
        self.live.pop(ch.name, None)
        for index in (self._by_device, self._up, self._ringing):
            _unindex(index, ch)

    def clear(self) -> None:
        self.live.clear()
        self._by_device.clear()
        self._up.clear()
        self._ringing.clear()

    def set_state(self, ch: Channel, state: int) -> None:
        """Change a channel's state (the only way it changes once the channel exists)."""
        for index, wanted in ((self._up, UP), (self._ringing, RINGING)):
            if ch.state == wanted:
                _unindex(index, ch)
            if state == wanted and ch.name in self.live:
                index.setdefault(ch.device, {})[ch.name] = ch
        ch.state = state

    def device_has(self, device: str, state: int) -> bool:
        """Whether a live channel of ``device`` that is not being destroyed is in ``state`` (UP or RINGING)."""
        index = self._up if state == UP else self._ringing
        return any(not c.destroyed for c in index.get(device, {}).values())

    def on_device(self, device: str) -> Collection[Channel]:
        """The live channels of ``device`` ("PJSIP/201", "Local/5551001@dialer-out"), in creation order."""
        return self._by_device.get(device, {}).values()

    def by_name(self, name: str) -> Channel | None:
        return self.live.get(name)

    def by_uniqueid(self, uniqueid: str) -> Channel | None:
        return next((c for c in self.live.values() if c.uniqueid == uniqueid), None)


def _unindex(index: dict[str, dict[str, Channel]], ch: Channel) -> None:
    channels = index.get(ch.device)
    if channels is not None:
        channels.pop(ch.name, None)
        if not channels:
            del index[ch.device]
