"""The benchmark harness: a --quick run writes a report with every section and a row for every training case; goal
figures are never rounded onto the wrong side of their goal."""

import os
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))
import report  # noqa: E402


def test_quick_bench_writes_a_report_with_every_section(tmp_path):
    out = tmp_path / "results.md"
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "run.py"), "--quick", "--out", str(out),
                             "--cache_dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    for section in report.SECTIONS:
        assert section in text, section
    for model_type in ("vae", "adage"):
        for batch_size in (50, 200):
            assert f"| {model_type} | {batch_size} | plain Keras" in text
    assert "| TSV parse" in text and "| binary cache" in text
    assert "| fresh process |" in text and "| in-process |" in text
    assert "| sklearn |" in text
    assert text in result.stdout  # also printed
    assert "Importing TensorFlow and Keras alone" in text


def test_a_figure_just_short_of_its_goal_is_not_shown_rounded_onto_it():
    assert report._against_goal(1.99957, 2.0) == "1.9996"
    assert report._against_goal(2.0004, 2.0) == "2.00"
    assert report._against_goal(2.12, 2.0) == "2.12"
