# Supervisor system settings (cfg-sys) for toy_depth_width: 3-gene toy data (gene3 = gene1 AND gene2), 2-d code; tune autoencoder depth x hidden width (24 configurations in 21 trials, the width being unused at depth 0)
# Generated from toy_depth_width.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
# seconds after which a trial's training stops cleanly and writes its outputs
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
# app mode (model.sh) kills a trial after this many seconds: 15 minutes beyond BENCHMARK_TIMEOUT for start-up, data loading and outputs
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
# 1: a failed trial gets no result (NaN) and the campaign goes on; 0: it aborts the campaign
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
