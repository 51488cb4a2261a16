"""X-Forwarded-For is believed only from AUTODIALER_TRUSTED_PROXIES, whatever uvicorn's FORWARDED_ALLOW_IPS says.

Through a real ``autodialer serve`` process (real uvicorn, real sockets): requests come from 127.0.0.2 (not exempt)
or 127.0.0.1 (exempt), with ``FORWARDED_ALLOW_IPS=*`` in the service's environment as container images often set.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from autodialer.api.forwarded import AddressMatcher, forwarded_client
from autodialer.settings import load_settings
from autodialer.settings_check import SettingsError

TASKS = "/pbxcore/api/module-dialer/v1/task"
LOGIN = "/pbxcore/api/v3/auth:login"


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("127.0.0.1, 203.0.113.5", "203.0.113.5"),  # the client wrote the first entry, our proxy the last
        ("203.0.113.5, 10.0.0.7", "203.0.113.5"),  # 10.0.0.7: a trusted proxy in front of another
        ("10.0.0.7, 10.0.0.8", "10.0.0.7"),  # all trusted: the leftmost
        ("203.0.113.5, unknown", None),  # not an address: the proxy stays the peer
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("", None),
    ],
)
def test_the_client_is_the_rightmost_untrusted_address(chain: str, client: str | None) -> None:
    assert forwarded_client(chain, AddressMatcher(["10.0.0.0/8"])) == client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(tmp_path: Path, **settings: str) -> Iterator[str]:
    """``autodialer serve`` (API only) with FORWARDED_ALLOW_IPS=*; yields its base URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODIALER_")}
    env |= {
        "FORWARDED_ALLOW_IPS": "*",
        "AUTODIALER_DATA_DIR": str(tmp_path / "var"),
        "AUTODIALER_HTTP_HOST": "127.0.0.1",
        "AUTODIALER_HTTP_PORT": str(port),
        "AUTODIALER_DIALER_ENABLED": "false",
        "AUTODIALER_ADMIN_PASSWORD": "s3cret",
        **{f"AUTODIALER_{name.upper()}": value for name, value in settings.items()},
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "autodialer", "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "autodialer serve did not answer"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def client_from(address: str, base: str) -> httpx.Client:
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=10)


def get_tasks(address: str, base: str, forwarded_for: str | None = None) -> int:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    with client_from(address, base) as http:
        return http.get(TASKS, headers=headers).status_code


@pytest.mark.slow
def test_without_trusted_proxies_forwarded_headers_change_nothing_and_relayed_requests_are_not_exempt(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as base:
        assert get_tasks("127.0.0.2", base) == 401
        assert get_tasks("127.0.0.2", base, "127.0.0.1") == 401  # uvicorn with FORWARDED_ALLOW_IPS=* let this in
        assert get_tasks("127.0.0.1", base) == 200  # a local client, as on MikoPBX
        # A proxy on this host that we were not told to trust relays someone else's request: not exempt.
        assert get_tasks("127.0.0.1", base, "203.0.113.5") == 401


@pytest.mark.slow
def test_a_trusted_proxy_names_the_client_for_exemption_and_throttling(tmp_path: Path) -> None:
    settings = {"trusted_proxies": '["127.0.0.2"]', "login_failures_per_window": "1"}
    with serve(tmp_path, **settings) as base:
        assert get_tasks("127.0.0.2", base, "127.0.0.1") == 200  # the proxy vouches for a local client
        assert get_tasks("127.0.0.2", base, "127.0.0.1, 203.0.113.5") == 401  # the client wrote 127.0.0.1
        assert get_tasks("127.0.0.3", base, "127.0.0.1") == 401  # not our proxy
        with client_from("127.0.0.2", base) as proxy:

            def login(client: str) -> int:
                body = {"login": "admin", "password": "wrong"}
                return proxy.post(LOGIN, json=body, headers={"X-Forwarded-For": client}).status_code

            # Failed logins count per forwarded client, not per proxy: one client's lockout is not another's.
            assert [login("203.0.113.5"), login("203.0.113.5"), login("203.0.113.6")] == [401, 429, 401]


@pytest.mark.parametrize("name", ["trusted_proxies", "auth_exempt_addresses"])
def test_address_lists_that_are_not_addresses_are_refused_naming_the_setting(name: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name}: must be IP addresses or networks .*got 'proxy\.local'"):
        load_settings(**{name: ["10.0.0.1", "proxy.local"]})
    assert getattr(load_settings(**{name: ["10.0.0.0/8", "::1"]}), name) == ["10.0.0.0/8", "::1"]
