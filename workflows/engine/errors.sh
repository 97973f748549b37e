# Sourced (bash) by the campaign tools (run_campaign.sh, build_engine.sh, engine_paths.sh): their one way to refuse
# bad input, with the promise of the Python tools: one line "tybalt: error: MESSAGE" on stderr, the message saying
# what is wrong and how to fix it, exit status 2, and nothing created or changed (so call it before making anything).

die()
# Print "tybalt: error: $*" on stderr and exit 2 (inside $(...), the caller must pass the status on: || exit).
{
  echo "tybalt: error: $*" >&2
  exit 2
}

require_writable_folder()
# Refuse folder $1 (called $2 in the message, set by variable $3) unless it is a folder that can be written, or
# can be made: its nearest existing ancestor must be a writable folder (not a file, nor a link that cannot be
# followed).
{
  local folder=$1 what=$2 variable=$3 existing=$1
  while [[ ! -e $existing && ! -L $existing ]]
  do
    existing=$(dirname "$existing")
  done
  [[ -d $existing ]] \
    || die "$what $folder cannot be used: $existing is not a folder; set $variable to a folder (or a path to make one)"
  [[ -w $existing && -x $existing ]] \
    || die "$what $folder cannot be written: $existing is not writable; set $variable to a folder you can write"
}
