"""Who a request really comes from, when a reverse proxy stands in front: X-Forwarded-For, trusted only from our
proxies.

The authentication gate exempts some peer addresses (127.0.0.1 as on MikoPBX) and throttles failed logins per
address, so the address must not be something a client can write. uvicorn would take ``X-Forwarded-For`` from any
peer its ``FORWARDED_ALLOW_IPS`` environment variable names (``*`` is common in container images): then
``X-Forwarded-For: 127.0.0.1`` from anywhere skips authentication. So the server runs with uvicorn's proxy
handling off (bootstrap.http_config) and this middleware applies our own rule, from settings.trusted_proxies only
(empty by default):

- from a trusted proxy, the client is the rightmost address of ``X-Forwarded-For`` that is not itself a trusted
  proxy (each proxy appends the peer it saw, so entries left of that are the client's own words); an entry that is
  not an IP address stops the walk and the proxy stays the peer. ``X-Forwarded-Proto`` (http/https) sets the scheme;
- from any other peer the headers change nothing, and such a request is marked as forwarded (``forwarded_by`` in
  the scope's state): a proxy we do not trust on an exempt address (nginx on the same host, say) relays other
  people's requests, which must not inherit its exemption.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from autodialer.services.auth_service import peer_ip

FORWARDED_HEADERS = (b"x-forwarded-for", b"forwarded")


class AddressMatcher:
    """Membership of peer addresses in a list of addresses and networks (``127.0.0.1``, ``::1``, ``10.0.0.0/8``)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]

    def __contains__(self, address: object) -> bool:
        ip = peer_ip(address) if isinstance(address, str) else None
        return ip is not None and any(ip.version == net.version and ip in net for net in self._networks)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key.lower() == name]


def forwarded_client(chain: str, trusted: AddressMatcher) -> str | None:
    """The client address an X-Forwarded-For ``chain`` (as received from a trusted proxy) names, or None."""
    entries = [entry.strip() for entry in chain.split(",") if entry.strip()]
    client = None
    for entry in reversed(entries):
        ip = peer_ip(entry)
        if ip is None:
            break
        client = str(ip)
        if client not in trusted:
            return client
    return client


class ForwardedPeerMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: AddressMatcher) -> None:
        self._app = app
        self._trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = (scope.get("client") or ("", 0))[0]
            if peer in self._trusted:
                chain = ",".join(_header_values(scope, b"x-forwarded-for"))
                client = forwarded_client(chain, self._trusted) if chain else None
                if client is not None:
                    scope["client"] = (client, 0)
                proto = _header_values(scope, b"x-forwarded-proto")
                if scope["type"] == "http" and proto and proto[-1].strip().lower() in ("http", "https"):
                    scope["scheme"] = proto[-1].strip().lower()
            elif any(_header_values(scope, name) for name in FORWARDED_HEADERS):
                scope.setdefault("state", {})["forwarded_by"] = peer
        await self._app(scope, receive, send)
