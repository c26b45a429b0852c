#!/usr/bin/env bash
# Distributed testing on one or more nodes with torchrun.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py arguments]
#
# GPUS is the number of processes on this node (one per GPU; without a GPU,
# CPU processes talking over gloo). Multi-node: set NNODES, NODE_RANK,
# MASTER_ADDR and PORT the same way on every node. PYTHON picks the
# interpreter (default: python on PATH).
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: bash $0 CONFIG CHECKPOINT GPUS [test.py arguments]" >&2
    exit 2
fi

CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$(dirname "$TOOLS_DIR")${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS_DIR/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
