#!/usr/bin/env bash
# Set up everything the service and its tests need on a Debian machine: system packages (audio tools, TTS,
# Python venv) and the project's virtualenv in .venv. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_pkgs=()
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox libsox-fmt-mp3)
command -v ffmpeg >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
# The console's browser tests run Playwright on Debian's chromium (never `playwright install`: no downloads).
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
if ! command -v python3.11 >/dev/null 2>&1 && ! python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  need_pkgs+=(python3.11 python3.11-venv)
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then need_pkgs+=(python3-venv); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

PY=python3.11
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import autodialer, pytest, hypothesis, playwright' 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing the project into .venv"
  .venv/bin/pip install -q -U pip >/dev/null
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi
echo "setup: ready"
