# VisSweep: `make sweep` runs the demo sweep, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build of torch for dev/CI machines; a GPU box overrides it, e.g. `make setup TORCH_SPEC=torch`
# (see README: GPU install). An unpinned torch pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
EXTRAS ?= test
SWEEP_CONFIG ?= sweeps/configs/demo.yaml
PYTEST_ARGS ?=

.PHONY: setup sweep test bench report clean-results browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

setup: $(VENV)/.installed

sweep: setup
	$(BIN)/python jobs/sweep.py --config $(SWEEP_CONFIG)

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/python jobs/bench.py strategies

clean-results:
	rm -rf results mlflow.db mlruns

# headless Chromium for tests/dashboards/test_mlflow_ui_browser.py (Debian package; needs root/apt)
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) \
	  || echo "browser-deps: could not install chromium; the browser tests will skip"
