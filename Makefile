# Quick start: `make demo` trains on the embedded synthetic data and writes the analysis report;
# `make test` runs the test suite; `make toy` runs the 3-gene teaching example (PCA vs shallow and deep autoencoders).
# `make bench` measures training speed, data loading, trial overhead and tSNE at the real data size
# (~9 min on a quiet 2-core machine, ~20 min on a busy one).
# All create .venv and install the dependencies on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench clean toy workflows

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# Legacy Keras 2 (needed by real candle_lib); --no-deps keeps the CPU TensorFlow build.
	$(PY) -m pip install --quiet --no-deps "tf-keras==2.21.*"
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) Tybalt/tybalt_baseline_keras2.py --output_dir Output/demo --analyze true --tsne true --overwrite true

toy: $(INSTALLED)
	$(PY) examples/basic_autoencoders.py --output_dir Output/toy

test: $(INSTALLED)
	$(PY) -m pytest -q tests

# Regenerate the Supervisor files (UPF, mlrMBO .R, cfg-*.sh, Biowulf .in) from workflows/*.yaml.
workflows: $(INSTALLED)
	$(PY) Tybalt/workflow_files.py

bench: $(INSTALLED)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) Output
