"""Import Keras once for the whole benchmark: Keras 3, or legacy Keras 2 when TF_USE_LEGACY_KERAS is set.

Real candle_lib needs legacy Keras 2 (``tf-keras``); everything else in the benchmark runs under both. This module
also sets up the devices (``configure_devices``: which GPUs, memory growth) and mixed precision, for both Kerases.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass

import tensorflow as tf

from tybalt_core.common.errors import TybaltInputError

LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")

if LEGACY_KERAS:
    import tf_keras as keras
else:
    import keras


CUSTOM_GRADIENT_PREFIX = "CustomGradient-"  # how tf.custom_gradient names its registrations


@contextlib.contextmanager
def custom_gradients_released():
    """When the block ends, forget the custom gradients TensorFlow registered while it traced (tensorflow#97697).

    Keras sums each step's gradients through ``tf.custom_gradient``. In a traced function TensorFlow registers
    each one in a process-wide registry that is never emptied, and the entry keeps the whole traced graph alive:
    ~17,600 Python objects and tens of MB more with every trial of a process that runs many. A registration is
    only read while a function is traced, so dropping it once training is over changes no result.
    """
    registry = _gradient_registry()
    registered_before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - registered_before:
            if name.startswith(CUSTOM_GRADIENT_PREFIX):
                del registry[name]


def _gradient_registry() -> dict:
    """TensorFlow's gradient functions by name (a private table; an empty one if a TensorFlow release moves it)."""
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", {})


def import_keras_tuner():
    """Import KerasTuner so that it builds and accepts models of the Keras in use.

    KerasTuner 1.4.8 imports ``keras`` (Keras 3) and rejects tf_keras models; under legacy Keras it must find
    tf_keras under that name, so ``sys.modules['keras']`` is pointed at it before the first import.
    """
    if LEGACY_KERAS:
        sys.modules["keras"] = keras
    import keras_tuner

    return keras_tuner


logger = logging.getLogger(__name__)

MIXED_PRECISION_MIN_CAPABILITY = (7, 0)  # Volta (V100) and newer have float16 tensor cores


@dataclass(frozen=True)
class DeviceSetup:
    """The GPUs this process trains on (empty: the CPU), as chosen once per process by ``configure_devices``."""

    requested: tuple[int, ...]
    gpu_names: tuple[str, ...] = ()  # e.g. 'GPU:0 NVIDIA H200'
    compute_capabilities: tuple[tuple[int, int], ...] = ()

    @property
    def uses_gpu(self) -> bool:
        return bool(self.gpu_names)


_device_setup: DeviceSetup | None = None  # TensorFlow lets the devices be chosen once, before it first runs


def configure_devices(gpus: list[int] | tuple[int, ...] = (), *, quiet: bool = False) -> DeviceSetup:
    """Choose the GPUs (all visible ones, or the ``gpus`` indices among them), turn memory growth on, log it once
    (at DEBUG when ``quiet``).

    Call it from an entry point before TensorFlow runs anything. Later calls in the same process (the Supervisor
    and KerasTuner run many trials in one) return the first set-up, and refuse a different ``gpus``.
    """
    global _device_setup
    requested = tuple(int(index) for index in gpus)
    if _device_setup is not None:
        if requested != _device_setup.requested:
            raise TybaltInputError(f"gpus = {list(requested)} differs from gpus = {list(_device_setup.requested)} "
                                   "chosen earlier in this process; TensorFlow picks its devices once per process, "
                                   "so keep gpus the same for every trial of a process")
        return _device_setup
    visible = tf.config.list_physical_devices("GPU")
    chosen = [visible[index] for index in select_gpus(len(visible), requested, cuda_visible_devices())]
    _use_gpus(visible, chosen)
    details = [tf.config.experimental.get_device_details(gpu) for gpu in chosen]
    _device_setup = DeviceSetup(requested, tuple(_gpu_name(gpu, detail) for gpu, detail in zip(chosen, details)),
                                tuple(tuple(detail.get("compute_capability", (0, 0))) for detail in details))
    logger.log(logging.DEBUG if quiet else logging.INFO,
               describe_devices(len(visible), _device_setup, cuda_visible_devices(), tf.test.is_built_with_cuda()))
    if len(chosen) > 1:
        logger.warning("%d GPUs chosen: a trial trains on the first one only (there is no multi-GPU strategy); "
                       "run one trial per GPU instead (docs/hpo-and-campaigns.md: one trial per GPU)", len(chosen))
    return _device_setup


def cuda_visible_devices() -> str | None:
    """CUDA_VISIBLE_DEVICES as set outside (by the Supervisor, Slurm or the user), or None when it is not set."""
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def select_gpus(n_visible: int, requested: tuple[int, ...], cuda_visible: str | None) -> list[int]:
    """Indices of the GPUs to use among the ``n_visible`` TensorFlow sees: all, or those ``requested``.

    CUDA_VISIBLE_DEVICES, when set, has already decided which GPUs are visible; ``gpus`` then counts among those
    (0 = the first visible one) and can narrow the choice but never widen it. An index that does not exist is an
    input error, not a silent fall-back to another device.
    """
    if not requested:
        return list(range(n_visible))
    missing = [index for index in requested if not 0 <= index < n_visible]
    if missing:
        where = (f"CUDA_VISIBLE_DEVICES={cuda_visible!r} leaves {n_visible} visible" if cuda_visible is not None
                 else f"TensorFlow sees {n_visible}")
        raise TybaltInputError(f"gpus = {list(requested)} names GPU {missing[0]}, but {where} (indices count from 0 "
                               "among the visible GPUs); pick from those, or leave gpus empty ([]) to use every "
                               "visible GPU, or the CPU when there is none")
    if len(set(requested)) != len(requested):
        raise TybaltInputError(f"gpus = {list(requested)} names a GPU twice; list each GPU once")
    return list(requested)


def describe_devices(n_visible: int, setup: DeviceSetup, cuda_visible: str | None, built_with_cuda: bool) -> str:
    """The one start-up line saying which devices TensorFlow sees and which ones training uses."""
    environment = (f"CUDA_VISIBLE_DEVICES={cuda_visible!r}" if cuda_visible is not None
                   else "CUDA_VISIBLE_DEVICES not set")
    build = "" if built_with_cuda else ", a TensorFlow build without CUDA: `make install-gpu` installs one"
    seen = f"devices: TensorFlow sees the CPU and {n_visible} GPU{'s' if n_visible != 1 else ''} ({environment}{build})"
    if not setup.uses_gpu:
        return f"{seen}; training on the CPU"
    gpus = ", ".join(f"{name} (compute capability {major}.{minor})"
                     for name, (major, minor) in zip(setup.gpu_names, setup.compute_capabilities))
    chosen = f"gpus = {list(setup.requested)}" if setup.requested else "all visible"
    return f"{seen}; training on {gpus} ({chosen}), memory growth on"


def _use_gpus(visible: list, chosen: list) -> None:
    """Hide the GPUs not chosen and let each chosen one grow its memory as needed (so trials can share a GPU)."""
    try:
        if chosen != visible:
            tf.config.set_visible_devices(chosen, "GPU")
        for gpu in chosen:
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as error:  # TensorFlow ran before this call (code outside the benchmark's entry points)
        logger.warning("GPU settings not applied, TensorFlow had already started its devices (%s); set "
                       "CUDA_VISIBLE_DEVICES to choose the GPU instead", error)


def _gpu_name(gpu, details: dict) -> str:
    """'GPU:0 NVIDIA H200': TensorFlow's index of a GPU and its model name (where TensorFlow knows it)."""
    return f"{gpu.name.split('physical_device:')[-1]} {details.get('device_name', '')}".strip()


def resolve_mixed_precision(setting: str, devices: DeviceSetup) -> bool:
    """Whether to train in mixed precision: 'true', 'false', or 'auto' = on GPUs with float16 tensor cores.

    'auto' is on only when every GPU in use has compute capability >= 7.0, so it is off on the CPU and on older
    GPUs (P100: float16 without tensor cores gains little).
    """
    if setting != "auto":
        return setting == "true"
    return devices.uses_gpu and min(devices.compute_capabilities) >= MIXED_PRECISION_MIN_CAPABILITY


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """Build (and compile) models inside this block in float16 compute with float32 weights when
    ``mixed_precision``, else in float32; the process-wide policy is restored when the block ends."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def scaled_loss(optimizer, loss):
    """``loss`` times the loss scale when ``optimizer`` scales losses (mixed precision), else ``loss``.

    Compute it inside the gradient tape. Scaling keeps small float16 gradients from underflowing to zero;
    ``unscaled_gradients`` undoes it.
    """
    if not LEGACY_KERAS:
        return optimizer.scale_loss(loss)
    return optimizer.get_scaled_loss(loss) if _scales_losses(optimizer) else loss


def unscaled_gradients(optimizer, gradients: list) -> list:
    """Gradients of a ``scaled_loss`` brought back to the loss's scale (Keras 3's ``apply_gradients`` does it)."""
    if LEGACY_KERAS and _scales_losses(optimizer):
        return optimizer.get_unscaled_gradients(gradients)
    return gradients


def _scales_losses(optimizer) -> bool:
    """Whether a tf_keras optimizer is a loss-scale optimizer (``compile`` wraps one under mixed precision)."""
    return isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)


__all__ = ["keras", "tf", "LEGACY_KERAS", "custom_gradients_released", "import_keras_tuner", "configure_devices",
           "DeviceSetup", "resolve_mixed_precision", "dtype_policy", "scaled_loss",
           "unscaled_gradients"]
