# Supervisor system settings (cfg-sys) for adage_grid: The ADAGE denoising-autoencoder sweep, 4 x 3 x 3 x 3 = 108 configurations
# Generated from adage_grid.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
