#!/usr/bin/env bash
# Build the real CANDLE campaign engine from the vendored sources into a cache folder outside the repository:
# Swift/T (STC + Turbine on MPICH, Python and R enabled), the Supervisor with EQ/R built in place, and the R
# packages smoof + mlrMBO. A second run with the same sources does nothing (the stamp file is written last).
#
#   workflows/engine/build_engine.sh            build (or reuse) the engine; prints its folder (progress: stderr)
#   workflows/engine/build_engine.sh --check    only list missing system packages (exit 3 when any)
#   workflows/engine/build_engine.sh --where    only print the engine folder (built or not)
#
# Environment: TYBALT_VENDOR_DIR (default <repo>/../shared/vendor), TYBALT_ENGINE_DIR (default
# ~/.cache/tybalt/campaign-engine), TYBALT_PYTHON (default <repo>/.venv/bin/python; its base interpreter is the
# one Swift/T embeds and must have a shared libpython). Full build logs go to <engine>/logs/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/engine_paths.sh"

STAMP_NAME=.complete
# Debian package for each command, header or R package the build or the campaigns need.
REQUIRED_COMMANDS=( "ant:ant" "tclsh8.6:tcl" "mpicc:libmpich-dev" "mpiexec:mpich" "zsh:zsh" "swig:swig"
                    "make:make" "autoconf:autoconf" "automake:automake" "libtoolize:libtool" "g++:build-essential"
                    "javac:default-jdk-headless" "R:r-base-dev" )
REQUIRED_FILES=( "/usr/include/tcl8.6/tcl.h:tcl-dev" "/usr/share/R/include/R.h:r-base-dev" )
REQUIRED_R_PACKAGES=( Rcpp RInside RcppArmadillo mlr ParamHelpers parallelMap randomForest lhs BBmisc checkmate
                      data.table backports jsonlite ggplot2 )

say() { echo "[engine $(date +%H:%M:%S)] $*" >&2; }   # progress on stderr; stdout is only the engine folder

missing_packages()
# The Debian packages whose command, header or R package is missing, one per line.
{
  local entry
  for entry in "${REQUIRED_COMMANDS[@]}"
  do
    command -v "${entry%%:*}" >/dev/null || echo "${entry#*:}"
  done
  for entry in "${REQUIRED_FILES[@]}"
  do
    [[ -f ${entry%%:*} ]] || echo "${entry#*:}"
  done
  command -v Rscript >/dev/null || { printf 'r-cran-%s\n' "${REQUIRED_R_PACKAGES[@],,}"; return; }
  Rscript -e 'for (p in commandArgs(TRUE)) if (!requireNamespace(p, quietly = TRUE)) cat(p, "\n", sep = "")' \
          "${REQUIRED_R_PACKAGES[@]}" 2>/dev/null | sed 's/.*/r-cran-\L&/'
}

check_prerequisites()
# Stop (exit 3) naming the apt-get command that installs what is missing.
{
  local missing
  missing=$(missing_packages | sort -u | tr '\n' ' ')
  if [[ -n $missing ]]
  then
    echo "tybalt: error: the campaign engine needs system packages; install them with:" \
         "apt-get install -y $missing" >&2
    exit 3
  fi
}

base_python()
# The interpreter the venv was made from; Swift/T embeds it, so it must have a shared libpython.
{
  "$TYBALT_PYTHON" - <<'PY'
import sys, sysconfig
if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
    sys.exit(f"tybalt: error: {sys._base_executable} has no shared libpython; Swift/T cannot embed it "
             "(use a Python built with --enable-shared, e.g. pyenv with PYTHON_CONFIGURE_OPTS=--enable-shared)")
print(sys._base_executable)
PY
}

logged()
# Run a command with its output in logs/$1.log; on failure show the log's tail and stop.
{
  local log=$ENGINE/logs/$1.log
  shift
  if ! "$@" >"$log" 2>&1
  then
    tail -n 40 "$log" >&2
    echo "tybalt: error: engine build step failed; full log: $log" >&2
    exit 1
  fi
}

unpack()
# Extract the vendored tarball starting with $1 into folder $2.
{
  mkdir -p "$2"
  tar -xzf "$(vendored_tarball "$1")" -C "$2"
}

javac_major()
# The JDK's major version (17 for "javac 17.0.9").
{
  javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/'
}

swift_t_settings()
# Swift/T's settings file: the template with our prefix, Python and R switched on.
{
  local template=$1 python_exe=$2
  sed -e "s|^export SWIFT_T_PREFIX=.*|export SWIFT_T_PREFIX=$ENGINE/swift-t|" \
      -e "s|^ENABLE_PYTHON=0|ENABLE_PYTHON=1\nPYTHON_EXE=$python_exe|" \
      -e "s|^ENABLE_R=0|ENABLE_R=1\nR_INSTALL=/usr/lib/R|" \
      -e "s|^MAKE_PARALLELISM=1|MAKE_PARALLELISM=2|" "$template"
}

build_swift_t()
# STC + Turbine into $ENGINE/swift-t (about 90 s). STC's build.xml asks javac for -Xlint:-this-escape, a flag of
# javac 21+: older JDKs reject it, so those lines are dropped from our extracted copy.
{
  local src=$ENGINE/src/swift-t build_dir python_exe
  python_exe=$(base_python)
  unpack swift-t- "$ENGINE/src"
  build_dir=$src/dev/build
  if (( $(javac_major) < 21 ))
  then
    sed -i '/-Xlint:-this-escape/d' "$src/stc/code/build.xml"
  fi
  swift_t_settings "$build_dir/swift-t-settings.sh.template" "$python_exe" > "$build_dir/swift-t-settings.sh"
  logged swift-t "$build_dir/build-swift-t.sh"
  rm -rf "$src"
}

build_eqr()
# EQ/R in place (workflows/common/ext/EQ-R, where env-local.sh looks for it). SWIG 4 needs "-tcl" spelled out.
{
  local eqr=$ENGINE/Supervisor/workflows/common/ext/EQ-R/eqr rcpp rinside
  rcpp=$(Rscript -e 'cat(system.file(package = "Rcpp"))')
  rinside=$(Rscript -e 'cat(system.file(package = "RInside"))')
  sed -i 's/swig -c++/swig -tcl -c++/' "$eqr/Makefile.in"
  (
    cd "$eqr"
    export CPPFLAGS="-I/usr/include/tcl8.6 -I/usr/share/R/include -I$rcpp/include -I$rinside/include"
    export LDFLAGS="-L$rinside/lib -lRInside -Wl,-rpath,$rinside/lib -L/usr/lib/R/lib -lR -Wl,-rpath,/usr/lib/R/lib"
    LDFLAGS+=" -ltcl8.6"
    logged eqr-bootstrap ./bootstrap
    logged eqr-configure ./configure
    logged eqr-make make install
  )
}

install_r_packages()
# smoof, then mlrMBO (not in Debian) into $ENGINE/R-lib (about 45 s).
{
  local src=$ENGINE/src
  unpack smoof- "$src"
  unpack mlrMBO- "$src"
  mkdir -p "$ENGINE/R-lib"
  logged r-smoof R CMD INSTALL -l "$ENGINE/R-lib" "$src/smoof"
  logged r-mlrMBO R CMD INSTALL -l "$ENGINE/R-lib" "$src/mlrMBO"
  rm -rf "$src/smoof" "$src/mlrMBO"
}

build_engine()
# Every step, from an empty folder; the stamp last, so an interrupted build is redone next time.
{
  local started=$SECONDS
  rm -rf "$ENGINE"
  mkdir -p "$ENGINE/logs"
  say "building into $ENGINE (logs in $ENGINE/logs)"
  say "1/4 Swift/T (STC + Turbine, Python and R enabled): about 90 s"
  build_swift_t
  say "2/4 Supervisor (extracted unmodified)"
  unpack Supervisor- "$ENGINE"
  say "3/4 EQ/R (in the Supervisor's workflows/common/ext/EQ-R)"
  build_eqr
  say "4/4 R packages smoof + mlrMBO: about 45 s"
  install_r_packages
  rmdir "$ENGINE/src" 2>/dev/null || true
  echo "built $(date -u +%FT%TZ) in $(( SECONDS - started )) s; python $(base_python)" > "$ENGINE/$STAMP_NAME"
  say "done in $(( SECONDS - started )) s"
}

main()
{
  case ${1:-} in
    --check) check_prerequisites; return ;;
    --where) engine_home || exit; return ;;
    "") ;;
    *) die "unknown option '$1'; use --check, --where or no option" ;;
  esac
  ENGINE=$(engine_home) || exit
  if [[ -f $ENGINE/$STAMP_NAME && ! -w $(dirname "$ENGINE") ]]
  then
    echo "$ENGINE"   # a built engine in a shared read-only folder is used as it is
    return
  fi
  require_writable_folder "$(dirname "$ENGINE")" "engine folder" TYBALT_ENGINE_DIR
  mkdir -p "$(dirname "$ENGINE")"
  exec 9>"$ENGINE.lock"
  flock 9   # one build at a time; a second caller waits, then finds the stamp
  if [[ -f $ENGINE/$STAMP_NAME ]]
  then
    say "up to date: $ENGINE ($(cat "$ENGINE/$STAMP_NAME"))"
  else
    check_prerequisites
    build_engine
  fi
  echo "$ENGINE"
}

main "$@"
