#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
#
# Multi-node: run on every node with the same MASTER_ADDR / PORT / NNODES and
# its own NODE_RANK, e.g.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh cfg.py 8
#
# Environment variables (defaults): NNODES (1), NODE_RANK (0), PORT (29500),
# MASTER_ADDR (127.0.0.1). `python` is taken from PATH: activate mmdense's
# venv first (source .venv/bin/activate). The repository root is prepended to
# PYTHONPATH so an uninstalled checkout works too.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
  exit 1
fi
CONFIG=$1
GPUS=$2
shift 2
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
    "$TOOLS_DIR/train.py" "$CONFIG" --launcher pytorch "$@"
