# Supervisor system settings (cfg-sys) for toy_depth_width: 3-gene toy data (gene3 = gene1 AND gene2), 2-d code; tune autoencoder depth x hidden width (24 configurations in 21 trials, the width being unused at depth 0)
# Generated from toy_depth_width.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
