"""Shared test set-up: the entry point's path, tiny fast parameter sets, and helpers that start and kill runs.

pytest.ini puts Tybalt/ on the import path (as CANDLE runs the benchmark); PYTHONPATH gives the fresh Python
processes the tests start the same path.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYBALT_DIR = os.path.join(REPO, "Tybalt")
ENTRY_POINT = os.path.join(TYBALT_DIR, "tybalt_baseline_keras2.py")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [TYBALT_DIR, os.environ.get("PYTHONPATH")]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY_FLAGS = ["--synthetic_samples", "600", "--synthetic_genes", "300", "--latent_dim", "8",
              "--epochs", "2", "--verbose", "false"]


def skip_or_fail_in_ci(reason: str) -> None:
    """Skip for a missing prerequisite (``reason`` says what to install); under CI=true fail instead, since
    .ci/run installs every prerequisite and a skipped test must not pass for a run one."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a prerequisite is missing: {reason}")
    pytest.skip(reason)


def snapshot_files(root) -> dict:
    """Every file under ``root`` and its bytes (a FIFO or other special file is listed, never opened)."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[path] = open(path, "rb").read() if os.path.isfile(path) else "not a regular file"
    return found


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory):
    """One data folder for the whole session, so the synthetic data are generated once."""
    return str(tmp_path_factory.mktemp("data"))


def run_entry_point(*flags: str, cwd: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the standalone entry point in a fresh Python process, capturing its output."""
    return subprocess.run([sys.executable, ENTRY_POINT, *flags], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture
def tiny_params(tmp_path, shared_data_dir):
    """Parameters as initialize_parameters() returns them for a tiny, fast run writing into tmp_path."""
    import tybalt_baseline_keras2

    def make(*flags: str) -> dict:
        return tybalt_baseline_keras2.initialize_parameters(
            argv=[*TINY_FLAGS, "--data_dir", shared_data_dir, "--output_dir", str(tmp_path / "out"), *flags])

    return make


def checkpoint_epochs(folder: str) -> list[int]:
    """The epoch counts of the checkpoints in ``folder``, fewest first."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(int(name.split("-")[1]) for name in names if name.startswith("epoch-"))


def kill_after_checkpoint(command: list[str], ckpt_dir: str, epochs: int = 2, env: dict | None = None) -> None:
    """Start ``command`` and SIGKILL it as soon as a checkpoint of ``epochs`` or more epochs is in ``ckpt_dir``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while not any(e >= epochs for e in checkpoint_epochs(ckpt_dir)) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared within 120 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.fixture(scope="session")
def campaign_engine() -> str:
    """The real campaign engine's folder in the cache, built on first use (campaign_runs.built_engine)."""
    from campaign_runs import built_engine

    return built_engine()


@pytest.fixture(scope="session")
def tiny_tcga_server():
    """Tiny raw TCGA files (80 samples x 300 genes) served on 127.0.0.1, for the study's TCGA trials."""
    import numpy as np
    from local_http_server import LocalFileServer
    from test_tcga import make_hiseq, make_samples_table, raw_tcga_files

    hiseq = make_hiseq(np.random.default_rng(7))
    with LocalFileServer() as server:
        server.files.update(raw_tcga_files(hiseq, make_samples_table(hiseq.columns)))
        yield server


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory, tiny_tcga_server) -> str:
    """The benchmark's default-model file with tiny data in one absolute data folder: synthetic, and TCGA from the
    local server for trials whose lines say data_source 'tcga' (the study grid's and Bayesian search's)."""
    from campaign_runs import write_tiny_model_file
    from test_tcga import ARCHIVE, SAMPLES

    return write_tiny_model_file(tmp_path_factory.mktemp("campaign_model"), data_url=tiny_tcga_server.url(ARCHIVE),
                                 clinical_url=tiny_tcga_server.url(SAMPLES), num_genes=50)
