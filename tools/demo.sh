#!/usr/bin/env bash
# Quick start, command 1: set up .venv (idempotent) and run the synthetic-scene demo
# (SlotCon pre-training + unsupervised segmentation, random init vs trained).
#   bash tools/demo.sh [CONFIG] [--work-dir DIR] [--cfg-options k=v ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${MMDENSE_VENV:-$ROOT/.venv}/bin/python" tools/demo.py "$@"
