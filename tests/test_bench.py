"""The benchmark harness: a --quick run writes a report with every section and a row for every training case; goal
figures are never rounded onto the wrong side of their goal; GPU rows are marked not measured without a GPU."""

import json
import os
import subprocess
import sys

import report
from conftest import REPO


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


def committed_figures() -> dict:
    with open(os.path.join(REPO, "bench", "results.json")) as handle:
        return json.load(handle)


def gpu_section(text: str) -> str:
    return text.split("## 6. GPU", 1)[1].split("\n## ", 1)[0]


def test_without_a_gpu_every_gpu_row_is_marked_not_measured():
    figures = committed_figures()
    for gpu_figures in ({"device": None}, None):  # measured on a machine without a GPU; figures from before
        section = gpu_section(report.render({**figures, "gpu": gpu_figures}))
        for model_type in ("vae", "adage"):
            for batch_size in (50, 200):
                for mixed_precision in ("off", "on"):
                    assert (f"| {model_type} | {batch_size} | {mixed_precision} | not measured (no GPU) | "
                            "not measured (no GPU) | not measured (no GPU) |") in section
        assert "bench/gpu_check.sh" in section


def test_committed_results_md_is_the_rendering_of_results_json():
    with open(os.path.join(REPO, "bench", "results.md")) as handle:
        assert handle.read() == report.render(committed_figures())


def test_gpu_rows_show_roofline_memory_and_the_default_path():
    case = {"model_type": "vae", "batch_size": 50, "jit_compile": True, "steps_per_execution": 20,
            "default_path": True, "epochs_seconds": [0.5, 0.4, 0.6], "first_epoch": 3.0, "final_val_loss": 2000.0,
            "peak_gpu_mib": 300.0, "gflop_per_epoch": 87.9}
    gpu = {"device": {"name": "GPU:0 NVIDIA H200", "compute_capability": [9, 0], "matmul_size": 8192,
                      "matmul_tflops": {"float32": 400.0, "float16": 700.0}},
           "results": [{**case, "mixed_precision": False}, {**case, "mixed_precision": True}]}
    section = gpu_section(report.render({**committed_figures(), "gpu": gpu}))
    assert "GPU:0 NVIDIA H200, compute capability 9.0" in section and "not measured" not in section
    # 87.9 GFLOP in 0.5 s = 175.8 GFLOP/s: 0.04% of 400 TFLOP/s (float32), 0.03% of 700 (float16)
    assert "| vae | 50 | off | on | 20 | 0.500 [0.400–0.600] | 3.0 | 0.04% | 300 | 2000.0000 |" in section
    assert "| vae | 50 | on | on **(default)** | 20 |" in section  # mixed precision is the default at 9.0


def test_pruning_report_shows_the_cuts_and_the_best_objective_change_against_the_goals():
    import pruning

    off = {"pruning": "off", "trials": 32, "pruned": 0, "epochs": 1600, "seconds": 500.0, "best": 100.0}
    on = {"pruning": "successive_halving", "trials": 32, "pruned": 20, "epochs": 640, "seconds": 300.0, "best": 100.5}
    text = pruning.render(off, on, "32 random trials")
    assert "| successive_halving | 32 | 20 | 640 | 300.0 | 100.5000 |" in text
    assert "epochs trained cut by 60% (goal: at least 40%)" in text
    assert "wall time cut by 40% (goal: at least 40%)" in text
    assert "best objective +0.50% against stopping off (goal: within 1%)" in text
