# mlrMBO parameters (cfg-prm) for tybalt_bayesian: Ranges over the Tybalt study grid for Bayesian search (mlrMBO or KerasTuner)
# Generated from tybalt_bayesian.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
# the .R file beside this one (an absolute path, from this file's folder)
export PARAM_SET_FILE=${PARAM_SET_FILE:-$(CDPATH= cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/tybalt_bayesian.R}
export DESIGN_SIZE=${DESIGN_SIZE:-12}
export PROPOSE_POINTS=${PROPOSE_POINTS:-12}
export MAX_ITERATIONS=${MAX_ITERATIONS:-3}
export MAX_BUDGET=${MAX_BUDGET:-48}
