# ENV LOCAL (Tybalt's override of the Supervisor's env-local.sh; run_campaign.sh puts this folder first on
# SUPERVISOR_PATH). The stock file is sourced, then two of its effects are undone:
# - it sets CANDLE_MODEL_IMPL=py unconditionally, so app mode (model.sh, CANDLE_MODEL_IMPL=app) could not be chosen;
#   the caller's choice is kept (py when none).
# - mlrMBO's workflow.sh names the per-rank output files TURBINE_STDOUT=.../out-%r.txt, but this Swift/T substitutes
#   "@r": with "%r" every rank writes the same file and lines are lost. swift-t below rewrites %r (and the "%%r"
#   it uses on Biowulf) to @r.

requested_model_impl=${CANDLE_MODEL_IMPL:-py}
source "$WORKFLOWS_ROOT/common/sh/env-local.sh"
CANDLE_MODEL_IMPL=$requested_model_impl

swift-t()
# The real swift-t, with TURBINE_STDOUT's rank placeholder in the form Turbine substitutes.
{
  if [[ -n ${TURBINE_STDOUT:-} ]]
  then
    local TURBINE_STDOUT=${TURBINE_STDOUT//%%r/@r}
    TURBINE_STDOUT=${TURBINE_STDOUT//%r/@r}
    export TURBINE_STDOUT
  fi
  command swift-t "$@"
}
