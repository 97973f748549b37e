# Supervisor system settings (cfg-sys) for toy_depth_width: 3-gene toy data (gene3 = gene1 AND gene2), 2-d code; tune autoencoder depth x hidden width (24 configurations in 21 trials, the width being unused at depth 0)
# Generated from toy_depth_width.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
# site local: Swift/T processes (PROCS - 1 trials at a time) and processes per node (PPN)
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
# sites slurm and biowulf: one trial per GPU on NODES nodes of GPUS_PER_NODE GPUs, each trial with CPUS_PER_TRIAL CPUs and MEM_PER_TRIAL memory (PROCS and PPN follow; docs/many-gpu-nodes.md)
export NODES=${NODES:-1}
export GPUS_PER_NODE=${GPUS_PER_NODE:-4}
export CPUS_PER_TRIAL=${CPUS_PER_TRIAL:-4}
export MEM_PER_TRIAL=${MEM_PER_TRIAL:-16G}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
# seconds after which a trial's training stops cleanly and writes its outputs
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
# app mode (model.sh) kills a trial after this many seconds: 15 minutes beyond BENCHMARK_TIMEOUT for start-up, data loading and outputs
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
# 1: a failed trial gets no result (NaN) and the campaign goes on; 0: it aborts the campaign
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
