#!/usr/bin/env bash
# Training on a SLURM cluster.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args]
#
# One task per GPU; tools/train.py reads the rank from SLURM's variables
# (--launcher slurm). PYTHON picks the interpreter (default: python).
set -euxo pipefail

if [ "$#" -lt 4 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [args]" >&2
    exit 2
fi

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=("${@:5}")
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"

# SRUN_ARGS is deliberately unquoted: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$(dirname "$TOOLS_DIR")${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON:-python}" -u "$TOOLS_DIR/train.py" "$CONFIG" \
    --work-dir="$WORK_DIR" --launcher="slurm" ${PY_ARGS[@]+"${PY_ARGS[@]}"}
