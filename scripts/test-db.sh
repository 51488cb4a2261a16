#!/usr/bin/env bash
# Find or start a PostgreSQL for the tests and print the SQLAlchemy URL of a fresh test database.
# Order: $AUTODIALER_TEST_PG_URL if set; else a server on 127.0.0.1:5432 that lets us in (trust auth, as on our
# machines); else install Debian's postgresql, start its cluster and create a role and database for us.
# Diagnostics go to stderr; stdout is only the URL.
set -euo pipefail
DB=autodialer_test
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ -n "${AUTODIALER_TEST_PG_URL:-}" ]; then echo "$AUTODIALER_TEST_PG_URL"; exit 0; fi

try_trust() {
  command -v psql >/dev/null 2>&1 || return 1
  psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 || return 1
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='$DB'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $DB" >/dev/null
  echo "postgresql+psycopg://postgres@127.0.0.1:5432/$DB"
}

if try_trust; then exit 0; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "test-db: installing postgresql" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
ver=$(ls /etc/postgresql | sort -V | tail -n 1)
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "test-db: starting PostgreSQL $ver" >&2
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || $SUDO pg_ctlcluster "$ver" main start >&2
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
if try_trust; then exit 0; fi
# A stock cluster: peer auth on the socket for the postgres OS user, password auth over TCP.
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_pg "psql -qtAc \"select 1 from pg_roles where rolname='autodialer'\" | grep -q 1 || psql -qc \"create role autodialer login createdb password 'autodialer'\"" >&2
as_pg "psql -qtAc \"select 1 from pg_database where datname='$DB'\" | grep -q 1 || psql -qc 'create database $DB owner autodialer'" >&2
echo "postgresql+psycopg://autodialer:autodialer@127.0.0.1:5432/$DB"
