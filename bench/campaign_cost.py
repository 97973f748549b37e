"""What a campaign costs beyond training: a 16-trial UPF campaign under the real engine, in py and app mode.

``python bench/campaign_cost.py [--samples N --genes N --epochs N --workers N]`` runs
``workflows/run_campaign.sh upf local`` (the engine built by workflows/engine/build_engine.sh) on 16 VAE trials of
synthetic data, once per trial mode, and reports for each:

- campaign efficiency = the trials' summed training time (``fit_seconds`` in each params.json) / (wall time x
  workers);
- overhead per trial = (wall time x workers - summed training time) / trials: process start (app mode), imports,
  data loading, model building, outputs and the engine's scheduling, per trial slot.

Timing figures need a quiet machine (nothing else running); on a loaded one they mean nothing. The workers are
PROCS - 1 (Turbine keeps one rank as its ADLB server).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from workloads import write_model_file

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
LAUNCHER = os.path.join(REPO, "workflows", "run_campaign.sh")
TRIALS = 16


def model_file(folder: str, samples: int, genes: int, epochs: int) -> str:
    """The default-model file with the benchmark's sizes for every trial (synthetic data in ``folder``)."""
    values = {"synthetic_samples": samples, "synthetic_genes": genes, "epochs": epochs, "verbose": False,
              "save_model": False, "lean_outputs": True, "ckpt_save_interval": 0,
              "data_dir": os.path.join(folder, "data")}
    return write_model_file(os.path.join(folder, "model.txt"), values)


def fit_seconds(params_json: str) -> float:
    """The training time a trial recorded in its params.json."""
    with open(params_json) as handle:
        return json.load(handle)["fit_seconds"]


def run_campaign(folder: str, mode: str, model: str, workers: int) -> dict[str, float]:
    """Run the 16-trial campaign in ``mode``; return wall seconds, summed fit seconds and the two figures."""
    upf = os.path.join(folder, f"cost_{mode}.upf")
    with open(upf, "w") as handle:
        handle.writelines(json.dumps({"id": f"trial_{n:02d}", "latent_dim": 10 + n, "rng_seed": n}) + "\n"
                          for n in range(TRIALS))
    with open(os.path.join(REPO, "workflows", "cfg-sys-latent_dim_sweep.sh")) as source, \
            open(os.path.join(folder, f"cfg-sys-cost_{mode}.sh"), "w") as target:
        target.write(source.read())
    campaigns = os.path.join(folder, f"campaigns_{mode}")
    env = {**os.environ, "CAMPAIGN_DIR": campaigns, "CANDLE_DEFAULT_MODEL_FILE": model, "CANDLE_MODEL_IMPL": mode,
           "PROCS": str(workers + 1)}
    started = time.monotonic()
    done = subprocess.run([LAUNCHER, "upf", "local", upf], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"the {mode} campaign failed:\n{done.stderr[-3000:]}")
    fits = [fit_seconds(os.path.join(root, "params.json")) for root, _, files in os.walk(campaigns)
            if "params.json" in files]
    if len(fits) != TRIALS:
        sys.exit(f"the {mode} campaign left {len(fits)} trial records, not {TRIALS}")
    return {"wall_seconds": wall, "fit_seconds": sum(fits), "efficiency": sum(fits) / (wall * workers),
            "overhead_per_trial_seconds": (wall * workers - sum(fits)) / TRIALS}


def main() -> None:
    """Run both modes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_459)
    parser.add_argument("--genes", type=int, default=5_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"| mode | wall (s) | training, summed (s) | campaign efficiency | overhead per trial (s) |  "
          f"[{TRIALS} trials, {args.samples} x {args.genes}, {args.epochs} epochs, {args.workers} workers]")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        model = model_file(folder, args.samples, args.genes, args.epochs)
        for mode in ("py", "app"):
            cost = run_campaign(folder, mode, model, args.workers)
            print(f"| {mode} | {cost['wall_seconds']:.1f} | {cost['fit_seconds']:.1f} | {cost['efficiency']:.2f} | "
                  f"{cost['overhead_per_trial_seconds']:.1f} |")


if __name__ == "__main__":
    main()
