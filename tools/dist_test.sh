#!/usr/bin/env bash
# Distributed testing on one or more nodes with torchrun.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py arguments]
#
# GPUS is the number of processes on this node (one per GPU, or CPU
# processes without one). Environment (multi-node, PYTHON): tools/launch.sh.
set -euo pipefail
source "$(dirname "$0")/launch.sh"

need_args 3 "CONFIG CHECKPOINT GPUS [test.py arguments]" "$@"
torchrun_tool "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
