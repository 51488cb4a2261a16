#!/usr/bin/env bash
# Set everything up, then run the demo: the PBX simulator and the service with a sample campaign, shown live.
# The API stays up afterwards (http://127.0.0.1:8080/pbxcore/api/module-dialer/v1) until Ctrl-C.
# Extra arguments go to `autodialer demo` (e.g. --port 8081, --exit-when-done).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/autodialer demo "$@"
