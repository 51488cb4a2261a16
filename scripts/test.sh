#!/usr/bin/env bash
# Set up everything and run every check: lint, types, and the whole test suite on SQLite and PostgreSQL.
# Extra arguments go to pytest (e.g. scripts/test.sh -k results -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
AUTODIALER_TEST_PG_URL="$(scripts/test-db.sh)"
export AUTODIALER_TEST_PG_URL
echo "test: PostgreSQL at ${AUTODIALER_TEST_PG_URL%%@*}@…"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy src
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
