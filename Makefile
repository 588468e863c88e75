# Two commands on a fresh machine (Python 3.11):  make run   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test setup browser clean-index

run: setup              ## install everything, then serve the chat page on the seed articles
	$(BIN)/python app.py

test: setup browser     ## install everything, then run the tests (the browser ones included)
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

# torch is pinned to the CPU build on this machine's disk: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[st,test]'
	touch $@

browser:                ## Debian's chromium drives the browser tests (a tool's own browser download fails here)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

clean-index:
	find index -mindepth 1 ! -name .gitignore -exec rm -rf {} +
