"""Kept so existing ``from tests.shared_paths import TRACES`` imports work; new code imports tests.asterisk_fixtures.

``SHARED`` is the fixtures root inside the checkout (``SHARED / "asterisk" / "traces"`` is ``TRACES``); nothing
outside the repository is read.
"""

from __future__ import annotations

from tests.asterisk_fixtures import ASTERISK, CONFIG, FIXTURES, LOADTEST_RESULTS, TRACES

SHARED = FIXTURES

__all__ = ["ASTERISK", "CONFIG", "FIXTURES", "LOADTEST_RESULTS", "SHARED", "TRACES"]
