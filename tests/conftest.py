"""Shared test set-up: Tybalt/ on sys.path (as CANDLE runs it) and tiny, fast parameter sets."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYBALT_DIR = os.path.join(REPO, "Tybalt")
ENTRY_POINT = os.path.join(TYBALT_DIR, "tybalt_baseline_keras2.py")
sys.path.insert(0, TYBALT_DIR)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY_FLAGS = ["--synthetic_samples", "600", "--synthetic_genes", "300", "--latent_dim", "8",
              "--epochs", "2", "--verbose", "false"]


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory):
    """One data folder for the whole session, so the synthetic data are generated once."""
    return str(tmp_path_factory.mktemp("data"))


def run_entry_point(*flags: str, cwd: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the standalone entry point in a fresh Python process, capturing its output."""
    return subprocess.run([sys.executable, ENTRY_POINT, *flags], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture
def tiny_params(monkeypatch, tmp_path, shared_data_dir):
    """Parameters as initialize_parameters() returns them for a tiny, fast run writing into tmp_path."""
    import tybalt_baseline_keras2

    def make(*flags: str) -> dict:
        monkeypatch.setattr(sys, "argv", ["tybalt_baseline_keras2.py", *TINY_FLAGS, "--data_dir", shared_data_dir,
                                          "--output_dir", str(tmp_path / "out"), *flags])
        return tybalt_baseline_keras2.initialize_parameters()

    return make
