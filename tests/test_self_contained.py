"""The repository carries everything its code, tests, scripts and docs read: no path points outside the checkout.

A bare clone on a fresh machine has no team folder beside it, so a reference to one (absolute lab paths, a sibling
``shared/`` folder) breaks collection or sends a reader to a file they do not have.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.asterisk_fixtures import CONFIG, LOADTEST_RESULTS, TRACES

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "scripts", "benchmarks", "docs", ".ci", "README.md", "ARCHITECTURE.md", "pyproject.toml")
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"/work" + "/", r"\.\./" + "shared", r"(?<![\w/])" + "shared/(asterisk|spec|seed)"]))


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", *SCANNED], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # an export without .git: scan the folders themselves
        paths = [p for top in SCANNED for p in ((ROOT / top).rglob("*") if (ROOT / top).is_dir() else [ROOT / top])]
    return [p for p in paths if p.is_file() and p.suffix not in {".jsonl", ".wav", ".mp3", ".png"}]


def test_no_path_points_outside_the_checkout() -> None:
    offenders = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "paths outside the checkout:\n" + "\n".join(offenders)


@pytest.mark.parametrize("path", [TRACES, CONFIG], ids=["traces", "config"])
def test_the_recorded_lab_material_is_in_the_repository(path: Path) -> None:
    assert path.is_dir() and path.is_relative_to(ROOT)
    assert any(path.iterdir())


def test_every_trace_the_tests_name_is_there() -> None:
    assert len(list(TRACES.glob("*.ami.jsonl"))) == 14
    assert len(list(TRACES.glob("*.agi.txt"))) == 3
    assert LOADTEST_RESULTS.is_file()
