#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine, for trying multi-node campaigns and for the tests: NODES nodes (slurmd
# daemons n1, n2, ... of this one host) with GPUS_PER_NODE pretend GPUs each (character devices made with mknod;
# only the GPUs are pretend: the scheduler, the batch jobs, MPI across nodes and the GPU binding are Slurm's own).
# Everything lives in one folder: slurm.conf, gres.conf, the munge key and socket, state, spool, logs, pid files.
#
#   eval "$(workflows/engine/slurm_cluster.sh start)"   start it; prints `export SLURM_CONF=...` for the shell
#   workflows/engine/slurm_cluster.sh status           its nodes and daemons (exit 1 when it is not running)
#   workflows/engine/slurm_cluster.sh stop             cancel its jobs, stop the daemons it started (by pid)
#
# Environment (defaults in brackets): TYBALT_SLURM_DIR [~/.cache/tybalt/slurm-cluster], NODES [2],
# GPUS_PER_NODE [2], CPUS_PER_NODE [32], MEMORY_PER_NODE_MB [128000] (declared, not checked: Slurm believes them).
# Needs Debian's slurmctld, slurmd, slurm-client and munge, and root (mknod, and slurmd runs jobs as their user).
set -euo pipefail

CLUSTER=${TYBALT_SLURM_DIR:-$HOME/.cache/tybalt/slurm-cluster}
PACKAGES="slurmctld slurmd slurm-client munge"

source "$(dirname "${BASH_SOURCE[0]}")/errors.sh"   # die: one "tybalt: error:" line, exit 2
say() { echo "[slurm cluster] $*" >&2; }

check_prerequisites()
{
  local command
  for command in slurmctld slurmd sbatch munged mungekey
  do
    command -v "$command" >/dev/null \
      || die "$command is missing; install the cluster's packages with: apt-get install -y $PACKAGES"
  done
  (( $(id -u) == 0 )) || die "the throwaway cluster needs root (mknod for the pretend GPUs, slurmd)"
}

free_ports()
# $1 TCP ports in 20000-59999 on which nothing listens now, one per line.
{
  local wanted=$1 port
  local -A taken=()
  while (( ${#taken[@]} < wanted ))
  do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [[ -n ${taken[$port]:-} ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue   # something answers there
    taken[$port]=1
  done
  printf '%s\n' "${!taken[@]}"
}

node_names() { local n; for (( n = 1; n <= NODES; n++ )); do echo "n$n"; done; }

write_config()
# slurm.conf and gres.conf: ports $1 (slurmctld) and $2.. (one slurmd each), GPUs as character devices.
{
  local ctld_port=$1 host node gpu
  shift
  host=$(hostname)
  cat > "$CLUSTER/slurm.conf" <<EOF
# Throwaway cluster made by workflows/engine/slurm_cluster.sh; everything it uses is in $CLUSTER.
ClusterName=tybalt
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$CLUSTER/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$CLUSTER/state
SlurmdSpoolDir=$CLUSTER/spool/%n
SlurmctldPidFile=$CLUSTER/run/slurmctld.pid
SlurmdPidFile=$CLUSTER/run/slurmd-%n.pid
SlurmctldLogFile=$CLUSTER/log/slurmctld.log
SlurmdLogFile=$CLUSTER/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=60
EOF
  : > "$CLUSTER/gres.conf"
  for node in $(node_names)
  do
    echo "NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$host Port=$1 CPUs=$CPUS_PER_NODE" \
         "RealMemory=$MEMORY_PER_NODE_MB Gres=gpu:$GPUS_PER_NODE State=UNKNOWN" >> "$CLUSTER/slurm.conf"
    shift
    for (( gpu = 0; gpu < GPUS_PER_NODE; gpu++ ))
    do
      mknod "$CLUSTER/dev/$node-gpu$gpu" c 1 3   # like /dev/null: Slurm binds character devices only
      echo "NodeName=$node Name=gpu File=$CLUSTER/dev/$node-gpu$gpu" >> "$CLUSTER/gres.conf"
    done
  done
  echo "PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$CLUSTER/slurm.conf"
}

start_munge()
{
  mungekey --create --keyfile="$CLUSTER/munge/munge.key" 2>/dev/null \
    || dd if=/dev/urandom of="$CLUSTER/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$CLUSTER/munge/munge.key"
  munged --force --socket="$CLUSTER/munge/munge.socket" --key-file="$CLUSTER/munge/munge.key" \
         --pid-file="$CLUSTER/run/munged.pid" --log-file="$CLUSTER/log/munged.log" \
         --seed-file="$CLUSTER/munge/munged.seed"
}

wait_until_idle()
# Wait (up to 60 s) until every node answers and is idle.
{
  local waited
  for (( waited = 0; waited < 120; waited++ ))
  do
    if [[ $(sinfo -h -N -o '%t' 2>/dev/null | grep -c '^idle') == "$NODES" ]]
    then
      return 0
    fi
    sleep 0.5
  done
  die "the cluster's nodes did not come up within 60 s; see the logs in $CLUSTER/log"
}

start()
{
  check_prerequisites
  [[ -f $CLUSTER/run/slurmctld.pid ]] && running && die "a cluster already runs from $CLUSTER; stop it first"
  rm -rf "$CLUSTER"
  mkdir -p "$CLUSTER"/{munge,state,spool,run,log,dev}
  chmod 700 "$CLUSTER/munge"
  mapfile -t ports < <(free_ports $(( NODES + 1 )))
  write_config "${ports[@]}"
  export SLURM_CONF=$CLUSTER/slurm.conf
  start_munge
  slurmctld -i
  local node
  for node in $(node_names)
  do
    slurmd -N "$node"
  done
  wait_until_idle
  say "$NODES nodes x $GPUS_PER_NODE GPUs up; config $SLURM_CONF"
  echo "export SLURM_CONF=$SLURM_CONF"
}

daemon_pids()
# The pids of the daemons this cluster started (from its pid files), one per line.
{
  local file
  for file in "$CLUSTER"/run/*.pid
  do
    [[ -f $file ]] && cat "$file"
  done
}

running()
# Whether every daemon in the pid files is alive.
{
  local pid any=1
  for pid in $(daemon_pids)
  do
    kill -0 "$pid" 2>/dev/null || return 1
    any=0
  done
  return $any
}

stop()
{
  [[ -d $CLUSTER/run ]] || { say "no cluster in $CLUSTER"; return 0; }
  export SLURM_CONF=$CLUSTER/slurm.conf
  squeue -h -o %i 2>/dev/null | xargs -r scancel --full >/dev/null 2>&1 || true
  local pid waited
  for (( waited = 0; waited < 20 && $(squeue -h 2>/dev/null | wc -l) > 0; waited++ ))
  do
    sleep 0.5
  done
  for pid in $(daemon_pids)
  do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $(daemon_pids)
  do
    for (( waited = 0; waited < 40 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); waited++ ))
    do
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$CLUSTER"/run/*.pid
  say "stopped the cluster in $CLUSTER"
}

status()
{
  if [[ -f $CLUSTER/slurm.conf ]] && running
  then
    SLURM_CONF=$CLUSTER/slurm.conf sinfo -N -o '%N %t %c %m %G'
    echo "config: $CLUSTER/slurm.conf (export SLURM_CONF=$CLUSTER/slurm.conf)"
  else
    echo "no cluster runs from $CLUSTER"
    return 1
  fi
}

main()
{
  PATH=$PATH:/usr/sbin   # where Debian puts the daemons
  NODES=${NODES:-2} GPUS_PER_NODE=${GPUS_PER_NODE:-2} CPUS_PER_NODE=${CPUS_PER_NODE:-32}
  MEMORY_PER_NODE_MB=${MEMORY_PER_NODE_MB:-128000}
  case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "unknown command '${1:-}'; use start, stop or status" ;;
  esac
}

main "$@"
