"""GET/POST /task, GET/PUT/DELETE /task/{id}: MikoPBX ModuleAutoDialer call tasks (spec §3.2).

POST and PUT answer with the task's eight columns; the fields the client sent come back in the client's JSON types,
the others as stored (strings), or null on a new task (``innerNumType`` "exten" excepted), as Phalcon's
``toArray()`` did; ``state`` is the number 0 whenever the task is open (see ``_echo``). A null field counts as not
sent (validation_tasks). Every successful write wakes the dialer (``context.on_tasks_changed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.engine import RowMapping

from autodialer.adapters.db.task_repository import TASK_WIRE_COLUMNS, SqlTaskRepository, TaskConflict
from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import JSON_MEDIA_TYPE, envelope, envelope_response, not_found, render_json
from autodialer.api.errors import Refusal
from autodialer.api.fast_json import RowsSlot, RowsWriter
from autodialer.api.json_stream import ItemSink, read_object
from autodialer.api.request_bodies import spool_body
from autodialer.api.validation import FieldErrors, integer
from autodialer.api.validation_tasks import MAX_TASK_ID, NumberSpool, TaskBody, parse_task_body
from autodialer.api.wire_rows import ANSWER_KEYS, NUMBER_KEYS, TASK_KEYS, task_row
from autodialer.settings import Settings

router = APIRouter()
PAGE_ROWS = 2000  # GET /task/{id}: rows read and rendered at a time (about 1.3 MB of JSON)
_PHP_EMPTY = ("", "0")  # the strings PHP's empty() holds for
ContextDep = Annotated[AppContext, Depends(get_context)]


def _repository(context: AppContext) -> SqlTaskRepository:
    return SqlTaskRepository(context.db, page_limit=context.settings.results_page_limit)


def path_id(raw: str, field: str = "id") -> int:
    """A numeric id from the URL; anything else (``1 OR 1=1``) is refused before it reaches a query."""
    errors = FieldErrors()
    value = integer(errors, field, raw, 1, MAX_TASK_ID)
    errors.raise_if_any()
    assert value is not None
    return value


def _conflict(e: TaskConflict) -> Refusal:
    return Refusal([f"{e.field}: {e.rule}"], 400 if e.field == "innerNum" else 409)


def _echo(body: TaskBody, row: RowMapping, created: bool) -> dict[str, Any]:
    stored = task_row(tuple(row[c.name] for c in TASK_WIRE_COLUMNS))
    data: dict[str, Any] = {}
    for key in TASK_KEYS:
        if key in body.echo and (key != "id" or str(body.echo[key]) == stored["id"]):
            data[key] = body.echo[key]
        elif key in ("id", "crmId", "innerNumType") or not created:
            data[key] = stored[key]
        elif key == "state":
            data[key] = 0
        else:
            data[key] = None
    if stored["state"] == "0":
        # changeTask ends with ``if (empty($task->state)) $task->state = Tasks::STATE_OPEN;`` (the int 0), and "0"
        # (sent or stored) is empty() too: an open task is always answered with the number 0.
        data["state"] = 0
    if "retryPolicy" in body.echo:
        data["retryPolicy"] = body.echo["retryPolicy"]
    return data


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
            saved = await _repository(context).save_task(
                task_id=task.task_id,
                crm_id=task.crm_id,
                columns=task.columns,
                numbers=None if task.numbers is None else task.numbers.chunks(),
                number_count=0 if task.numbers is None else task.numbers.count,
                now=context.now(),
            )
        except TaskConflict as e:
            raise _conflict(e) from e
    finally:
        for spool in spools:
            spool.close()
    context.on_tasks_changed()
    return envelope_response(True, _echo(task, saved.row, saved.created))


@router.put("/task/{task_id}")
async def put_task(task_id: str, request: Request, context: ContextDep) -> Response:
    body = await _task_body(request, context.settings, [])
    task = parse_task_body(body, channels_ceiling=context.settings.max_count_channels_ceiling, with_numbers=False)
    url_id = 0 if task.crm_id else path_id(task_id)
    task.echo.pop("id", None)  # PUT never moves a task to another id
    try:
        row = await _repository(context).change_task(
            task_id=url_id, crm_id=task.crm_id, columns=task.columns, now=context.now()
        )
    except TaskConflict as e:
        raise _conflict(e) from e
    if row is None:
        return envelope_response(False, {"error": "TaskNotFound"})
    context.on_tasks_changed()
    return envelope_response(True, _echo(task, row, created=False))


@router.delete("/task/{task_id}")
async def delete_task(task_id: str, context: ContextDep) -> Response:
    if await _repository(context).delete_task(path_id(task_id), context.now()):
        context.on_tasks_changed()
    return envelope_response(True)  # true for unknown ids too, as the original


@router.get("/task/{task_id}")
async def get_task(task_id: str, context: ContextDep) -> Response:
    """The task and every result row, streamed: memory stays at a page of rows whatever the task's size, the rows
    are read a page at a time (no connection held while the client reads) and rendered off the event loop. The
    bytes are exactly those of rendering the whole envelope at once (api.fast_json)."""
    wanted = path_id(task_id)
    repository = _repository(context)
    row = await repository.task_row(wanted)
    if row is None:
        return not_found("task", wanted)
    data: dict[str, Any] = task_row(row)
    results, answers = RowsSlot(NUMBER_KEYS, "results"), RowsSlot(ANSWER_KEYS, "answers")
    data["results"] = results
    data["resultsPoling"] = answers  # sic: MikoPBX's spelling
    head, _, rest = render_json(envelope(True, data)).decode("ascii").partition(results.marker)
    middle, _, tail = rest.partition(answers.marker)

    async def body() -> AsyncIterator[bytes]:
        yield head.encode("ascii")
        for slot, pages, after in (
            (results, repository.number_pages(wanted, PAGE_ROWS), middle),
            (answers, repository.answer_pages(wanted, PAGE_ROWS), tail),
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
    rows = await _repository(context).list_tasks(state=state, limit=limit, after_id=offset)
    return envelope_response(True, {"results": [task_row(row) for row in rows]})
