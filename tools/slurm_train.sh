#!/usr/bin/env bash
# Training on a SLURM cluster, one task per GPU.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args]
#
# [args] go to tools/train.py. Environment: tools/launch.sh.
set -euxo pipefail
source "$(dirname "$0")/launch.sh"

need_args 4 "PARTITION JOB_NAME CONFIG WORK_DIR [args]" "$@"
srun_tool "$1" "$2" train.py "$3" --work-dir="$4" --launcher="slurm" \
    "${@:5}"
