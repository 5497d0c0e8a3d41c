# The two commands: `make run` (Switchboard on the local stack) and `make test`.
# Both set up everything they need: the virtual environment, the Python packages,
# DynamoDB Local (cached outside the clone) and moto's local AWS endpoints.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 3000

.PHONY: help setup run test test-clock bench sam-check lock clean

help:
	@echo "make run     start the local stack and serve the webhook routes on http://127.0.0.1:$(PORT)"
	@echo "make test    run the whole test suite (unit + integration on the local stack)"
	@echo "make test-clock  the suite again with the clock a year ahead, before a DST change, on a leap day, on New Year's Eve"
	@echo "             (CLOCKS=\"dst leap-day\" for some of them; before a release)"
	@echo "make bench   print the benchmark figures (tests/bench/)"
	@echo "make sam-check  sam validate --lint and sam build on template.yaml"
	@echo "make lock    refresh functions/requirements.txt (hash-pinned) from pyproject.toml's dependencies"
	@echo "make clean   remove the virtual environment and local data (.local/)"

# Recreated when the dependencies change. The functions' dependencies come from the
# hash-pinned lock first, exactly as `sam build` installs them, so the tests run against
# what deploys; then the package and its dev tools.
$(STAMP): pyproject.toml functions/requirements.txt infra/requirements-dev.txt
	@command -v java >/dev/null || infra/install-java.sh
	@command -v npm >/dev/null || { echo "npm is needed once to fetch DynamoDB Local (apt-get install npm)"; exit 1; }
	@test -x $(PY) || $$(infra/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r functions/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c infra/requirements-dev.txt -e '.[dev]'
	@touch $@

# The locks: functions/requirements.txt, what the functions ship (pyproject.toml's
# dependencies, every version pinned and every file hashed, for Python 3.11+ on any
# platform, Lambda's 3.12 arm64 included), resolved together with the dev tools'
# infra/requirements-dev.txt so that the tests run on exactly those pins. Run it after
# changing a dependency, then commit both files.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--custom-compile-command "make lock" --quiet -o infra/requirements-dev.txt
	$(VENV)/bin/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 \
		-c infra/requirements-dev.txt --custom-compile-command "make lock" --quiet -o functions/requirements.txt

setup: $(STAMP)
	@$(PY) -c "from local_stack.dynamodb_local import ensure_jar; ensure_jar()"

run: setup
	PORT=$(PORT) $(VENV)/bin/switchboard local up --port $(PORT)$(if $(PARAMETERS), --parameter-overrides $(PARAMETERS))

test: setup
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || infra/install-chromium.sh
	@# Our sources' bytecode, written even where PYTHONDONTWRITEBYTECODE is set: the suite
	@# starts hundreds of `switchboard` and local-stack processes, each would compile them.
	@$(PY) -m compileall -q -j 0 functions/switchboard infra tests >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

# Each moment is computed from today (infra/test_clock.py); CI runs plain `make test`.
test-clock: setup
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || infra/install-chromium.sh
	$(PY) infra/test_clock.py $(CLOCKS) -- $(PYTEST_ARGS)

bench: setup
	$(PY) tests/bench/run.py

sam-check:
	bash infra/sam-check.sh

clean:
	rm -rf $(VENV) .local
