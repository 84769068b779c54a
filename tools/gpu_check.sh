#!/usr/bin/env bash
# The course on a CUDA GPU, in one call: the tests, every chapter executed, and make bench's GPU figures.
#
#   tools/gpu_check.sh prepare            here, with PyPI: download the wheels the GPU machine lacks into .gpu-wheels/
#   tools/gpu_check.sh [STAGE ...]        on the GPU machine: STAGE is tests, chapters or bench (default: all three)
#
# Made for a machine that has a CUDA GPU, Python with PyTorch, torchvision, NumPy, Matplotlib, pytest, hypothesis
# and pytest-xdist, but no network (the device machines of this workplace: /work/.library/device/KINDS.md). What
# the course needs beyond those (Jupyter's kernel and nbclient to execute the chapters, anywidget, torchinfo) travels
# as wheels in .gpu-wheels/, made by `prepare` on a machine with PyPI, for that machine's Python (3.12 unless
# GPU_PYTHON_VERSION says otherwise). Nothing is installed into that Python: the wheels go to a folder put on
# PYTHONPATH with the checkout (lenet_helpers is imported from it, not installed).
#
# Stages (each one's log and results go to $OUT, or gpu-check/ if OUT is unset):
#   tests     the test suite without the book's build, browser and publishing tests (those need the site's tools,
#             not a GPU), on 8 workers: the device smoke test and the GPU-only tests run on CUDA here
#   chapters  every chapter executed as the book build executes it (tools/run_chapters.py): train.device() is the GPU
#   bench     benchmarks/bench.py --device cuda --skip-book --skip-sdlm (the book's build time is the CPU's, and the
#             per-pattern SDLM's 20 passes × 3 seeds take longer than a call; GPU_BENCH_ARGS replaces these options)
#             and benchmarks/sdlm_experiments.py --timing (one SDLM update on the GPU: eager and compiled)
# tests and chapters run side by side; bench runs alone after them (its timings want the GPU to itself).
# GPU_CHECK_SECONDS (default 540) bounds the whole run: the bench stage gets what is left.
#
# The device tool, with the wheels prepared: run `bash tools/gpu_check.sh` with carry [".gpu-wheels"], then copy
# $OUT's bench-cuda.json to lenet_helpers/results/ and note each figure with the GPU's name (summary.txt).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
WHEELS=$ROOT/.gpu-wheels
PYTHON=${PYTHON:-python3}
# The packages the chapters, the tests and the kernel need that the GPU machine's image does not have (its list:
# /work/.library/device/KINDS.md). Versions as requirements.txt pins them; pip resolves the rest for that Python.
NEEDED="nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 ipywidgets==8.1.9 anywidget==0.11.0 torchinfo==1.8.0"
# Already on the GPU machine: not downloaded again (a second copy would shadow the image's own).
PRESENT="attrs packaging psutil pygments python_dateutil six typing_extensions numpy pillow matplotlib jinja2 markupsafe"

die() { echo "gpu_check: $*" >&2; exit 2; }

if [ "${1:-}" = prepare ]; then
  version=${GPU_PYTHON_VERSION:-3.12}
  rm -rf "$WHEELS" && mkdir -p "$WHEELS"
  pip=(pip)
  [ -x .venv/bin/python ] && pip=(.venv/bin/python -m pip)
  command -v "${pip[0]}" >/dev/null || die "prepare needs pip (make venv, or a Python with pip) and access to PyPI"
  platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
  done
  # shellcheck disable=SC2086  # NEEDED is a list of requirements
  "${pip[@]}" download --quiet --disable-pip-version-check --only-binary=:all: --python-version "$version" \
    --implementation cp "${platforms[@]}" -d "$WHEELS" $NEEDED || die "pip download failed (is PyPI reachable?)"
  for name in $PRESENT; do rm -f "$WHEELS/$name"-[0-9]*.whl; done
  echo "$version" > "$WHEELS/PYTHON_VERSION"
  echo "gpu_check: $(find "$WHEELS" -name '*.whl' | wc -l) wheels for Python $version in .gpu-wheels ($(du -sh "$WHEELS" | cut -f1))."
  echo "Run on the GPU machine: bash tools/gpu_check.sh   (the device tool: carry [\".gpu-wheels\"])"
  exit 0
fi

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(tests chapters bench)
for stage in "${stages[@]}"; do
  case $stage in tests|chapters|bench) ;; *) die "unknown stage '$stage': tests, chapters, bench or prepare";; esac
done
OUT=${OUT:-$ROOT/gpu-check}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
START=$(date +%s)
LIMIT=${GPU_CHECK_SECONDS:-540}

# --- what must be there -------------------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "no '$PYTHON' here: set PYTHON to a Python that has PyTorch"
"$PYTHON" -c "import torch, torchvision, numpy, matplotlib, pytest, hypothesis, xdist" 2>/dev/null \
  || die "$PYTHON lacks one of torch, torchvision, numpy, matplotlib, pytest, hypothesis, pytest-xdist"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || die "PyTorch sees no CUDA GPU here (torch.cuda.is_available() is False): this script is for a GPU machine"
[ -f "$WHEELS/PYTHON_VERSION" ] || die "no .gpu-wheels/: run 'tools/gpu_check.sh prepare' where PyPI is reachable, and carry .gpu-wheels"
want=$(cat "$WHEELS/PYTHON_VERSION")
have=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ "$want" = "$have" ] || die ".gpu-wheels/ is for Python $want, $PYTHON is $have: GPU_PYTHON_VERSION=$have tools/gpu_check.sh prepare"
SITE=$(mktemp -d /tmp/gpu-check-site.XXXX)
"$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
  --target "$SITE" "$WHEELS"/*.whl >"$OUT/install.log" 2>&1 || die "installing .gpu-wheels failed: $(tail -3 "$OUT/install.log")"
export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}
export MPLBACKEND=Agg PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=
"$PYTHON" -c "import lenet_helpers, nbclient, ipykernel, anywidget, torchinfo" 2>>"$OUT/install.log" \
  || die "the course does not import with .gpu-wheels: $(tail -3 "$OUT/install.log")"

{
  echo "gpu_check $(date -u +%FT%TZ), stages: ${stages[*]}"
  "$PYTHON" - <<'EOF'
import platform, torch, torchvision
p = torch.cuda.get_device_properties(0)
print(f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs; CUDA {torch.version.cuda}; "
      f"torch {torch.__version__}, torchvision {torchvision.__version__}, Python {platform.python_version()}")
EOF
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/nvidia-smi: /'
} | tee "$SUMMARY"

has() { [[ " ${stages[*]} " == *" $1 "* ]]; }
status=0
result() {  # stage, exit code
  local word=passed
  if [ "$2" -eq 124 ]; then word="TIMED OUT"; elif [ "$2" -ne 0 ]; then word="FAILED (exit $2)"; fi
  [ "$2" -ne 0 ] && status=1
  echo "$1: $word, $(( $(date +%s) - START )) s since the start" | tee -a "$SUMMARY"
}

# --- tests and chapters, side by side -----------------------------------------------------------------------------
pids=()
if has tests; then
  timeout 300 "$PYTHON" -m pytest -q -p no:cacheprovider -p no:randomly -n 8 -m "not book" \
    --ignore=tests/test_book.py --ignore=tests/test_site.py --ignore=tests/test_editions.py \
    --ignore=tests/test_workflows.py --ignore=tests/test_publish.py --ignore=tests/test_relocate.py \
    >"$OUT/tests.log" 2>&1 &
  pids+=("tests:$!")
fi
if has chapters; then
  timeout 420 "$PYTHON" tools/run_chapters.py --json "$OUT/chapters.json" >"$OUT/chapters.log" 2>&1 &
  pids+=("chapters:$!")
fi
for entry in "${pids[@]}"; do
  wait "${entry#*:}"; code=$?
  result "${entry%%:*}" "$code"
  [ "${entry%%:*}" = tests ] && tail -5 "$OUT/tests.log" | sed 's/^/  /' | tee -a "$SUMMARY"
  [ "${entry%%:*}" = chapters ] && grep -E " (ok|FAILED) |chapters ran" "$OUT/chapters.log" | sed 's/^/  /' | tee -a "$SUMMARY"
done

# --- bench, alone -------------------------------------------------------------------------------------------------
if has bench; then
  left=$(( LIMIT - ($(date +%s) - START) ))
  if [ "$left" -lt 120 ]; then
    echo "bench: NOT RUN, only $left s left of GPU_CHECK_SECONDS=$LIMIT (run 'tools/gpu_check.sh bench' alone)" | tee -a "$SUMMARY"
    status=1
  else
    read -r -a bench_args <<<"${GPU_BENCH_ARGS:---skip-book --skip-sdlm}"
    { timeout $(( left * 2 / 3 )) "$PYTHON" benchmarks/bench.py --device cuda "${bench_args[@]}" --output "$OUT/bench-cuda.json" \
      && timeout $(( left / 3 )) "$PYTHON" benchmarks/sdlm_experiments.py --timing --name gpu-check --device cuda \
           --results "$OUT/sdlm-timing.jsonl"; } >"$OUT/bench.log" 2>&1
    result bench $?
    sed -n '/^measure/,$p' "$OUT/bench.log" | sed 's/^/  /' | tee -a "$SUMMARY"
    tail -1 "$OUT/sdlm-timing.jsonl" 2>/dev/null | sed 's/^/  SDLM step: /' | tee -a "$SUMMARY"
  fi
fi
rm -rf "$SITE"
echo "gpu_check: $([ $status -eq 0 ] && echo "everything passed" || echo "something FAILED: see the logs"), in $OUT" | tee -a "$SUMMARY"
exit $status
