# Two commands do all set-up on a fresh machine:
#   make train   - trains the default DCGAN on the bundled MNIST-5k (the main job)
#   make test    - runs the whole test suite, Keras 3 / PyTorch oracles included
#   make mutants - mutation testing of the numeric core (slow; not part of CI, see docs/testing.md)
#   make bench   - times the layers, the DCGAN iteration and a training step against PyTorch
#                  and writes benchmarks/RESULTS.md (about 10 minutes)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/default

.PHONY: venv test mutants demo train bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'  # the `test` extra pins the oracles (torch, keras)
	touch $@

venv: $(VENV)/.test-installed

test: $(VENV)/.test-installed
	KERAS_BACKEND=torch $(BIN)/python -m pytest

# Mutation testing over the modules listed in [tool.mutmut] (pyproject.toml). MUTANTS narrows it to
# mutant names, e.g. make mutants MUTANTS='upsampling.ops.activations*'. Results: mutants/, and
# `$(BIN)/mutmut results`.
MUTANTS ?=
mutants: $(VENV)/.test-installed
	$(BIN)/pip install -q -e '.[mutation]'
	KERAS_BACKEND=torch OMP_NUM_THREADS=1 $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

demo: $(VENV)/.installed
	$(BIN)/upsampling demo --out runs/demo

train: $(VENV)/.installed
	$(BIN)/upsampling train --out $(OUT)

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/bench_api.py

clean:
	rm -rf $(VENV) runs build *.egg-info
