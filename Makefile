# Quick start: `make demo` trains on the embedded synthetic data and writes the analysis report;
# `make test` runs the test suite; `make toy` runs the 3-gene teaching example (PCA vs shallow and deep autoencoders).
# `make bench` measures training speed, data loading, trial overhead and tSNE at the real data size
# (~9 min on a quiet 2-core machine, ~20 min on a busy one).
# All create .venv and install the dependencies on first use.
# `make install-gpu` sets up the same .venv with the CUDA build of the same TensorFlow version instead (Linux x86-64,
# NVIDIA driver >= 525); the .venv then stays a GPU one: demo, test and reinstalls after a requirements.txt change
# keep the CUDA build (`make clean` to go back to the CPU build).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
GPU_BUILD := $(VENV)/.gpu-build
TF_VERSION := $(shell sed -n 's/^tensorflow-cpu==\([^ ]*\).*/\1/p' requirements.txt)

.PHONY: demo test bench clean toy workflows install-gpu

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	if [ -f $(GPU_BUILD) ]; then \
	  $(PY) -m pip uninstall --quiet --yes tensorflow-cpu; \
	  grep -v '^tensorflow-cpu' requirements.txt > $(VENV)/requirements-gpu.txt; \
	  $(PY) -m pip install --quiet "tensorflow[and-cuda]==$(TF_VERSION)" -r $(VENV)/requirements-gpu.txt; \
	else \
	  $(PY) -m pip install --quiet -r requirements.txt; \
	fi
	# Legacy Keras 2 (needed by real candle_lib); --no-deps keeps the TensorFlow build installed above.
	$(PY) -m pip install --quiet --no-deps "tf-keras==$(TF_VERSION)"
	touch $(INSTALLED)

# The CUDA build of TensorFlow $(TF_VERSION) (tensorflow[and-cuda]: CUDA and cuDNN come as pip packages) in place of
# tensorflow-cpu, with the same other requirements; then prints the GPUs TensorFlow sees.
install-gpu:
	$(PYTHON) -m venv $(VENV)
	touch $(GPU_BUILD)
	rm -f $(INSTALLED)
	$(MAKE) --no-print-directory $(INSTALLED)
	$(PY) -c "import tensorflow as tf; print('GPUs TensorFlow sees:', tf.config.list_physical_devices('GPU'))"

demo: $(INSTALLED)
	$(PY) Tybalt/tybalt_baseline_keras2.py --output_dir Output/demo --analyze true --tsne true --overwrite true

toy: $(INSTALLED)
	$(PY) examples/basic_autoencoders.py --output_dir Output/toy

test: $(INSTALLED)
	$(PY) -m pytest -q --durations=15 tests

# Regenerate the Supervisor files (UPF, mlrMBO .R, cfg-*.sh, Biowulf .in) from workflows/*.yaml.
workflows: $(INSTALLED)
	$(PY) Tybalt/workflow_files.py

bench: $(INSTALLED)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) Output
