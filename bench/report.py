"""Turn the benchmark's raw figures into bench/results.md: one section per measured thing, medians [min-max]."""

from __future__ import annotations

import statistics
import time

GOAL_SPEEDUP, GOAL_LOAD_SPEEDUP, GOAL_OUTSIDE_FIT, GOAL_TSNE_SECONDS = 2.0, 50.0, 0.05, 30.0
SECTIONS = ("## Machine", "## 1. Training speed", "## Optimisation gains", "## 2. Data load",
            "## 3. Per-trial overhead", "## 4. tSNE", "## 5. Peak memory", "## 6. GPU", "## Goal figures")
NOT_MEASURED = "not measured (no GPU)"
MIXED_PRECISION_MIN_CAPABILITY = (7, 0)  # keras_backend's 'auto' rule, repeated: the report imports no TensorFlow


def spread(values: list[float], digits: int = 2) -> str:
    """'median [min-max]' of a list of measurements."""
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def timeline(started: float, ended: float, records: list) -> dict:
    """Key moments of one trial from its timestamped log records (see training.FitTimeline)."""
    moment = {}
    for created, name, message in records:
        for key, prefix in (("fit_started", "fit started"), ("first_step", "first training step done"),
                            ("fit_ended", "fit took"), ("peak_rss_mib", "peak_rss_mib ")):
            if message.startswith(prefix) and key not in moment:
                moment[key] = float(message.split()[-1]) if key == "peak_rss_mib" else created
    total = ended - started
    fit = moment["fit_ended"] - moment["fit_started"]
    return {"total": total, "fit": fit, "to_first_step": moment["first_step"] - started,
            "to_fit": moment["fit_started"] - started, "after_fit": ended - moment["fit_ended"],
            "outside_fit": 1 - fit / total,
            "peak_rss_mib": moment.get("peak_rss_mib")}


def render(figures: dict) -> str:
    """The whole report as Markdown."""
    peak = statistics.median(figures["sgemm"]["gflops"])
    quick_note = " (--quick smoke run: small sizes, not the real figures)" if figures["quick"] else ""
    lines = [f"# Tybalt benchmark results{quick_note}",
             "", f"Written by `bench/run.py` on {_written(figures)} in "
             f"{figures['bench_seconds'] / 60:.1f} min. Figures: median [min–max] of the runs named in each table.",
             ""]
    lines += _machine(figures, peak)
    lines += _training(figures, peak)
    lines += _gains(figures)
    lines += _load(figures)
    lines += _trials(figures)
    lines += _tsne(figures)
    lines += _memory(figures)
    lines += _gpu(figures)
    lines += _goals(figures)
    return "\n".join(lines) + "\n"


def _machine(figures: dict, peak: float) -> list[str]:
    m, s = figures["machine"], figures["sizes"]
    return [SECTIONS[0], "",
            f"- CPU: {m['cpu']}, {m['cores']} cores; Python {m['python']}, TensorFlow {m['tensorflow']}, {m['keras']}",
            f"- Load average when the run started: {', '.join(f'{x:.1f}' for x in m['load_average'])} "
            "(the machine is shared: compare figures within this run only)",
            f"- Data: synthetic float32 in [0, 1], {s['samples']:,} samples x {s['genes']:,} genes, 90/10 split",
            f"- sgemm roofline (NumPy float32 {s['sgemm_size']}² matmul, {len(figures['sgemm']['gflops'])} runs): "
            f"{spread(figures['sgemm']['gflops'], 1)} GFLOP/s; the median is the roofline below", ""]


def _case_key(result: dict) -> tuple:
    return result["model_type"], result["batch_size"]


def _training(figures: dict, peak: float) -> list[str]:
    results = figures["training"]["results"]
    lines = [SECTIONS[1], "",
             "Seconds per epoch (training + validation), median [min–max] over the timed epochs after a first epoch "
             "that traces (and with XLA compiles) the step. FLOPs per epoch = 3 x forward matmul FLOPs per training "
             "sample + 1 x per validation sample; roofline % = FLOPs / (s/epoch x sgemm GFLOP/s). "
             "'Optimized' is the benchmark's training path with its default parameters "
             "(`jit_compile = 'auto'` for a 100-epoch run, `steps_per_execution = 20`).", "",
             "| model | batch | plain Keras s/epoch | optimized s/epoch | speed-up | GFLOP/epoch | "
             "roofline % plain → optimized | optimized path |",
             "|---|---|---|---|---|---|---|---|"]
    for key in _keys(results):
        plain, best = _plain(results, key), _default(results, key)
        p, o = statistics.median(plain["epochs_seconds"]), statistics.median(best["epochs_seconds"])
        gflop = best["gflop_per_epoch"]
        lines.append(f"| {key[0]} | {key[1]} | {spread(plain['epochs_seconds'])} | {spread(best['epochs_seconds'])} | "
                     f"{p / o:.2f}x | {gflop:.1f} | {100 * gflop / p / peak:.0f}% → {100 * gflop / o / peak:.0f}% | "
                     f"{best['variant']} |")
    return lines + [""]


def _median_rss(runs: list[dict]) -> float:
    return statistics.median(r["peak_rss_mib"] for r in runs)


def _keys(results: list[dict]) -> list[tuple]:
    return list(dict.fromkeys(_case_key(r) for r in results))


def _plain(results: list[dict], key: tuple) -> dict:
    return next(r for r in results if _case_key(r) == key and r["plain_keras"])


def _default(results: list[dict], key: tuple) -> dict:
    return next(r for r in results if _case_key(r) == key and r.get("default"))


def _gains(figures: dict) -> list[str]:
    results = figures["training"]["results"]
    lines = [SECTIONS[2], "",
             "Each optimisation added to the previous row, same run, same data; speed-up against plain Keras. "
             "Rows are in separate processes (one process with --quick). First epoch = tracing (+ XLA compile).", "",
             "| model | batch | path | s/epoch | speed-up | first epoch s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|"]
    for key in _keys(results):
        plain = statistics.median(_plain(results, key)["epochs_seconds"])
        for r in (r for r in results if _case_key(r) == key):
            mark = " **(default)**" if r.get("default") else ""
            lines.append(f"| {key[0]} | {key[1]} | {r['variant']}{mark} | {spread(r['epochs_seconds'])} | "
                         f"{plain / statistics.median(r['epochs_seconds']):.2f}x | {r['first_epoch']:.1f} | "
                         f"{r['peak_rss_mib']:.0f} |")
    return lines + [""]


def _load(figures: dict) -> list[str]:
    load = figures["load"]
    parse = [r["seconds"] for r in load["parse"]]
    cached = [r["seconds"] for r in load["cached"]]
    return [SECTIONS[3], "",
            f"`data.load_expression_tsv` on a {load['tsv_mib']:.0f} MiB TSV, {len(parse)} runs, each in a fresh "
            "process: first on an empty cache folder (pandas parse + writing the cache), then again (float32 .npy "
            "cache, memory-mapped); both times include reading every value once.", "",
            "| load | seconds | peak RSS MiB |", "|---|---|---|",
            f"| TSV parse (+ cache write) | {spread(parse)} | {_median_rss(load['parse']):.0f} |",
            f"| binary cache | {spread(cached, 3)} | {_median_rss(load['cached']):.0f} |", "",
            f"Cached load is **{statistics.median(parse) / statistics.median(cached):.0f}x** faster than parsing.", ""]


def _trials(figures: dict) -> list[str]:
    trials = figures["trials"]
    lines = [SECTIONS[4], "",
             f"The real entry point (`tybalt_baseline_keras2.py`, VAE, batch 50, {figures['sizes']['trial_epochs']} "
             "epochs, data cached, default outputs: history, encodings, models, loss plot). 'Fresh process' = "
             "`python tybalt_baseline_keras2.py ...` per trial, as a shell-launched Supervisor trial; 'in-process' = "
             "`run(params)` called again in a process that already trained once (TensorFlow imported), as "
             "KerasTuner or an in-memory worker runs trials. Times from timestamped log lines.", "",
             "| trial | runs | total s | start → fit starts s | start → first step done s | fit s | "
             "fit end → exit s | outside fit | peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|"]
    for label, runs, rss in (("fresh process", trials["fresh"], _median_rss(trials["fresh"])),
                             ("in-process", trials["in_process"], trials["in_process_peak_rss_mib"])):
        outside = [100 * t["outside_fit"] for t in runs]
        lines.append(f"| {label} | {len(runs)} | {spread([t['total'] for t in runs], 1)} | "
                     f"{spread([t['to_fit'] for t in runs], 1)} | {spread([t['to_first_step'] for t in runs], 1)} | "
                     f"{spread([t['fit'] for t in runs], 1)} | {spread([t['after_fit'] for t in runs], 1)} | "
                     f"{spread(outside, 0)} % | "
                     f"{rss:.0f} |")
    imports = trials["tensorflow_import_seconds"]
    return lines + ["", "'First step done' is logged after the first call into TensorFlow, i.e. after "
                    "`steps_per_execution` steps and the tracing of the step.", "",
                    f"Importing TensorFlow and Keras alone (`import keras_backend` in a fresh process, {len(imports)} "
                    f"runs) takes {spread(imports, 1)} s: part of every fresh-process trial's 'start → fit starts'. "
                    f"Without it, a fresh-process trial spends {100 * _fresh_outside_fit_without_import(figures):.0f}% "
                    "outside fit.", ""]


def _fresh_outside_fit_without_import(figures: dict) -> float:
    """Median share of a fresh-process trial outside fit once the TensorFlow import is taken out of it."""
    trials = figures["trials"]
    seconds = statistics.median(trials["tensorflow_import_seconds"])
    return statistics.median((t["total"] - t["fit"] - seconds) / (t["total"] - seconds) for t in trials["fresh"])


def _tsne(figures: dict) -> list[str]:
    tsne = figures["tsne"]
    n = figures["sizes"]["tsne_samples"]
    lines = [SECTIONS[5], "",
             f"tSNE of {n:,} x 100 clustered points (33 Gaussian clusters standing in for the encodings), "
             "perplexity 20, PCA initialisation, learning rate max(200, N/12), all cores; each run a fresh process.",
             "", "| library | runs | seconds | peak RSS MiB |", "|---|---|---|---|"]
    for library, runs in tsne.items():
        seconds = [r["seconds"] for r in runs]
        lines.append(f"| {library} | {len(runs)} | {spread(seconds, 1)} | {_median_rss(runs):.0f} |")
    if "openTSNE" not in tsne:
        lines.append("| openTSNE | – | not installed | – |")
    return lines + [""]


def _memory(figures: dict) -> list[str]:
    results = figures["training"]["results"]
    lines = [SECTIONS[6], "", "Peak resident memory (RSS) of the process doing each job, MiB (the TensorFlow "
             "import alone is ~600 MiB).", "", "| job | peak RSS MiB |", "|---|---|"]
    for key in _keys(results):
        lines.append(f"| train {key[0]} batch {key[1]}: plain → optimized | "
                     f"{_plain(results, key)['peak_rss_mib']:.0f} → {_default(results, key)['peak_rss_mib']:.0f} |")
    load, trials = figures["load"], figures["trials"]
    lines += [f"| load TSV (parse) / cached | {_median_rss(load['parse']):.0f} / {_median_rss(load['cached']):.0f} |",
              f"| trial, fresh process / in-process | {_median_rss(trials['fresh']):.0f} / "
              f"{trials['in_process_peak_rss_mib']:.0f} |"]
    lines += [f"| tSNE {library} | {_median_rss(runs):.0f} |" for library, runs in figures["tsne"].items()]
    return lines + [""]


def _written(figures: dict) -> str:
    """When the CPU figures were measured (now, for figures from before the date was kept)."""
    return figures.get("written_utc") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _gpu(figures: dict) -> list[str]:
    """The GPU section: the same training workloads on the first visible GPU, or rows marked not measured."""
    gpu = figures.get("gpu") or {}
    lines = [SECTIONS[7], ""]
    if not gpu.get("device"):
        return lines + _gpu_not_measured(figures)
    device, results = gpu["device"], gpu["results"]
    rates = device["matmul_tflops"]
    capability = tuple(device["compute_capability"])
    lines += [f"- GPU: {device['name']}, compute capability {capability[0]}.{capability[1]}; matmul roofline "
              f"(TensorFlow, {device['matmul_size']}² product, median of 20; float32 may run on TF32 tensor cores, "
              f"as training does): float32 {rates['float32']:.1f} TFLOP/s, float16 "
              f"{rates['float16']:.1f} TFLOP/s",
              "- Same data and models as section 1, one process, one case after another; s/epoch = median "
              "[min–max] of the timed epochs after the first; roofline % = GFLOP per epoch / (s/epoch x the "
              "matmul rate of the precision used); peak GPU memory from "
              "`tf.config.experimental.get_memory_info` (memory growth on). **(default)** = what a 100-epoch run "
              "with the default parameters picks on this GPU (XLA and mixed precision rules to be checked against "
              "these rows).", "",
              "| model | batch | mixed precision | XLA | steps per call | s/epoch | first epoch s | roofline % | "
              "peak GPU MiB | final val_loss |", "|---|---|---|---|---|---|---|---|---|---|"]
    default_mixed = capability >= MIXED_PRECISION_MIN_CAPABILITY
    for r in results:
        seconds = statistics.median(r["epochs_seconds"])
        rate = rates["float16" if r["mixed_precision"] else "float32"]
        default = r["default_path"] and r["mixed_precision"] == default_mixed
        lines.append(f"| {r['model_type']} | {r['batch_size']} | {_on_off(r['mixed_precision'])} | "
                     f"{_on_off(r['jit_compile'])}{' **(default)**' if default else ''} | {r['steps_per_execution']} | "
                     f"{spread(r['epochs_seconds'], 3)} | {r['first_epoch']:.1f} | "
                     f"{100 * r['gflop_per_epoch'] / seconds / (1000 * rate):.2f}% | {r['peak_gpu_mib']:.0f} | "
                     f"{r['final_val_loss']:.4f} |")
    return lines + [""]


def _gpu_not_measured(figures: dict) -> list[str]:
    """Rows for every GPU case, each marked not measured: no GPU was visible when the figures were taken."""
    lines = ["No GPU was visible to TensorFlow when these figures were taken, so no GPU row is measured. On a "
             "machine with a GPU, `bench/gpu_check.sh` installs the CUDA build (`make install-gpu`) and adds this "
             "section (`bench/run.py --gpu_only`).", "",
             "| model | batch | mixed precision | s/epoch | roofline % | peak GPU MiB |", "|---|---|---|---|---|---|"]
    for key in _keys(figures["training"]["results"]):
        for mixed_precision in (False, True):
            lines.append(f"| {key[0]} | {key[1]} | {_on_off(mixed_precision)} | {NOT_MEASURED} | {NOT_MEASURED} | "
                         f"{NOT_MEASURED} |")
    return lines + [""]


def _on_off(flag: bool) -> str:
    return "on" if flag else "off"


def _goals(figures: dict) -> list[str]:
    results = figures["training"]["results"]
    vae50 = ("vae", 50)
    speedup = (statistics.median(_plain(results, vae50)["epochs_seconds"])
               / statistics.median(_default(results, vae50)["epochs_seconds"]))
    load = figures["load"]
    load_speedup = (statistics.median(r["seconds"] for r in load["parse"])
                    / statistics.median(r["seconds"] for r in load["cached"]))
    fresh = statistics.median(t["outside_fit"] for t in figures["trials"]["fresh"])
    warm = statistics.median(t["outside_fit"] for t in figures["trials"]["in_process"])
    tsne = min(statistics.median(r["seconds"] for r in runs) for runs in figures["tsne"].values())

    def verdict(ok: bool) -> str:
        return "reached" if ok else "**not reached**"

    return [SECTIONS[-1], "", "| goal | measured | |", "|---|---|---|",
            f"| VAE epoch at batch 50 >= {GOAL_SPEEDUP:.0f}x faster than plain Keras | {_against_goal(speedup, GOAL_SPEEDUP)}x | "
            f"{verdict(speedup >= GOAL_SPEEDUP)} |",
            f"| cached load >= {GOAL_LOAD_SPEEDUP:.0f}x faster than TSV | {load_speedup:.0f}x | "
            f"{verdict(load_speedup >= GOAL_LOAD_SPEEDUP)} |",
            f"| outside fit <= {100 * GOAL_OUTSIDE_FIT:.0f}% of a {figures['sizes']['trial_epochs']}-epoch trial "
            f"(cached data) | in-process {100 * warm:.0f}%, fresh process {100 * fresh:.0f}% "
            f"({100 * _fresh_outside_fit_without_import(figures):.0f}% without the TensorFlow import) | "
            f"in-process {verdict(warm <= GOAL_OUTSIDE_FIT)}, fresh {verdict(fresh <= GOAL_OUTSIDE_FIT)} |",
            f"| tSNE of {figures['sizes']['tsne_samples']:,} x 100 <= {GOAL_TSNE_SECONDS:.0f} s | {tsne:.1f} s "
            f"(fastest library) | {verdict(tsne <= GOAL_TSNE_SECONDS)} |"]


def _against_goal(value: float, goal: float) -> str:
    """``value`` to 2 decimals, or more where 2 would round it onto the wrong side of ``goal`` (1.9996 -> 1.9996)."""
    for digits in (2, 3, 4):
        text = f"{value:.{digits}f}"
        if (float(text) >= goal) == (value >= goal):
            return text
    return f"{value:.6f}"
