"""Before a v2 handler runs: the body size limit, and Idempotency-Key on POST (services.idempotency).

Limits are the v1 settings: ``max_task_body_bytes`` for a numbers import (number lists), ``max_json_body_bytes``
for every other body. A body over its limit is refused with 413 as soon as its Content-Length says so or its bytes
pass the limit; the rest is never read.

A POST with ``Idempotency-Key`` is read whole (under the limit), fingerprinted and claimed for the caller (the auth
principal); a repeat is answered from the stored first answer with ``Idempotency-Replayed: true``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autodialer.api.v2.models import FieldProblem
from autodialer.api.v2.problems import StartTracker, domain_problem, problem
from autodialer.domain.campaigns import CampaignError
from autodialer.services.idempotency import IdempotencyService, StoredAnswer, fingerprint


@dataclass(frozen=True, slots=True)
class BodyLimits:
    json_bytes: int
    numbers_bytes: int
    audio_bytes: int = 0  # an audio upload (its own limit, checked by the route as the body is read); 0: json_bytes

    def of(self, scope: Scope) -> tuple[int, str]:
        if self.audio_bytes and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/audio"):
            return self.audio_bytes, "audio_max_bytes"
        if scope["method"] == "POST" and scope["path"].rstrip("/").endswith(("/numbers", "/numbers.csv", "/dnc.csv")):
            return self.numbers_bytes, "max_task_body_bytes"
        return self.json_bytes, "max_json_body_bytes"


class _TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, *, limits: BodyLimits, idempotency: IdempotencyService | None) -> None:
        self._app = app
        self._limits = limits
        self._idempotency = idempotency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit, setting = self._limits.of(scope)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        declared = headers.get("content-length", "")
        too_large = problem(
            413,
            f"body: must be at most {limit} bytes (setting AUTODIALER_{setting.upper()})",
            "body-too-large",
            [FieldProblem(field="body", message=f"must be at most {limit} bytes")],
        )
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        key = headers.get("idempotency-key")
        tracked = StartTracker(send)
        try:
            if key is not None and scope["method"] == "POST" and self._idempotency is not None:
                await self._idempotent(self._idempotency, key, scope, receive, tracked.send, limit)
            else:
                await self._app(scope, _limited(receive, limit), tracked.send)
        except _TooLarge:
            if not tracked.started:
                await too_large(scope, receive, send)

    async def _idempotent(
        self, service: IdempotencyService, key: str, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        body = await _read_all(receive, limit)
        principal = scope.get("state", {}).get("principal")
        owner = f"{principal.kind}:{principal.name}" if principal is not None else "anonymous"
        try:
            stored = await service.claim(owner, key, fingerprint(scope["method"], scope["path"], body))
        except CampaignError as e:
            await domain_problem(e)(scope, receive, send)
            return
        if stored is not None:
            await _replay(stored, send)
            return
        answer = _Recorder(send)
        try:
            await self._app(scope, _replaying(body), answer.send)
        except BaseException:
            await service.abandon(owner, key)
            raise
        await service.finish(owner, key, answer.stored())


class _Recorder:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._status = 500
        self._headers: dict[str, str] = {}
        self._body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = int(message["status"])
            self._headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            self._body += message.get("body", b"")
        await self._send(message)

    def stored(self) -> StoredAnswer:
        content_type = self._headers.get("content-type", "")
        return StoredAnswer(self._status, content_type, self._headers.get("location"), bytes(self._body))


async def _replay(stored: StoredAnswer, send: Send) -> None:
    headers = [(b"content-type", stored.content_type.encode("latin-1")), (b"idempotency-replayed", b"true")]
    if stored.location:
        headers.append((b"location", stored.location.encode("latin-1")))
    headers.append((b"content-length", str(len(stored.body)).encode()))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return limited


async def _read_all(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > limit:
            raise _TooLarge
        if not message.get("more_body", False):
            return bytes(body)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return replay
