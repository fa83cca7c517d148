# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install check golden schemas bench testbed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	touch $(STAMP)

install: $(STAMP)

## compile every example (workloads under examples/) to stdout, then check them all
run: $(STAMP)
	@for f in $$(ls examples/*.yaml); do \
	  echo "# ---- $$f"; $(BIN)/compile -p examples/policies -t examples/templates "$$f" || exit 1; \
	done
	$(BIN)/compile check -p examples/policies -t examples/templates examples/*.yaml

## the whole test suite (the cluster tests build the control plane on first use)
test: $(STAMP)
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

testbed:
	bash testbed/build.sh

clean:
	rm -rf $(VENV) .pytest_cache
