"""``autodialer admin …``: the admin password and API keys, for the operator at the server.

Wiring (in cli.build_parser)::

    from autodialer import cli_admin
    cli_admin.register(commands)          # commands = parser.add_subparsers(...)

adds, each with ``set_defaults(handler=fn)`` where ``fn(args) -> int`` like the other commands:

    autodialer admin set-password [--password-stdin]   # prompts twice unless --password-stdin (first line of stdin)
    autodialer admin revoke-sessions                   # ends every session, refresh token and access token
    autodialer admin api-key create NAME [--scope read|write]  # prints the key once; only its hash is stored
    autodialer admin api-key list                      # prefix, scope, name, created, last used, revoked
    autodialer admin api-key revoke PREFIX_OR_KEY

A password is never taken from the command line (it would show in ``ps`` and shell history). The database is
brought to the current schema first, so these work on a fresh installation.

A key's scope (domain.api_scopes) is ``write`` unless ``--scope read`` is given: ``write`` is what every key could
do before scopes existed, so a CRM handed a key as before keeps working; a ``read`` key may only GET (reports,
wallboards, monitoring).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.domain.api_scopes import SCOPE_NAMES, ApiScope, parse_scope
from autodialer.services.auth_service import AuthPolicy, AuthService
from autodialer.settings import Settings, load_settings

T = TypeVar("T")


def register(subparsers: Any) -> None:
    """Add the ``admin`` command group to an argparse ``add_subparsers()`` object."""
    admin = subparsers.add_parser("admin", help="admin password and API keys")
    actions = admin.add_subparsers(dest="admin_command", required=True)

    password = actions.add_parser("set-password", help="set the web/API admin password (stored as an scrypt hash)")
    password.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    password.set_defaults(handler=_set_password)

    actions.add_parser(
        "revoke-sessions",
        help="log everyone out: end every PHPSESSID session, refresh token and access token, on every instance "
        "(a password change does it too; API keys stay: revoke them with api-key revoke)",
    ).set_defaults(handler=_revoke_sessions)

    keys = actions.add_parser("api-key", help="API keys for Authorization: Bearer")
    key_actions = keys.add_subparsers(dest="api_key_command", required=True)
    create = key_actions.add_parser("create", help="create a key and print it once")
    create.add_argument("name", help="who or what uses the key, e.g. crm-1c")
    create.add_argument(
        "--scope",
        default=ApiScope.WRITE.value,
        metavar="|".join(SCOPE_NAMES),
        help="read: GET, HEAD and OPTIONS only (reports, wallboards, monitoring); write: everything, as keys always "
        "could (default: write)",
    )
    create.set_defaults(handler=_create_key)
    key_actions.add_parser("list", help="list keys (never the keys themselves)").set_defaults(handler=_list_keys)
    revoke = key_actions.add_parser("revoke", help="revoke a key by its prefix (or the whole key)")
    revoke.add_argument("key", help="the 12-hex prefix shown by list, or the key")
    revoke.set_defaults(handler=_revoke_key)


async def _with_service(settings: Settings, action: Callable[[AuthService], Awaitable[T]]) -> T:
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        policy = AuthPolicy(
            admin_login=settings.admin_login,
            seed_password="",  # the CLI sets passwords explicitly, it never seeds
            session_lifetime_s=settings.session_lifetime_s,
            jwt_lifetime_s=settings.jwt_lifetime_s,
            failures_per_window=settings.login_failures_per_window,
            failure_window_s=settings.login_failure_window_s,
        )
        return await action(AuthService(SqlAuthRepository(engine), policy, time.time))
    finally:
        await engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New admin password: ")
    if getpass.getpass("Repeat: ") != first:
        raise SystemExit("passwords differ; nothing changed")
    return first


def _set_password(args: argparse.Namespace) -> int:
    settings = load_settings()
    password = _read_password(args.password_stdin)
    if not password:
        print("the password must not be empty; nothing changed", file=sys.stderr)
        return 2
    asyncio.run(_with_service(settings, lambda service: service.set_admin_password(password)))
    print(f"password for {settings.admin_login!r} updated; every session and token issued before has ended")
    return 0


def _revoke_sessions(_args: argparse.Namespace) -> int:
    ended = asyncio.run(_with_service(load_settings(), lambda service: service.end_sessions()))
    print(f"{ended} sessions and refresh tokens ended; access tokens issued before no longer work")
    return 0


def _create_key(args: argparse.Namespace) -> int:
    try:
        scope = parse_scope(args.scope, field="--scope")  # before the database is touched
        new = asyncio.run(_with_service(load_settings(), lambda service: service.create_api_key(args.name, scope)))
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    print(new.key)
    print(
        f"prefix {new.record.prefix}, scope {new.record.scope.value}: store the key now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _list_keys(_args: argparse.Namespace) -> int:
    keys = asyncio.run(_with_service(load_settings(), lambda service: service.api_keys()))
    print(f"{'prefix':<12}  {'scope':<5}  {'created':<20}  {'last used':<20}  {'revoked':<20}  name")
    for key in keys:
        when = (_when(key.created_at), _when(key.last_used_at), _when(key.revoked_at))
        print(f"{key.prefix:<12}  {key.scope.value:<5}  {when[0]:<20}  {when[1]:<20}  {when[2]:<20}  {key.name}")
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    revoked = asyncio.run(_with_service(load_settings(), lambda service: service.revoke_api_key(args.key)))
    if not revoked:
        print("no active key with that prefix", file=sys.stderr)
        return 1
    print("revoked")
    return 0
