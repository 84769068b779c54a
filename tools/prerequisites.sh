#!/usr/bin/env bash
# The course's prerequisites beyond `make`, in one place (the README lists the same packages; a test checks it).
#
#   tools/prerequisites.sh check PART...     say what is missing, and how to install it; exit 1 if anything is.
#                                             PART: python (the venv), node (the npm assets), font (a CJK font: the
#                                             figures are drawn in Chinese too), browser (the tests' Chromium).
#                                             The Makefile runs it before each step.
#   tools/prerequisites.sh install            Debian/Ubuntu: apt-get install what is missing of DEBIAN_PACKAGES
#                                             (.ci/run runs this, so CI starts from the README's list)
#
# PYTHON names the interpreter (default python3), CHROMIUM a browser binary, as in the Makefile.
set -uo pipefail

# The README's Debian/Ubuntu command installs exactly these.
DEBIAN_PACKAGES="python3-venv nodejs npm chromium fontconfig fonts-noto-cjk"
PYTHON="${PYTHON:-python3}"
MIN_PYTHON="3.11"
MIN_NODE=18

python_ok() {
  "$PYTHON" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON/./, }))" 2>/dev/null
}
venv_ok() {  # Debian splits venv's pip bootstrap (ensurepip) into python3-venv
  "$PYTHON" -c "import venv, ensurepip" 2>/dev/null
}
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e "process.exit(Number(process.versions.node.split('.')[0]) < $MIN_NODE ? 1 : 0)" 2>/dev/null
}
npm_ok() { command -v npm >/dev/null 2>&1; }
chromium_ok() {
  if [ -n "${CHROMIUM:-}" ]; then [ -x "$CHROMIUM" ]; return; fi
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  [ -d "/Applications/Google Chrome.app" ]
}
fontconfig_ok() {  # fc-list: how the tests (and matplotlib's font search) find a font; macOS has its own fonts
  [ "$(uname -s 2>/dev/null)" = Darwin ] || command -v fc-list >/dev/null 2>&1
}
cjk_font_ok() {  # Chromium draws boxes for Chinese without a CJK font; without fontconfig there is none to be found
  [ "$(uname -s 2>/dev/null)" = Darwin ] && return 0
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]
}

# package -> is it there?
satisfied() {
  case "$1" in
    python3-venv) venv_ok ;;
    nodejs) node_ok ;;
    npm) npm_ok ;;
    chromium) chromium_ok ;;
    fontconfig) fontconfig_ok ;;
    fonts-noto-cjk) cjk_font_ok ;;
    *) return 1 ;;
  esac
}

check() {
  local parts=" $* " missing=0
  if [[ "$parts" == *" python "* ]]; then
  if ! python_ok; then
    echo "error: the course needs Python $MIN_PYTHON or newer; '$PYTHON' is $("$PYTHON" -c 'import sys; print("Python", sys.version.split()[0])' 2>/dev/null || echo 'not found')."
    echo "       Run with another interpreter, e.g.: make book PYTHON=python3.11"
    missing=1
  elif ! venv_ok && [ ! -x .venv/bin/pip ]; then
    echo "error: '$PYTHON' cannot make a virtual environment with pip in it (its ensurepip module is missing)."
    echo "       Debian/Ubuntu: sudo apt-get install python3-venv"
    missing=1
  fi
  fi
  if [[ "$parts" == *" node "* ]]; then
  if ! node_ok; then
    echo "error: the website serves its own MathJax and widget scripts, installed with npm, and they need Node.js $MIN_NODE"
    echo "       or newer; $(command -v node >/dev/null 2>&1 && echo "this is Node.js $(node --version)" || echo 'node was not found')."
    echo "       Install it from https://nodejs.org (Debian 12, Ubuntu 24.04: sudo apt-get install nodejs npm)."
    missing=1
  elif ! npm_ok; then
    echo "error: npm was not found (it installs the website's front-end files). Debian/Ubuntu: sudo apt-get install npm"
    missing=1
  fi
  fi
  if [[ "$parts" == *" font "* ]] && ! cjk_font_ok; then
    echo "error: no font with Chinese glyphs: the book draws its figures in Chinese too (中文版), and the tests look at"
    echo "       the Chinese pages in Chromium; fontconfig (fc-list) finds it. Debian/Ubuntu: sudo apt-get install fontconfig fonts-noto-cjk (any CJK font will do)"
    missing=1
  fi
  if [[ "$parts" == *" browser "* ]] && ! chromium_ok; then
    echo "error: the tests open every page in headless Chromium, which was not found."
    echo "       Install it (Debian/Ubuntu: sudo apt-get install chromium; macOS: install Google Chrome),"
    echo "       or name it: make test CHROMIUM=/path/to/chromium"
    missing=1
  fi
  if [ "$missing" -ne 0 ]; then
    echo "       All of them at once, on Debian/Ubuntu: sudo apt-get install $DEBIAN_PACKAGES"
  fi
  return "$missing"
}

install() {
  local package wanted=()
  for package in $DEBIAN_PACKAGES; do
    satisfied "$package" || wanted+=("$package")
  done
  if [ "${#wanted[@]}" -eq 0 ]; then
    echo "prerequisites: all there ($DEBIAN_PACKAGES)"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "prerequisites: apt-get install ${wanted[*]}"
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
}

case "${1:-}" in
  check) shift; check "$@" ;;
  install) install ;;
  packages) echo "$DEBIAN_PACKAGES" ;;
  *) echo "usage: $0 check python|node|font|browser ... | install | packages" >&2; exit 2 ;;
esac
