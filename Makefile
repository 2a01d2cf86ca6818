# libchatty: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed
FUZZ_SECONDS ?= 15
# The editable install is a link tree (build/__editable__.*, one link per source file, put
# on sys.path by a .pth entry) rather than setuptools' default import hook: mypy and pyright
# follow a path entry but not a hook, so a user's own code type-checks against libchatty.
# The price: a new module needs a re-install, so the install stamps depend on the list of
# source files (rewritten only when a file is added or removed), not only on pyproject.toml.
EDITABLE := --config-settings editable_mode=strict
SOURCE_LIST := $(VENV)/.source-list
SOURCES := $(sort $(wildcard src/libchatty/*.py src/libchatty/*/*.py src/libchatty/py.typed \
	bindings/*.py))

.PHONY: demo test lint typecheck pytest fuzz-smoke fuzz bench mutate clean FORCE

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Touched only when the set of source files changes (make compares the file's time after
# running this, so an unchanged list triggers no re-install).
$(SOURCE_LIST): FORCE | $(VENV)/bin/python
	@echo '$(SOURCES)' | cmp -s - $@ || echo '$(SOURCES)' > $@

# Install output goes to a log, shown only when the install fails.
$(DEMO_STAMP): pyproject.toml $(SOURCE_LIST) | $(VENV)/bin/python
	@echo "installing libchatty into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install $(EDITABLE) -e . >$(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
	@touch $@

$(STAMP): pyproject.toml $(SOURCE_LIST) | $(VENV)/bin/python
	@echo "installing libchatty and its test dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install $(EDITABLE) -e '.[test]' >$(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
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

# Mutation testing (not part of `make test`): `make mutate` or `make mutate MODULES="lines sse"`;
# the report is mutate/REPORT.md.
MODULES ?= --all
mutate: $(STAMP)
	nice -n 19 $(PY) mutate/run.py $(MODULES)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .bench-venv build .mypy_cache .ruff_cache .pytest_cache .hypothesis
