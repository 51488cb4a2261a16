"""What an API key may do (issue 12): its scope, ``read`` or ``write``, and the one rule the auth gate applies.

A ``read`` key may make only safe requests: GET, HEAD and OPTIONS (RFC 9110 §9.2.1), which change nothing here. A
``write`` key may do everything a read key may, and everything else. Sessions, access tokens and exempt addresses
have ``write`` (the full rights they always had); keys created before scopes existed are ``write`` too.

The rule is by method, not by route, so it holds for v1, v2, the console's use of v2 and any route added later
alike. That is sound because every route that changes something is a POST, PUT, PATCH or DELETE, and no route a
key can reach reads by POST: v1's POSTs (``/task``, ``/polling``, ``/audio``) all store something, v2's all change
something, and the POST login routes (``/admin-cabinet/session/start``, ``/pbxcore/api/v3/auth:*``,
``/console/login``) are public, so the gate never looks at a key there. A route that reads by POST would have to be
listed here as an exception; there is none.
"""

from __future__ import annotations

from enum import Enum


class ApiScope(Enum):
    READ = "read"
    WRITE = "write"


SCOPE_NAMES: tuple[str, ...] = tuple(scope.value for scope in ApiScope)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_scope(text: str, field: str = "scope") -> ApiScope:
    """``read`` or ``write`` (exactly, lower case) as an ApiScope; anything else raises ValueError naming ``field``
    and the allowed values."""
    try:
        return ApiScope(text)
    except ValueError:
        raise ValueError(f"{field}: must be {' or '.join(SCOPE_NAMES)}, not {text!r}") from None


def refusal(scope: ApiScope, method: str) -> str | None:
    """Why a request with ``method`` is not allowed to a key of ``scope``, in words; None when it is allowed."""
    method = method.upper()
    if scope is ApiScope.WRITE or method in SAFE_METHODS:
        return None
    return f"this API key is scoped {scope.value}: {method} needs a write key"
