#!/usr/bin/env bash
# Turbine's interposer on Slurm sites (TURBINE_INTERPOSER, set by env-slurm.sh): srun runs every rank of the
# campaign's job through it. A rank whose node-local id (SLURM_LOCALID) is below the number of GPUs Slurm gave the
# node gets that GPU alone in CUDA_VISIBLE_DEVICES, so two trials on one node never share a GPU; a rank beyond them
# (an ADLB server, mlrMBO's R optimiser) gets none. Without GPUs in the job nothing changes.

if [[ -n ${CUDA_VISIBLE_DEVICES:-} && -n ${SLURM_LOCALID:-} ]]
then
  IFS=, read -ra node_gpus <<< "$CUDA_VISIBLE_DEVICES"
  if (( SLURM_LOCALID < ${#node_gpus[@]} ))
  then
    export CUDA_VISIBLE_DEVICES=${node_gpus[SLURM_LOCALID]}
  else
    export CUDA_VISIBLE_DEVICES=""
  fi
fi
exec "$@"
