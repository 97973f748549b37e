# Sourced (bash) by build_engine.sh and run_campaign.sh: where the vendored sources are and which cache folder
# holds the engine built from them. Sets TYBALT_REPO, TYBALT_VENDOR_DIR, TYBALT_PYTHON, ENGINE_HOME.
# The cache key is made of the vendored tarballs' names (they carry version and commit) and the Python version
# Swift/T embeds, so new sources or a new interpreter get a fresh build and an unchanged set reuses the old one.

source "$(dirname "${BASH_SOURCE[0]}")/errors.sh"

TYBALT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TYBALT_VENDOR_DIR=${TYBALT_VENDOR_DIR:-$TYBALT_REPO/../shared/vendor}
TYBALT_PYTHON=${TYBALT_PYTHON:-$TYBALT_REPO/.venv/bin/python}

vendored_tarball()
# The one vendored tarball whose name starts with $1 (e.g. "swift-t-"); stops (die) naming what is missing.
{
  local matches=( "$TYBALT_VENDOR_DIR/$1"*.tar.gz )
  [[ -f ${matches[0]} ]] || die "no $1*.tar.gz in $TYBALT_VENDOR_DIR; set TYBALT_VENDOR_DIR to the folder with" \
                                "the vendored engine sources (../shared/vendor beside the repository)"
  echo "${matches[0]}"
}

python_version()
# The version of $TYBALT_PYTHON as pyX.Y; stops (die) when it is not a Python that runs.
{
  [[ -x $TYBALT_PYTHON && ! -d $TYBALT_PYTHON ]] \
    || die "TYBALT_PYTHON=$TYBALT_PYTHON is not an executable Python; set TYBALT_PYTHON to the python of the" \
           "project's virtual environment (make test or make demo makes .venv)"
  "$TYBALT_PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null \
    || die "TYBALT_PYTHON=$TYBALT_PYTHON does not run; set TYBALT_PYTHON to a working Python 3"
}

engine_key()
# The cache key: the four tarball names without .tar.gz, then the embedded Python's version.
{
  local name tarball key="" version
  for name in swift-t- Supervisor- smoof- mlrMBO-
  do
    tarball=$(vendored_tarball "$name") || exit
    key+=$(basename "$tarball" .tar.gz)_
  done
  version=$(python_version) || exit
  echo "$key$version"
}

engine_home()
# The engine's folder in the cache (it may not be built yet).
{
  local key
  key=$(engine_key) || exit
  echo "${TYBALT_ENGINE_DIR:-$HOME/.cache/tybalt/campaign-engine}/$key"
}
