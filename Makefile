# adamllm-hub developer commands. Every target works on a fresh clone: it creates .venv and installs
# the project (pinned, see pyproject.toml) when the venv is missing or older than pyproject.toml.
.PHONY: install quickstart ablate test test-fast test-readme style quality clean chromium

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
export HF_HUB_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
export ADAMLLM_TINY_CACHE ?= $(CURDIR)/.cache/tiny
CHECK_DIRS := hub_tools tests metrics dataset_scripts spaces benchmarks scripts

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

quickstart: install
	$(VENV)/bin/adamllm quickstart --output outputs/quickstart $(if $(OVERWRITE),--overwrite)

# The paper's ablations in miniature (docs/ablations.md): SEEDS=3 by default; 23 minutes from nothing measured on
# the 2-core development box at load 1.3-2 (benchmarks/RESULTS.md). A second run into the same folder needs OVERWRITE=1.
SEEDS ?= 3
ablate: install
	$(VENV)/bin/adamllm ablate --output outputs/ablate --seeds $(SEEDS) $(if $(OVERWRITE),--overwrite)

# Debian chromium for the browser test (tests/test_space.py); installed only when CI is set.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  case "$${CI:-}" in \
	    true|TRUE|True|1|yes) echo "installing Debian chromium for the browser test (tests/test_space.py)"; \
	      SUDO=""; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	      $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ;; \
	    *) echo "note: /usr/bin/chromium is missing, so the browser test is skipped (with CI=true, make test installs it)" ;; \
	  esac; \
	fi

# Two pytest workers (pytest-xdist), a test file per worker: on a 2-core box many tests wait on a subprocess, a
# server or a sleep, so two workers keep both cores busy. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: install chromium
	$(PY) -m pytest tests -q --durations=15 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test-fast: install
	$(PY) -m pytest tests -q -m "not slow"

# Runs the README (scripts/check_readme.py): every shell block not marked `# readme-check: skip`, in order, in a
# fresh temporary folder; fails on a non-zero exit, a traceback or a warning line. Long: not part of `make test`.
test-readme: install
	$(PY) scripts/check_readme.py

style: install
	$(VENV)/bin/ruff format $(CHECK_DIRS)
	$(VENV)/bin/ruff check --fix $(CHECK_DIRS)

quality: install
	$(VENV)/bin/ruff check $(CHECK_DIRS)
	$(VENV)/bin/ruff format --check $(CHECK_DIRS)

clean:
	rm -rf .cache outputs .pytest_cache .ruff_cache
