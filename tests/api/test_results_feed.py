"""The results feeds: golden rows, and a client following the documented usage (re-ask from the largest changeTime
it saw) gets every row and never loops, also when one second holds more changes than a page, and also when the
client keeps only whole seconds (1C rounds to decimal(32,0)), however it rounds."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from tests.api.conftest import T0, Api, ApiFactory

from autodialer.adapters.db import feed_clock
from autodialer.adapters.db.transactions import write_transaction


def whole(rounding: str) -> Callable[[str], str]:
    return lambda value: str(Decimal(value).quantize(Decimal(1), rounding=rounding))


CLIENTS = {
    "exact": lambda value: value,
    "truncating": whole(ROUND_FLOOR),
    "rounding-half-up (1C)": whole(ROUND_HALF_UP),
    "rounding-up": whole(ROUND_CEILING),
}


async def drain(api: Api, path: str, start: str, keep: Callable[[str], str]) -> dict[tuple[str, str], Any]:
    """Poll like 1C: remember the largest changeTime seen (as the client stores it) and ask again from it."""
    seen: dict[tuple[str, str], Any] = {}
    cursor = start
    for _ in range(200):
        status, payload = await api.get(f"{path}/{cursor}")
        assert status == 200
        rows = payload["data"]["results"]
        fresh = False
        for row in rows:
            key = (row["taskId"], row.get("phoneId", "") + row.get("id", "") * (path == "/polling-results"))
            fresh = fresh or seen.get(key) != row
            seen[key] = row
        if rows:
            cursor = keep(max(rows, key=lambda r: Decimal(r["changeTime"]))["changeTime"])
        if not fresh:
            return seen
    raise AssertionError("the feed never stopped returning new rows")


async def stored(api: Api) -> dict[tuple[str, str], tuple[str, str]]:
    rows = await api.rows("SELECT task_id, phone_id, state, result FROM task_numbers")
    return {(str(t), p): (s, r) for t, p, s, r in rows}


def as_stored(seen: dict[tuple[str, str], Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {key: (row["state"], row["result"]) for key, row in seen.items()}


async def test_results_golden_row(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "g", "numbers": ["79522233446"]})
    await api.execute(
        "UPDATE task_numbers SET linked_id='mikopbx-1724323615.3', call_file='dialer-1000000001-79522233446-10.call',"
        " result='SUCCESS_POLLING', state='EVENT_POLLING_END', verbose_call_id='[C-00000003]',"
        " params_php='s:0:\"\";', change_time_us=1724323625000042, close_time=1724323625"
    )
    status, payload = await api.get("/results/1724323625")
    assert status == 200
    assert payload["data"] == {
        "results": [
            {
                "id": "1",
                "taskId": "1000000001",
                "phoneId": "9522233446",
                "phone": "79522233446",
                "linkedId": "mikopbx-1724323615.3",
                "callFile": "dialer-1000000001-79522233446-10.call",
                "result": "SUCCESS_POLLING",
                "outDialState": None,
                "inDialState": None,
                "state": "EVENT_POLLING_END",
                "verboseCallId": "[C-00000003]",
                "cause": None,
                "params": 's:0:"";',
                "changeTime": "1724323625.000042",
                "countTry": None,
                "timeCallAllow": "0",
                "closeTime": "1724323625",
            }
        ]
    }
    assert list(payload["data"]["results"][0])[12:15] == ["params", "changeTime", "countTry"]  # MikoPBX column order
    assert (await api.get("/results/1724323625.000043"))[1]["data"]["results"] == []
    assert len((await api.get("/results/1724323625,000042"))[1]["data"]["results"]) == 1  # ru-locale 1C Формат


async def test_polling_results_golden_row_and_order(api: Api) -> None:
    for n, us in enumerate([1724324374248700, 1724324374248701, 1724324300000000]):
        await api.execute(
            "INSERT INTO poll_answers (task_id, question_crm_id, polling_id, phone_id, phone, result, exten,"
            " change_time_us) VALUES (1000000002, '0', 10, '9522233446', '79522233446', :r, :x, :us)",
            r=str(n + 1),
            x=str(n + 1),
            us=us,
        )
    _, payload = await api.get("/polling-results/1724324374.2487")
    assert payload["data"]["results"] == [
        {
            "id": "1",
            "taskId": "1000000002",
            "questionCrmId": "0",
            "pollingId": "10",
            "phoneId": "9522233446",
            "phone": "79522233446",
            "result": "1",
            "exten": "1",
            "changeTime": "1724324374.248700",
        },
        {
            "id": "2",
            "taskId": "1000000002",
            "questionCrmId": "0",
            "pollingId": "10",
            "phoneId": "9522233446",
            "phone": "79522233446",
            "result": "2",
            "exten": "2",
            "changeTime": "1724324374.248701",
        },
    ]


@pytest.mark.parametrize("value", ["abc", "-1", "1724235073.5.1", "1e9", "", "%20OR%201=1"])
async def test_malformed_change_time_is_refused(api: Api, value: str) -> None:
    status, payload = await api.get(f"/results/{value}")
    if status == 404:  # an empty segment does not match the route at all
        assert value == ""
        return
    assert status == 400 and payload["messages"]["error"][0].startswith("changeTime:")


@pytest.mark.parametrize("limit", [5, 40])
@pytest.mark.parametrize("client", list(CLIENTS))
async def test_more_changes_in_one_second_than_a_page_reach_every_client(
    make_api: ApiFactory, client: str, limit: int
) -> None:
    api = await make_api(results_page_limit=limit)
    api.clock.t = T0 + 0.6
    await api.post(
        "/task", {"innerNum": "201", "crmId": "big", "numbers": [str(1000 + n) for n in range(4 * limit + 3)]}
    )
    await api.post("/task", {"innerNum": "201", "crmId": "other", "numbers": ["2000", "2001"]})
    keep = CLIENTS[client]
    seen = await drain(api, "/results", "0", keep)
    assert as_stored(seen) == await stored(api)
    # Progress on both sides: the engine changes rows, the client catches up from where it was.
    cursor = keep(max(Decimal(r["changeTime"]) for r in seen.values()).to_eng_string())
    await api.execute("UPDATE task_numbers SET state='CreateCallFile' WHERE phone IN ('1003', '2001')")
    for phone in ("1003", "2001"):  # as the engine does: a new change time from the clock, per event
        async with write_transaction(api.engine) as connection:
            at = await feed_clock.allocate(
                connection, feed_clock.RESULTS, 1, api.clock.now(), feed_clock.step_us(limit)
            )
            await connection.exec_driver_sql(f"UPDATE task_numbers SET change_time_us = {at} WHERE phone = '{phone}'")
    seen.update(await drain(api, "/results", cursor, keep))
    assert as_stored(seen) == await stored(api)


async def test_exact_clients_do_not_loop_even_on_rows_packed_into_one_second(make_api: ApiFactory) -> None:
    """Rows 1 µs apart (as a clock without spacing would give them): exact clients still get through."""
    api = await make_api(results_page_limit=5)
    await api.post("/task", {"innerNum": "201", "crmId": "t", "numbers": [str(1000 + n) for n in range(17)]})
    await api.execute("UPDATE task_numbers SET change_time_us = 1724235073000000 + id, state = 'x' || id")
    seen = await drain(api, "/results", "1724235073", CLIENTS["exact"])
    assert as_stored(seen) == await stored(api)


async def test_page_limit_applies(make_api: ApiFactory) -> None:
    api = await make_api(results_page_limit=7)
    await api.post("/task", {"innerNum": "201", "crmId": "t", "numbers": [str(1000 + n) for n in range(20)]})
    _, payload = await api.get("/results/0")
    times = [Decimal(r["changeTime"]) for r in payload["data"]["results"]]
    assert len(times) == 7 and times == sorted(times)


def test_clock_spacing_keeps_a_second_below_a_third_of_a_page() -> None:
    for limit in (1, 4, 5, 7, 100, 10_000, 12_345):
        per_second = feed_clock.rows_per_second(limit)
        assert 3 * per_second < max(limit, feed_clock.MIN_PAGE_LIMIT)
        assert 1_000_000 // feed_clock.step_us(limit) <= per_second + 1
        # values step apart: any half-open second holds at most ceil(1e6 / step) of them
        assert -(-1_000_000 // feed_clock.step_us(limit)) <= per_second


async def test_clock_follows_wall_time_when_sparse_and_is_unique(api: Api) -> None:
    async with write_transaction(api.engine) as connection:
        a = await feed_clock.allocate(connection, feed_clock.RESULTS, 3, 100.0, 400)
        b = await feed_clock.allocate(connection, feed_clock.RESULTS, 1, 100.0, 400)
        c = await feed_clock.allocate(connection, feed_clock.RESULTS, 1, 200.0, 400)
    assert (a, b, c) == (100_000_000, 100_000_000 + 3 * 400, 200_000_000)
