# Sourced (bash) by run_campaign.sh for the Slurm sites (slurm, biowulf): check the job's size in the user's terms
# before anything is submitted, and follow the submitted job to its end for --wait.

SLURM_POLL_SECONDS=${SLURM_POLL_SECONDS:-5}

check_slurm_size()
# NODES and GPUS_PER_NODE (environment, else cfg-sys, else 1) must be positive whole numbers; sbatch must be there.
{
  local NODES=${NODES:-1} GPUS_PER_NODE=${GPUS_PER_NODE:-1} name
  for name in NODES GPUS_PER_NODE
  do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] \
      || die "$name=${!name} is not a positive whole number; set $name (environment or cfg-sys) to e.g. 2"
  done
  command -v sbatch >/dev/null \
    || die "site $SITE submits with sbatch, which is not on PATH; run on a Slurm login node (or start the" \
            "throwaway cluster: workflows/engine/slurm_cluster.sh start)"
}

slurm_job_state()
# The state of job $1 (RUNNING, COMPLETED, FAILED ...), from scontrol, else sacct; empty when neither knows it.
{
  local state
  state=$(scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  [[ -n $state ]] || state=$(sacct -n -X -P -o State -j "$1" 2>/dev/null | head -n 1 | cut -d' ' -f1)
  echo "$state"
}

wait_for_slurm_job()
# Follow job $1, whose experiment folder is $2, printing its state and finished trials; fail unless it COMPLETED.
{
  local job=$1 folder=$2 state="" shown="" unknown=0 finished
  while true
  do
    state=$(slurm_job_state "$job")
    case $state in
      "") (( ++unknown < 12 )) || die "Slurm knows no job $job any more; see $folder/output.txt" ;;
      PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|RESIZING) ;;
      *) break ;;
    esac
    finished=$(find "$folder" -name result.txt 2>/dev/null | wc -l)
    if [[ "$state $finished" != "$shown" ]]
    then
      echo "slurm job $job: ${state:-unknown}, $finished trials finished"
      shown="$state $finished"
    fi
    sleep "$SLURM_POLL_SECONDS"
  done
  echo "slurm job $job: $state"
  [[ $state == COMPLETED ]] || campaign_failed
}
