#!/usr/bin/env bash
# Training on a Slurm cluster: one task per GPU, started by srun.
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
#
# Environment variables (defaults): GPUS (8, total), GPUS_PER_NODE (8, or
# GPUS if smaller), CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, e.g.
# "--quotatype=auto"). `python` is taken from PATH: activate mmdense's venv
# first (source .venv/bin/activate). The repository root is prepended to
# PYTHONPATH so an uninstalled checkout works too.
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
  exit 1
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"

# SRUN_ARGS is deliberately unquoted: it may hold several options.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$TOOLS_DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "$@"
