# Two commands do all set-up on a fresh machine:
#   make train   - trains the default DCGAN on the bundled MNIST-5k (the main job)
#   make test    - runs the whole test suite, Keras 3 / PyTorch oracles included
#   make bench   - times the layers, the DCGAN iteration and a training step against PyTorch
#                  and writes benchmarks/RESULTS.md (about 10 minutes)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/default
# The oracles the tests compare against (torch 2.13.0 is the CPU build available offline here).
ORACLES := torch==2.13.0 keras==3.15.1

.PHONY: venv test demo train bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]' $(ORACLES)
	touch $@

venv: $(VENV)/.test-installed

test: $(VENV)/.test-installed
	KERAS_BACKEND=torch $(BIN)/python -m pytest

demo: $(VENV)/.installed
	$(BIN)/upsampling demo --out runs/demo

train: $(VENV)/.installed
	$(BIN)/upsampling train --out $(OUT)

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/bench_api.py

clean:
	rm -rf $(VENV) runs build *.egg-info
