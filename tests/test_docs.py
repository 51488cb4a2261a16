"""The docs a user is sent to exist and say what the code does: every relative link resolves, and the API reference
names every route the service serves."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from autodialer.adapters.db.engine import create_engine
from autodialer.api.app import MODULE_PREFIX, create_app
from autodialer.bootstrap import build_context
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
    settings = load_settings(data_dir=tmp_path, jwt_secret="x" * 32)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'never-opened.db'}")  # building opens nothing
    context = build_context(settings, engine, lambda: 0.0)
    context.campaigns = None  # the v1 routes: v2 has its own OpenAPI document and reference
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


def test_the_real_pbx_recipe_uses_the_ami_user_we_ship() -> None:
    readme = (ROOT / "README.md").read_text()
    shipped = re.search(r"^\[(\w+)\]", (ROOT / "src/autodialer/dialplan/manager_autodialer.conf").read_text(), re.M)
    assert shipped is not None
    recipe = readme[readme.index("## Running against a real PBX") :]
    assert f"AUTODIALER_AMI_USERNAME={shipped.group(1)}" in recipe
    assert "AUTODIALER_AMI_USERNAME=dialer " not in recipe


def test_dialplan_doc_warns_about_existing_contexts_of_the_names_we_ship() -> None:
    doc = (ROOT / "docs" / "dialplan.md").read_text()
    shipped = set(
        re.findall(r"^\[([\w-]+)\]", (ROOT / "src/autodialer/dialplan/extensions_autodialer.conf").read_text(), re.M)
    )
    assert shipped == {"dialer-out", "dialer-connect", "dialer-hangup-cause"}
    warning = doc[doc.index("Existing contexts with the same names win silently") :]
    for context in shipped:
        assert f"dialplan show {context}" in warning
    for module in ("res_agi.so", "app_dial.so", "app_queue.so", "func_channel.so", "func_hangupcause.so"):
        assert f"`{module}`" in doc


def test_production_mode_and_binding_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "AUTODIALER_ENVIRONMENT=production" in readme and "AUTODIALER_JWT_SECRET" in readme
    assert "serve --host" in readme and "AUTODIALER_HTTP_HOST" in readme and "AUTODIALER_FASTAGI_HOST" in readme


def test_the_v2_reference_names_every_v2_route() -> None:
    from typing import cast

    from autodialer.api.v2.app import PREFIX, create_v2_app
    from autodialer.services.campaigns import CampaignService

    spec = create_v2_app(cast(CampaignService, None)).openapi()
    reference = (ROOT / "docs" / "api-v2.md").read_text()
    routes = [
        f"{method.upper()} {PREFIX}{re.sub(r'{campaign_id}', '{id}', path).replace('{number_id}', '{nid}')}"
        for path, methods in spec["paths"].items()
        for method in methods
    ]
    assert len(routes) >= 12
    missing = [route for route in routes if f"`{route}`" not in reference]
    assert not missing, f"docs/api-v2.md does not document: {missing}"


def test_api_key_scopes_are_documented() -> None:
    v1 = (ROOT / "docs" / "api-v1.md").read_text()
    v2 = (ROOT / "docs" / "api-v2.md").read_text()
    assert "--scope read" in v1 and "this API key is scoped read: POST needs a write key" in v1
    assert "--scope read" in v2 and "api-key-read-only" in v2
    not_yet = v2.partition("## Not yet in v2")[2].split("\n## ")[0]
    assert "scoped" not in not_yet and "API key" not in not_yet
