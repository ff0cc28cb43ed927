# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgresql bench coverage clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# An editable install leaves our modules uncompiled, and with PYTHONDONTWRITEBYTECODE set every launch of the inbox
# would compile them again (~0.05 s of its cold start): compiled once here, as pip does for a package it installs.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q app core widgets
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wabox demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The tests that touch the database, again on a PostgreSQL server of their own (tests/pg_server.py; Debian's
# `postgresql` package). The others do not touch it and ran in `make test`; tests of SQLite itself are
# marked sqlite_only (tests/conftest.py).
test-postgresql: $(STAMP)
	$(BIN)/python -m pytest -q --db=postgresql

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# Branch coverage of the receiver, ingest, the outbox and the text sanitiser: at least 95% each (pyproject.toml
# [tool.coverage]), the `wabox serve` processes the tests start included. Not part of `make test` (~1 min more on
# the 2-core machine). The Hypothesis fuzz is left out so that the figure does not change with its random examples.
COVERED_MODULES := server writer_process raw_events asgi ingest outbox text
COVERAGE_TESTS  := $(addprefix tests/core/test_,$(addsuffix .py, \
	server receiver_limits receiver_stores receiver_floods receiver_edges receiver_batch \
	ingest ingest_content ingest_edges identity session_rules webhooks \
	outbox outbox_token outbox_kill outbox_edges sending text))

coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/python -m coverage run -m pytest -q $(COVERAGE_TESTS)
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report
	@for module in $(COVERED_MODULES); do \
	  $(BIN)/python -m coverage report --include="*/core/$$module.py" >/dev/null \
	    || { echo "core/$$module.py: branch coverage below 95%"; exit 1; }; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .coverage .coverage.*
