# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install check golden schemas bench testbed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]' --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q compiler  # bytecode even where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

install: $(STAMP)

## compile every example (workloads under examples/) to stdout, then check them all
run: $(STAMP)
	@for f in $$(ls examples/*.yaml); do \
	  echo "# ---- $$f"; $(BIN)/compile -p examples/policies -t examples/templates "$$f" || exit 1; \
	done
	$(BIN)/compile check -p examples/policies -t examples/templates examples/*.yaml

## the whole test suite; first builds the test control plane from source (cached after the first run)
test: $(STAMP) testbed
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/compile check examples/*.yaml

golden: $(STAMP)
	$(BIN)/compile golden --update

schemas: $(STAMP)
	$(BIN)/compile schema manifest > schemas/manifest.schema.json
	$(BIN)/compile schema policy > schemas/policy.schema.json

bench: $(STAMP)
	$(BIN)/python bench/bench.py

## kube-apiserver, etcd, JobSet, kwok... built from pinned Go modules (needs go; skipped without it)
testbed:
	@if command -v go >/dev/null 2>&1; then bash testbed/build.sh; \
	else echo "go not found: the cluster tests will be skipped"; fi

clean:
	rm -rf $(VENV) .pytest_cache
