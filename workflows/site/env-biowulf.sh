# ENV BIOWULF (Tybalt's Supervisor site for NIH Biowulf, replacing the Supervisor's env-biowulf.sh): the Slurm site
# with Biowulf's values. The stock file loads the CANDLE module's old Python stack and forces app mode; here the
# trials run the project's interpreter in the mode the user chose, on Biowulf's V100x GPUs unless GPU_TYPE says
# otherwise, with Biowulf's MPI plug-in for srun.

export GPU_TYPE=${GPU_TYPE-v100x} SLURM_MPI=${SLURM_MPI:-pmix}
source "$(dirname "${BASH_SOURCE[0]}")/env-slurm.sh"
