# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Every Python package comes from a lock with hashes (requirements/*.lock), so the same bytes are
# installed on any day; `make lock` refreshes the locks (commit the result like any other change).
PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
FRAMEWORKS ?= .venv-frameworks
UV         := $(BIN)/uv
# uv's own settings: no downloaded Python, no config files from the machine, quiet progress
export UV_PYTHON_DOWNLOADS := never
export UV_NO_CONFIG := 1
export UV_NO_PROGRESS := 1

.PHONY: run test install lint typecheck imports unit cluster frameworks compat fresh lock check golden \
        schemas bench bytecode testbed yamlcheck clean

$(STAMP): requirements/dev.lock requirements/bootstrap.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
	    -r requirements/bootstrap.lock
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes \
	    requirements/dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation \
	    --config-settings editable_mode=compat -e .
	$(BIN)/python -m compileall -q compiler  # bytecode even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

install: $(STAMP)

# the project's own bytecode, brought up to date before the suite and the benchmark (a pull may add
# modules after the install compiled compiler/; PYTHONDONTWRITEBYTECODE means nothing else writes it)
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q compiler

# the examples' workloads are written against the examples' policies and templates
EXAMPLES   := -p examples/policies -t examples/templates

## compile every example (workloads under examples/) to stdout, then check them all
run: $(STAMP)
	@for f in $$(ls examples/*.yaml); do \
	  echo "# ---- $$f"; $(BIN)/compile $(EXAMPLES) "$$f" || exit 1; \
	done
	$(MAKE) --no-print-directory check

## the whole suite: lint and types, the examples checked, the core tests, then the cluster tests on
## the real control plane (built from source the first time, cached after) inside a network
## namespace that has only loopback
test: lint check unit cluster

lint: $(STAMP)
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

unit: $(STAMP) yamlcheck bytecode
	$(BIN)/python -m pytest -q --ignore=tests/cluster $(PYTEST_ARGS)

cluster: $(STAMP) testbed frameworks
	testbed/isolated $(BIN)/python -m pytest -q tests/cluster $(PYTEST_ARGS)

## torch, jax, xgboost and Ray for the pods that the testbed really runs (several GB; cached)
frameworks: $(FRAMEWORKS)/.installed
$(FRAMEWORKS)/.installed: requirements/frameworks.lock $(STAMP)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(FRAMEWORKS)
	$(UV) pip sync --quiet --compile-bytecode --python $(FRAMEWORKS)/bin/python --require-hashes \
	    requirements/frameworks.lock
	touch $@

## a new machine for the Python side: a fresh clone of HEAD, a new empty HOME (no pip, uv or
## pre-commit cache), then `make install unit` there (the Go caches stay warm)
fresh:
	bash tests/fresh-machine.sh

## the compatible ranges of pyproject.toml at their newest and lowest, for those who install the
## library into their own environment (the lock above is what `make test` uses)
compat: $(STAMP)
	bash tests/compat.sh highest
	bash tests/compat.sh lowest-direct

## refresh every lock from pyproject.toml and requirements/*.in
lock: $(STAMP)
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	    requirements/bootstrap.in -o requirements/bootstrap.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	    pyproject.toml requirements/build.in --extra test --extra dev -o requirements/dev.lock
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	    pyproject.toml -c requirements/dev.lock -o requirements/runtime.lock
	$(UV) pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	    --generate-hashes requirements/frameworks.in -o requirements/frameworks.lock

## every example checked under the examples' policies and templates (part of make test)
check: $(STAMP)
	$(BIN)/compile check $(EXAMPLES) examples/*.yaml

golden: $(STAMP)
	$(BIN)/compile golden --update

schemas: $(STAMP)
	$(BIN)/compile schema manifest > schemas/manifest.schema.json
	$(BIN)/compile schema policy > schemas/policy.schema.json
	$(BIN)/python -m compiler.model.generate > compiler/model/records.py

bench: $(STAMP) bytecode
	$(BIN)/python bench/bench.py

## kube-apiserver, etcd, JobSet, kwok, KubeRay, Kueue... and the kubectl YAML reader the output is
## read back with, built from pinned Go modules (needs go; cached after the first build)
testbed: yamlcheck
	bash testbed/build.sh

yamlcheck:
	bash testbed/yamlcheck/build.sh >/dev/null

clean:
	rm -rf $(VENV) $(FRAMEWORKS) .venv-compat-* .pytest_cache .mypy_cache
