"""The docs a user is sent to exist and say what the code does: every relative link resolves, and the API reference
names every route the service serves."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from autodialer.api.app import MODULE_PREFIX, create_app
from autodialer.api.context import AppContext
from autodialer.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    broken = [
        target for target in LINK.findall(doc.read_text()) if "://" not in target and not (doc.parent / target).exists()
    ]
    assert not broken, f"{doc.name} links to missing files: {broken}"


def test_readme_sends_users_to_our_api_reference() -> None:
    assert "(docs/api-v1.md)" in (ROOT / "README.md").read_text()


def served_operations(tmp_path: Path) -> list[tuple[str, str]]:
    context = AppContext(settings=load_settings(data_dir=tmp_path, jwt_secret="x" * 32), db=None, now=lambda: 0.0)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # session/end serves GET and POST with one operation id
        spec = create_app(context).openapi()
    operations = []
    for path, methods in spec["paths"].items():
        wire = re.sub(r"\{\w*id\}", "{id}", path.removeprefix(MODULE_PREFIX)).replace("{change_time}", "{changeTime}")
        operations += [(method.upper(), wire) for method in methods]
    return operations


def test_the_api_reference_names_every_route(tmp_path: Path) -> None:
    operations = served_operations(tmp_path)
    assert len(operations) >= 13 + 5  # the module's 13 routes and the login routes, at least
    reference = (ROOT / "docs" / "api-v1.md").read_text()
    missing = [
        f"{method} {path}"
        for method, path in operations
        if not re.search(rf"\b{method}\b[^\n]*{re.escape(path)}[`?\s]", reference)
    ]
    assert not missing, f"docs/api-v1.md does not document: {missing}"
