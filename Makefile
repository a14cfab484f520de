# Temporary-password dial-in: one-command setup, tests and run (see README).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system rootfs sounds test test-fast run load lint clean

setup: system $(STAMP) rootfs sounds
	@echo "setup: done ($$($(PY) --version), $$(sipp -v 2>/dev/null | grep -o 'SIPp v[0-9.]*' | head -1))"

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)
	@echo "venv: installed"

rootfs:
	@bash scripts/build-rootfs.sh

sounds: $(STAMP)
	@$(VENV)/bin/ivrctl sounds

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

run: $(STAMP)
	@$(VENV)/bin/ivrctl run --demo

CALLS ?= 300
RATE ?= 15
# N full dial-ins from test subscribers against the running stack (same IVR_* environment).
load: $(STAMP)
	@$(VENV)/bin/ivrctl load --calls $(CALLS) --rate $(RATE)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	-@test -x $(VENV)/bin/ivrctl && $(VENV)/bin/ivrctl stack down
	rm -rf var .pytest_cache .ruff_cache
