"""Where the recorded Asterisk 22 lab material lives inside the checkout (tests/fixtures/asterisk, see its README).

Nothing here looks outside the repository: a bare clone carries every trace and config its tests replay.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASTERISK = FIXTURES / "asterisk"
TRACES = ASTERISK / "traces"  # NN-name.ami.jsonl (exact wire bytes) and NN-name.agi.txt (FastAGI sessions)
CONFIG = ASTERISK / "config"  # the lab Asterisk's *.conf files
LOADTEST_RESULTS = ASTERISK / "loadtest-results.json"  # the real Asterisk's Originate rate on the lab VM
LAB_NOTES = ASTERISK / "README.md"  # provenance, then the lab's own notes: topology, scenarios, protocol facts (§6)
