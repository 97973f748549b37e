# Quick start: `make demo` trains on the embedded synthetic data and writes the analysis report; `make test` runs the test suite.
# Both create .venv and install the dependencies on first use.
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
	$(PY) Tybalt/tybalt_baseline_keras2.py --output_dir Output/demo --analyze true --tsne true

test: $(INSTALLED)
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) Output
