# What tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh share.
# They source this file; it is not a command of its own.
#
# Environment of every launcher: PYTHON, the interpreter (default: python
# on PATH). torchrun (dist_*.sh): NNODES (default 1), NODE_RANK (0),
# MASTER_ADDR (127.0.0.1) and PORT (29500), the same on every node of a
# multi-node run. srun (slurm_*.sh): GPUS (8, the number of tasks, one per
# GPU), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and SRUN_ARGS (more srun
# options). Without a GPU, torchrun's processes talk over gloo.

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The repository root first, so that `import ferpretrain` and the configs'
# custom_imports resolve to this checkout.
PYTHONPATH="$(dirname "$TOOLS_DIR")${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

# need_args COUNT USAGE ARG...: exit 2, printing USAGE, with fewer than
# COUNT arguments.
need_args() {
    local count=$1 usage=$2
    shift 2
    if [ "$#" -lt "$count" ]; then
        echo "usage: bash $0 $usage" >&2
        exit 2
    fi
}

# torchrun_tool NPROC SCRIPT ARG...: tools/SCRIPT ARG... in NPROC
# processes on this node (ARG... says --launcher pytorch).
torchrun_tool() {
    local nproc=$1 script=$2
    shift 2
    exec "${PYTHON:-python}" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="$nproc" \
        "$TOOLS_DIR/$script" "$@"
}

# srun_tool PARTITION JOB_NAME SCRIPT ARG...: tools/SCRIPT ARG... as one
# SLURM task per GPU (ARG... says --launcher slurm: the tool reads its rank
# from SLURM's variables).
srun_tool() {
    local partition=$1 job_name=$2 script=$3
    shift 3
    # SRUN_ARGS is deliberately unquoted: it holds several srun options.
    # shellcheck disable=SC2086
    srun -p "$partition" \
        --job-name="$job_name" \
        --gres=gpu:"${GPUS_PER_NODE:-8}" \
        --ntasks="${GPUS:-8}" \
        --ntasks-per-node="${GPUS_PER_NODE:-8}" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "${PYTHON:-python}" -u "$TOOLS_DIR/$script" "$@"
}
