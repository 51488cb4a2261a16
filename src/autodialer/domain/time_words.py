"""Instants in words for verdicts: local wall time in a zone, and the same instant on the PBX's clock."""

from __future__ import annotations

from datetime import datetime

from autodialer.domain.callee_zones import zone_info


def wall(t: float, zone: str) -> str:
    """``2026-03-09 09:00 Mon`` on ``zone``'s clock (seconds dropped: every rule boundary is a whole minute)."""
    return datetime.fromtimestamp(t, zone_info(zone)).strftime("%Y-%m-%d %H:%M %a")


def local_and_pbx(t: float, zone: str, pbx_zone: str) -> str:
    """``2026-03-09 09:00 Mon Asia/Novosibirsk = 2026-03-09 05:00 Mon PBX time`` (one clock when they agree)."""
    here, there = wall(t, zone), wall(t, pbx_zone)
    if here == there:
        return f"{here} {zone} (PBX time)"
    return f"{here} {zone} = {there} PBX time"


def pbx(t: float, pbx_zone: str) -> str:
    return f"{wall(t, pbx_zone)} PBX time"


def pbx_clock(t: float, pbx_zone: str) -> str:
    """``2026-12-05 19:02:11 PBX time``: to the second, for states that began at an instant (a link lost)."""
    return f"{datetime.fromtimestamp(t, zone_info(pbx_zone)).strftime('%Y-%m-%d %H:%M:%S')} PBX time"
