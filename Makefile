# Temporary-password dial-in: one-command setup, tests and run (see README).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system rootfs image-roots images secrets sounds test test-fast run load lint clean

setup: system $(STAMP) rootfs sounds image-roots
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

# The deployment images' root file systems (debootstrap, cached in $IVR_CACHE_DIR/images).
image-roots: $(STAMP)
	@bash scripts/build-image-roots.sh

# The deployment images, into the Docker engine at $$DOCKER_HOST (docs/operations.md "Images").
images: $(STAMP)
	@bash scripts/build-images.sh

# The compose deployments' secret files in docker/secrets (kept when present).
secrets:
	@bash scripts/make-secrets.sh

sounds: $(STAMP)
	@$(VENV)/bin/ivrctl sounds

test: $(STAMP)
	$(PY) -m pytest -q --durations=30

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
