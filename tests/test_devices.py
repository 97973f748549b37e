"""Device selection (issue 17): the gpus parameter counts among the GPUs CUDA_VISIBLE_DEVICES leaves visible, a GPU
that is not there is an input error, the start-up line says what TensorFlow sees, the XLA rule knows GPUs, and
`make install-gpu` installs the CUDA build of the required TensorFlow."""

import os
import re
import subprocess

import pytest

from conftest import REPO, TINY_FLAGS, run_entry_point
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.parameters import check_parameters
from tybalt_core.models.backend import DeviceSetup, configure_devices, describe_devices, select_gpus
from tybalt_core.train.training import resolve_jit_compile

H200 = DeviceSetup(requested=(1,), gpu_names=("GPU:1 NVIDIA H200",), compute_capabilities=((9, 0),))


def test_no_gpus_parameter_uses_every_visible_gpu_or_the_cpu():
    assert select_gpus(4, (), None) == [0, 1, 2, 3]
    assert select_gpus(0, (), "") == []


def test_gpus_picks_among_the_visible_gpus_by_index():
    assert select_gpus(4, (2,), None) == [2]
    assert select_gpus(2, (1, 0), "5,7") == [1, 0]  # indices among the GPUs CUDA_VISIBLE_DEVICES left visible


def test_gpus_cannot_widen_what_cuda_visible_devices_leaves_visible():
    with pytest.raises(TybaltInputError, match=r"gpus = \[3\] names GPU 3, but CUDA_VISIBLE_DEVICES='5' leaves 1 "
                                               r"visible"):
        select_gpus(1, (3,), "5")
    with pytest.raises(TybaltInputError, match="TensorFlow sees 0"):
        select_gpus(0, (0,), None)


def test_a_gpu_named_twice_is_refused():
    with pytest.raises(TybaltInputError, match="names a GPU twice"):
        select_gpus(2, (0, 0), None)


def test_device_line_names_the_gpus_their_capability_and_cuda_visible_devices():
    line = describe_devices(2, H200, "4,5", built_with_cuda=True)
    assert line == ("devices: TensorFlow sees the CPU and 2 GPUs (CUDA_VISIBLE_DEVICES='4,5'); training on "
                    "GPU:1 NVIDIA H200 (compute capability 9.0) (gpus = [1]), memory growth on")


def test_device_line_on_a_cpu_build_says_how_to_get_the_gpu_build():
    line = describe_devices(0, DeviceSetup(requested=()), None, built_with_cuda=False)
    assert line.endswith("(CUDA_VISIBLE_DEVICES not set, a TensorFlow build without CUDA: `make install-gpu` "
                         "installs one); training on the CPU")


def test_devices_are_chosen_once_per_process():
    setup = configure_devices([])
    assert configure_devices(()) is setup and not setup.uses_gpu  # this machine has no GPU
    with pytest.raises(TybaltInputError, match="TensorFlow picks its devices once per process"):
        configure_devices([0])


def test_gpus_arrives_as_a_list_of_integers_from_any_source():
    assert check_parameters({"gpus": "0 1"})["gpus"] == [0, 1]  # Supervisor text
    assert check_parameters({"gpus": 2})["gpus"] == [2]
    assert check_parameters({"gpus": []})["gpus"] == []
    for bad in (["x"], "-1"):
        with pytest.raises(TybaltInputError, match=r"is not a valid GPU index \(0, 1, ...\)"):
            check_parameters({"gpus": bad})


def test_xla_rule_on_a_gpu_adds_adage_and_large_batches_and_keeps_the_step_minimum():
    full = {"epochs": 100, "n_train": 9413}
    assert resolve_jit_compile("auto", "adage", batch_size=50, on_gpu=True, **full)
    assert resolve_jit_compile("auto", "vae", batch_size=1000, on_gpu=True, **full)
    assert not resolve_jit_compile("auto", "ae", batch_size=50, on_gpu=True, **full)
    assert not resolve_jit_compile("auto", "vae", epochs=2, n_train=540, batch_size=50, on_gpu=True)
    assert not resolve_jit_compile("auto", "adage", batch_size=50, **full)  # CPU rule unchanged
    assert not resolve_jit_compile("false", "vae", batch_size=50, on_gpu=True, **full)


def test_run_logs_the_devices_once_and_a_missing_gpu_is_one_error_line(tmp_path, shared_data_dir):
    flags = [*TINY_FLAGS, "--data_dir", shared_data_dir]
    trained = run_entry_point(*flags, "--output_dir", str(tmp_path / "cpu"))
    assert trained.returncode == 0, trained.stderr[-2000:]
    device_lines = [line for line in trained.stderr.splitlines() if "devices: TensorFlow sees" in line]
    assert len(device_lines) == 1 and device_lines[0].endswith("training on the CPU")
    assert "CUDA_VISIBLE_DEVICES not set" in device_lines[0]

    refused = run_entry_point(*flags, "--output_dir", str(tmp_path / "gpu"), "--gpus", "0",
                              env={"CUDA_VISIBLE_DEVICES": ""})
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "tybalt: error: gpus = [0] names GPU 0, but CUDA_VISIBLE_DEVICES='' leaves 0 visible")
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "gpu").exists()


def test_install_gpu_installs_the_cuda_build_of_the_required_tensorflow_version(tmp_path):
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        version = re.search(r"^tensorflow-cpu==(\S+)", handle.read(), re.MULTILINE).group(1)
    venv = tmp_path / "venv"
    plan = subprocess.run(["make", "-n", "install-gpu", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True,
                          timeout=60).stdout
    assert f'"tensorflow[and-cuda]=={version}"' in plan and f'--no-deps "tf-keras=={version}"' in plan
    assert f"touch {venv}/.gpu-build" in plan  # later reinstalls keep the CUDA build
    assert "uninstall --quiet --yes tensorflow-cpu" in plan
    assert not venv.exists()  # a dry run
