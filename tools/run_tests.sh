#!/usr/bin/env bash
# Quick start, command 2: set up .venv (idempotent) and run the test suite.
#   bash tools/run_tests.sh [pytest args]      e.g. -m "not slow"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${MMDENSE_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "$@"
