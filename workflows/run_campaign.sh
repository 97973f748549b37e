#!/usr/bin/env bash
# Launch a CANDLE Supervisor campaign of the Tybalt benchmark: a UPF grid or an mlrMBO Bayesian search.
#
#   workflows/run_campaign.sh upf    SITE workflows/<name>.upf   # uses workflows/cfg-sys-<name>.sh
#   workflows/run_campaign.sh mlrmbo SITE workflows/<name>.R     # uses cfg-prm-<name>.sh and cfg-sys-<name>.sh
#
# SITE is "local" (Swift/T + Supervisor built by workflows/engine/build_engine.sh, which this runs first: minutes
# the first time, nothing after) or a Supervisor site such as "biowulf" (the Supervisor of the loaded CANDLE
# module, $CANDLE/Supervisor, or TYBALT_SUPERVISOR). Every experiment goes to <CAMPAIGN_DIR>/<upf|mlrMBO>/EXPnnn,
# printed at the end; summarise it with `python Tybalt/hpo_results.py <that folder>`.
#
# Optional environment (defaults in brackets):
#   CAMPAIGN_DIR [./Output/campaigns]   CANDLE_DATA_DIR [<CAMPAIGN_DIR>/data]   EXPID [next free EXPnnn]
#   CANDLE_MODEL_IMPL [upf: app, one `python3 model_runner.py` process per trial (model.sh), so a failed trial
#     only loses itself; mlrmbo: py, trials in the workers' embedded Python, results reach R unaltered (model.sh's
#     regex splits numbers such as 3.2e-05). In py mode a trial that raises aborts the whole campaign.]
#   CFG_SYS, CFG_PRM [the cfg-*.sh next to the file]   PROCS, BENCHMARK_TIMEOUT, ... [as in the cfg-*.sh]
#   IGNORE_ERRORS [1: in app mode a failed trial gets NaN and the campaign goes on; 0: it aborts the campaign]
#   SH_TIMEOUT [BENCHMARK_TIMEOUT + 900 s, as the generated cfg-sys files set it; -1 (none) when BENCHMARK_TIMEOUT
#     is -1]: app mode kills a hung trial after it
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/engine/engine_paths.sh"

usage()
{
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fail()
{
  echo "tybalt: error: $*" >&2
  exit 2
}

absolute()
# $1 as an absolute path; it must exist.
{
  [[ -f $1 ]] || fail "$1 does not exist"
  echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

companion_file()
# The cfg file $1 (e.g. cfg-sys) for the search file $2: $3 when set, else <dir>/<cfg>-<name>.sh next to it.
{
  local kind=$1 search_file=$2 given=$3 name
  name=$(basename "${search_file%.*}")
  absolute "${given:-$(dirname "$search_file")/$kind-$name.sh}"
}

use_local_engine()
# Swift/T, Supervisor and R packages from the engine cache (built first when needed); the venv's Python.
{
  local engine venv_bin site_packages
  engine=$("$HERE/engine/build_engine.sh")
  venv_bin=$(dirname "$TYBALT_PYTHON")
  site_packages=$("$TYBALT_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  export SWIFT_T=$engine/swift-t
  export PATH=$venv_bin:$SWIFT_T/stc/bin:$SWIFT_T/turbine/bin:$PATH
  # Swift/T's embedded interpreter is the venv's base Python: it finds the venv's packages through PYTHONPATH.
  export PYTHONPATH=$site_packages${PYTHONPATH:+:$PYTHONPATH}
  export R_LIBS=$engine/R-lib${R_LIBS:+:$R_LIBS}
  SUPERVISOR=$engine/Supervisor
}

use_site_supervisor()
# A site's own Supervisor checkout (on Biowulf the CANDLE module's); its env-SITE.sh sets up Swift/T.
{
  SUPERVISOR=${TYBALT_SUPERVISOR:-${CANDLE:+$CANDLE/Supervisor}}
  [[ -n $SUPERVISOR && -d $SUPERVISOR/workflows ]] \
    || fail "no Supervisor for site $SITE: load the CANDLE module (sets \$CANDLE) or set TYBALT_SUPERVISOR"
}

supervisor_view()
# A folder mirroring the Supervisor's workflow $1 by symbolic links, whose experiments/ is <CAMPAIGN_DIR>/$1.
# The Supervisor writes experiments under the workflow's own folder (derived from workflow.sh's location), so
# launching the workflow through this view puts them in the campaign folder and leaves the Supervisor untouched.
{
  local workflow=$1 view=$CAMPAIGN_DIR/.supervisor/workflows file
  mkdir -p "$view/$workflow/swift" "$CAMPAIGN_DIR/$workflow"
  ln -sfn "$SUPERVISOR/workflows/common" "$view/common"
  for file in "$SUPERVISOR/workflows/$workflow/swift/"*
  do
    ln -sfn "$file" "$view/$workflow/swift/"
  done
  ln -sfn "$CAMPAIGN_DIR/$workflow" "$view/$workflow/experiments"
  echo "$view/$workflow/swift/workflow.sh"
}

claim_experiment()
# The next free EXPnnn under <CAMPAIGN_DIR>/$1 (made now, so two launches never share one), or $EXPID.
{
  local folder=$CAMPAIGN_DIR/$1 number=0
  mkdir -p "$folder"
  if [[ -n ${EXPID:-} ]]
  then
    mkdir -p "$folder/$EXPID"
    echo "$EXPID"
    return
  fi
  local name
  while true
  do
    name=$(printf 'EXP%03d' $number)
    mkdir "$folder/$name" 2>/dev/null && { echo "$name"; return; }
    [[ -e $folder/$name ]] || fail "cannot create the experiment folder $folder/$name"
    number=$(( number + 1 ))
  done
}

export_campaign_defaults()
# What the Supervisor needs from the environment, with defaults that keep a long campaign alive.
{
  source "$CFG_SYS"   # its values (BENCHMARK_TIMEOUT, SH_TIMEOUT ...) come first; the workflow re-reads it
  local benchmark_timeout=${BENCHMARK_TIMEOUT:--1}
  export SUPERVISOR_PATH=$HERE/site:$SUPERVISOR/workflows/common/sh
  export MODEL_NAME=tybalt MODEL_PYTHON_DIR=$TYBALT_REPO/Tybalt MODEL_RETURN=val_loss OBJ_RETURN=val_loss
  export CANDLE_DATA_DIR=${CANDLE_DATA_DIR:-$CAMPAIGN_DIR/data}
  export IGNORE_ERRORS=${IGNORE_ERRORS:-1}
  if (( benchmark_timeout > 0 ))
  then
    export SH_TIMEOUT=${SH_TIMEOUT:-$(( benchmark_timeout + 900 ))}
  else
    export SH_TIMEOUT=${SH_TIMEOUT:--1}
  fi
  mkdir -p "$CANDLE_DATA_DIR"
}

run_upf()
# The Supervisor's UPF workflow: workflow.sh SITE EXPID CFG_SYS UPF.
{
  local upf=$1 expid
  export CANDLE_MODEL_IMPL=${CANDLE_MODEL_IMPL:-app}
  expid=$(claim_experiment upf)
  RESULTS=$CAMPAIGN_DIR/upf/$expid
  # A relaunch (same EXPID): trials the time limit stopped resume instead of being skipped (docs/hpo-and-campaigns.md)
  "$TYBALT_PYTHON" "$TYBALT_REPO/Tybalt/hpo_results.py" "$RESULTS" --reopen-time-limited >&2
  "$(supervisor_view upf)" "$SITE" "$expid" "$CFG_SYS" "$upf" || campaign_failed
}

run_mlrmbo()
# The Supervisor's mlrMBO workflow with mlrMBO-ils.R: workflow.sh SITE EXPID CFG_SYS CFG_PRM MODEL_NAME.
{
  local cfg_prm expid
  export PARAM_SET_FILE=$1
  cfg_prm=$(companion_file cfg-prm "$PARAM_SET_FILE" "${CFG_PRM:-}")
  export R_FILE=${R_FILE:-mlrMBO-ils.R} CANDLE_MODEL_IMPL=${CANDLE_MODEL_IMPL:-py}
  expid=$(claim_experiment mlrMBO)
  RESULTS=$CAMPAIGN_DIR/mlrMBO/$expid
  "$(supervisor_view mlrMBO)" "$SITE" "$expid" "$CFG_SYS" "$cfg_prm" "$MODEL_NAME" || campaign_failed
}

campaign_failed()
{
  echo "tybalt: error: the campaign stopped with an error; its folder is $RESULTS (workflow.sh.log, out/," \
       "each trial's model.log)" >&2
  exit 1
}

main()
{
  (( $# == 3 )) && [[ $1 == upf || $1 == mlrmbo ]] || usage
  local kind=$1 search_file
  SITE=$2
  search_file=$(absolute "$3")
  CFG_SYS=$(companion_file cfg-sys "$search_file" "${CFG_SYS:-}")
  mkdir -p "${CAMPAIGN_DIR:=$PWD/Output/campaigns}"
  CAMPAIGN_DIR=$(cd "$CAMPAIGN_DIR" && pwd)
  if [[ $SITE == local ]]
  then
    use_local_engine
  else
    use_site_supervisor
  fi
  export_campaign_defaults
  cd "$CAMPAIGN_DIR"   # the workflow leaves its turbine-output link in the working folder
  if [[ $kind == upf ]]
  then
    run_upf "$search_file"
  else
    run_mlrmbo "$search_file"
  fi
  echo "campaign results: $RESULTS"
  echo "summarise with:   python $TYBALT_REPO/Tybalt/hpo_results.py $RESULTS"
}

main "$@"
