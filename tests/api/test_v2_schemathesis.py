"""Property-based run of schemathesis over the v2 OpenAPI against a real server on loopback: generated requests for
every operation (valid and malformed) must never get a 5xx, and answers must match the documented status codes,
content types and schemas. The server is built as bootstrap builds it (do-not-call lists and the Idempotency-Key
store included); a POST that succeeded under a key is sent again and must be replayed. Bounded: a fixed number of
examples per operation, about half a minute on two cores."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from schemathesis.specs.openapi.checks import positive_data_acceptance

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.api.app import create_app
from autodialer.api.v2.app import create_v2_app
from autodialer.bootstrap import build_context
from autodialer.domain.campaigns import InvalidField
from autodialer.services.campaigns import CampaignService
from autodialer.services.dnc_lists import DncLists
from autodialer.services.idempotency import check_key
from autodialer.services.polls import PollUseCases
from autodialer.settings import load_settings

EXAMPLES = 30


class LoopbackServer:
    """The whole app (v1 and v2) on 127.0.0.1 in its own thread and event loop, on a fresh SQLite database."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._data_dir = data_dir
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        settings = load_settings(environment="test", data_dir=self._data_dir, jwt_secret="x" * 40)
        db = create_engine(settings.effective_database_url)
        await migrate(db)
        # /events streams end after 0.05 s here (the service's default is 10 minutes), so each case gets an answer.
        context = build_context(settings, db, time.time)
        context.sse_lifetime_s = 0.05
        config = uvicorn.Config(create_app(context), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        finally:
            await db.dispose()

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not (self._server and self._server.started):
            assert time.monotonic() < deadline, "the server did not start"
            assert self._thread.is_alive(), "the server thread died"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with LoopbackServer(tmp_path_factory.mktemp("schemathesis")) as server:
        yield f"http://127.0.0.1:{server.port}/api/v2"


def v2_spec() -> dict[str, Any]:
    """The OpenAPI document as the server serves it (built without a database: it depends only on the routes)."""
    return create_v2_app(
        cast(CampaignService, None), polls=cast(PollUseCases, object()), dnc=cast(DncLists, object())
    ).openapi()


schema = schemathesis.openapi.from_dict(v2_spec())


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_v2_api_never_fails_on_any_input(case: schemathesis.Case, base_url: str) -> None:
    key = unique_key(case)
    # Every check but "schema-valid data is accepted": rules beyond the schema (a poll must exist, the settings'
    # line ceiling, at most 20 digits in a phone, cursors this API handed out) rightly refuse some of it with 422.
    answer = case.call_and_validate(base_url=base_url, timeout=10, excluded_checks=[positive_data_acceptance])
    if key is not None and 200 <= answer.status_code < 300:
        check_replay(answer, key)


KEYS = itertools.count()


def unique_key(case: schemathesis.Case) -> str | None:
    """A valid Idempotency-Key made unique to this request, so that the request reaches its route (generated keys
    repeat: "0" on every operation would only ever meet "used for another request"); invalid keys stay as drawn."""
    key = (case.headers or {}).get("Idempotency-Key")
    if case.method != "POST" or not isinstance(key, str):
        return None
    unique = f"{key}~{next(KEYS)}"
    try:
        check_key(key.strip(" \t"))  # (the server sees the value without surrounding blanks)
        check_key(unique)
    except InvalidField:
        return None
    case.headers = {**(case.headers or {}), "Idempotency-Key": unique}
    return unique


def check_replay(answer: Any, key: str) -> None:
    """The same request again gets the first answer, replayed; the same key with another body is refused."""
    sent = answer.request
    body = sent.body.encode() if isinstance(sent.body, str) else (sent.body or b"")
    headers = {k: v for k, v in sent.headers.items() if k.lower() != "content-length"}
    again = httpx.request(sent.method, sent.url, content=body, headers=headers, timeout=10)
    assert again.status_code == answer.status_code and again.content == answer.content, again.text
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["content-type"] == answer.headers["content-type"][0]
    other = httpx.request(sent.method, sent.url, content=body + b" ", headers=headers, timeout=10)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key", (key, other.text)


def test_the_spec_checked_is_the_one_served(base_url: str) -> None:
    served = httpx.get(base_url + "/openapi.json", timeout=10).json()
    assert served == v2_spec()
