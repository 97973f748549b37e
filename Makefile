# Quick start: `make demo` trains on the embedded synthetic data; `make test` runs the test suite.
# `make bench` measures training speed, data loading, trial overhead and tSNE at the real data size (~15 min).
# All create .venv and install the dependencies on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench clean

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# Legacy Keras 2 (needed by real candle_lib); --no-deps keeps the CPU TensorFlow build.
	$(PY) -m pip install --quiet --no-deps "tf-keras==2.21.*"
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) Tybalt/tybalt_baseline_keras2.py --output_dir Output/demo

test: $(INSTALLED)
	$(PY) -m pytest -q tests

bench: $(INSTALLED)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) Output
