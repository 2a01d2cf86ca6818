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
	$(PY) -m pip install -q --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(DEMO_STAMP)

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
