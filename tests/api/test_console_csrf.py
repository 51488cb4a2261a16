"""The console's CSRF rules on the app as bootstrap builds it (api/console/csrf.py): a cross-site unsafe request is
refused even from an exempt address, and the session token is bound to its session."""

from __future__ import annotations

from tests.api.conftest import V2

from autodialer.api.console.csrf import csrf_token

C = "/api/v2/campaigns"
TARGET = {"kind": "extension", "value": "201"}


async def test_a_cross_site_request_is_refused_even_from_an_exempt_address(v2: V2) -> None:
    async with v2.client() as client:
        created = (await client.post(C, json={"target": TARGET})).json()
        pause = f"{C}/{created['id']}/pause"
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
            refused = await client.post(pause, headers=headers)
            assert refused.status_code == 403, headers
            assert refused.json()["error_id"] == "cross-site-refused"
        assert (await client.get(f"{C}/{created['id']}")).json()["state"] == "active"
        login = await client.post(
            "/console/login", json={"login": "admin", "password": "pw"}, headers={"Origin": "http://evil.example"}
        )
        assert login.status_code == 403  # no login CSRF either
        # The console's own requests (same origin) and scripts (no Origin) pass.
        assert (
            await client.post(pause, headers={"Origin": "http://pbx", "Sec-Fetch-Site": "same-origin"})
        ).status_code == 200
        assert (await client.post(f"{C}/{created['id']}/resume")).status_code == 200
        # Behind a proxy that rewrites Host, the browser's own word (same-origin) decides, not Origin against Host.
        proxied = {"Origin": "https://dialer.example", "Sec-Fetch-Site": "same-origin"}
        assert (await client.post(pause, headers=proxied)).status_code == 200
        assert (await client.get(C, headers={"Sec-Fetch-Site": "cross-site"})).status_code == 200  # reading is safe


async def test_a_session_token_fits_only_its_session(v2: V2) -> None:
    async with v2.client(host="198.51.100.7") as first, v2.client(host="198.51.100.7") as second:
        tokens = []
        for client in (first, second):
            login = await client.post("/console/login", json={"login": "admin", "password": "pw"})
            assert login.status_code == 200
            tokens.append(login.json()["csrf_token"])
        assert tokens[0] != tokens[1]
        crossed = await first.post(C, json={"target": TARGET}, headers={"X-CSRF-Token": tokens[1]})
        assert crossed.status_code == 403
        own = await first.post(C, json={"target": TARGET}, headers={"X-CSRF-Token": tokens[0]})
        assert own.status_code == 201


def test_the_token_is_keyed_by_the_secret() -> None:
    assert csrf_token("a" * 40, "s1") != csrf_token("b" * 40, "s1")
    assert csrf_token("a" * 40, "s1") == csrf_token("a" * 40, "s1")
