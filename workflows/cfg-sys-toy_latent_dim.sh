# Supervisor system settings (cfg-sys) for toy_latent_dim: 3-gene toy data, continuous variant (gene3 = gene1 x gene2 of uniform genes 1, 2, a 2-d surface; the 4 binary patterns would already fit a 1-d code), deep tanh autoencoder (depth 3, hidden 12); tune the latent size 1 to 3
# Generated from toy_latent_dim.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
export PROCS=${PROCS:-6}
export PPN=${PPN:-1}
export WALLTIME=${WALLTIME:-12:00:00}
export QUEUE=${QUEUE:-gpu}
export BENCHMARK_TIMEOUT=${BENCHMARK_TIMEOUT:-7200}
export SH_TIMEOUT=${SH_TIMEOUT:-$(( BENCHMARK_TIMEOUT + 900 ))}
export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
