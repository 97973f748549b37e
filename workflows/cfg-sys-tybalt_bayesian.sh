# Supervisor system settings (cfg-sys) for tybalt_bayesian: Ranges over the Tybalt study grid for Bayesian search (mlrMBO or KerasTuner)
# Generated from tybalt_bayesian.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
