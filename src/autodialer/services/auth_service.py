"""Who may use the API: the admin password, PHPSESSID sessions, JWTs, API keys and failed-login throttling.

Invariants:
- No secret is stored in the clear. The admin password is an scrypt hash in a self-describing string
  (``scrypt$<n>$<r>$<p>$<salt>$<hash>``, base64url), compared in constant time. Session ids, refresh tokens and API
  keys are random 128+ bit values, stored as their SHA-256 (a slow hash adds nothing for values this random).
- Only *failed* logins are counted, per peer address, in a sliding window (MikoPBX 2024.1 also counted successes and
  locked out 1C, which logs in before every call). Each login first reserves an attempt, atomically in the database
  (the store's ``reserve_attempt``), and only then checks the password; a right password gives its reservation back.
  So however many guesses arrive at once, on one instance or several, at most ``failures_per_window`` passwords are
  checked per window, and once the window is full even the right password is refused without being checked, which
  also caps the scrypt work an attacker can cause. An IPv6 peer counts as its /64 (one host usually holds a whole
  /64 and could rotate through it); an IPv4-mapped IPv6 peer as its IPv4.
- Time comes from the injected ``now``; JWT expiry is checked against it, not against the library's clock.
- JWTs are HS256 with ``sub`` = login, ``typ`` = "access" and ``gen`` = the login's token generation, compared with
  the stored one on every request. A password change (or ``end_sessions``) deletes every session and refresh token
  and bumps the generation in one transaction, so every PHPSESSID, refresh token and access token issued before
  stops working at once, on every instance. API keys look like ``adk_<prefix>_<secret>``; the prefix
  (12 hex) finds the row, the hash of the whole key decides.
- An API key has a scope (domain.api_scopes: ``read`` or ``write``), carried by its Principal for the gate to apply;
  every other Principal is ``write``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from autodialer.domain.api_scopes import ApiScope

log = logging.getLogger(__name__)

API_KEY_PREFIX = "adk_"


def peer_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A peer address as an IP: without its zone id (fe80::1%eth0), an IPv4-mapped IPv6 address as its IPv4; None
    when it is not an IP (a test client's name, a Unix socket)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def throttle_key(address: str) -> str:
    """Whose failed logins ``address`` counts toward: the IPv4 address, or an IPv6 address's /64 network."""
    ip = peer_ip(address)
    if ip is None:
        return address  # not an IP: itself
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


_REFRESH_NAMESPACE = "refresh\0"  # refresh-token hashes never collide with session-id hashes in the shared table


# --- ports -------------------------------------------------------------------------------------------------------


class CredentialStore(Protocol):
    async def password_hash(self, login: str) -> str | None: ...

    async def set_password_hash(self, login: str, password_hash: str, now: float) -> None: ...

    async def add_password_hash_if_absent(self, login: str, password_hash: str, now: float) -> bool:
        """Store the hash unless ``login`` already has one (another instance may seed at the same time)."""
        ...


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    key_hash: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    scope: ApiScope


class ApiKeyStore(Protocol):
    async def add_api_key(self, name: str, prefix: str, key_hash: str, scope: ApiScope, now: float) -> ApiKeyRecord: ...

    async def api_key_by_prefix(self, prefix: str) -> ApiKeyRecord | None: ...

    async def api_keys(self) -> Sequence[ApiKeyRecord]: ...

    async def revoke_api_key(self, prefix: str, now: float) -> bool:
        """Mark the key revoked; False when no unrevoked key has this prefix."""
        ...

    async def touch_api_key(self, key_id: int, now: float) -> None: ...


class SessionStore(Protocol):
    async def add_session(self, id_hash: str, login: str, now: float, expires_at: float) -> None: ...

    async def session_login(self, id_hash: str, now: float) -> str | None:
        """The login of an unexpired session, else None."""
        ...

    async def delete_session(self, id_hash: str) -> None: ...

    async def delete_expired_sessions(self, now: float) -> None: ...

    async def token_generation(self, login: str) -> int | None:
        """The generation access tokens of ``login`` must carry; None when the login has no credentials."""
        ...

    async def end_sessions(self, login: str) -> int:
        """In one transaction: delete every session and refresh token of ``login`` and bump its token generation.
        Returns how many sessions and refresh tokens ended."""
        ...


class LoginFailureStore(Protocol):
    async def reserve_attempt(self, address: str, at: float, since: float, limit: int) -> tuple[int, int] | None:
        """Atomically: if ``address`` has fewer than ``limit`` attempts recorded after ``since``, record one at
        ``at`` and return (its id, the attempts recorded before it); else None. However many callers race, in one
        process or several sharing the database, no more than ``limit`` are ever recorded in a window."""
        ...

    async def release_attempt(self, attempt_id: int) -> None:
        """Forget a recorded attempt (its password was right: only failures count)."""
        ...

    async def delete_failures_before(self, at: float) -> None: ...


class TokenCodec(Protocol):
    """Signed access tokens (HS256 JWTs in the adapter)."""

    def encode(self, claims: Mapping[str, Any]) -> str: ...

    def decode(self, token: str) -> dict[str, Any] | None:
        """The claims of a token whose signature is valid, else None. Expiry is NOT checked (the service does)."""
        ...


# --- password hashing --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt work factors; the default takes ~16 MiB and tens of milliseconds per hash."""

    n: int = 2**14
    r: int = 8
    p: int = 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, cost: ScryptCost = ScryptCost()) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, dklen=32)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; False for any malformed or foreign hash string (never raises)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def token_hash(value: str) -> str:
    """SHA-256 hex (64 characters: the sessions table's key width)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- the service -------------------------------------------------------------------------------------------------


class LoginStatus(Enum):
    OK = "ok"
    WRONG = "wrong"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    status: LoginStatus
    login: str
    remaining_attempts: int  # failed logins left in the window before THROTTLED
    retry_after_s: int = 0  # THROTTLED: seconds until the window lets the address try again (upper bound)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: ``kind`` is session, jwt, api-key, exempt-address or public (a login route); ``name`` the
    login or key name; ``scope`` what it may do (domain.api_scopes.refusal): an API key's own, else ``write``."""

    kind: str
    name: str
    scope: ApiScope = ApiScope.WRITE


@dataclass(frozen=True, slots=True)
class NewApiKey:
    record: ApiKeyRecord
    key: str  # shown once; only its hash is kept


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    admin_login: str
    seed_password: str  # "" = do not seed
    session_lifetime_s: float
    jwt_lifetime_s: int
    failures_per_window: int
    failure_window_s: float
    refresh_lifetime_s: float = 30 * 24 * 3600
    scrypt_cost: ScryptCost = ScryptCost()


class AuthStores(CredentialStore, ApiKeyStore, SessionStore, LoginFailureStore, Protocol):
    """Everything the service stores, as one port (the SQL adapter implements it over four tables)."""


class AuthService:
    def __init__(
        self, stores: AuthStores, policy: AuthPolicy, now: Callable[[], float], tokens: TokenCodec | None = None
    ) -> None:
        """``tokens`` may be omitted where no JWT is issued or checked (the CLI): Bearer JWTs then never pass."""
        self._stores = stores
        self._policy = policy
        self._now = now
        self._tokens = tokens
        self._decoy: str | None = None

    @property
    def jwt_lifetime_s(self) -> int:
        return self._policy.jwt_lifetime_s

    # --- admin password

    async def seed_admin(self) -> bool:
        """Store the configured seed password's hash if the admin has none yet; True when something was stored."""
        if not self._policy.seed_password:
            return False
        hashed = await asyncio.to_thread(hash_password, self._policy.seed_password, self._policy.scrypt_cost)
        return await self._stores.add_password_hash_if_absent(self._policy.admin_login, hashed, self._now())

    async def set_admin_password(self, password: str) -> None:
        """Replace the admin password (CLI) and end every session, refresh token and access token issued before."""
        if not password:
            raise ValueError("password: must not be empty")
        hashed = await asyncio.to_thread(hash_password, password, self._policy.scrypt_cost)
        await self._stores.set_password_hash(self._policy.admin_login, hashed, self._now())
        await self.end_sessions()

    async def end_sessions(self) -> int:
        """End every PHPSESSID session, refresh token and access token of the admin, on every instance (CLI
        ``admin revoke-sessions``; a password change does it too). API keys are not sessions: revoke them one by
        one. Returns how many sessions and refresh tokens ended (access tokens are not counted: none is stored)."""
        ended = await self._stores.end_sessions(self._policy.admin_login)
        log.warning(
            "every session and token of %r ended (%d sessions and refresh tokens)", self._policy.admin_login, ended
        )
        return ended

    async def login(self, login: str, password_candidates: Sequence[str], address: str) -> LoginOutcome:
        """Check a login attempt from ``address``.

        ``password_candidates`` lets a caller that cannot tell how the client encoded the password (1C sends form
        bodies without URL-encoding) offer each reading; any match succeeds. An unknown login fails like a wrong
        password. Over the failure limit the password is not even checked.
        """
        now = self._now()
        window_start = now - self._policy.failure_window_s
        limit = self._policy.failures_per_window
        address = throttle_key(address)
        reserved = await self._stores.reserve_attempt(address, now, window_start, limit)
        if reserved is None:
            return LoginOutcome(LoginStatus.THROTTLED, login, 0, int(self._policy.failure_window_s))
        attempt_id, failures = reserved
        # Cancelled or failing from here on, the reservation stays and counts as a failed attempt.
        if await self._password_matches(login, password_candidates):
            await self._stores.release_attempt(attempt_id)
            return LoginOutcome(LoginStatus.OK, login, limit - failures)
        await self._stores.delete_failures_before(window_start)
        log.warning("failed login for %r from %s (%d of %d in the window)", login, address, failures + 1, limit)
        return LoginOutcome(LoginStatus.WRONG, login, max(limit - failures - 1, 0))

    async def _password_matches(self, login: str, candidates: Sequence[str]) -> bool:
        stored = None
        if login == self._policy.admin_login:
            stored = await self._stores.password_hash(login)
            if stored is None and await self.seed_admin():
                stored = await self._stores.password_hash(login)
        if stored is None:
            # Same scrypt work as a real check, so response time does not tell which logins exist.
            await asyncio.to_thread(verify_password, "", self._decoy_hash())
            return False
        for candidate in dict.fromkeys(candidates):
            if await asyncio.to_thread(verify_password, candidate, stored):
                return True
        return False

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = hash_password(secrets.token_hex(8), self._policy.scrypt_cost)
        return self._decoy

    # --- PHPSESSID sessions

    async def start_session(self, login: str) -> str:
        """A new session for ``login``; returns the cookie value (32 hex characters, like PHP's)."""
        session_id = secrets.token_hex(16)
        now = self._now()
        await self._stores.delete_expired_sessions(now)
        await self._stores.add_session(token_hash(session_id), login, now, now + self._policy.session_lifetime_s)
        return session_id

    async def session_principal(self, session_id: str) -> Principal | None:
        if not session_id:
            return None
        login = await self._stores.session_login(token_hash(session_id), self._now())
        return None if login is None else Principal("session", login)

    async def end_session(self, session_id: str) -> None:
        await self._stores.delete_session(token_hash(session_id))

    # --- JWT (MikoPBX 2025+ flow)

    async def issue_access_token(self, login: str) -> str:
        """An access JWT for ``login``, carrying its current token generation (``gen``)."""
        if self._tokens is None:
            raise RuntimeError("this AuthService was built without a token codec")
        generation = await self._stores.token_generation(login) or 0
        now = int(self._now())
        claims = {"sub": login, "typ": "access", "iat": now, "exp": now + self._policy.jwt_lifetime_s}
        return self._tokens.encode({**claims, "gen": generation})

    async def issue_refresh_token(self, login: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self._now()
        await self._stores.add_session(
            token_hash(_REFRESH_NAMESPACE + token), login, now, now + self._policy.refresh_lifetime_s
        )
        return token

    async def refresh(self, refresh_token: str) -> tuple[str, str] | None:
        """(new access token, login) for a live refresh token, else None."""
        if not refresh_token:
            return None
        login = await self._stores.session_login(token_hash(_REFRESH_NAMESPACE + refresh_token), self._now())
        return None if login is None else (await self.issue_access_token(login), login)

    async def revoke_refresh_token(self, refresh_token: str) -> None:
        await self._stores.delete_session(token_hash(_REFRESH_NAMESPACE + refresh_token))

    async def _jwt_principal(self, token: str) -> Principal | None:
        claims = self._tokens.decode(token) if self._tokens is not None else None
        if claims is None:
            return None
        exp, sub, generation = claims.get("exp"), claims.get("sub"), claims.get("gen")
        if claims.get("typ") != "access" or not isinstance(exp, int | float) or not isinstance(sub, str):
            return None
        if self._now() >= exp or not isinstance(generation, int):
            return None
        # Checked on every request: ending the sessions (any instance, the CLI) ends the tokens issued before.
        return Principal("jwt", sub) if generation == await self._stores.token_generation(sub) else None

    # --- Bearer: JWT or API key

    async def bearer_principal(self, token: str) -> Principal | None:
        if token.startswith(API_KEY_PREFIX):
            return await self._api_key_principal(token)
        if token.count(".") == 2:
            return await self._jwt_principal(token)
        return None

    async def _api_key_principal(self, key: str) -> Principal | None:
        prefix = _api_key_prefix(key)
        if prefix is None:
            return None
        record = await self._stores.api_key_by_prefix(prefix)
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.key_hash, token_hash(key)):
            return None
        now = self._now()
        if record.last_used_at is None or now - record.last_used_at > 60:  # not a write per request
            await self._stores.touch_api_key(record.id, now)
        return Principal("api-key", record.name, record.scope)

    # --- API keys (CLI)

    async def create_api_key(self, name: str, scope: ApiScope = ApiScope.WRITE) -> NewApiKey:
        """A new key named ``name``. ``scope`` defaults to ``write``, what every key could do before scopes existed
        (a CRM given a key keeps working); ``read`` keys may only make safe requests (GET, HEAD, OPTIONS)."""
        if not name or len(name) > 128:
            raise ValueError("name: must be 1 to 128 characters")
        prefix = secrets.token_hex(6)
        key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        record = await self._stores.add_api_key(name, prefix, token_hash(key), scope, self._now())
        return NewApiKey(record, key)

    async def api_keys(self) -> Sequence[ApiKeyRecord]:
        return await self._stores.api_keys()

    async def revoke_api_key(self, prefix_or_key: str) -> bool:
        prefix = _api_key_prefix(prefix_or_key) or prefix_or_key
        return await self._stores.revoke_api_key(prefix, self._now())


def _api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, _secret = key.removeprefix(API_KEY_PREFIX).partition("_")
    is_hex = all(ch in "0123456789abcdef" for ch in prefix)
    return prefix if sep and len(prefix) == 12 and is_hex else None
