"""Password hashing and the lenient login-body parser: properties that hold for any input."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.adapters.jwt_tokens import Hs256Tokens
from autodialer.api.auth import AddressMatcher, php_json, session_cookie
from autodialer.api.routes.session import parse_login_body
from autodialer.services.auth_service import AuthPolicy, AuthService, ScryptCost, hash_password, verify_password

CHEAP = ScryptCost(n=2**4, r=1, p=1)  # the format and comparison are under test here, not the work factor


@settings(max_examples=30)
@given(st.text(max_size=40), st.text(max_size=40))
def test_a_hash_verifies_its_password_only(password: str, other: str) -> None:
    stored = hash_password(password, CHEAP)
    assert stored.startswith("scrypt$16$1$1$")
    assert verify_password(password, stored)
    assert verify_password(other, stored) == (other == password)


def test_default_cost_is_self_described_and_salted() -> None:
    a, b = hash_password("pw"), hash_password("pw")
    assert a.startswith("scrypt$16384$8$1$") and a != b
    assert verify_password("pw", a) and verify_password("pw", b)


@given(st.text(max_size=80))
def test_malformed_hashes_never_verify_and_never_raise(stored: str) -> None:
    assert verify_password("pw", stored) is False


@given(st.binary(max_size=300))
def test_any_login_body_parses(body: bytes) -> None:
    form = parse_login_body(body)
    assert isinstance(form.login, str) and form.passwords


def test_login_body_readings() -> None:
    assert parse_login_body(b"login=admin&password=a%2Bb").passwords[:2] == ["a+b", "a%2Bb"]
    one_c = parse_login_body("&login=админ&password=p&q=r&".encode())
    assert one_c.login == "админ" and "p&q=r" in one_c.passwords
    assert parse_login_body(b'{"login":"admin","password":"x"}').passwords == ["x"]


def test_session_cookie_tolerates_echoed_attributes() -> None:
    assert session_cookie("PHPSESSID=abc; path=/") == "abc"
    assert session_cookie("other=1; PHPSESSID=abc; Path=/; HttpOnly") == "abc"
    assert session_cookie("path=/") == ""


def test_php_json_escapes_slashes_and_unicode() -> None:
    assert php_json({"a": "/x/", "b": "я"}) == '{"a":"\\/x\\/","b":"\\u044f"}'


def test_address_matcher() -> None:
    matcher = AddressMatcher(["127.0.0.1", "::1", "10.0.0.0/8"])
    assert "127.0.0.1" in matcher and "::1" in matcher and "::ffff:127.0.0.1" in matcher and "10.9.9.9" in matcher
    assert "127.0.0.2" not in matcher and "" not in matcher and "garbage" not in matcher and None not in matcher


class NoStores:
    """Stores that know no session and no key: every lookup misses (enough for the Bearer/cookie paths)."""

    async def api_key_by_prefix(self, prefix: str) -> None:
        assert len(prefix) == 12 and all(ch in "0123456789abcdef" for ch in prefix)
        return None

    async def session_login(self, id_hash: str, now: float) -> None:
        return None

    async def token_generation(self, login: str) -> int:
        return 0


def _service() -> AuthService:
    policy = AuthPolicy("admin", "", 3600, 900, 10, 300)
    return AuthService(NoStores(), policy, lambda: 1e9, Hs256Tokens("k" * 40))  # type: ignore[arg-type]


@given(st.text(max_size=200) | st.from_regex(r"adk_[0-9a-f]{12}_.{0,40}", fullmatch=True))
def test_any_bearer_token_or_cookie_is_refused_without_raising(token: str) -> None:
    service = _service()
    assert asyncio.run(service.bearer_principal(token)) is None
    assert asyncio.run(service.session_principal(session_cookie(token))) is None


def test_a_token_signed_with_another_secret_or_expired_is_refused() -> None:
    service = _service()
    good = asyncio.run(service.issue_access_token("admin"))
    assert asyncio.run(service.bearer_principal(good)) is not None
    other = AuthService(NoStores(), AuthPolicy("admin", "", 3600, 900, 10, 300), lambda: 1e9, Hs256Tokens("z" * 40))  # type: ignore[arg-type]
    assert asyncio.run(other.bearer_principal(good)) is None
    later = AuthService(
        NoStores(), AuthPolicy("admin", "", 3600, 900, 10, 300), lambda: 1e9 + 900, Hs256Tokens("k" * 40)
    )  # type: ignore[arg-type]
    assert asyncio.run(later.bearer_principal(good)) is None
    claims = {"sub": "admin", "typ": "access", "exp": 2e9, "gen": 0}
    assert asyncio.run(service.bearer_principal(Hs256Tokens("k" * 40).encode(claims))) is not None
    unsigned = Hs256Tokens("k" * 40).encode(claims).rsplit(".", 1)[0] + "."
    assert asyncio.run(service.bearer_principal(unsigned)) is None
