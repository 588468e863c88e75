# Two commands on a fresh machine (Python 3.11):  make run   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test check setup setup-test llm milvus browser clean-index

run: setup              ## install what serving needs, then serve the chat page on the seed articles
	$(BIN)/python app.py

test: setup-test browser ## install everything, then run the tests (the browser ones included)
	$(BIN)/python -m pytest

check: setup-test       ## lint, format check and type check (CI runs it before the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(VENV)/.installed-run
setup-test: $(VENV)/.installed-test

# torch is pinned to the CPU build on this machine's disk: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[reader]'
	touch $@

# The optional parts: written answers (llama.cpp compiles, ~6 min on 2 cores), Milvus, sentence-transformers
# and the test tools. -march=native would emit AMX instructions that this machine's CPU lists but its VM
# refuses (SIGILL), so llama.cpp's CPU features are named: AVX2/FMA/F16C (x86-64-v3).
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif
$(VENV)/.installed-test: $(VENV)/.installed-run
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip install --quiet -e '.[reader,st,test,llm,milvus]'
	touch $@

llm: setup              ## add written answers (QA_LLM): LangChain chat models and llama.cpp
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip install --quiet -e '.[reader,llm]'

milvus: setup           ## add the Milvus store (QA_STORE=milvus)
	$(BIN)/pip install --quiet -e '.[reader,milvus]'

browser:                ## Debian's chromium drives the browser tests (a tool's own browser download fails here)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

clean-index:
	find index -mindepth 1 ! -name .gitignore -exec rm -rf {} +
