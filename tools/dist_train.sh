#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun.
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py arguments]
#
# GPUS is the number of processes on this node (one per GPU, or CPU
# processes without one). Environment (multi-node, PYTHON): tools/launch.sh.
set -euo pipefail
source "$(dirname "$0")/launch.sh"

need_args 2 "CONFIG GPUS [train.py arguments]" "$@"
torchrun_tool "$2" train.py "$1" --launcher pytorch "${@:3}"
