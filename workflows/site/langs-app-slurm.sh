# LANGS APP SLURM (Tybalt's Supervisor site for any Slurm cluster; model.sh sources it for every app-mode trial,
# on the trial's node). The trial's python3 is the project's interpreter (TYBALT_PYTHON, exported by
# run_campaign.sh), first on PATH whatever a site module put there; PYTHONHOME stays unset.

PATH=$(dirname "$TYBALT_PYTHON"):$PATH
unset PYTHONHOME
PYTHONPATH+=":$WORKFLOWS_ROOT/common/python:${APP_PYTHONPATH:-}"
export PATH PYTHONPATH
