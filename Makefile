# The two commands of the README:
#   make book   build the course website into _build/html (creates .venv first if needed)
#   make test   run the whole test suite, a strict build of the book included (same .venv)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Stamp file: the venv is (re)installed when requirements.txt or pyproject.toml change.
READY  := $(VENV)/.installed
UV_INSTALL = "$$uv" pip install --quiet --python $(BIN)/python
# Notebook outputs are cached (jupyter-cache) and keyed on each notebook's code. They also depend on the package,
# the extensions, MNIST and the versions installed: tools/editions.py drops the cache and Sphinx's saved state when
# any of those changed (its execution key), and every notebook runs again. With nothing changed, a rebuild executes
# nothing, and make test builds from the same cache.
# Stamp of the npm install of the site's front-end files (assets/package-lock.json).
ASSETS := assets/node_modules/.package-lock.json
export CHROMIUM
# Python saves each module it compiles (__pycache__) and reads it back the next time: PyTorch then imports in about
# 3 s instead of 6, in every notebook's kernel and every test process. Some environments (Docker images, CI
# machines) turn that off with PYTHONDONTWRITEBYTECODE; the course's commands turn it back on for their own venv.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help book test lab venv clean prerequisites prerequisites-book bench relocate setup-cells colab lint-workflows translations

help:
	@echo "make book    build the website into _build/html, English and Chinese (sets up .venv on first use)"
	@echo "make test    run the tests, including a strict build of the whole book"
	@echo "make lab     open the chapters in JupyterLab"
	@echo "make bench   measure training speed, the faithful LeNet-5's error and the book's build time"
	@echo "make translations   after an English edit: update the Chinese catalogs (locales/) and notebooks (chapters/zh_CN), list what to translate"
	@echo "make clean   remove _build (the website and the notebook execution cache)"
	@echo "make colab   Colab simulated: build the package, run every chapter against it in a fresh environment"
	@echo "make relocate REPOSITORY=https://github.com/OWNER/NAME   move the course (a fork, say) to that repository"
	@echo "make setup-cells   rewrite the chapters' set-up cells after changing lenet_helpers.__version__"
	@echo "make lint-workflows   check .github/workflows with jactionlint and zizmor (make test does too)"

venv: $(READY)

$(READY): requirements.txt pyproject.toml
	@PYTHON="$(PYTHON)" tools/prerequisites.sh check python
	@# A .venv without pip is what a failed `python3 -m venv` leaves (Debian without python3-venv): make it again.
	@if [ -e $(BIN)/python ] && ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
	  echo "$(VENV) is incomplete (it has no pip): making it again"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON) -m venv' failed. Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	@# uv installs the same pins about 7× faster than pip: the uv on PATH, else uv bootstrapped into the
	@# venv from PyPI; if neither works, pip. requirements.txt stays the one list of versions.
	@uv=$$(command -v uv || true); \
	if [ -z "$$uv" ] && $(BIN)/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then \
	  uv=$(BIN)/uv; fi; \
	if [ -n "$$uv" ] && $(UV_INSTALL) -r requirements.txt && $(UV_INSTALL) --no-deps --editable .; then \
	  echo "installed requirements.txt with $$uv"; \
	else \
	  echo "installing requirements.txt with pip (uv was not available, or failed)"; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable .; \
	fi
	@touch $@

# The website's own copies of MathJax, require.js, the widget manager and anywidget (no CDN), from npm.
$(ASSETS): assets/package.json assets/package-lock.json
	@tools/prerequisites.sh check node
	npm ci --prefix assets --no-audit --no-fund --loglevel=error
	@touch $@

# Both editions: English into _build/html, Chinese into _build/html/zh-cn (its outputs from the English build's
# execution cache: no notebook runs twice). See tools/editions.py.
book: prerequisites-book $(READY) $(ASSETS)
	$(BIN)/python tools/editions.py build
	@echo "The website is in _build/html: open _build/html/index.html (中文版: _build/html/zh-cn/index.html)"

# After an English edit: update locales/zh_CN/LC_MESSAGES/*.po and chapters/zh_CN/*.ipynb, list what is untranslated or fuzzy.
translations: $(READY)
	$(BIN)/python tools/editions.py update

# Two pytest workers: the book's strict build starts in the background as the tests start (with make book's
# execution cache when its key is still valid), both workers run the tests that do not need it, then the book's
# tests on the one build (tests/conftest.py).
TEST_WORKERS ?= 2
test: prerequisites $(READY) $(ASSETS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# What make book and make test need beyond the venv, checked before anything is installed (tools/prerequisites.sh):
# Python, Node.js and npm, a font with Chinese glyphs, and for the browser tests a Chromium.
prerequisites-book:
	@PYTHON="$(PYTHON)" tools/prerequisites.sh check python node font

prerequisites:
	@PYTHON="$(PYTHON)" tools/prerequisites.sh check python node font browser

# The course's headline numbers on this machine (CPU or GPU): see benchmarks/bench.py.
bench: $(READY) $(ASSETS)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lab: $(READY)
	$(BIN)/jupyter lab chapters/

clean:
	rm -rf _build

# Publishing (see the README, "Publish your own copy"). relocate and setup-cells need only Python, no .venv.
relocate:
	@test -n "$(REPOSITORY)" || { \
	  echo "error: say where the course now lives: make relocate REPOSITORY=https://github.com/OWNER/NAME"; exit 2; }
	@$(PYTHON) tools/relocate.py "$(REPOSITORY)"

setup-cells:
	@$(PYTHON) tools/relocate.py --setup-cells

# Google Colab, simulated (tools/colab.py): the built wheel in a fresh venv with only torch and torchvision,
# every chapter executed outside the checkout. Minutes: .ci/run runs it after make test.
colab: $(READY)
	$(BIN)/python tools/colab.py $(COLAB_ARGS)

# The same checks as tests/test_workflows.py, on their own.
lint-workflows: $(READY)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jactionlint
	$(BIN)/zizmor --offline .github/workflows
