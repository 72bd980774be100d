# Two commands do all set-up on a fresh machine:
#   make train   - trains the default DCGAN on the bundled MNIST-5k (the main job)
#   make test    - runs the whole test suite, Keras 3 / PyTorch oracles included
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/default

.PHONY: venv test demo train clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q torch==2.13.0 keras
	touch $@

venv: $(VENV)/.installed

test: venv
	KERAS_BACKEND=torch $(BIN)/python -m pytest

demo: venv
	$(BIN)/upsampling demo --out runs/demo

train: venv
	$(BIN)/upsampling train --out $(OUT)

clean:
	rm -rf $(VENV) runs build *.egg-info
