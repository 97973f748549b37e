# Sourced (bash) by build_engine.sh and run_campaign.sh: where the vendored sources are and which cache folder
# holds the engine built from them. Sets TYBALT_REPO, TYBALT_VENDOR_DIR, TYBALT_PYTHON, ENGINE_HOME.
# The cache key is made of the vendored tarballs' names (they carry version and commit) and the Python version
# Swift/T embeds, so new sources or a new interpreter get a fresh build and an unchanged set reuses the old one.

TYBALT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TYBALT_VENDOR_DIR=${TYBALT_VENDOR_DIR:-$TYBALT_REPO/../shared/vendor}
TYBALT_PYTHON=${TYBALT_PYTHON:-$TYBALT_REPO/.venv/bin/python}

vendored_tarball()
# The one vendored tarball whose name starts with $1 (e.g. "swift-t-"), or an error naming what is missing.
{
  local matches=( "$TYBALT_VENDOR_DIR/$1"*.tar.gz )
  if [[ ! -f ${matches[0]} ]]
  then
    echo "tybalt: error: no $1*.tar.gz in $TYBALT_VENDOR_DIR; set TYBALT_VENDOR_DIR to the folder with the" \
         "vendored engine sources" >&2
    return 1
  fi
  echo "${matches[0]}"
}

engine_key()
# The cache key: the four tarball names without .tar.gz, then the embedded Python's version.
{
  local name key="" python_version
  for name in swift-t- Supervisor- smoof- mlrMBO-
  do
    key+=$(basename "$(vendored_tarball $name)" .tar.gz)_ || return 1
  done
  python_version=$("$TYBALT_PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])') || return 1
  echo "$key$python_version"
}

engine_home()
# The engine's folder in the cache (it may not be built yet).
{
  local key
  key=$(engine_key) || return 1
  echo "${TYBALT_ENGINE_DIR:-$HOME/.cache/tybalt/campaign-engine}/$key"
}
