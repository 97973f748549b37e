# SCHED BIOWULF (Tybalt's Supervisor site for NIH Biowulf): Slurm, as sched-slurm.sh.

source "$(dirname "${BASH_SOURCE[0]}")/sched-slurm.sh"
