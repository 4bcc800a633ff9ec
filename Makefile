# wartemarke — developer entry points. `make demo` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck pytest bench clean wheelhouse test-deploy messages

setup: $(STAMP)

$(VENV)/.debian-packages: deploy/install-debian-packages.sh
	./deploy/install-debian-packages.sh
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml $(VENV)/.debian-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: export DEMO_OFFICES = $(OFFICES)
demo: setup
	$(BIN)/python -m demo

lint: setup
	$(BIN)/ruff check .
	cd deploy && ../$(BIN)/ansible-lint --offline site.yml rollback.yml
	cd deploy && ../$(BIN)/ansible-playbook --syntax-check site.yml rollback.yml

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck pytest

# The release the playbook installs: the project's wheel and every dependency (for this machine's
# architecture), so devices install without internet access.
wheelhouse: setup
	rm -rf dist/wheelhouse
	$(BIN)/python -m pip wheel -q --wheel-dir dist/wheelhouse .

# Applies deploy/site.yml for real to debootstrapped Debian roots (slow; the base root is cached).
test-deploy: setup wheelhouse
	$(BIN)/pytest -s -m provisioning -p no:xdist tests/test_provision.py

# The .pot from the German catalogue, and every language's .po brought up to it (README.md "Languages").
messages: setup
	$(BIN)/python -m devtools.messages

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache var test-artifacts
