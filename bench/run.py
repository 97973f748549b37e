"""Benchmark the Tybalt training path, data loading, per-trial overhead and tSNE at the real data size.

``python bench/run.py`` (or ``make bench``) measures on synthetic data of the TCGA size (10,459 x 5,000), prints
the report and writes it to bench/results.md; ``--quick`` is a smoke run on small sizes. Every workload runs
in a process of its own (bench/workloads.py) so each peak-memory figure is its own; figures are medians of
several runs with their min and max, and compared figures come from the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

import report  # noqa: E402
from workloads import forward_flops_per_sample, synthetic_expression  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "Tybalt"))
import tybalt  # noqa: E402  (parameter definitions only; no TensorFlow)

STEPS_PER_EXECUTION_DEFAULT = next(d["default"] for d in tybalt.additional_definitions
                                   if d["name"] == "steps_per_execution")


@dataclass
class Sizes:
    """How big and how often: the real size, or the --quick smoke run."""

    samples: int
    genes: int
    timed_epochs: int
    repeats: int
    sgemm_size: int
    tsne_samples: int
    tsne_repeats: int
    trial_epochs: int
    quick: bool


FULL = Sizes(samples=10459, genes=5000, timed_epochs=5, repeats=3, sgemm_size=2048, tsne_samples=10459,
             tsne_repeats=2, trial_epochs=10, quick=False)
QUICK = Sizes(samples=600, genes=300, timed_epochs=2, repeats=1, sgemm_size=512, tsne_samples=300,
              tsne_repeats=1, trial_epochs=2, quick=True)
BATCH_SIZES = (50, 200)
GPU_MATMUL_SIZE = 8192
GPU_STEPS_PER_EXECUTION = (1, 100)  # besides the default, to re-measure its rule on a GPU (VAE and ADAGE, batch 50)
TSNE_DIMS = 100


def run_workload(name: str, spec: dict) -> dict:
    """Run one workload in a fresh Python process and return its JSON result."""
    with tempfile.TemporaryDirectory() as folder:
        out_path = os.path.join(folder, "result.json")
        subprocess.run([sys.executable, os.path.join(BENCH_DIR, "workloads.py"), name, json.dumps(spec), out_path],
                       check=True)
        with open(out_path) as handle:
            return json.load(handle)


def training_cases(sizes: Sizes) -> list[dict]:
    """Each model at each batch size: plain Keras, then the optimisations added one by one (--quick: the default)."""
    from tybalt_core.train.training import resolve_jit_compile

    cases = []
    for model_type in ("vae", "adage"):
        for batch_size in BATCH_SIZES:
            default_jit = resolve_jit_compile("auto", model_type, epochs=100, n_train=int(round(0.9 * sizes.samples)),
                                              batch_size=batch_size)  # what a default 100-epoch run uses
            common = {"model_type": model_type, "batch_size": batch_size, "epochs": sizes.timed_epochs,
                      "plain_keras": False, "steps_per_execution": STEPS_PER_EXECUTION_DEFAULT}
            plain = {**common, "variant": "plain Keras (model.fit on NumPy)", "plain_keras": True}
            pipeline = {**common, "variant": "+ index-gather input pipeline", "jit_compile": False,
                        "steps_per_execution": 1}
            steps = {**common, "variant": f"+ steps_per_execution {STEPS_PER_EXECUTION_DEFAULT}", "jit_compile": False,
                     "default": not default_jit}
            # ADAGE under XLA trains ~10x slower (Dropout's random mask): one timed epoch at one batch size shows it.
            xla = {**common, "variant": "+ XLA (jit_compile)", "jit_compile": True, "default": default_jit,
                   "epochs": sizes.timed_epochs if model_type == "vae" else 1}
            variants = [plain, pipeline, steps] + ([xla] if model_type == "vae" or batch_size == 200 else [])
            cases += [plain, next(v for v in variants if v.get("default"))] if sizes.quick else variants
    return cases


def measure_training(sizes: Sizes) -> dict:
    """Seconds per epoch of every case, each case in its own process (all in one with --quick)."""
    spec = {"samples": sizes.samples, "genes": sizes.genes}
    cases = training_cases(sizes)
    if sizes.quick:
        results = run_workload("training", {**spec, "cases": cases})["results"]
    else:
        results = [run_workload("training", {**spec, "cases": [case]})["results"][0] for case in cases]
        threads_case = next(c for c in cases if c["model_type"] == "vae" and c["batch_size"] == 50 and c.get("default"))
        threaded = run_workload("training", {**spec, "cases": [threads_case],
                                             "threads": {"intra_op": 2, "inter_op": 1}})["results"][0]
        results.append({**threaded, "variant": threaded["variant"] + " + threads (intra 2, inter 1)",
                        "default": False})
    for result in results:
        result["gflop_per_epoch"] = _gflop_per_epoch(result["model_type"], sizes)
    return {"results": results}


def gpu_cases(sizes: Sizes) -> list[dict]:
    """Each model at each batch size with mixed precision off and on, each with and without XLA; then other
    steps_per_execution values at batch 50 (--quick: mixed precision off and on with the GPU's XLA rule only)."""
    from tybalt_core.train.training import resolve_jit_compile

    cases = []
    for model_type in ("vae", "adage"):
        for batch_size in BATCH_SIZES:
            rule_jit = resolve_jit_compile("auto", model_type, epochs=100, n_train=int(round(0.9 * sizes.samples)),
                                           batch_size=batch_size, on_gpu=True)  # what a 100-epoch GPU run uses
            for mixed_precision in (False, True):
                for jit_compile in ((rule_jit,) if sizes.quick else (False, True)):
                    cases.append({"model_type": model_type, "batch_size": batch_size, "epochs": sizes.timed_epochs,
                                  "mixed_precision": mixed_precision, "jit_compile": jit_compile,
                                  "steps_per_execution": STEPS_PER_EXECUTION_DEFAULT,
                                  "default_path": jit_compile == rule_jit})
            if batch_size == BATCH_SIZES[0] and not sizes.quick:
                cases += [{**cases[-1], "mixed_precision": False, "jit_compile": rule_jit,
                           "steps_per_execution": steps, "default_path": False} for steps in GPU_STEPS_PER_EXECUTION]
    return cases


def measure_gpu(sizes: Sizes) -> dict:
    """The GPU section: every GPU case in one process on the first visible GPU; {"device": None} without one."""
    figures = run_workload("gpu_training", {"samples": sizes.samples, "genes": sizes.genes,
                                            "matmul_size": GPU_MATMUL_SIZE if not sizes.quick else 1024,
                                            "cases": gpu_cases(sizes)})
    for result in figures.get("results", []):
        result["gflop_per_epoch"] = _gflop_per_epoch(result["model_type"], sizes)
    return figures


def _gflop_per_epoch(model_type: str, sizes: Sizes) -> float:
    """Matmul GFLOPs of one epoch: 3 x forward per training sample (forward, two backward) + 1 x per validation."""
    flops = forward_flops_per_sample(model_type, sizes.genes, 100)
    n_train = int(round(0.9 * sizes.samples))
    return (3 * flops * n_train + flops * (sizes.samples - n_train)) / 1e9


def measure_load(sizes: Sizes, cache_root: str) -> dict:
    """Parse the TSV on an empty cache folder, then load it again from the cache the parse wrote."""
    tsv = ensure_tsv(sizes, cache_root)
    parse, cached = [], []
    for _ in range(sizes.repeats):
        with tempfile.TemporaryDirectory(dir=cache_root) as cache_dir:
            parse.append(run_workload("load", {"tsv": tsv, "cache_dir": cache_dir}))
            cached.append(run_workload("load", {"tsv": tsv, "cache_dir": cache_dir}))
    return {"tsv": tsv, "tsv_mib": os.path.getsize(tsv) / 2**20, "parse": parse, "cached": cached}


def ensure_tsv(sizes: Sizes, cache_root: str) -> str:
    """A samples x genes TSV of the benchmark size, written once into the bench cache folder."""
    path = os.path.join(cache_root, f"expression_{sizes.samples}x{sizes.genes}.tsv")
    if not os.path.isfile(path):
        print(f"writing {path} once (a few minutes at the real size)", flush=True)
        values = synthetic_expression(sizes.samples, sizes.genes)
        header = "sample_id\t" + "\t".join(f"GENE{j:05d}" for j in range(sizes.genes))
        ids = np.array([f"S{i:06d}" for i in range(sizes.samples)], dtype=object)[:, None]
        temporary = path + ".partial"
        np.savetxt(temporary, np.hstack([ids, values.astype(object)]), fmt=["%s"] + ["%.6g"] * sizes.genes,
                   delimiter="\t", header=header, comments="")
        os.replace(temporary, path)
    return path


def measure_trials(sizes: Sizes, cache_root: str, tsv: str) -> dict:
    """A 10-epoch trial of the real entry point: fresh processes, run() repeated in one warm process, and the
    TensorFlow import on its own (part of every fresh-process trial)."""
    data_dir = os.path.join(cache_root, "trial_data")
    run_workload("load", {"tsv": tsv, "cache_dir": os.path.join(data_dir, "cache")})  # the cache trials will use
    with tempfile.TemporaryDirectory(dir=cache_root) as out_root:
        flags = ["--data_source", tsv, "--data_dir", data_dir, "--epochs", str(sizes.trial_epochs),
                 "--batch_size", "50", "--verbose", "false"]
        fresh = [fresh_process_trial([*flags, "--output_dir", os.path.join(out_root, f"fresh_{i}")])
                 for i in range(sizes.repeats)]
        warm = run_workload("trial_in_process", {"flags": [*flags, "--output_dir", os.path.join(out_root, "warm")],
                                                 "repeats": sizes.repeats})
    imports = [run_workload("tensorflow_import", {})["seconds"] for _ in range(sizes.repeats)]
    return {"fresh": fresh, "in_process": [report.timeline(t["started"], t["ended"], t["records"])
                                           for t in warm["trials"]],
            "in_process_peak_rss_mib": warm["peak_rss_mib"], "tensorflow_import_seconds": imports}


def fresh_process_trial(flags: list[str]) -> dict:
    """Start the entry point in a new process; read its timestamped log lines into a timeline."""
    launched = time.time()
    process = subprocess.Popen([sys.executable, os.path.join(BENCH_DIR, "workloads.py"), "trial_process", *flags],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    _, stderr = process.communicate()
    ended = time.time()
    if process.returncode != 0:
        raise RuntimeError(f"trial failed:\n{stderr[-2000:]}")
    records = []
    for line in stderr.splitlines():
        stamp, _, rest = line.partition(" ")
        name, _, message = rest.partition(": ")
        try:
            records.append((float(stamp), name, message))
        except ValueError:
            continue
    return report.timeline(launched, ended, records)


def measure_tsne(sizes: Sizes) -> dict:
    """tSNE of clustered 100-d points with scikit-learn, and with openTSNE when it is installed."""
    libraries = ["sklearn"] + (["openTSNE"] if importlib.util.find_spec("openTSNE") else [])
    return {library: [run_workload("tsne", {"library": library, "samples": sizes.tsne_samples, "dims": TSNE_DIMS})
                      for _ in range(sizes.tsne_repeats)] for library in libraries}


def machine() -> dict:
    """What the figures were measured on."""
    return {"cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": _installed_version("tensorflow-cpu", "tensorflow"),
            "keras": "tf_keras (legacy)" if os.environ.get("TF_USE_LEGACY_KERAS") else "Keras 3",
            "load_average": os.getloadavg()}


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _installed_version(*distributions: str) -> str:
    """Version of the first of these distributions that is installed."""
    from importlib import metadata

    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def main() -> None:
    """Measure everything, print the report and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run on small sizes")
    parser.add_argument("--out", default=os.path.join(BENCH_DIR, "results.md"), help="report file to write")
    parser.add_argument("--cache_dir", default=os.path.join(BENCH_DIR, ".cache"),
                        help="folder for the benchmark TSV and its caches (kept between runs)")
    parser.add_argument("--gpu_only", action="store_true",
                        help="measure only the GPU section and add it to the figures already in --out's .json")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    os.makedirs(args.cache_dir, exist_ok=True)
    figures_path = os.path.splitext(args.out)[0] + ".json"  # the raw figures behind the report
    figures = read_figures(figures_path) if args.gpu_only else measure_cpu(sizes, args.cache_dir, args.quick)
    figures["gpu"] = measure_gpu(sizes)
    text = report.render(figures)
    print(text)
    with open(args.out, "w") as handle:
        handle.write(text)
    with open(figures_path, "w") as handle:
        json.dump(figures, handle, indent=1)


def measure_cpu(sizes: Sizes, cache_root: str, quick: bool) -> dict:
    """Every CPU section: sgemm, training, data load, per-trial overhead, tSNE."""
    started = time.time()
    figures = {"sizes": sizes.__dict__, "quick": quick, "machine": machine(),
               "written_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    figures["sgemm"] = run_workload("sgemm", {"size": sizes.sgemm_size, "repeats": 5 * sizes.repeats})
    figures["training"] = measure_training(sizes)
    figures["load"] = measure_load(sizes, cache_root)
    figures["trials"] = measure_trials(sizes, cache_root, figures["load"]["tsv"])
    figures["tsne"] = measure_tsne(sizes)
    figures["bench_seconds"] = time.time() - started
    return figures


def read_figures(path: str) -> dict:
    """The figures of an earlier full run, to which --gpu_only adds the GPU section."""
    with open(path) as handle:
        return json.load(handle)


if __name__ == "__main__":
    main()
