# LANGS APP BIOWULF (Tybalt's Supervisor site for NIH Biowulf; model.sh sources it, under `set -eu`, for every
# app-mode trial). The stock file runs `module load $CANDLE_DEFAULT_PYTHON_MODULE`: unset, `set -u` killed the
# trial; set, it put the site's old Python first, which cannot run TensorFlow 2.21. Here the module, when named and
# loadable, is loaded for what else it provides (CUDA libraries), and the project's interpreter still comes first.

if [[ -n ${CANDLE_DEFAULT_PYTHON_MODULE:-} ]] && type module >/dev/null 2>&1
then
  module load "$CANDLE_DEFAULT_PYTHON_MODULE" \
    || echo "tybalt: warning: module load $CANDLE_DEFAULT_PYTHON_MODULE failed; the trial goes on without it" >&2
fi
source "$(dirname "${BASH_SOURCE[0]}")/langs-app-slurm.sh"
