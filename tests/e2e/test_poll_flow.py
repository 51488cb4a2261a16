"""Voice polls end to end: the simulator's customer presses keys, the service runs the poll over FastAGI /poll.

Every test reads what MikoPBX clients read (GET /task/{id} with ``resultsPoling``, /polling-results) and what the
PBX saw (the prompts the simulator was asked to play, its AMI events); the TTS texts come from RecordingSpeech.
The simulator runs at time_scale 0.05 (a 1 s prompt takes 50 ms); DTMF times are simulated seconds after answer.
"""

from __future__ import annotations

import io
import json
import re
import wave
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.e2e.poll_stack import PollStack, poll_stack

pytestmark = pytest.mark.slow

Q1 = "Are you ready to receive the parcel? Press 1 for yes, 2 for no."
Q2 = "Should we call you a taxi? Press 1."
Q3 = "Rate us from 1 to 5."


def press(key: str, action: str = "answer", value: str = "", next_question: str = "", **extra: str) -> dict[str, str]:
    return {"key": key, "action": action, "value": value, "nextQuestion": next_question, **extra}


def question(qid: str, text: str, *keys: dict[str, str]) -> dict[str, Any]:
    return {"questionId": qid, "questionText": text, "lang": "en-US", "press": list(keys)}


def survey(*questions: dict[str, Any], **timing: Any) -> dict[str, Any]:
    return {"crmId": "survey", "name": "Delivery survey", "questions": list(questions), **timing}


BRANCHING = survey(
    question("q1", Q1, press("1", value="yes", next_question="q3"), press("2", value="no", next_question="q2")),
    question("q2", Q2, press("1", value="taxi")),
    question("q3", Q3, *(press(str(k), value=f"score {k}") for k in range(1, 6))),
)


def answers(task: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["questionCrmId"], a["result"], a["exten"]) for a in task["resultsPoling"]]


def outcome(task: dict[str, Any]) -> tuple[str, str]:
    (row,) = task["results"]
    return row["result"], row["state"]


def assert_playable(ps: PollStack) -> None:
    """Every prompt was handed to STREAM FILE as Asterisk wants it: a path without extension to an 8 kHz wav."""
    assert ps.prompts()
    for name in ps.prompts():
        assert Path(name).is_absolute() and Path(name).suffix == "", name
        with wave.open(f"{name}.wav") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)


async def run_poll(ps: PollStack, body: dict[str, Any], number: Any, **customer: Any) -> dict[str, Any]:
    poll_id = await ps.post_poll(body)
    phone = number if isinstance(number, str) else number["number"]
    ps.stack.sim.control.set_customer(phone, **customer)
    task_id = await ps.poll_task(poll_id, [number])
    return await ps.stack.wait_final(task_id)


async def test_a_linear_poll_records_one_row_per_key_and_succeeds(
    tmp_path: Path, db_url: str, migrated_engine: AsyncEngine
) -> None:
    linear = survey(
        question("q1", Q1, press("1", value="yes", next_question="q2"), press("2", value="no", next_question="q2")),
        question("q2", Q3, *(press(str(k), value=f"score {k}") for k in range(1, 6))),
    )
    async with poll_stack(tmp_path, db_url) as ps:
        steps = ps.stack.record_events("Newexten")
        task = await run_poll(ps, linear, "5552001", dtmf=((1.0, "1"), (2.0, "4")))
        feed = await ps.polling_results()
        since_second = await ps.polling_results(feed[1]["changeTime"]) if len(feed) == 2 else []
        assert_playable(ps)
    assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
    assert task["results"][0]["closeTime"] != "0"
    # EVENT_POLLING carries CHANNEL(callid), as the spec's polling rows show ("[C-0000001b]")
    assert re.fullmatch(r"\[C-[0-9a-f]{8}\]", task["results"][0]["verboseCallId"] or "")
    assert answers(task) == [("q1", "yes", "1"), ("q2", "score 4", "4")]
    assert feed == task["resultsPoling"]
    assert since_second == feed[1:]  # /polling-results/{changeTime} keeps MikoPBX's ">="
    assert float(feed[0]["changeTime"]) < float(feed[1]["changeTime"])
    assert [set(a) for a in feed] == [
        {"id", "taskId", "questionCrmId", "pollingId", "phoneId", "phone", "result", "exten", "changeTime"}
    ] * 2
    assert {(a["taskId"], a["pollingId"], a["phone"], a["phoneId"]) for a in feed} == {
        (task["id"], task["innerNum"], "5552001", "5552001")
    }
    assert ps.speech.spoken() == [Q1, Q3]
    assert len(ps.prompts()) == 2
    # The installed dialplan's GotoIf sent the call to the FastAGI /poll route.
    agi = [f["AppData"] for _, f in steps if f.get("Application") == "AGI"]
    assert len(agi) == 1 and "/poll," in agi[0], agi


async def test_branching_follows_next_question(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, BRANCHING, "5552002", dtmf=((1.0, "1"), (2.0, "5")))
    assert answers(task) == [("q1", "yes", "1"), ("q3", "score 5", "5")]
    assert ps.speech.spoken() == [Q1, Q3]  # q2 was skipped
    assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")


async def test_the_other_branch(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, BRANCHING, "5552003", dtmf=((1.0, "2"), (2.0, "1")))
    assert answers(task) == [("q1", "no", "2"), ("q2", "taxi", "1")]
    assert ps.speech.spoken() == [Q1, Q2]


async def test_the_dial_action_ends_the_poll_and_connects_the_extension(tmp_path: Path) -> None:
    body = survey(question("q1", Q1, press("1", value="yes"), press("3", action="dial", value="201")))
    async with poll_stack(tmp_path) as ps:
        bridged = ps.stack.record_events("BridgeEnter")
        # The employee ends the call 2 s after answering, however long the service took to get there.
        ps.stack.sim.control.set_employee("201", answer_after=1.0, hangup_after=2.0)
        task = await run_poll(ps, body, "5552004", dtmf=((1.0, "3"),))
    assert answers(task) == [("q1", "201", "3")]
    assert outcome(task)[0] == "SUCCESS_POLLING"
    bridges: dict[str, set[str]] = {}
    for _, fields in bridged:
        bridges.setdefault(fields["BridgeUniqueid"], set()).add(fields["Channel"].split("-")[0])
    # The customer's call (our Local;1 running the poll) and the employee's phone met in one bridge.
    assert any("PJSIP/201" in channels for channels in bridges.values()), bridges


async def test_no_key_replays_the_question_a_bounded_number_of_times_then_fails(tmp_path: Path) -> None:
    body = survey(question("q1", Q1, press("1", value="yes")), digitTimeout=0.2, maxRepeats=2)
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, body, "5552005")
        assert_playable(ps)
    assert outcome(task) == ("FAIL_POLLING", "endCall")
    assert answers(task) == []
    assert len(ps.prompts()) == 3  # asked once, replayed twice
    assert ps.speech.spoken() == [Q1]  # rendered once, played from the cache after


async def test_the_whole_poll_is_bounded_in_time(tmp_path: Path) -> None:
    body = survey(question("q1", Q1, press("1", value="yes")), digitTimeout=0.3, maxRepeats=20, maxDuration=1)
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, body, "5552006")
    assert outcome(task) == ("FAIL_POLLING", "endCall")
    # Simulated time runs 20x faster than ours: the 0.3 s waits last 15 ms, so only maxDuration can end this poll
    # before its 21 asks (1 + 20 replays).
    assert 2 <= len(ps.prompts()) < 21


async def test_an_unknown_key_replays_the_question(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, BRANCHING, "5552007", dtmf=((1.0, "7"), (2.0, "1"), (3.0, "2")))
    assert answers(task) == [("q1", "yes", "1"), ("q3", "score 2", "2")]
    assert len(ps.prompts()) == 3  # q1, q1 again after "7", q3


async def test_timeout_and_invalid_pseudo_keys_branch_explicitly(tmp_path: Path) -> None:
    body = survey(
        question(
            "q1", Q1,
            press("1", value="yes"),
            press("invalid", value="wrong key", next_question="q2"),
            press("timeout", action="", next_question="q3"),
        ),
        question("q2", Q2, press("1", value="taxi"), press("timeout", value="silence")),
        question("q3", Q3, press("5", value="five")),
        digitTimeout=0.3,
    )  # fmt: skip
    async with poll_stack(tmp_path) as ps:
        wrong = await run_poll(ps, body, "5552008", dtmf=((1.0, "8"),))
        assert ps.speech.spoken() == [Q1, Q2]
    async with poll_stack(tmp_path / "second") as ps:
        silent = await run_poll(ps, body, "5552009", hangup_after=60.0)
        assert ps.speech.spoken() == [Q1, Q3]
    # "invalid" saves the configured value under the pseudo-key; q2's own timeout then answers "silence".
    assert answers(wrong) == [("q1", "wrong key", "invalid"), ("q2", "silence", "timeout")]
    assert outcome(wrong) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
    # q1's timeout goes on to q3 without saving anything; q3 has no timeout key, so it replays and finally fails.
    assert answers(silent) == []
    assert outcome(silent) == ("FAIL_POLLING", "endCall")


async def test_a_customer_hanging_up_mid_poll_fails_it_and_keeps_the_answers_given(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        # q3 waits 5 s (real) for a key; the customer leaves 1 s (real) after answering, well after pressing 1.
        task = await run_poll(ps, BRANCHING, "5552010", dtmf=((1.0, "1"),), hangup_after=20.0)
    assert answers(task) == [("q1", "yes", "1")]
    assert outcome(task) == ("FAIL_POLLING", "endCall")


async def test_opt_out_puts_the_number_on_the_dnc_list_and_the_dialer_skips_it(tmp_path: Path) -> None:
    body = survey(question("q1", Q1, press("1", value="yes"), press("9", action="optout")))
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, body, "5552011", dtmf=((1.0, "9"),))
        assert answers(task) == [("q1", "optout", "9")]
        assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
        # On the global list, as the v2 API shows it (a short number is keyed by its digits: it has no E.164 form).
        root = ps.stack.base_url.split("/pbxcore")[0]
        listed = (await ps.stack.http.get(root + "/api/v2/dnc")).json()["items"]
        assert [(e["phone"], e["campaign_id"], e["source"].startswith("poll:")) for e in listed] == [
            ("5552011", None, True)
        ]
        before = len(ps.stack.originates())
        ps.stack.sim.control.set_customer("5552012", hangup_after=2.0)
        # A later campaign with the opted-out number first: it must never ring, the other number must.
        later = await ps.stack.post_task({"name": "later", "innerNum": "201", "numbers": ["5552011", "5552012"]})
        await ps.stack.until(lambda: _final(ps, later["id"], "5552012"), what="the other number of the later campaign")
        rows = ps.stack.by_phone(await ps.stack.task(later["id"]))
        dialed = ps.stack.originates()[before:]

        async def closed() -> bool:
            return (await ps.stack.task(later["id"]))["state"] == "1"

        await ps.stack.until(closed, what="the later campaign to close itself")
    assert len(dialed) == 1 and "5552012" in dialed[0]["channel"], dialed
    # Never dialed, but closed with a result so the campaign can finish (1C waits for every closeTime).
    opted_out = rows["5552011"]
    assert (opted_out["result"], opted_out["state"], opted_out["cause"]) == ("FAIL", "doNotCall", "Do not call list")
    assert (opted_out["countTry"], opted_out["closeTime"] != "0") == (None, True)


async def _final(ps: PollStack, task_id: str, phone: str) -> bool:
    rows = ps.stack.by_phone(await ps.stack.task(task_id))
    return rows[phone]["closeTime"] != "0"


async def test_params_are_substituted_into_question_and_playback_texts(tmp_path: Path) -> None:
    body = survey(
        question(
            "q1", "Your debt is <speach>. Press 1 to confirm.",
            press("1", action="playback", value="Thank you, <name>. Goodbye.", valueOptions="text"),
        )
    )  # fmt: skip
    number = {"number": "5552013", "params": {"speach": "1000 rubles", "name": "Ivan <b>"}}
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, body, number, dtmf=((1.0, "1"),))
        await ps.played(2)
        assert_playable(ps)
    assert ps.speech.spoken() == ["Your debt is 1000 rubles. Press 1 to confirm.", "Thank you, Ivan . Goodbye."]
    assert len(ps.prompts()) == 2  # the question, then the playback
    assert answers(task) == [("q1", "1", "1")]  # playback saves the key
    assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")


async def test_http_delivery_hands_asterisk_urls_that_serve_the_wav(tmp_path: Path) -> None:
    base = "http://dialer.example:8080"
    async with poll_stack(tmp_path, prompt_delivery="http", prompt_http_base_url=base) as ps:
        upload = await ps.stack.http.post("/audio", files={"file": ("q.wav", wav_bytes(1.0), "audio/wav")})
        body = survey(
            {"questionId": "q1", "questionFile": "q.wav",
             "press": [press("1", action="playback", value="Thank you.", valueOptions="text")]}
        )  # fmt: skip
        task = await run_poll(ps, body, "5552014", dtmf=((1.0, "1"),))
        await ps.played(2)
        root = ps.stack.base_url.split("/pbxcore")[0]
        served = [await ps.stack.http.get(root + url.removeprefix(base)) for url in ps.prompts()]
    question_url, thanks_url = ps.prompts()
    stored = Path(upload.json()["data"]["filename"]).with_suffix(".wav")
    assert question_url == f"{base}/autodialer/prompts/audio/{stored.name}"
    assert thanks_url.startswith(f"{base}/autodialer/prompts/tts/") and thanks_url.endswith(".wav"), thanks_url
    assert [(r.status_code, r.headers["content-type"]) for r in served] == [(200, "audio/wav")] * 2
    assert served[0].content == stored.read_bytes()
    assert served[1].content == (tmp_path / "tts" / thanks_url.rsplit("/", 1)[1]).read_bytes()
    assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")


async def test_a_question_whose_file_is_gone_ends_the_call_instead_of_skipping_it(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        refused = await ps.stack.http.post("/polling", content=json.dumps(survey({"questionFile": "/etc/passwd"})))
        assert refused.status_code == 400, refused.text  # never ours: refused at POST (test_poll_files)
        upload = await ps.stack.http.post("/audio", files={"file": ("gone.wav", wav_bytes(1.0), "audio/wav")})
        file = upload.json()["data"]["filename"]
        body = survey({"questionId": "q1", "questionFile": file, "press": [press("1", value="yes")]})
        poll_id = await ps.post_poll(body)
        assert (await ps.stack.http.delete("/audio/gone.wav")).json()["result"] is True  # deleted after the POST
        ps.stack.sim.control.set_customer("5552015", dtmf=((1.0, "1"),))
        task = await ps.stack.wait_final(await ps.poll_task(poll_id, ["5552015"]))
    assert ps.prompts() == []
    assert answers(task) == []
    assert outcome(task) == ("FAIL_POLLING", "endCall")


async def test_a_question_the_tts_cannot_speak_ends_the_call_and_keeps_the_answers_before(tmp_path: Path) -> None:
    async with poll_stack(tmp_path, broken_texts=frozenset({Q3})) as ps:
        task = await run_poll(ps, BRANCHING, "5552019", dtmf=((1.0, "1"), (2.0, "5")))
    assert ps.speech.spoken() == [Q1, Q3]
    assert len(ps.prompts()) == 1  # q3 never reached the PBX, and nothing was asked in its place
    assert answers(task) == [("q1", "yes", "1")]
    assert outcome(task) == ("FAIL_POLLING", "endCall")


async def asked_under(ps: PollStack) -> list[tuple[str, int, str, str]]:
    """Each stored answer's (questionCrmId, version and text of the question row it points at, text as heard)."""
    query = text(
        "SELECT a.question_crm_id, q.version, q.question_text, a.question_text FROM poll_answers a "
        "JOIN poll_questions q ON q.id = a.question_id ORDER BY a.id"
    )
    async with ps.stack.service.db.connect() as connection:
        return [(r[0], r[1], r[2], r[3]) for r in (await connection.execute(query)).all()]


async def test_answers_keep_the_question_text_they_were_asked_under_after_a_repost(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        task = await run_poll(ps, BRANCHING, "5552016", dtmf=((1.0, "2"), (2.0, "1")))
        edited = survey(question("q1", "Edited first question?", press("1", value="yes")))
        assert await ps.post_poll(edited) == task["innerNum"]
        asked = await asked_under(ps)
        reply = (await ps.stack.http.get(f"/polling/{task['innerNum']}")).json()
    assert asked == [("q1", 1, Q1, Q1), ("q2", 1, Q2, Q2)]
    assert [q["questionText"] for q in reply["data"]["questions"]] == ["Edited first question?"]


async def test_a_repost_during_a_call_does_not_relabel_its_answers(tmp_path: Path) -> None:
    first = survey(question("q1", Q1, press("1", value="yes")))
    async with poll_stack(tmp_path) as ps:
        poll_id = await ps.post_poll(first)
        ps.stack.sim.control.set_customer("5552017", dtmf=((10.0, "1"),))  # 0.5 s real, within the 5 s wait
        task_id = await ps.poll_task(poll_id, ["5552017"])
        await ps.stack.until(ps.prompts, what="the first question to play")
        running = outcome(await ps.stack.task(task_id))
        await ps.post_poll(survey(question("q1", "A different question?", press("1", value="yes"))))
        task = await ps.stack.wait_final(task_id)
        asked = await asked_under(ps)
    assert running == ("", "EVENT_POLLING")  # the poll is running: no result yet
    assert answers(task) == [("q1", "yes", "1")]
    assert asked == [("q1", 1, Q1, Q1)]  # the question of the version the customer heard


def wav_bytes(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x01\x00" * int(16000 * seconds))
    return buffer.getvalue()


async def test_uploaded_audio_plays_for_question_files_and_file_playbacks(tmp_path: Path) -> None:
    async with poll_stack(tmp_path) as ps:
        uploads = {}
        for name in ("question.wav", "thanks.wav"):
            reply = await ps.stack.http.post("/audio", files={"file": (name, wav_bytes(1.5), "audio/wav")})
            assert reply.json()["result"] is True, reply.text
            uploads[name] = reply.json()["data"]["filename"]
        body = survey(
            {"questionId": "q1", "questionFile": uploads["question.wav"],
             "press": [press("1", action="playback", value="thanks.wav", valueOptions="file")]}
        )  # fmt: skip
        task = await run_poll(ps, body, "5552018", dtmf=((1.0, "1"),))
        await ps.played(2)
        assert_playable(ps)
    stored = [str(Path(path).with_suffix("")) for path in uploads.values()]
    assert ps.prompts() == stored  # the question from its path, the playback by its upload name
    assert ps.speech.spoken() == []
    assert answers(task) == [("q1", "1", "1")]
    assert outcome(task) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
