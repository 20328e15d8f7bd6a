# handoccnet-lite: `make reproduce` and `make test` are the two commands a fresh clone needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     ?= $(shell command -v uv 2>/dev/null)
PYTEST_ARGS ?=
# pytest-xdist workers for make test: auto = one per core (0: one process, no workers)
PYTEST_WORKERS ?= auto

# Local wheel mirrors exist on some machines (torch is served from disk there); use them only
# when present so the same Makefile works on a laptop with plain PyPI.
UV_INDEX := --index-strategy unsafe-best-match \
	$(foreach d,/opt/pypi/simple /opt/pypi-more/simple,$(if $(wildcard $(d)),--extra-index-url file://$(d))) \
	$(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: help venv test lint reproduce lab lock bench assignments autograde feedback browser-test teach gpu-smoke clean-venv

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	@if [ -z "$(UV)" ]; then echo ">> installing uv (fast, locked installs)"; python3 -m pip install -q uv; fi
	@test -x $(PY) || uv venv -q $(VENV) --python 3.11 || uv venv -q $(VENV)
	VIRTUAL_ENV=$(VENV) uv pip sync -q requirements.lock --compile-bytecode $(UV_INDEX)
	VIRTUAL_ENV=$(VENV) uv pip install -q --no-deps --compile-bytecode -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (handoccnet-lite)" >/dev/null
	@touch $@

venv: $(VENV)/.installed  ## create or refresh .venv from requirements.lock

lint: venv  ## ruff over the package, tests, benchmarks and the notebooks' .py twins
	$(VENV)/bin/ruff check handoccnet_lite tests $(wildcard benchmarks notebooks/*.py)
	$(VENV)/bin/ruff check assignments
	$(VENV)/bin/ruff format --check handoccnet_lite tests $(wildcard benchmarks)

test: venv lint  ## ruff + the whole test suite (notebooks included), CPU only
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

reproduce: venv  ## run every notebook headless in quick mode (1 thread): redraw figures/ and the tables, print each one's wall and CPU time (data_samples/ is not regenerated)
	$(PY) -m handoccnet_lite.reproduce

lab: venv  ## JupyterLab on notebooks/
	$(VENV)/bin/jupyter lab notebooks/

bench: venv  ## the benchmark scripts (prints tables; numbers depend on the machine)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

assignments: venv  ## regenerate the student copies (assignments/release/) from the nbgrader sources
	$(PY) -m handoccnet_lite.assignments release

autograde: venv  ## grade assignments/submitted/<student>/<assignment>/*.ipynb -> assignments/grades.csv
	$(PY) -m handoccnet_lite.assignments autograde $(or $(SUBMISSIONS),assignments/submitted)

feedback: venv  ## HTML feedback for graded submissions (hidden tests removed)
	$(PY) -m handoccnet_lite.assignments feedback

teach: venv  ## continue a teaching model (VARIANT official, HOURS 2; LR: a new phase's lr, default the current phase's; START=dense: the run from a pre-trained backbone; INPUT=64: 64 px, feature stride 4), resumable, snapshots in results/teach/
	@test -f runs/synthocc_teach/train/manifest.json || $(VENV)/bin/handoccnet-lite data --out runs/synthocc_teach --n-train 24000 --n-test 1 --seed 7
	$(VENV)/bin/handoccnet-lite teach --variant $(or $(VARIANT),official) --hours $(or $(HOURS),2) $(if $(LR),--lr $(LR),) $(if $(START),--start $(START),) $(if $(INPUT),--input $(INPUT),)

gpu-smoke: venv  ## check a GPU machine in < 5 min (exit 2 without CUDA; CPU dry run: ARGS="--device cpu --quick")
	$(PY) benchmarks/gpu_smoke.py $(ARGS)

browser-test: venv  ## the attention explorer in JupyterLab + headless Chromium (needs apt chromium)
	$(VENV)/bin/pytest -q -m browser tests/test_browser.py

lock:  ## re-resolve requirements.lock from pyproject.toml (Linux x86_64, Python 3.11)
	uv pip compile pyproject.toml --extra test -o requirements.lock --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 $(UV_INDEX)

clean-venv:
	rm -rf $(VENV)
