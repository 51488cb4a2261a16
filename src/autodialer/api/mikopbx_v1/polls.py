"""POST/GET /polling answers: ids as strings (every database value the original serves is one); POST echoes
``crmId`` as the client typed it, or the integer we generated, and ``name`` as sent (else the stored one on a
replace, null on a new poll); GET /polling/{id} shows the current version's questions with their database ids and
each key's ``key, action, value, valueOptions, nextQuestion``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autodialer.services.mikopbx_polls import PollListing, PollView, SavedPoll


def poll_saved(saved: SavedPoll, echo: Mapping[str, Any]) -> dict[str, Any]:
    crm: Any = int(saved.crm_id) if saved.crm_id_generated else echo["crmId"]
    name = echo.get("name", None if saved.created else saved.name)
    return {"id": str(saved.poll_id), "crmId": crm, "name": name}


def poll_list(polls: Sequence[PollListing]) -> dict[str, Any]:
    return {"results": [{"id": str(p.id), "crmId": p.crm_id, "name": p.name} for p in polls]}


def poll_details(view: PollView) -> dict[str, Any]:
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
        for question, actions in view.questions
    ]
    poll = view.poll
    return {"id": str(poll.id), "crmId": poll.crm_id, "name": poll.name, "questions": questions}
