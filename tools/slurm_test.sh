#!/usr/bin/env bash
# Testing on a SLURM cluster, one task per GPU.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args]
#
# [args] go to tools/test.py. Environment: tools/launch.sh.
set -euxo pipefail
source "$(dirname "$0")/launch.sh"

need_args 4 "PARTITION JOB_NAME CONFIG CHECKPOINT [args]" "$@"
srun_tool "$1" "$2" test.py "$3" "$4" --launcher="slurm" "${@:5}"
