"""`autodialer demo` (README command 1) runs its sample campaign to the end with the results it promises."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from autodialer.demo import free_port, run_demo

pytestmark = pytest.mark.slow


async def test_the_demo_campaign_finishes_with_every_kind_of_result(tmp_path: Path) -> None:
    out = io.StringIO()
    code = await run_demo(port=free_port(), data_dir=tmp_path / "demo", time_scale=0.05, exit_when_done=True, out=out)
    text = out.getvalue()
    assert code == 0
    assert re.search(r"^Web console .*: http://127\.0\.0\.1:\d+/console/$", text, re.MULTILINE), text
    assert re.search(r"^Live wallboard .*: http://127\.0\.0\.1:\d+/console/#/wallboard$", text, re.MULTILINE), text
    results = dict(re.findall(r"^\s+(555\d{4})\s+(\S+)", text, re.MULTILINE))
    # Queue 2200 rings all free members: whoever answers decides who hangs up first, so either success will do.
    for number in ("5553001", "5553002"):
        assert results.pop(number) in {"SUCCESS_CLIENT_H", "SUCCESS_USER_H"}
    assert results == {
        "5552001": "SUCCESS_CLIENT_H",
        "5552002": "FAIL",  # busy, retried once
        "5552003": "FAIL_CLIENT_H_BEFORE_ANSWER",
        "5552004": "FAIL",  # 404
        "5552005": "FAIL",  # no answer, retried once
        "5553003": "FAIL",  # congestion
        "5554001": "SUCCESS_POLLING",
        "5554002": "SUCCESS_POLLING",
        "5554003": "FAIL_POLLING",  # never presses a key
    }
    assert "poll answer: 5554001 question 1 key 1 → on time" in text
    assert "poll answer: 5554001 question 2 key 2 → no" in text
