# The README's two commands are `make demo` and `make test`; both install what they need and
# are safe to run again.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := iproute2 nftables tshark libusrsctp-examples nmap conntrack
STAMP := $(VENV)/.installed

.PHONY: demo test setup system-packages venv lint typecheck layers pytest bench clean

demo: setup
	$(BIN)/sctpctl demo

test: setup
	@status=0; \
	echo "== ruff"; $(BIN)/ruff check src tests bench || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check src tests bench || status=1; \
	echo "== mypy --strict src"; $(BIN)/mypy || status=1; \
	echo "== import-linter"; $(BIN)/lint-imports || status=1; \
	echo "== pytest"; $(BIN)/pytest $(PYTEST_ARGS) || status=1; \
	exit $$status

setup: system-packages venv

# Debian packages the tests and the lab use; installed only when missing.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || \
	  { echo "could not install:$$missing (needs root or passwordless sudo)"; exit 3; }; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests bench && $(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

layers: setup
	$(BIN)/lint-imports

pytest: setup
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
