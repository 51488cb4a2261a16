"""The shipped AMI user grants what Asterisk requires for every action the dialer sends.

Asterisk refuses an action with "Permission denied" unless the user's ``write`` classes intersect the authority the
action was registered with (manager.c process_message: ``writeperm & authority``, or authority 0). The table below
is the registration in Asterisk's sources; an action the adapters start sending must be added to it, so its rights
are looked up once, here.
"""

from __future__ import annotations

import re
from pathlib import Path

import autodialer
from autodialer.dialplan import snippet

# Action -> write classes that allow it (the EVENT_FLAG_* it is registered with; empty: anyone).
AUTHORITY: dict[str, frozenset[str]] = {
    "Login": frozenset(),  # manager.c
    "Logoff": frozenset(),  # manager.c
    "Ping": frozenset(),  # manager.c
    "Originate": frozenset({"originate"}),  # manager.c: EVENT_FLAG_ORIGINATE
    "Hangup": frozenset({"system", "call"}),  # manager.c
    "Getvar": frozenset({"call", "reporting"}),  # manager.c
    "CoreShowChannels": frozenset({"system", "reporting"}),  # manager.c
    "UserEvent": frozenset({"user"}),  # manager.c: EVENT_FLAG_USER
    "Filter": frozenset({"system"}),  # manager.c
    "ExtensionStateList": frozenset({"call", "reporting"}),  # manager.c
    "DeviceStateList": frozenset({"call", "reporting"}),  # main/devicestate.c
    "ShowDialPlan": frozenset({"config", "reporting"}),  # main/pbx.c
    "DBGetTree": frozenset({"system", "reporting"}),  # main/db.c
    "QueueStatus": frozenset(),  # apps/app_queue.c: 0
    "PJSIPShowEndpoints": frozenset({"system"}),  # res/res_pjsip/pjsip_configuration.c
}
# Refused without "system", on purpose (docs/dialplan.md, "Rights"): the dialer logs it and carries on.
NEEDS_SYSTEM_ON_PURPOSE = {"Filter", "PJSIPShowEndpoints"}

_SRC = Path(autodialer.__file__).parent
_BUILD = re.compile(r'Action\.build\(\s*"([A-Za-z]+)"')


def _actions_sent() -> set[str]:
    found: set[str] = set()
    for path in (_SRC / "adapters").rglob("*.py"):
        found.update(_BUILD.findall(path.read_text(encoding="utf-8")))
    return found


def _write_classes() -> set[str]:
    (line,) = [ln for ln in snippet("manager").splitlines() if re.match(r"\s*write\s*=", ln)]
    return {part.strip() for part in line.split("=", 1)[1].split(",") if part.strip()}


def test_every_action_the_dialer_sends_has_its_rights_looked_up() -> None:
    sent = _actions_sent()
    assert {"Originate", "UserEvent", "Login"} <= sent
    assert sent <= set(AUTHORITY), f"look up the manager rights of {sorted(sent - set(AUTHORITY))}"


def test_the_shipped_ami_user_may_send_every_action_but_the_optional_system_ones() -> None:
    write = _write_classes()
    refused = {action for action in _actions_sent() if AUTHORITY[action] and not (AUTHORITY[action] & write)}
    assert refused == NEEDS_SYSTEM_ON_PURPOSE
    assert "system" not in write  # would also allow restart/shutdown over AMI
