"""``autodialer admin`` commands (cli_admin.register) against a SQLite database in a temporary data dir."""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from pathlib import Path

import pytest

from autodialer import cli_admin
from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.engine import create_engine
from autodialer.domain.api_scopes import ApiScope
from autodialer.services.auth_service import AuthPolicy, AuthService, LoginStatus, Principal


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="autodialer")
    cli_admin.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def check(data_dir: Path, probe: str) -> object:
    async def go() -> object:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'autodialer.sqlite3'}")
        policy = AuthPolicy("admin", "", 3600, 900, 10, 300)
        service = AuthService(SqlAuthRepository(engine), policy, time.time)
        try:
            if probe.startswith("login:"):
                return (await service.login("admin", [probe.removeprefix("login:")], "10.0.0.1")).status
            if probe.startswith("session:"):
                return await service.session_principal(probe.removeprefix("session:"))
            return await service.bearer_principal(probe)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUTODIALER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AUTODIALER_DATABASE_URL", raising=False)
    monkeypatch.delenv("AUTODIALER_ADMIN_PASSWORD", raising=False)
    return tmp_path


def test_set_password_from_stdin(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n3w pass\n"))
    assert run("admin", "set-password", "--password-stdin") == 0
    assert check(data_dir, "login:n3w pass") is LoginStatus.OK
    assert check(data_dir, "login:n3w") is LoginStatus.WRONG


def test_empty_password_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert run("admin", "set-password", "--password-stdin") == 2


def test_api_key_create_list_revoke(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("admin", "api-key", "create", "crm-1c") == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("adk_")
    assert check(data_dir, key) is not None
    assert run("admin", "api-key", "list") == 0
    listing = capsys.readouterr().out
    prefix = key.split("_")[1]
    assert prefix in listing and "crm-1c" in listing and key not in listing
    assert run("admin", "api-key", "revoke", prefix) == 0
    assert check(data_dir, key) is None
    assert run("admin", "api-key", "revoke", prefix) == 1


def test_revoke_sessions_ends_the_stored_sessions(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def sessions_of_admin() -> list[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'autodialer.sqlite3'}")
        service = AuthService(SqlAuthRepository(engine), AuthPolicy("admin", "", 3600, 900, 10, 300), time.time)
        try:
            return [await service.start_session("admin"), await service.issue_refresh_token("admin")]
        finally:
            await engine.dispose()

    assert run("admin", "api-key", "list") == 0  # creates the database
    cookie, _refresh = asyncio.run(sessions_of_admin())
    assert check(data_dir, f"session:{cookie}") is not None
    assert run("admin", "revoke-sessions") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("2 sessions and refresh tokens ended")
    assert check(data_dir, f"session:{cookie}") is None


def test_api_key_scope_defaults_to_write_and_the_listing_shows_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("admin", "api-key", "create", "crm-1c") == 0
    writer = capsys.readouterr()
    assert "scope write" in writer.err
    assert run("admin", "api-key", "create", "reports", "--scope", "read") == 0
    reader = capsys.readouterr()
    assert "scope read" in reader.err
    assert check(data_dir, writer.out.strip()) == Principal("api-key", "crm-1c", ApiScope.WRITE)
    assert check(data_dir, reader.out.strip()) == Principal("api-key", "reports", ApiScope.READ)
    assert run("admin", "api-key", "list") == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["prefix", "scope"]
    assert [(row.split()[1], row.split()[-1]) for row in rows] == [("write", "crm-1c"), ("read", "reports")]


@pytest.mark.parametrize("scope", ["admin", "READ", ""])
def test_a_bad_scope_is_refused_in_one_line_and_creates_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    assert run("admin", "api-key", "create", "crm", "--scope", scope) == 2
    refused = capsys.readouterr()
    assert refused.out == ""
    assert refused.err == f"--scope: must be read or write, not {scope!r}\n"
    assert run("admin", "api-key", "list") == 0
    assert capsys.readouterr().out.splitlines()[1:] == []


def test_the_help_names_the_scopes_and_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("admin", "api-key", "create", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--scope read|write" in text and "(default: write)" in text
