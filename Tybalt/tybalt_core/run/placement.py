"""Where and when a trial ran: its node, Slurm job and rank, the GPUs it could see, the interpreter, its times.

Recorded as ``placement`` in the trial's params.json, so a campaign spread over many nodes can be checked trial by
trial (which node trained it, on which GPU, whether two trials of one node overlapped on the same GPU).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any


def trial_placement(started: float, finished: float | None = None) -> dict[str, Any]:
    """This process's place: ``node`` (Slurm's node name, else the host name), ``slurm_job_id`` and ``rank``
    (None outside Slurm), ``cuda_visible_devices`` (None when unset), ``python``, ``started``/``finished``
    (Unix seconds; ``finished`` None while the trial runs)."""
    rank = os.environ.get("SLURM_PROCID")
    return {"node": os.environ.get("SLURMD_NODENAME") or socket.gethostname(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "rank": int(rank) if rank is not None else None,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "python": sys.executable,
            "started": started, "finished": finished}
