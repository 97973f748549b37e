# ENV SLURM (Tybalt's Supervisor site for any Slurm cluster; run_campaign.sh puts this folder first on
# SUPERVISOR_PATH). The Swift/T, EQ/R and Python of the engine that build_engine.sh made (env-local.sh below), with
# Turbine's Slurm scheduler (sched-slurm.sh) and the job sized in the user's terms: NODES nodes with GPUS_PER_NODE
# GPUs each, one trial per GPU.
#
# Per node the job runs GPUS_PER_NODE training ranks plus the ranks that train nothing: ADLB servers, and for mlrMBO
# the R optimiser. srun places the ranks round-robin (--distribution=cyclic), so ranks 0 .. NODES*GPUS_PER_NODE-1
# train, GPUS_PER_NODE on each node with node-local ids 0 .. GPUS_PER_NODE-1, and the others come last, one per
# node; the interposer one_gpu_per_rank.sh gives each rank the GPU of its node-local id (none to the others).
# Every node gets one non-training rank: more ADLB servers rather than an idle node or an idle GPU.
# Optional: GPU_TYPE (e.g. v100x: --gres=gpu:TYPE:N), CPUS_PER_TRIAL [4], MEM_PER_TRIAL [16G], SLURM_MPI [pmi2].

source "$(dirname "${BASH_SOURCE[0]}")/env-local.sh"

slurm_job_size()
# PROCS, PPN, ADLB_SERVERS (and mlrMBO's resident R rank) for NODES x GPUS_PER_NODE trials at a time.
{
  export NODES=${NODES:-1} GPUS_PER_NODE=${GPUS_PER_NODE:-1}
  local non_training=1 trials=$(( NODES * GPUS_PER_NODE ))
  [[ $(basename "$EMEWS_PROJECT_ROOT") == mlrMBO ]] && non_training=2   # the ADLB server and the R optimiser
  export PPN=$(( GPUS_PER_NODE + (non_training + NODES - 1) / NODES ))
  export PROCS=$(( NODES * PPN ))
  export ADLB_SERVERS=$(( PROCS - trials - (non_training - 1) ))
  if (( non_training == 2 ))
  then
    # Turbine's resident workers are the last worker ranks, just before the servers.
    export TURBINE_RESIDENT_WORK_WORKERS=1 RESIDENT_WORK_RANKS=$(( PROCS - ADLB_SERVERS - 1 ))
  else
    unset TURBINE_RESIDENT_WORK_WORKERS RESIDENT_WORK_RANKS   # env-local.sh sets them for every workflow
  fi
}

slurm_job_size
export CPUS_PER_TRIAL=${CPUS_PER_TRIAL:-4} MEM_PER_TRIAL=${MEM_PER_TRIAL:-16G}
export TURBINE_SBATCH_ARGS="--gres=gpu:${GPU_TYPE:+$GPU_TYPE:}$GPUS_PER_NODE --mem-per-gpu=$MEM_PER_TRIAL"
TURBINE_SBATCH_ARGS+=" --cpus-per-task=$CPUS_PER_TRIAL${TURBINE_SBATCH_ARGS_EXTRA:+ $TURBINE_SBATCH_ARGS_EXTRA}"
export TURBINE_LAUNCHER=srun TURBINE_INTERPOSER=$(dirname "${BASH_SOURCE[0]}")/one_gpu_per_rank.sh
# srun does not take --cpus-per-task from the batch job (Slurm 22.05+), so the step asks for it again.
export TURBINE_LAUNCH_OPTIONS="--mpi=${SLURM_MPI:-pmi2} --distribution=cyclic --cpus-per-task=$CPUS_PER_TRIAL"
# Turbine's Slurm mode refuses "-e NAME" for a variable that is not in the environment: the benchmark is its own
# BENCHMARKS_ROOT, and mlrMBO's workflow.sh sets CANDLE_MODEL_TYPE and CANDLE_IMAGE without exporting them.
export BENCHMARKS_ROOT=${BENCHMARKS_ROOT:-$MODEL_PYTHON_DIR} CANDLE_MODEL_TYPE CANDLE_IMAGE
