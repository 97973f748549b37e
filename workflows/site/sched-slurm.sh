# SCHED SLURM (Tybalt's Supervisor site for any Slurm cluster): Turbine writes turbine-slurm.sh into the
# experiment folder and submits it with sbatch (QUEUE is the partition, PROJECT the account, WALLTIME the limit).

MACHINE="-m slurm"
