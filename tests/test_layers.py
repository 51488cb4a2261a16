"""The import rules of ARCHITECTURE.md, checked with ast so a wrong import fails CI rather than review.

protocols: stdlib only. domain: stdlib + domain. services: stdlib + domain + services (ports, never adapters).
simulator: from our code only protocols (it is the independent oracle the client is tested against).
adapters: never api, cli or bootstrap.
api/ (every edge: the v1 wire, its presenter api/mikopbx_v1, api/v2, the console): never adapters, bootstrap or cli,
nor SQLAlchemy or a database driver; routes get services from the context bootstrap builds.
api/v2 (the typed API): services, domain and itself only.
protocols and domain are sans-IO and clock-free: no sockets, no asyncio, no ``time`` module, and no call that reads
the wall clock (``datetime.now()``, ``date.today()`` …); time is passed in.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "autodialer"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[: -node.level]
                names.add(".".join([*parts, node.module] if node.module else parts))
            elif node.module:
                names.add(node.module)
    return names


def allowed(layer: str, module: str) -> bool:
    top = module.split(".")[0]
    if top != "autodialer":
        if layer in {"protocols", "domain", "services"}:
            return top in STDLIB
        return True
    inner = module.split(".")[1] if "." in module else ""
    rules = {
        "protocols": {"protocols"},
        "domain": {"domain"},
        "services": {"domain", "services"},
        "simulator": {"protocols", "simulator"},
        "adapters": {"protocols", "domain", "services", "adapters", "settings"},
    }
    return inner in rules.get(layer, {inner})


LAYERS = ["protocols", "domain", "services", "simulator", "adapters"]


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_what_it_may(layer: str) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if not allowed(layer, module)
    ]
    assert offenders == []


V2_MAY_IMPORT = ("autodialer.domain", "autodialer.services", "autodialer.api.v2")
V2_NEVER = {"sqlalchemy", "aiosqlite", "psycopg", "alembic"}


def v2_allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top == "autodialer":
        return any(module == p or module.startswith(p + ".") for p in V2_MAY_IMPORT)
    return top not in V2_NEVER


def test_v2_api_imports_only_services_domain_and_itself() -> None:
    files = sorted((PACKAGE / "api" / "v2").rglob("*.py"))
    assert files
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if not v2_allowed(module)
    ]
    assert offenders == []


API_NEVER = ("autodialer.adapters", "autodialer.bootstrap", "autodialer.cli")


def api_allowed(module: str) -> bool:
    if any(module == p or module.startswith(p + ".") for p in API_NEVER):
        return False
    return module.split(".")[0] not in V2_NEVER


def test_no_edge_reaches_an_adapter() -> None:
    files = sorted((PACKAGE / "api").rglob("*.py"))
    assert len(files) > len(list((PACKAGE / "api" / "v2").rglob("*.py")))
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if not api_allowed(module)
    ]
    assert offenders == []


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    assert not api_allowed("autodialer.adapters.db.task_repository")
    assert not api_allowed("autodialer.bootstrap")
    assert not api_allowed("sqlalchemy.engine")
    assert api_allowed("autodialer.services.mikopbx_tasks")
    assert api_allowed("autodialer.api.mikopbx_v1.rows")
    assert not v2_allowed("autodialer.adapters.db.campaign_repository")
    assert not v2_allowed("autodialer.api.routes.tasks")
    assert not v2_allowed("sqlalchemy.ext.asyncio")
    assert v2_allowed("autodialer.services.campaigns")
    assert not allowed("services", "autodialer.adapters.db.tables")
    assert not allowed("simulator", "autodialer.domain.call_events")
    assert not allowed("protocols", "sqlalchemy")
    assert allowed("adapters", "autodialer.services.ports")


SANS_IO = ["protocols", "domain"]
NO_IO_MODULES = {"socket", "socketserver", "selectors", "ssl", "asyncio", "time", "threading", "subprocess"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"}


def io_and_clock_uses(path: Path) -> list[str]:
    """Imports of I/O, concurrency or clock modules, and calls that read the wall clock (``x.now()`` …)."""
    found = [m for m in imported_modules(path) if m.split(".")[0] in NO_IO_MODULES]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_READS:
            found.append(f"{ast.unparse(node.func)}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("layer", SANS_IO)
def test_protocols_and_domain_do_no_io_and_read_no_clock(layer: str) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {use}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for use in io_and_clock_uses(path)
    ]
    assert offenders == []


def test_the_sans_io_rule_catches_a_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\nfrom datetime import datetime\nstamp = datetime.now()\n", encoding="utf-8")
    assert io_and_clock_uses(sample) == ["asyncio", "datetime.now() at line 3"]
