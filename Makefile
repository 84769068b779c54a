# The two commands of the README:
#   make book   build the course website into _build/html (creates .venv first if needed)
#   make test   run the whole test suite, a strict build of the book included (same .venv)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Stamp file: the venv is (re)installed when requirements.txt or pyproject.toml change.
READY  := $(VENV)/.installed
# Notebook outputs are cached (jupyter-cache) and keyed on each notebook's code. They also depend on
# lenet_helpers, so when it (or a pinned version) changes, the cache and Sphinx's saved state are dropped
# and every notebook runs again. With nothing changed, a rebuild executes nothing.
FRESH  := _build/.outputs-fresh

.DEFAULT_GOAL := help
.PHONY: help book test lab venv clean

help:
	@echo "make book    build the website into _build/html (sets up .venv on first use)"
	@echo "make test    run the tests, including a strict build of the whole book"
	@echo "make lab     open the chapters in JupyterLab"
	@echo "make clean   remove _build (the website and the notebook execution cache)"

venv: $(READY)

$(READY): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	  echo "error: the course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "       Run with another interpreter, e.g.: make book PYTHON=python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable .
	@touch $@

$(FRESH): $(wildcard lenet_helpers/*.py _ext/*.py) requirements.txt
	rm -rf _build/.jupyter_cache _build/.doctrees
	@mkdir -p _build && touch $@

book: $(READY) $(FRESH)
	$(BIN)/jupyter-book build . --builder html --warningiserror --keep-going
	@echo "The website is in _build/html: open _build/html/index.html"

test: $(READY)
	$(BIN)/python -m pytest

lab: $(READY)
	$(BIN)/jupyter lab chapters/

clean:
	rm -rf _build
