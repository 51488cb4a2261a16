"""POST/GET /polling and GET /polling/{id}: golden JSON, crmId rules, versioning, validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tests.api.conftest import Api

SPEC_POLL: dict[str, Any] = {
    "crmId": "100000",
    "name": "New polling",
    "questions": [
        {
            "questionId": "1",
            "questionText": "Готовы ли Вы принять груз? Нажмите 1 если согласны, 2 если нет. <speach>",
            "questionFile": "",
            "lang": "ru-RU",
            "press": [
                {"key": "1", "action": "answer", "value": "1", "nextQuestion": "2"},
                {"key": "2", "action": "answer", "value": "0", "nextQuestion": ""},
                {"key": "3", "action": "dial", "value": "201", "nextQuestion": ""},
                {"key": "5", "action": "playback", "value": "Спасибо", "valueOptions": "text", "nextQuestion": ""},
                {"key": "4", "action": "", "value": "", "nextQuestion": "2"},
            ],
        },
        {
            "questionId": "2",
            "questionText": "Заказать Вам такси?",
            "press": [{"key": "1", "action": "answer", "value": "1", "nextQuestion": ""}],
        },
    ],
}

SEED_POLL: dict[str, Any] = {
    "name": "New polling",
    "questions": [
        {
            "questionId": "1",
            "questionText": "Hello, we have a new product. To order, press 1.",
            "press": [
                {"key": "1", "action": "playback", "value": '"Thank you"', "valueOptions": "text"},
                {"key": "3", "action": "playback", "value": '"Thank you for your response"', "valueOptions": "text"},
            ],
            "nextQuestion": "",
        }
    ],
}


def ordered(value: Any) -> str:
    return json.dumps(value)


async def test_post_polling_golden_and_get_by_id(api: Api) -> None:
    status, payload = await api.post("/polling", SPEC_POLL)
    assert status == 200
    assert ordered({k: v for k, v in payload.items() if k != "pid"}) == ordered(
        {
            "result": True,
            "data": {"id": "1", "crmId": "100000", "name": "New polling"},
            "messages": [],
            "function": "",
            "processor": "",
        }
    )
    status, payload = await api.get("/polling/1")
    press = [
        {"key": "1", "action": "answer", "value": "1", "valueOptions": None, "nextQuestion": "2"},
        {"key": "2", "action": "answer", "value": "0", "valueOptions": None, "nextQuestion": ""},
        {"key": "3", "action": "dial", "value": "201", "valueOptions": None, "nextQuestion": ""},
        {"key": "5", "action": "playback", "value": "Спасибо", "valueOptions": "text", "nextQuestion": ""},
        {"key": "4", "action": "", "value": "", "valueOptions": None, "nextQuestion": "2"},
    ]
    expected = {
        "id": "1",
        "crmId": "100000",
        "name": "New polling",
        "questions": [
            {
                "id": "1",
                "questionText": SPEC_POLL["questions"][0]["questionText"],
                "questionFile": "",
                "lang": "ru-RU",
                "press": press,
            },
            {
                "id": "2",
                "questionText": "Заказать Вам такси?",
                "questionFile": None,
                "lang": "ru-RU",
                "press": [{"key": "1", "action": "answer", "value": "1", "valueOptions": None, "nextQuestion": ""}],
            },
        ],
    }
    assert status == 200 and ordered(payload["data"]) == ordered(expected)


async def test_seed_poll_gets_an_integer_crm_id_and_is_listed(api: Api) -> None:
    _, first = await api.post("/polling", SEED_POLL)
    assert first["data"] == {"id": "1", "crmId": 1, "name": "New polling"}
    _, second = await api.post("/polling", {**SEED_POLL, "name": "Опрос о новом товаре"})
    assert second["data"]["crmId"] == 2
    response = await api.client.get("/pbxcore/api/module-dialer/v1/polling")
    assert "\\u041e\\u043f\\u0440\\u043e\\u0441" in response.text  # PHP escapes non-ASCII
    assert response.json()["data"] == {
        "results": [
            {"id": "1", "crmId": "1", "name": "New polling"},
            {"id": "2", "crmId": "2", "name": "Опрос о новом товаре"},
        ]
    }


async def test_generated_crm_id_skips_one_a_client_already_took(api: Api) -> None:
    await api.post("/polling", {**SEED_POLL, "crmId": "2"})
    _, payload = await api.post("/polling", SEED_POLL)
    assert payload["data"]["crmId"] == 3


async def test_repost_by_crm_id_makes_a_new_version_and_keeps_old_rows(api: Api) -> None:
    await api.post("/polling", SPEC_POLL)
    changed = {"crmId": 100000, "questions": [{"questionId": "9", "questionText": "v2"}]}
    _, payload = await api.post("/polling", changed)
    assert payload["data"] == {"id": "1", "crmId": 100000, "name": "New polling"}
    _, poll = await api.get("/polling/1")
    assert [q["questionText"] for q in poll["data"]["questions"]] == ["v2"]
    assert await api.rows("SELECT version FROM polls") == [(2,)]
    assert await api.rows("SELECT version, count(*) FROM poll_questions GROUP BY version ORDER BY version") == [
        (1, 2),
        (2, 1),
    ]


@pytest.mark.parametrize("poll_id", ["99", "0", "abc", "1%20OR%201=1", "-1"])
async def test_unknown_poll_is_result_false_at_once(api: Api, poll_id: str) -> None:
    await api.post("/polling", SEED_POLL)
    status, payload = await api.get(f"/polling/{poll_id}")
    assert (status, payload["result"], payload["data"]) == (200, False, [])


def poll_with(path: str, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(SPEC_POLL))
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


BAD = [
    ("questions", [], "questions: must be a non-empty list"),
    ("questions", "x", "questions: must be a non-empty list"),
    ("crmId", {"a": 1}, "crmId: must be a string or an integer"),
    ("name", "n" * 256, "name: must be at most 255 characters"),
    ("questions.0", "q", "questions[0]: must be an object"),
    ("questions.1.questionId", "1", "questions[1].questionId: duplicates questionId '1'"),
    ("questions.1.questionText", None, "questions[1]: needs a questionText or a questionFile"),
    ("questions.0.lang", "russian!", "questions[0].lang: must be a language tag"),
    ("questions.0.press", {"key": "1"}, "questions[0].press: must be a list"),
    ("questions.0.press.0.key", "A", "questions[0].press[0].key: must be one of"),
    ("questions.0.press.0.key", "12", "questions[0].press[0].key: must be one of"),
    ("questions.0.press.1.key", "1", "questions[0].press[1].key: duplicates key '1'"),
    ("questions.0.press.0.action", "hangup", "questions[0].press[0].action: must be one of"),
    ("questions.0.press.2.value", "201@internal", "questions[0].press[2].value: a dial action needs an extension"),
    ("questions.0.press.2.value", None, "questions[0].press[2].value: a dial action needs an extension"),
    ("questions.0.press.3.valueOptions", "url", "questions[0].press[3].valueOptions: must be one of"),
    ("questions.0.press.0.nextQuestion", "7", "questions[0].press[0].nextQuestion: must name a questionId"),
    ("questions.0.press.0.value", "v" * 1001, "questions[0].press[0].value: must be at most 1000 characters"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[f"{b[0]}={b[1]!r}"[:50] for b in BAD])
async def test_bad_poll_field_is_refused_by_name(api: Api, path: str, value: Any, message: str) -> None:
    status, payload = await api.post("/polling", poll_with(path, value))
    assert status == 400 and payload["result"] is False
    assert any(e.startswith(message) for e in payload["messages"]["error"]), payload["messages"]
    assert await api.rows("SELECT id FROM polls") == []


STRINGS = [
    "crmId",
    "name",
    "questions.0.questionId",
    "questions.0.questionText",
    "questions.0.questionFile",
    "questions.0.lang",
    "questions.0.press.0.value",
    "questions.0.press.3.value",
    "questions.0.press.0.nextQuestion",
    "questions.0.press.0.key",
    "questions.0.press.0.action",
]


@pytest.mark.parametrize("path", STRINGS)
async def test_cr_lf_is_refused_in_every_poll_string(api: Api, path: str) -> None:
    status, payload = await api.post("/polling", poll_with(path, "1\r\nAction: Originate"))
    field = re.sub(r"\.(\d+)", r"[\1]", path)
    assert status == 400, path
    assert any(e.startswith(field) for e in payload["messages"]["error"]), payload["messages"]
    assert await api.rows("SELECT id FROM polls") == []


async def test_pseudo_keys_and_optout_are_accepted(api: Api) -> None:
    body = {
        "questions": [
            {
                "questionText": "Q",
                "press": [
                    {"key": "timeout", "action": "", "nextQuestion": "0"},
                    {"key": "invalid", "action": "playback", "value": "Sorry", "valueOptions": "text"},
                    {"key": 9, "action": "optout"},
                    {"key": "#", "action": "dial", "value": 201},
                ],
            }
        ]
    }
    status, payload = await api.post("/polling", body)
    assert status == 200, payload
    _, poll = await api.get("/polling/1")
    assert [(p["key"], p["action"], p["value"]) for p in poll["data"]["questions"][0]["press"]] == [
        ("timeout", "", None),
        ("invalid", "playback", "Sorry"),
        ("9", "optout", None),
        ("#", "dial", "201"),
    ]
