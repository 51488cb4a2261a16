"""POST/GET /polling, GET /polling/{id}: IVR surveys (spec §3.2).

The use cases are services.mikopbx_polls.MikoPolls (``context.v1_polls``); the answers are rendered by the v1
presenter (api.mikopbx_v1.polls). Unplayable prompt files are refused here (400), translated once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import envelope_response, not_found
from autodialer.api.mikopbx_v1.polls import poll_details, poll_list, poll_saved
from autodialer.api.request_bodies import read_body
from autodialer.api.validation import FieldErrors, parse_json_object
from autodialer.api.validation_polls import parse_poll_body
from autodialer.services.mikopbx_polls import MikoPolls, UnplayablePrompts

router = APIRouter()
ContextDep = Annotated[AppContext, Depends(get_context)]
MAX_POLL_ID = 2**53 - 1


def _polls(context: AppContext) -> MikoPolls:
    if context.v1_polls is None:
        raise RuntimeError("the context has no MikoPolls (bootstrap.build_context builds one)")
    return context.v1_polls


@router.post("/polling")
async def post_polling(request: Request, context: ContextDep) -> Response:
    raw = await read_body(request, context.settings.max_json_body_bytes, "max_json_body_bytes")
    poll = parse_poll_body(parse_json_object(raw))
    try:
        saved = await _polls(context).save(
            crm_id=poll.crm_id, name=poll.name, questions=poll.questions, timing=poll.timing
        )
    except UnplayablePrompts as e:
        errors = FieldErrors()
        for field, rule in e.problems:
            errors.add(field, rule)
        errors.raise_if_any()
        raise
    return envelope_response(True, poll_saved(saved, poll.echo))


@router.get("/polling")
async def list_polling(context: ContextDep) -> Response:
    return envelope_response(True, poll_list(await _polls(context).list()))


@router.get("/polling/{poll_id}")
async def get_polling(poll_id: str, context: ContextDep) -> Response:
    # An unknown or malformed id is simply not found (the original's worker crashed and answered after 20 s).
    if not (poll_id.isascii() and poll_id.isdigit() and 0 < int(poll_id) <= MAX_POLL_ID):
        return not_found("poll", repr(poll_id[:40]))
    view = await _polls(context).get(int(poll_id))
    if view is None:
        return not_found("poll", poll_id)
    return envelope_response(True, poll_details(view))
