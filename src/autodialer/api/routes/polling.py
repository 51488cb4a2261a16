"""POST/GET /polling, GET /polling/{id}: IVR surveys (spec §3.2).

POST answers ``{"id", "crmId", "name"}``: ``id`` a string, ``crmId`` an integer when we generated it, otherwise as
the client typed it. GET /polling/{id} shows the current version's questions with their database ids (no crmId)
and each key's ``key, action, value, valueOptions, nextQuestion``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from autodialer.adapters.audio.prompt_files import StoredPromptFiles
from autodialer.adapters.db.audio_repository import SqlAudioRepository
from autodialer.adapters.db.poll_repository import SqlPollRepository
from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import envelope_response, not_found
from autodialer.api.request_bodies import read_body
from autodialer.api.validation import parse_json_object
from autodialer.api.validation_polls import parse_poll_body, refuse_unplayable_files

router = APIRouter()
ContextDep = Annotated[AppContext, Depends(get_context)]
MAX_POLL_ID = 2**53 - 1


@router.post("/polling")
async def post_polling(request: Request, context: ContextDep) -> Response:
    settings = context.settings
    raw = await read_body(request, settings.max_json_body_bytes, "max_json_body_bytes")
    poll = parse_poll_body(parse_json_object(raw))
    files = StoredPromptFiles(settings.audio_dir, SqlAudioRepository(context.db))
    await refuse_unplayable_files(poll, files)
    saved = await SqlPollRepository(context.db).save_poll(
        crm_id=poll.crm_id, name=poll.name, questions=poll.questions, now=context.now(), timing=poll.timing
    )
    crm: Any = int(saved.crm_id) if saved.crm_id_generated else poll.echo["crmId"]
    name = poll.echo.get("name", None if saved.created else saved.name)
    context.on_tasks_changed()  # polling tasks may be waiting for this poll's new version
    return envelope_response(True, {"id": str(saved.poll_id), "crmId": crm, "name": name})


@router.get("/polling")
async def list_polling(context: ContextDep) -> Response:
    rows = await SqlPollRepository(context.db).list_polls()
    results = [{"id": str(r.id), "crmId": r.crm_id, "name": r.name} for r in rows]
    return envelope_response(True, {"results": results})


@router.get("/polling/{poll_id}")
async def get_polling(poll_id: str, context: ContextDep) -> Response:
    # An unknown or malformed id is simply not found (the original's worker crashed and answered after 20 s).
    if not (poll_id.isascii() and poll_id.isdigit() and 0 < int(poll_id) <= MAX_POLL_ID):
        return not_found("poll", repr(poll_id[:40]))
    details = await SqlPollRepository(context.db).get_poll(int(poll_id))
    if details is None:
        return not_found("poll", poll_id)
    questions = [
        {
            "id": str(question.id),
            "questionText": question.question_text,
            "questionFile": question.question_file,
            "lang": question.lang,
            "press": [
                {
                    "key": a.key,
                    "action": a.action,
                    "value": a.value,
                    "valueOptions": a.value_options,
                    "nextQuestion": a.next_question,
                }
                for a in actions
            ],
        }
        for question, actions in details.questions
    ]
    poll = details.poll
    data = {"id": str(poll.id), "crmId": poll.crm_id, "name": poll.name, "questions": questions}
    return envelope_response(True, data)
