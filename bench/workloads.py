"""The measured workloads of the benchmark, each run in a process of its own so its peak memory is its own.

``python bench/workloads.py NAME SPEC_JSON OUT_JSON`` runs one workload and writes its timings and the
process's peak resident memory (RSS) to OUT_JSON; bench/run.py starts these and writes the report.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYBALT_DIR = os.path.join(REPO, "Tybalt")
ENTRY_POINT = os.path.join(TYBALT_DIR, "tybalt_baseline_keras2.py")
TRAINING_LOGGER = "tybalt_core.train.training"  # its DEBUG lines are the fit timeline
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VAL_SPLIT = 0.1
LATENT_DIM = 100


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (VmHWM: unlike ru_maxrss, it starts afresh at exec)."""
    with open("/proc/self/status") as handle:
        kib = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    return kib / 1024


def synthetic_expression(n_samples: int, n_genes: int, seed: int = 0) -> np.ndarray:
    """Uniform float32 values in [0, 1]: the shape and range of the scaled TCGA matrix, made in a second."""
    return np.random.default_rng(seed).random((n_samples, n_genes), dtype=np.float32)


def forward_flops_per_sample(model_type: str, n_genes: int, latent_dim: int) -> int:
    """Matrix-multiply FLOPs of one forward pass: VAE has mean, log-variance and decoder layers; ADAGE two."""
    dense_layers = 3 if model_type == "vae" else 2
    return dense_layers * 2 * n_genes * latent_dim


def sgemm(spec: dict) -> dict:
    """NumPy float32 matmul rate (GFLOP/s) of a large square product: the roofline for the models' FLOPs."""
    size, repeats = spec["size"], spec["repeats"]
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        rates.append(2 * size**3 / (time.perf_counter() - started) / 1e9)
    return {"gflops": rates}


def training(spec: dict) -> dict:
    """Seconds per epoch of each case (model, batch size, training path); the first epoch (tracing, XLA) apart."""
    from tybalt_core.models.backend import keras, tf
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.training import KLWarmup, compile_autoencoder, set_seed, train

    if spec.get("threads"):  # must happen before TensorFlow runs its first operation
        tf.config.threading.set_intra_op_parallelism_threads(spec["threads"]["intra_op"])
        tf.config.threading.set_inter_op_parallelism_threads(spec["threads"]["inter_op"])
    values = synthetic_expression(spec["samples"], spec["genes"])
    n_train = int(round((1 - VAL_SPLIT) * len(values)))
    x_train, x_val = values[:n_train], values[n_train:]
    results = []
    for case in spec["cases"]:
        keras.backend.clear_session()
        set_seed(123)
        autoencoder = build_autoencoder(case["model_type"], spec["genes"], LATENT_DIM)
        timer = epoch_timer()
        epochs = case["epochs"] + 1
        if case["plain_keras"]:
            warmup = [KLWarmup(autoencoder.model, 1.0, "warmup")] if case["model_type"] == "vae" else []
            fit_plain_keras(autoencoder, x_train, x_val, case["batch_size"], epochs, [timer, *warmup])
        else:
            compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.0005, loss="binary_crossentropy",
                                jit_compile=case["jit_compile"], steps_per_execution=case["steps_per_execution"])
            train(autoencoder, values, np.arange(n_train), np.arange(n_train, len(values)), epochs=epochs,
                  batch_size=case["batch_size"], verbose=False, extra_callbacks=[timer])
        results.append({**case, "first_epoch": timer.seconds[0], "epochs_seconds": timer.seconds[1:],
                        "peak_rss_mib": peak_rss_mib()})
    return {"results": results, "n_train": n_train, "n_val": len(x_val)}


def gpu_training(spec: dict) -> dict:
    """On the first GPU: its float32 and float16 matmul rates, then seconds per epoch and peak GPU memory of each
    case (model, batch, mixed precision, XLA, steps per execution); ``{"device": None}`` when no GPU is visible."""
    from tybalt_core.models.backend import configure_devices, dtype_policy, keras, tf
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.training import compile_autoencoder, set_seed, train

    devices = configure_devices([0] if tf.config.list_physical_devices("GPU") else [])  # train on the first GPU
    if not devices.uses_gpu:
        return {"device": None}
    values = synthetic_expression(spec["samples"], spec["genes"])
    n_train = int(round((1 - VAL_SPLIT) * len(values)))
    device = {"name": devices.gpu_names[0], "compute_capability": list(devices.compute_capabilities[0]),
              "matmul_size": spec["matmul_size"],
           "matmul_tflops": {dtype: gpu_matmul_tflops(spec["matmul_size"], dtype) for dtype in ("float32", "float16")}}
    results = []
    for case in spec["cases"]:
        keras.backend.clear_session()
        set_seed(123)
        tf.config.experimental.reset_memory_stats("GPU:0")
        with dtype_policy(case["mixed_precision"]):
            autoencoder = build_autoencoder(case["model_type"], spec["genes"], LATENT_DIM)
            compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.0005, loss="binary_crossentropy",
                                jit_compile=case["jit_compile"], steps_per_execution=case["steps_per_execution"])
        timer = epoch_timer()
        history = train(autoencoder, values, np.arange(n_train), np.arange(n_train, len(values)),
                        epochs=case["epochs"] + 1, batch_size=case["batch_size"], verbose=False,
                        extra_callbacks=[timer])
        results.append({**case, "first_epoch": timer.seconds[0], "epochs_seconds": timer.seconds[1:],
                        "final_val_loss": history.history["val_loss"][-1],
                        "peak_gpu_mib": tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20})
    return {"device": device, "results": results, "n_train": n_train}


def gpu_matmul_tflops(size: int, dtype: str, repeats: int = 20) -> float:
    """Median TFLOP/s of a square matmul on the GPU in ``dtype`` (float32 may use TF32 tensor cores, as training
    does): the roofline for the GPU rows."""
    from tybalt_core.models.backend import tf

    a = tf.random.uniform((size, size), dtype=dtype)
    product = tf.function(lambda m: tf.reduce_sum(tf.matmul(m, m)))
    product(a).numpy()  # warm-up: kernel selection
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        product(a).numpy()  # .numpy() waits for the GPU
        rates.append(2 * size**3 / (time.perf_counter() - started) / 1e12)
    return float(np.median(rates))


def fit_plain_keras(autoencoder, x_train: np.ndarray, x_val: np.ndarray, batch_size: int, epochs: int,
                    callbacks: list) -> None:
    """The reference: compile with defaults and ``model.fit`` on NumPy arrays, as a Keras user writes it."""
    from tybalt_core.models.backend import keras

    loss = None if autoencoder.model.name == "tybalt_vae" else "binary_crossentropy"
    autoencoder.model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0005), loss=loss)
    autoencoder.model.fit(x_train, x_train, validation_data=(x_val, x_val), batch_size=batch_size, epochs=epochs,
                          shuffle=True, callbacks=callbacks, verbose=0)


def epoch_timer():
    """A Keras callback recording the wall-clock seconds of each epoch (training and validation)."""
    from tybalt_core.models.backend import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def load(spec: dict) -> dict:
    """Time expression.load_expression_tsv: 'parse' on an empty cache folder, 'cached' once the cache exists."""
    from tybalt_core.data import expression

    started = time.perf_counter()
    loaded = expression.load_expression_tsv(spec["tsv"], spec["cache_dir"])
    checksum = float(np.asarray(loaded.values).sum(dtype=np.float64))  # read every value, also from a memory map
    return {"seconds": time.perf_counter() - started, "checksum": checksum, "peak_rss_mib": peak_rss_mib()}


def tensorflow_import(spec: dict) -> dict:
    """Seconds to set TensorFlow and Keras up the way the benchmark does (``set_up_tensorflow``), in a fresh process."""
    from tybalt_core.models.tensorflow_setup import set_up_tensorflow

    started = time.perf_counter()
    set_up_tensorflow()

    return {"seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib()}


def tsne(spec: dict) -> dict:
    """Time one tSNE embedding of clustered 100-d points (perplexity 20, PCA init, lr max(200, N/12))."""
    points = clustered_points(spec["samples"], spec["dims"])
    learning_rate = max(200.0, spec["samples"] / 12)
    started = time.perf_counter()
    if spec["library"] == "sklearn":
        from sklearn.manifold import TSNE

        embedding = TSNE(perplexity=20, init="pca", learning_rate=learning_rate, n_jobs=-1,
                         random_state=0).fit_transform(points)
    else:
        from openTSNE import TSNE as OpenTSNE

        embedding = np.asarray(OpenTSNE(perplexity=20, initialization="pca", learning_rate=learning_rate,
                                        n_jobs=-1, random_state=0).fit(points))
    return {"seconds": time.perf_counter() - started, "shape": list(embedding.shape), "peak_rss_mib": peak_rss_mib()}


def clustered_points(n_samples: int, dims: int, n_clusters: int = 33) -> np.ndarray:
    """Points around 33 centres (one per TCGA cancer type), standing in for the encodings."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(n_clusters, dims))
    return (centres[rng.integers(n_clusters, size=n_samples)] + rng.normal(size=(n_samples, dims))).astype(np.float32)


def trial_in_process(spec: dict) -> dict:
    """Call the entry point's run() in one process (TensorFlow imported, data cached): a warm-up, then timed runs."""
    import tybalt_baseline_keras2 as entry

    recorder = TimelineRecorder.attach()
    params = _parameters_from_flags(entry, spec["flags"])
    entry.run(dict(params, output_dir=params["output_dir"] + "_warmup"))
    trials = []
    for repeat in range(spec["repeats"]):
        recorder.records.clear()
        started = time.time()
        entry.run(dict(params, output_dir=f"{params['output_dir']}_{repeat}"))
        trials.append({"started": started, "ended": time.time(), "records": list(recorder.records)})
    return {"trials": trials, "peak_rss_mib": peak_rss_mib()}


def _parameters_from_flags(entry, flags: list[str]) -> dict:
    """The entry point's parameters as its command line would give them."""
    return entry.initialize_parameters(argv=flags)


class TimelineRecorder(logging.Handler):
    """Keep (time, logger, message) of the log records, the training module's fit timeline included."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[float, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.created, record.name, record.getMessage()))

    @classmethod
    def attach(cls) -> "TimelineRecorder":
        recorder = cls()
        logging.getLogger().addHandler(recorder)
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger(TRAINING_LOGGER).setLevel(logging.DEBUG)
        return recorder


def trial_process(argv: list[str]) -> None:
    """Run the real entry point's main with a timestamped log on stderr (the fresh-process trial)."""
    import atexit

    import tybalt_baseline_keras2

    logging.basicConfig(level=logging.INFO, format="%(created).6f %(name)s: %(message)s")
    logging.getLogger(TRAINING_LOGGER).setLevel(logging.DEBUG)
    atexit.register(lambda: logging.getLogger("bench").info("peak_rss_mib %.1f", peak_rss_mib()))
    tybalt_baseline_keras2.main(argv)


WORKLOADS = {"sgemm": sgemm, "training": training, "gpu_training": gpu_training, "load": load, "tensorflow_import": tensorflow_import, "tsne": tsne,
             "trial_in_process": trial_in_process}


def main() -> None:
    """Run the workload named on the command line and write its result as JSON."""
    if sys.argv[1] == "trial_process":
        trial_process(sys.argv[2:])
        return
    name, spec, out_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    if name not in ("load", "tsne", "tensorflow_import"):
        from tybalt_core.models.tensorflow_setup import set_up_tensorflow

        set_up_tensorflow()
    result = WORKLOADS[name](spec)
    result.setdefault("peak_rss_mib", peak_rss_mib())
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    sys.path.insert(0, TYBALT_DIR)  # run as a script by bench/run.py: import tybalt_core as CANDLE would
    main()


def write_model_file(path: str, values: dict) -> str:
    """Write a copy of tybalt_default_model.txt with ``values`` in place of those defaults to ``path`` (the file a
    campaign's CANDLE_DEFAULT_MODEL_FILE names); return ``path``."""
    lines = []
    with open(os.path.join(REPO, "Tybalt", "tybalt_default_model.txt")) as handle:
        for line in handle:
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key} = {values[key]!r}\n" if "=" in line and key in values else line)
    with open(path, "w") as handle:
        handle.writelines(lines)
    return path
