# libchatty: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed
FUZZ_SECONDS ?= 15

.PHONY: demo test lint typecheck pytest fuzz-smoke fuzz bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Install output goes to a log, shown only when the install fails.
$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing libchatty into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install -e . >$(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing libchatty and its test dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install -e '.[test]' >$(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m libchatty --stats

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy --strict src/libchatty bindings
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q
	$(MAKE) fuzz-smoke

fuzz-smoke: $(STAMP)
	$(PY) fuzz/run.py --smoke --seconds $(FUZZ_SECONDS)

# A long campaign: `make fuzz TARGET=sse SECONDS=3600` (see fuzz/README.md).
fuzz: $(STAMP)
	$(PY) fuzz/run.py --target $(TARGET) --seconds $(SECONDS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .bench-venv .mypy_cache .ruff_cache .pytest_cache .hypothesis
