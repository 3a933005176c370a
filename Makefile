# kale-argo: `make run` runs the seed example locally, `make test` passes the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# The checkout on sys.path through a .pth line: setuptools' default editable finder costs every
# Python process ~12 ms at start (pathlib and more), which an installed package does not.
EDITABLE := --config-settings editable_mode=compat

.PHONY: install run test lint golden bench bench-quick e2e clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' $(EDITABLE)
	touch $(STAMP)

install: $(STAMP)

# Only what running needs (the `run` extra), with pip's progress; `make install` adds the dev tools.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[run]' $(EDITABLE)
	touch $(RUN_STAMP)

run: $(RUN_STAMP)  ## install what running needs, then run examples/binary_classification.py locally
	$(PY) examples/binary_classification.py

test: install  ## install, then run the test suite (the e2e suite is collected and skips without kind)
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check kale_argo tests bench e2e examples
	$(PY) -m mypy

golden: install  ## regenerate tests/golden/*.yaml (every example compiled); review and commit the diff
	$(PY) tests/golden/update.py

bench: install  ## the benchmarks; writes bench/RESULTS.md
	$(PY) bench/run_all.py

bench-quick: install
	$(PY) bench/run_all.py --quick

e2e: install  ## the kind e2e suite: needs Docker, kind's image and the internet
	$(PY) -m pip install -q -e '.[dev,e2e]'
	KALE_ARGO_E2E=1 $(PY) -m pytest -v e2e

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .kale-runs bench/.data
