# LANGS APP LOCAL (Tybalt's override of the Supervisor's langs-app-local.sh, sourced by model.sh for every
# app-mode trial). The stock file sets PYTHONHOME=$HOME/anaconda3 and puts $HOME/anaconda3 first on PATH and
# LD_LIBRARY_PATH, so every trial died with "No module named encodings" where there is no Anaconda. Here python3
# is the one run_campaign.sh put first on PATH (the benchmark's venv) and PYTHONHOME stays unset.

PYTHONPATH+=":$WORKFLOWS_ROOT/common/python:${APP_PYTHONPATH:-}"
export PYTHONPATH
