"""GET/POST /task, GET/PUT/DELETE /task/{id}: MikoPBX ModuleAutoDialer call tasks (spec §3.2).

The use cases are services.mikopbx_tasks.TaskService (``context.tasks``); the answers are rendered by the v1
presenter (api.mikopbx_v1: POST/PUT echo rules, rows as strings). A null field counts as not sent
(validation_tasks). A domain TaskConflict is translated here, once, into a 400/409 refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import JSON_MEDIA_TYPE, envelope, envelope_response, not_found, render_json
from autodialer.api.errors import Refusal
from autodialer.api.fast_json import RowsSlot, RowsWriter
from autodialer.api.json_stream import ItemSink, read_object
from autodialer.api.mikopbx_v1.rows import ANSWER_KEYS, NUMBER_KEYS, task_row
from autodialer.api.mikopbx_v1.tasks import conflict_status, task_echo
from autodialer.api.request_bodies import spool_body
from autodialer.api.validation import FieldErrors, integer
from autodialer.api.validation_tasks import MAX_TASK_ID, NumberSpool, parse_task_body
from autodialer.domain.mikopbx_tasks import TaskConflict
from autodialer.services.mikopbx_tasks import TaskService
from autodialer.settings import Settings

router = APIRouter()
PAGE_ROWS = 2000  # GET /task/{id}: rows read and rendered at a time (about 1.3 MB of JSON)
_PHP_EMPTY = ("", "0")  # the strings PHP's empty() holds for
ContextDep = Annotated[AppContext, Depends(get_context)]


def _tasks(context: AppContext) -> TaskService:
    if context.tasks is None:
        raise RuntimeError("the context has no TaskService (bootstrap.build_context builds one)")
    return context.tasks


def path_id(raw: str, field: str = "id") -> int:
    """A numeric id from the URL; anything else (``1 OR 1=1``) is refused before it reaches a query."""
    errors = FieldErrors()
    value = integer(errors, field, raw, 1, MAX_TASK_ID)
    errors.raise_if_any()
    assert value is not None
    return value


def _conflict(e: TaskConflict) -> Refusal:
    return Refusal([f"{e.field}: {e.rule}"], conflict_status(e.field))


class _Ignored:
    """PUT ignores ``numbers`` (as the original): its items are read past, not kept."""

    def add(self, item: object) -> None:
        return None


async def _task_body(request: Request, settings: Settings, spools: list[NumberSpool]) -> dict[str, Any]:
    """The body of POST/PUT /task, decoded with bounded memory (request_bodies, json_stream) off the event loop;
    ``numbers`` (POST) arrives as a NumberSpool, appended to ``spools`` for the caller to close."""

    def numbers() -> ItemSink:
        spools.append(NumberSpool(settings.pbx_timezone))
        return spools[-1]

    sink = numbers if request.method == "POST" else _Ignored
    with await spool_body(request, settings.max_task_body_bytes, "max_task_body_bytes") as raw:
        return await asyncio.to_thread(read_object, raw, {"numbers": sink})


@router.post("/task")
async def post_task(request: Request, context: ContextDep) -> Response:
    settings = context.settings
    spools: list[NumberSpool] = []
    try:
        body = await _task_body(request, settings, spools)
        task = parse_task_body(body, channels_ceiling=settings.max_count_channels_ceiling, with_numbers=True)
        try:
            saved = await _tasks(context).post(
                task_id=task.task_id,
                crm_id=task.crm_id,
                columns=task.columns,
                numbers=None if task.numbers is None else task.numbers.chunks(),
                number_count=0 if task.numbers is None else task.numbers.count,
            )
        except TaskConflict as e:
            raise _conflict(e) from e
    finally:
        for spool in spools:
            spool.close()
    return envelope_response(True, task_echo(task.echo, saved.task, created=saved.created))


@router.put("/task/{task_id}")
async def put_task(task_id: str, request: Request, context: ContextDep) -> Response:
    body = await _task_body(request, context.settings, [])
    task = parse_task_body(body, channels_ceiling=context.settings.max_count_channels_ceiling, with_numbers=False)
    url_id = 0 if task.crm_id else path_id(task_id)
    task.echo.pop("id", None)  # PUT never moves a task to another id
    try:
        changed = await _tasks(context).put(task_id=url_id, crm_id=task.crm_id, columns=task.columns)
    except TaskConflict as e:
        raise _conflict(e) from e
    if changed is None:
        return envelope_response(False, {"error": "TaskNotFound"})
    return envelope_response(True, task_echo(task.echo, changed, created=False))


@router.delete("/task/{task_id}")
async def delete_task(task_id: str, context: ContextDep) -> Response:
    await _tasks(context).delete(path_id(task_id))
    return envelope_response(True)  # true for unknown ids too, as the original


@router.get("/task/{task_id}")
async def get_task(task_id: str, context: ContextDep) -> Response:
    """The task and every result row, streamed: memory stays at a page of rows whatever the task's size, the rows
    are read a page at a time (no connection held while the client reads) and rendered off the event loop. The
    bytes are exactly those of rendering the whole envelope at once (api.fast_json)."""
    wanted = path_id(task_id)
    tasks = _tasks(context)
    found = await tasks.get(wanted)
    if found is None:
        return not_found("task", wanted)
    data: dict[str, Any] = task_row(found)
    results, answers = RowsSlot(NUMBER_KEYS, "results"), RowsSlot(ANSWER_KEYS, "answers")
    data["results"] = results
    data["resultsPoling"] = answers  # sic: MikoPBX's spelling
    head, _, rest = render_json(envelope(True, data)).decode("ascii").partition(results.marker)
    middle, _, tail = rest.partition(answers.marker)

    async def body() -> AsyncIterator[bytes]:
        yield head.encode("ascii")
        for slot, pages, after in (
            (results, tasks.results(wanted, PAGE_ROWS), middle),
            (answers, tasks.answers(wanted, PAGE_ROWS), tail),
        ):
            writer = RowsWriter(slot.keys, slot.newline)
            async for page in pages:
                yield (await asyncio.to_thread(writer.page, page)).encode("ascii")
            yield (writer.close() + after).encode("ascii")

    return StreamingResponse(body(), media_type=JSON_MEDIA_TYPE)


@router.get("/task")
async def list_tasks(request: Request, context: ContextDep) -> Response:
    # ConnectorDB::getTasks filters on state when ``trim($state) !== ''`` and applies limit and offset only when
    # ``!empty(...)``: PHP's empty() holds for "" and "0", so ``limit=0`` means no limit, not an empty page.
    query = request.query_params
    errors = FieldErrors()
    state = limit = offset = None
    if query.get("state", "").strip():
        state = integer(errors, "state", query["state"].strip(), 0, 2)
    if query.get("limit", "") not in _PHP_EMPTY:
        limit = integer(errors, "limit", query["limit"], 1, 100_000)
    if query.get("offset", "") not in _PHP_EMPTY:
        offset = integer(errors, "offset", query["offset"], 0, MAX_TASK_ID)
    errors.raise_if_any()
    found = await _tasks(context).list(state=state, limit=limit, after_id=offset)
    return envelope_response(True, {"results": [task_row(task) for task in found]})
