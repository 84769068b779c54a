"""Google Colab, simulated: the built package in a fresh environment, every chapter run outside the checkout.

    make colab                          # every chapter (python tools/colab.py)
    python tools/colab.py 00 03         # only the chapters whose file names start with 00 or 03
    python tools/colab.py --keep DIR    # keep the environment and the executed notebooks in DIR

On Colab a chapter opens alone: PyTorch is installed, the course is not, and nothing of the repository is on
disk. Each step here stands for a part of that situation:

1. the sdist, then the wheel from the sdist, are built as the Release workflow builds them, and
   ``twine check --strict`` checks them (tools/release.py);
2. a fresh virtual environment gets torch, torchvision and ipykernel only, at the versions in requirements.txt
   (made with uv, which reuses its download cache);
3. MNIST's four .gz files go where torchvision looks by default for ``root="data"``: ``data/MNIST/raw`` in the
   working folder (Colab would download them; here there is no network for that);
4. each chapter is executed by that environment's kernel in a working folder outside the checkout, with no
   PYTHONPATH, its set-up cell run as it is. The first set-up cell finds no lenet_helpers and installs
   ``lenet-helpers[chapters]==VERSION`` with pip: that version is found among the files just built
   (PIP_FIND_LINKS stands in for PyPI, where it is not published yet), its dependencies on PyPI;
5. the Chinese notebooks (chapters/zh_CN, the ones the Chinese pages open on Colab) run the same way, and every
   self-check in them must answer in Chinese;
6. afterwards, torch must be the one installed in step 2 (not reinstalled), and lenet_helpers must be the
   built version, installed in the environment, not the checkout.

The notebooks run two at a time (``--jobs``), longest first, each kernel with its share of the CPU's threads: the
Chinese notebooks run the English ones' code, so the second kernel costs little more than the idle time of the
first (kernel starts, imports, Python loops that use one core). No cell asserts an outcome that depends on the
hardware or the number of threads, so running them side by side changes no result.

Prints each chapter's time (kernel start included) and ends with the line "colab: N passed, M failed".
Exit status 1 if any step or chapter failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import release  # noqa: E402
from common import ROOT, ToolError  # noqa: E402
KERNEL = "lenet-colab-simulation"
# What Colab has and the course does not install: PyTorch; and the kernel itself.
PREINSTALLED = ("torch", "torchvision", "ipykernel")


class SimulationError(ToolError):
    """A step before the chapters failed; the message says which and why."""


def pinned(names, requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """The exact pins of ``names`` in requirements.txt, e.g. ['torch==2.15.0', …]."""
    pins = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            pins[line.split("==")[0].strip().lower()] = line
    missing = [name for name in names if name not in pins]
    if missing:
        raise SimulationError(f"requirements.txt pins no version of {', '.join(missing)}")
    return [pins[name] for name in names]


def uv() -> str:
    """The uv executable: on the PATH, or beside this Python."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if not found:
        raise SimulationError("uv was not found: the simulation makes its fresh environment with uv "
                              "(https://docs.astral.sh/uv/; e.g. `python -m pip install uv`)")
    return found


def fresh_environment(folder: Path) -> Path:
    """A new venv in ``folder`` with only torch, torchvision and ipykernel (and pip, as Colab has); its python."""
    base = getattr(sys, "_base_executable", sys.executable)
    common.run([uv(), "venv", "--quiet", "--seed", "--python", base, folder], "making the fresh environment",
               SimulationError)
    python = folder / "bin" / "python"
    common.run([uv(), "pip", "install", "--quiet", "--python", python, *pinned(PREINSTALLED)],
               "installing torch, torchvision and ipykernel into it", SimulationError)
    return python


def installed(python: Path, cwd: Path, env: dict, code: str) -> str:
    return common.run([python, "-c", code], "asking the fresh environment", SimulationError, cwd=cwd, env=env).stdout.strip()


def torch_record(python: Path, cwd: Path, env: dict) -> str:
    """Which torch is installed, and when its files were written (changes if pip reinstalls it)."""
    return installed(python, cwd, env, "import importlib.metadata as m, os; d = m.distribution('torch'); "
                     "r = next(f for f in d.files if f.name == 'RECORD'); print(d.version, os.stat(d.locate_file(r)).st_mtime_ns)")


def kernel_environment(dist: Path, venv: Path) -> dict:
    """The kernel's environment: this one without anything that points into the checkout, pip also looking in ``dist``."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH", "CONDA_PREFIX"}}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(dist), os.environ.get("PIP_FIND_LINKS", "")]))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def put_mnist(content: Path) -> Path:
    """Copy the checkout's MNIST .gz files to content/data/MNIST/raw, torchvision's default place for root 'data'."""
    raw = content / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in sorted((ROOT / "data" / "MNIST" / "raw").glob("*.gz")):
        shutil.copy2(gz, raw / gz.name)
    if len(list(raw.glob("*.gz"))) != 4:
        raise SimulationError(f"expected MNIST's four .gz files in {ROOT / 'data/MNIST/raw'}")
    return raw


def execute(notebook: Path, content: Path, env: dict, out: Path, timeout: int = 1800) -> tuple[float, str | None]:
    """Run ``notebook`` with the simulation's kernel in ``content``; save it to ``out``. Returns (seconds, error or None)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, startup_timeout=120,
                            resources={"metadata": {"path": str(content)}})
    start, error = time.perf_counter(), None
    with open(out / f"{notebook.stem}.kernel.log", "w") as log:  # the kernel's own messages, kept aside
        try:
            client.execute(env=env, stderr=log)
        except CellExecutionError as e:
            error = str(e)
        except (CellTimeoutError, DeadKernelError, RuntimeError) as e:
            error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    nbformat.write(nb, out / notebook.name)
    return seconds, error


def translated_notebooks(root: Path = ROOT) -> dict[str, list[Path]]:
    """The other editions' notebooks, by language (chapters/zh_CN/*.ipynb: ``{"zh_CN": [...]}``)."""
    found: dict[str, list[Path]] = {}
    for path in common.translated_chapters(root):
        found.setdefault(path.parent.name, []).append(path)
    return found


_CJK = re.compile(r"[\u4e00-\u9fff]")
_CHECK = re.compile(r'<div class="lenet-check"[^>]*>(.*?)</div>', re.S)


def untranslated_checks(executed: Path) -> list[str]:
    """The self-check verdicts of an executed Chinese notebook that are not in Chinese."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            html = "".join(output.get("data", {}).get("text/html", []))
            found += [re.sub(r"<[^>]+>", "", verdict).strip()[:100] for verdict in _CHECK.findall(html)
                      if not _CJK.search(verdict)]
    return found


def threads_each(jobs: int) -> int:
    """The CPU threads each of ``jobs`` kernels may use: the machine's, shared."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_all(notebooks: list[Path], content: Path, env: dict, out: Path, timeout: int, jobs: int):
    """Execute ``notebooks`` ``jobs`` at a time (each in its own kernel and folder of results, the longest first);
    yields (notebook, executed copy, seconds, error) as each finishes. The first notebook runs alone: its set-up
    cell installs the package, which two set-up cells at once would both try to do in the same environment."""
    env = {**env, **{name: str(threads_each(jobs)) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    first, *rest = notebooks
    rest.sort(key=lambda p: -p.stat().st_size)  # a rough proxy for the time a chapter takes

    def one(notebook: Path):
        edition = notebook.parent.name if notebook.parent.name != "chapters" else "en"
        folder, working = out / edition, content / edition  # each edition its own: one chapter's two may run at once
        folder.mkdir(parents=True, exist_ok=True)
        seconds, error = execute(notebook, working, env, folder, timeout)
        return notebook, folder / notebook.name, seconds, error

    yield one(first)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in concurrent.futures.as_completed([pool.submit(one, n) for n in rest]):
            yield future.result()


def setup_seconds(executed: Path) -> float | None:
    """How long the set-up cell (the first code cell) of an executed notebook took, from nbclient's timings."""
    import nbformat
    from datetime import datetime

    cell = next((c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"), None)
    timing = cell.metadata.get("execution", {}) if cell is not None else {}
    try:
        start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def short(error: str, lines: int = 30) -> str:
    """The end of an error: the failing cell's last lines and the exception."""
    kept = [line for line in error.strip().splitlines() if line.strip()]
    return "\n".join("    " + line for line in kept[-lines:])


def simulate(selected: list[str], folder: Path, timeout: int = 1800, jobs: int = 2) -> int:
    version = common.package_version()
    every = common.chapters() + [p for paths in translated_notebooks().values() for p in paths]
    notebooks = [p for p in every if not selected or any(p.name.startswith(s) for s in selected)]
    if not notebooks:
        raise SimulationError(f"no chapter's file name starts with {' or '.join(selected)}")
    dist, venv, content, out = (folder / name for name in ("dist", "venv", "content", "executed"))
    for f in (content, out):
        f.mkdir(parents=True)

    clock = time.perf_counter()
    wheel, sdist = release.build(dist)
    print(f"built and checked (twine check --strict): {wheel.name} {wheel.stat().st_size / 1024:.0f} KiB, "
          f"{sdist.name} {sdist.stat().st_size / 1024:.0f} KiB  [{time.perf_counter() - clock:.0f} s]", flush=True)

    clock = time.perf_counter()
    python = fresh_environment(venv)
    common.run([python, "-m", "ipykernel", "install", "--prefix", folder / "jupyter", "--name", KERNEL],
               "registering the fresh environment's kernel", SimulationError)
    os.environ["JUPYTER_PATH"] = str(folder / "jupyter" / "share" / "jupyter")
    env = kernel_environment(dist, venv)
    for edition in ("en", *translated_notebooks()):
        put_mnist(content / edition)
    absent = installed(python, content, env, "import importlib.util as u; print(u.find_spec('lenet_helpers') is None)")
    if absent != "True":
        raise SimulationError("the fresh environment can already import lenet_helpers: it must start without it")
    torch_before = torch_record(python, content, env)
    print(f"fresh environment: {', '.join(pinned(PREINSTALLED))}; working folders in {content}  "
          f"[{time.perf_counter() - clock:.0f} s]", flush=True)

    results = []
    clock = time.perf_counter()
    print(f"{len(notebooks)} notebooks, {jobs} at a time, {threads_each(jobs)} CPU threads each:", flush=True)
    for notebook, executed, seconds, error in run_all(notebooks, content, env, out, timeout, jobs):
        if error is None and notebook.parent.name != "chapters":
            english = untranslated_checks(executed)
            if english:
                error = (f"{len(english)} self-check(s) answer in English in the {notebook.parent.name} notebook, "
                         "e.g.:\n" + "\n".join(english[:5]))
        name = notebook.relative_to(ROOT / "chapters").as_posix()
        results.append((name, seconds, error))
        setup = setup_seconds(executed)
        setup = f"(set-up cell {setup:5.1f} s)" if setup is not None else ""
        print(f"  {name:<34} {seconds:6.1f} s  {setup:<22} {'ok' if error is None else 'FAILED'}", flush=True)
        if error:
            print(short(error), flush=True)
    print(f"all notebooks: {time.perf_counter() - clock:.0f} s of wall time", flush=True)

    problems = []
    torch_after = torch_record(python, content, env)
    if torch_after != torch_before:
        problems.append(f"torch changed while the chapters ran (before: {torch_before}, after: {torch_after}): "
                        "a set-up cell reinstalled it")
    where = installed(python, content, env, "import lenet_helpers; print(lenet_helpers.__version__, lenet_helpers.__file__)")
    got_version, got_file = where.split(" ", 1)
    if got_version != version or not Path(got_file).is_relative_to(venv):
        problems.append(f"lenet_helpers is {got_version} from {got_file}; expected {version} installed in {venv}")
    for problem in problems:
        print(f"error: {problem}", flush=True)

    passed = sum(error is None for _, _, error in results)
    failed = len(results) - passed
    total = sum(seconds for _, seconds, _ in results)
    print(f"chapters: {total:.0f} s of kernel time in all (this machine's load shows in these times)")
    print(f"colab: {passed} passed, {failed} failed")
    return 0 if failed == 0 and not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="colab.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=None)
    parser.add_argument("chapters", nargs="*", help="run only the chapters whose file names start with these")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (new or empty) and keep it: the environment, the built files, the executed notebooks")
    parser.add_argument("--timeout", type=int, default=1800, metavar="SECONDS",
                        help="the longest any one cell may run (default 1800: generous, for a busy machine)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="notebooks run at a time, each kernel with its share of the CPU threads (default 2)")
    args = parser.parse_args(argv)
    if args.keep:
        folder = args.keep.resolve()
        if folder.exists() and any(folder.iterdir()):
            print(f"error: --keep {folder} is not empty", file=sys.stderr)
            return 2
        if folder.is_relative_to(ROOT):
            print(f"error: --keep must be outside the checkout ({ROOT}): the chapters must run away from it", file=sys.stderr)
            return 2
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="lenet-colab-"))
    status = 1
    try:
        if args.jobs < 1:
            raise SimulationError(f"--jobs must be at least 1, got {args.jobs}")
        status = simulate(args.chapters, folder, args.timeout, args.jobs)
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        print("colab: 0 passed, 1 failed")
    finally:
        if args.keep or status != 0:
            print(f"the environment, the built files and the executed notebooks are in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
