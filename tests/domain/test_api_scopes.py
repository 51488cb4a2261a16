"""domain.api_scopes: a read key may only make safe requests; a write key may make any."""

from __future__ import annotations

import pytest

from autodialer.domain.api_scopes import SCOPE_NAMES, ApiScope, parse_scope, refusal

UNSAFE = ["POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "PROPFIND"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_safe_methods_are_allowed_to_both_scopes(method: str) -> None:
    assert refusal(ApiScope.READ, method) is None
    assert refusal(ApiScope.WRITE, method) is None


@pytest.mark.parametrize("method", UNSAFE)
def test_anything_else_needs_a_write_key(method: str) -> None:
    assert refusal(ApiScope.READ, method) == f"this API key is scoped read: {method} needs a write key"
    assert refusal(ApiScope.WRITE, method) is None


def test_scopes_are_read_and_write_exactly() -> None:
    assert SCOPE_NAMES == ("read", "write")
    assert parse_scope("read") is ApiScope.READ and parse_scope("write") is ApiScope.WRITE
    for bad in ("", "READ", "admin", "read,write", " write"):
        with pytest.raises(ValueError, match=r"^scope: must be read or write, not "):
            parse_scope(bad)
    with pytest.raises(ValueError, match=r"^--scope: must be read or write, not 'admin'$"):
        parse_scope("admin", field="--scope")
