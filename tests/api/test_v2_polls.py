"""v2 polls, audio prompts and the TTS preview over HTTP (SQLite and PostgreSQL), with the real ffmpeg/sox and
espeak-ng: every route with good and bad input (problem+json naming the field and the rule), the auth gate, and v1
seeing what v2 wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import V2

P = "/api/v2/polls"
A = "/api/v2/audio"
PROBLEM = "application/problem+json"


def branching_poll(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Satisfaction",
        "questions": [
            {
                "id": "q1",
                "text": "Are you satisfied? Press 1 for yes, 2 for no.",
                "lang": "en-US",
                "keys": [
                    {"key": "1", "action": "save_answer", "value": "yes", "next": "q2"},
                    {"key": "2", "action": "save_answer", "value": "no", "next": "q3"},
                    {"key": "0", "action": "transfer", "extension": "201"},
                    {"key": "*", "action": "next_question", "next": "q1"},
                ],
            },
            {"id": "q2", "text": "Rate us from 1 to 5.", "keys": [{"key": "5", "action": "save_answer", "value": "5"}]},
            {
                "id": "q3",
                "text": "Sorry. Press 9 to stop our calls.",
                "keys": [
                    {"key": "9", "action": "opt_out"},
                    {"key": "timeout", "action": "play", "text": "Goodbye"},
                ],
            },
        ],
        **extra,
    }


def problems(reply: Any) -> list[tuple[str, str]]:
    assert reply.headers["content-type"] == PROBLEM, reply.text
    body = reply.json()
    assert body["status"] == reply.status_code
    return [(e["field"], e["message"]) for e in body["errors"]]


def tone(path: Path, seconds: float = 0.5) -> bytes:
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(path), "synth", str(seconds), "sine", "440"], check=True)
    return path.read_bytes()


async def create(v2: V2, body: dict[str, Any]) -> dict[str, Any]:
    async with v2.client() as client:
        reply = await client.post(P, json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def test_create_read_list_replace_delete(v2: V2) -> None:
    made = await create(v2, branching_poll(external_id="crm-poll-1"))
    assert made["version"] == 1 and made["external_id"] == "crm-poll-1"
    assert made["questions"][0]["keys"][2] == {
        "key": "0", "action": "transfer", "value": None, "text": None, "audio": None, "extension": "201", "next": None
    }  # fmt: skip
    assert made["questions"][2]["keys"][1]["text"] == "Goodbye"
    assert v2.wakeups  # polling tasks waiting for the poll are woken
    async with v2.client() as client:
        read = await client.get(f"{P}/{made['id']}")
        assert read.json() == made
        v1 = (await client.get(f"/pbxcore/api/module-dialer/v1/polling/{made['id']}")).json()["data"]
        second = await client.post(P, json=branching_poll(name="Other"))
        page = await client.get(P, params={"limit": 1})
        rest = await client.get(P, params={"limit": 1, "cursor": page.json()["next_cursor"]})
        changed = branching_poll(name="Renamed")
        changed["questions"][0]["keys"][3] = {"key": "#", "action": "play", "text": "Again", "next": "q1"}
        replaced = await client.put(f"{P}/{made['id']}", json=changed)
        deleted = await client.delete(f"{P}/{second.json()['id']}")
        gone = await client.get(f"{P}/{second.json()['id']}")
    # v1 shows the v2 poll in its own words: the same rows the FastAGI /poll flow reads
    assert v1["crmId"] == "crm-poll-1" and [q["id"] for q in v1["questions"]]
    assert v1["questions"][0]["press"][0] == {
        "key": "1", "action": "answer", "value": "yes", "valueOptions": None, "nextQuestion": "q2"
    }  # fmt: skip
    assert [p["id"] for p in page.json()["items"]] == [made["id"]]
    assert [p["id"] for p in rest.json()["items"]] == [second.json()["id"]] and rest.json()["next_cursor"] is None
    assert page.json()["items"][0]["question_count"] == 3
    assert replaced.status_code == 200 and replaced.json()["version"] == 2 and replaced.json()["name"] == "Renamed"
    assert replaced.json()["questions"][0]["keys"][3]["action"] == "play"
    assert deleted.status_code == 204 and gone.status_code == 404 and problems(gone)


BAD_POLLS: list[tuple[str, Any, str, str]] = [
    # (path into the body, new value, field named, words of the rule)
    ("questions.0.keys.0.next", "q9", "questions[0].keys[0].next", "must name a questionId"),
    ("questions.1.id", "q1", "questions[1].id", "duplicates questionId"),
    ("questions.0.keys.1.key", "1", "questions[0].keys[1].key", "duplicates key '1'"),
    ("questions.0.keys.1.next", "q2", "questions[2]", "never asked"),
    ("questions.1.keys.0", {"key": "5", "action": "next_question", "next": "q2"}, "questions[1].keys", "no key leads"),
    ("questions.1.keys", [], "questions[1].keys", "no key leads to an end"),
    ("questions.0.keys.2", {"key": "0", "action": "transfer"}, "questions[0].keys[2]", "transfer needs extension"),
    ("questions.0.keys.2.extension", "201@x", "questions[0].keys[2].extension", "should match pattern"),
    ("questions.2.keys.1", {"key": "timeout", "action": "play"}, "questions[2].keys[1]", "exactly one of text or"),
    ("questions.2.keys.1.audio", "missing.wav", "questions[2].keys[1]", "exactly one of text or audio"),
    ("questions.0.keys.0.extension", "201", "questions[0].keys[0]", "save_answer does not take extension"),
    ("questions.0.keys.2.next", "q2", "questions[0].keys[2].next", "must be empty: this action ends the poll"),
    ("questions.0.keys.0.key", "A", "questions[0].keys[0].key", "Input should be"),
    ("questions.0.keys.0.action", "hangup", "questions[0].keys[0].action", "Input should be"),
    ("questions.0.text", "", "questions[0]", "needs text or audio"),
    ("questions.0.audio", "nope.wav", "questions[0].audio", "must be the name of a prompt in the audio library"),
    ("questions.0.lang", "russian!", "questions[0].lang", "should match pattern"),
    ("questions.0.colour", "red", "questions[0].colour", "Extra inputs are not permitted"),
    ("questions", [], "questions", "at least 1 item"),
    ("digit_timeout_s", 0, "digit_timeout_s", "greater than or equal to 0.1"),
    ("max_repeats", True, "max_repeats", "not true/false"),
]


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = body
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field", "rule"), BAD_POLLS, ids=[b[0] + "=" + str(b[1])[:20] for b in BAD_POLLS]
)
async def test_a_bad_poll_is_refused_naming_the_field_and_the_rule(
    v2: V2, path: str, value: Any, field: str, rule: str
) -> None:
    async with v2.client() as client:
        reply = await client.post(P, json=changed(branching_poll(), path, value))
        listed = await client.get(P)
    assert reply.status_code == 422
    found = problems(reply)
    assert any(f == field and rule in m for f, m in found), found
    assert listed.json()["items"] == []  # nothing stored


async def test_a_trap_loop_names_every_question_in_it(v2: V2) -> None:
    body = branching_poll()
    body["questions"][1]["keys"] = [{"key": "1", "action": "next_question", "next": "q1"}]
    body["questions"][0]["keys"] = [{"key": "1", "action": "save_answer", "value": "x", "next": "q2"}]
    body["questions"].pop()
    async with v2.client() as client:
        reply = await client.post(P, json=body)
    assert [f for f, _ in problems(reply)] == ["questions[0].keys", "questions[1].keys"]


async def test_external_ids_are_unique_and_unknown_polls_are_404(v2: V2) -> None:
    await create(v2, branching_poll(external_id="x1"))
    async with v2.client() as client:
        again = await client.post(P, json=branching_poll(external_id="x1"))
        missing = await client.put(f"{P}/999", json=branching_poll())
        missing_delete = await client.delete(f"{P}/999")
        bad_id = await client.get(f"{P}/0")
        bad_cursor = await client.get(P, params={"cursor": "zz"})
    assert again.status_code == 409 and problems(again)[0][0] == "external_id"
    assert missing.status_code == 404 and missing_delete.status_code == 404
    assert bad_id.status_code == 422 and problems(bad_id)[0][0] == "poll_id"
    assert bad_cursor.status_code == 422 and problems(bad_cursor)[0][0] == "cursor"


async def test_a_poll_a_campaign_targets_is_not_deleted(v2: V2) -> None:
    made = await create(v2, branching_poll())
    async with v2.client() as client:
        campaign = await client.post(
            "/api/v2/campaigns", json={"name": "Survey run", "target": {"kind": "poll", "value": str(made["id"])}}
        )
        refused = await client.delete(f"{P}/{made['id']}")
        await client.delete(f"/api/v2/campaigns/{campaign.json()['id']}")
        allowed = await client.delete(f"{P}/{made['id']}")
    assert refused.status_code == 409
    assert "Survey run" in refused.json()["detail"] and str(campaign.json()["id"]) in refused.json()["detail"]
    assert allowed.status_code == 204


async def test_results_per_number_with_filters_and_pages(v2: V2) -> None:
    made = await create(v2, branching_poll())
    rows = [(7, "q1", "555001", "yes", "1", 1), (7, "q2", "555001", "5", "5", 2), (7, "q1", "555002", "no", "2", 3),
            (8, "q1", "555001", "no", "2", 4)]  # fmt: skip
    for task, question, phone, result, exten, n in rows:
        await v2.execute(
            "INSERT INTO poll_answers (task_id, question_crm_id, polling_id, phone_id, phone, result, exten,"
            " question_text, change_time_us) VALUES (:t, :q, :p, :ph, :ph, :r, :e, 'asked', :us)",
            t=task, q=question, p=made["id"], ph=phone, r=result, e=exten, us=1_724_235_073_000_000 + n,
        )  # fmt: skip
    url = f"{P}/{made['id']}/results"
    async with v2.client() as client:
        first = (await client.get(url, params={"limit": 2})).json()
        second = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]})).json()
        by_phone = (await client.get(url, params={"phone": "555001", "campaign_id": 7})).json()
        unknown = await client.get(f"{P}/999/results")
        bad_cursor = await client.get(url, params={"cursor": "bm90IGpzb24"})
    assert [(n["campaign_id"], n["phone"]) for n in first["items"]] == [(7, "555001"), (7, "555002")]
    assert [(a["question_id"], a["key"], a["value"]) for a in first["items"][0]["answers"]] == [
        ("q1", "1", "yes"),
        ("q2", "5", "5"),
    ]
    assert [(n["campaign_id"], n["phone"]) for n in second["items"]] == [(8, "555001")]
    assert second["next_cursor"] is None
    assert len(by_phone["items"]) == 1 and len(by_phone["items"][0]["answers"]) == 2
    assert unknown.status_code == 404
    assert bad_cursor.status_code == 422 and problems(bad_cursor)[0][0] == "cursor"


async def test_audio_upload_list_play_and_delete_unless_a_poll_plays_it(v2: V2, tmp_path: Path) -> None:
    sample = tone(tmp_path / "hello.wav")
    async with v2.client() as client:
        reply = await client.post(A, files={"file": ("hello.wav", sample, "audio/wav")})
        assert reply.status_code == 201, reply.text
        audio = reply.json()
        listing = await client.get(A)
        one = await client.get(f"{A}/{audio['id']}")
        played = await client.get(f"{A}/{audio['id']}/file")
        body = branching_poll()
        body["questions"][0]["audio"] = "hello.wav"
        poll = await client.post(P, json=body)
        refused = await client.delete(f"{A}/{audio['id']}")
        await client.delete(f"{P}/{poll.json()['id']}")
        deleted = await client.delete(f"{A}/{audio['id']}")
        gone = await client.get(f"{A}/{audio['id']}/file")
        v1_list = (await client.get("/pbxcore/api/module-dialer/v1/audio")).json()["data"]
    assert audio["name"] == "hello.wav" and audio["duration_s"] == pytest.approx(0.5, abs=0.05)
    assert reply.headers["location"] == f"/api/v2/audio/{audio['id']}"
    assert [a["name"] for a in listing.json()["items"]] == ["hello.wav"] and one.json() == audio
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    assert played.content[:4] == b"RIFF" and len(played.content) > 7000  # 0.5 s at 8 kHz, 16 bit
    assert poll.status_code == 201 and poll.json()["questions"][0]["audio"] == "hello.wav"
    assert refused.status_code == 409 and "Satisfaction" in refused.json()["detail"]
    assert problems(refused)[0][0] == "audio_id"
    assert deleted.status_code == 204 and gone.status_code == 404 and v1_list == []


async def test_bad_uploads_are_refused_naming_the_file(v2: V2, tmp_path: Path) -> None:
    async with v2.client() as client:
        not_audio = await client.post(A, files={"file": ("x.wav", b"this is not audio" * 10, "audio/wav")})
        empty = await client.post(A, files={"file": ("x.wav", b"", "audio/wav")})
        no_field = await client.post(A, files={"other": ("x.wav", b"abc", "audio/wav")})
        not_multipart = await client.post(A, json={"file": "x"})
        malformed = await client.post(A, content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"})
        too_big = await client.post(A, files={"file": ("big.wav", b"\0" * (21 * 1024 * 1024), "audio/wav")})
        unknown = await client.delete(f"{A}/999")
        listing = await client.get(A)
    assert not_audio.status_code == 415 and problems(not_audio)[0][0] == "file"
    assert empty.status_code == 422 and problems(empty)[0][0] == "file"
    assert no_field.status_code == 422 and "field `file`" in problems(no_field)[0][1]
    assert not_multipart.status_code == 415
    assert malformed.status_code == 422 and "malformed multipart body" in problems(malformed)[0][1]
    assert too_big.status_code == 413 and problems(too_big)[0][0] in ("file", "body")
    assert unknown.status_code == 404 and problems(unknown)[0][0] == "audio_id"
    assert listing.json()["items"] == []


async def test_tts_preview_plays_cached_wav_and_refuses_bad_text(v2: V2) -> None:
    url = "/api/v2/tts/preview"
    async with v2.client() as client:
        voices = (await client.get("/api/v2/tts/voices")).json()["voices"]
        first = await client.get(url, params={"text": "Добрый день", "lang": "ru-RU"})
        again = await client.get(url, params={"text": "Добрый день", "lang": "ru-RU"})
        cached = await client.get(url, params={"text": "Добрый день"}, headers={"If-None-Match": first.headers["etag"]})
        other_voice = await client.get(url, params={"text": "Добрый день", "voice": "en-us"})
        too_long = await client.get(url, params={"text": "a" * 501})
        blank = await client.get(url, params={"text": "   "})
        bad_voice = await client.get(url, params={"text": "hi", "voice": "klingon"})
        bad_lang = await client.get(url, params={"text": "hi", "lang": "ru RU"})
        no_text = await client.get(url)
    assert "ru" in voices and "en-us" in voices
    assert first.status_code == 200 and first.headers["content-type"] == "audio/wav" and first.content[:4] == b"RIFF"
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert cached.status_code == 304
    assert other_voice.status_code == 200 and other_voice.headers["etag"] != first.headers["etag"]
    assert too_long.status_code == 422 and problems(too_long)[0][0] == "text"
    assert blank.status_code == 422 and problems(blank) == [("text", "must have something to say")]
    assert bad_voice.status_code == 422 and problems(bad_voice)[0][0] == "voice"
    assert bad_lang.status_code == 422 and problems(bad_lang)[0][0] == "lang"
    assert no_text.status_code == 422 and problems(no_text)[0][0] == "text"


async def test_the_routes_need_authentication_from_other_addresses(v2: V2) -> None:
    async with v2.client(host="198.51.100.7") as client:
        routes = [("GET", P), ("POST", P), ("GET", f"{P}/1"), ("PUT", f"{P}/1"), ("DELETE", f"{P}/1"),
                  ("GET", f"{P}/1/results"), ("GET", A), ("POST", A), ("GET", f"{A}/1/file"), ("DELETE", f"{A}/1"),
                  ("GET", "/api/v2/tts/preview?text=hi"), ("GET", "/api/v2/tts/voices")]  # fmt: skip
        for method, path in routes:
            reply = await client.request(method, path)
            assert reply.status_code == 401, (method, path)
            assert reply.headers["content-type"] == PROBLEM


async def test_openapi_documents_the_routes(v2: V2) -> None:
    async with v2.client() as client:
        spec = (await client.get("/api/v2/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    for path in ["/polls", "/polls/{poll_id}", "/polls/{poll_id}/results", "/audio", "/audio/{audio_id}/file",
                 "/tts/preview", "/tts/voices"]:  # fmt: skip
        assert path in spec["paths"], path
