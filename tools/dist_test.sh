#!/usr/bin/env bash
# Distributed testing on one or more nodes with torchrun.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
#
# Environment variables (defaults): NNODES (1), NODE_RANK (0), PORT (29500),
# MASTER_ADDR (127.0.0.1). `python` is taken from PATH: activate mmdense's
# venv first (source .venv/bin/activate). The repository root is prepended to
# PYTHONPATH so an uninstalled checkout works too.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args...]" >&2
  exit 1
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS_DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
