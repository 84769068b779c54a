import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# Each test process gets its share of the CPU's threads, and so do the processes it starts (the notebooks of the book's
# build, the tools run by the tests): OMP_NUM_THREADS, which PyTorch reads, set before anything imports torch. With
# PyTorch's default, one thread per core in every process, the two test workers and the book's build wait on each
# other's threads: on a 2-core host, a check of 24 two-step runs of LeNet-5 (checks.capstone.train_step) took 10-25 s
# in make test against 0.3 s with one thread (measured with pytest --durations, one run each).
# A value the reader set is kept; pytest-xdist's workers inherit the controller's environment, hence the marker.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if "OMP_NUM_THREADS" not in os.environ or os.environ.get("LENET_TEST_THREADS") == os.environ["OMP_NUM_THREADS"]:
    os.environ["OMP_NUM_THREADS"] = os.environ["LENET_TEST_THREADS"] = str(max(1, (os.cpu_count() or 2) // WORKERS))

# The from-scratch code is plain Python loops: keep examples small, and never fail on timing.
settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")


@pytest.fixture
def module_checks(monkeypatch):
    """``watch(*modules)`` counts the checks of a model (``_validate.check_module``) made through ``modules``: it
    returns the list the argument names are appended to, one per check."""
    from lenet_helpers import _validate

    real = _validate.check_module
    calls = []

    def counting(model, name="model"):
        calls.append(name)
        return real(model, name)

    def watch(*modules):
        for module in modules:
            monkeypatch.setattr(module, "check_module", counting)
        return calls

    return watch


@pytest.fixture(scope="session")
def root() -> Path:
    """The course checkout."""
    return ROOT


sys.path.insert(0, str(ROOT / "tools"))
import common  # noqa: E402  (tools/common.py: what the tools and the tests share)


def jupyter_book(*args, book=ROOT):
    """Build ``book``'s HTML strictly (warnings are errors) with the venv's jupyter-book; the log in the result."""
    return common.jupyter_book("--builder", "html", *args, book=book, capture=True, timeout=3600)


# The book's build, run in the background by one process: it writes the build's return code and log into ``record``
# when it ends, whatever happens, so that every test process waiting for the book gets an answer. It runs beside the
# test processes, so its notebooks get their share of the CPU's threads (OMP_NUM_THREADS, which PyTorch reads, unless
# the reader set it): on a 2-core machine, PyTorch's default of 2 threads next to the tests made chapter 5's training
# about 5 times slower than 1 thread (measured with the machine busy: 60 steps of LeNet5 at batch 128, 12.4 s
# against 2.3 s).
BUILD_AND_RECORD = """
import json, os, subprocess, sys
root, out, record = sys.argv[1:4]
command = [sys.executable, os.path.join(root, "tools", "editions.py"), "build", "--path-output", out, "--cache-from", root]
workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
threads = os.environ["OMP_NUM_THREADS"]
if threads == os.environ.get("LENET_TEST_THREADS"):  # set by conftest.py, not by the reader
    threads = str(max(1, (os.cpu_count() or 2) // (workers + 1)))
env = dict(os.environ, OMP_NUM_THREADS=threads)
try:
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=3600, env=env)
    built = {"returncode": result.returncode, "log": result.stdout + result.stderr}
except BaseException as error:
    built = {"returncode": 1, "log": f"the build did not finish: {error!r}"}
with open(record + ".part", "w") as f:
    json.dump(built, f)
os.replace(record + ".part", record)
"""


# How far the test processes lower their priority while the book is built beside them (Unix nice: 0 is the usual
# priority, 19 the lowest; at 10 a process gets about a tenth of a core that the build wants too).
BUILD_FIRST = 10


def needs_the_book(item) -> bool:
    """Whether a collected test uses the built book (the ``book`` fixture, itself or through ``site``, ``opened``, …)."""
    return "book" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The tests that need the built book run last, the others in their order before them: under pytest-xdist
    (make test, two workers, which take the tests in this order) both workers run the other tests while the book
    is built in the background (:func:`book_build`), and only then wait for it."""
    items.sort(key=needs_the_book)


def _book_paths(tmp_path_factory, worker_id):
    """(the folder shared by the test processes, the build's output folder, its record, its lock)."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the folder above each worker's own
    return shared, shared / "book", shared / "book.json", shared / "book.lock"


@pytest.fixture(scope="session", autouse=True)
def book_build(request, tmp_path_factory, worker_id):
    """Start the book's build as the tests start, in the background, when any test of this run needs it (once for
    all the test processes: the first to get here starts it). It takes make book's execution cache when that
    cache's execution key is still valid (tools/editions.py), else it executes every notebook, as on a fresh clone.
    At the end of the session, a build still running is waited for (another process may need it), or stopped if
    the run was interrupted."""
    from filelock import FileLock  # (installed with torch)

    process = None
    if not os.environ.get("LENET_REUSE_BUILD") and any(needs_the_book(item) for item in request.session.items):
        shared, out, record, lock = _book_paths(tmp_path_factory, worker_id)
        with FileLock(str(lock)):
            started = shared / "book.started"
            if not started.exists():
                started.touch()
                out.mkdir(exist_ok=True)
                process = subprocess.Popen([sys.executable, "-c", BUILD_AND_RECORD, str(ROOT), str(out), str(record)],
                                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The build is the run's longest path: every book test waits for it, and the other tests are done long before
        # it (on a fresh clone of a 2-core host, both workers then waited about 185 s). The test processes, and what
        # they start, yield the CPU to it from here on; the build, started above, keeps the usual priority.
        if hasattr(os, "nice") and not record.exists():
            os.nice(BUILD_FIRST)
    yield
    if process is not None and process.poll() is None:
        if request.session.shouldstop or request.session.shouldfail:
            process.terminate()
        process.wait()


@pytest.fixture(scope="session")
def book(tmp_path_factory, worker_id, book_build):
    """The book, built strictly (warnings are errors), both editions, into a temporary folder: shared by the
    build tests (test_book.py) and the browser tests (test_site.py, test_editions.py). Returns (_build folder,
    build log). The build started in the background as the tests started (:func:`book_build`); this waits for it.

    While working on the browser tests only, LENET_REUSE_BUILD=/path/to/out uses the site already built
    with `python tools/editions.py build --path-output /path/to/out` as it is (the build tests then have no log).
    """
    import time

    reuse = os.environ.get("LENET_REUSE_BUILD")
    if reuse:
        return Path(reuse) / "_build", ""
    shared, out, record, _lock = _book_paths(tmp_path_factory, worker_id)
    assert (shared / "book.started").exists(), "the book's build was not started (conftest.book_build)"
    deadline = time.monotonic() + 3600
    while not record.exists():
        assert time.monotonic() < deadline, "the book's build took more than an hour"
        time.sleep(1)
    built = json.loads(record.read_text())
    assert built["returncode"] == 0, f"the book build failed (warnings are errors):\n{built['log'][-8000:]}"
    return out / "_build", built["log"]


@pytest.fixture(scope="session")
def site(book):
    """(base URL, built html folder, _build folder) of the book served on localhost (both editions)."""
    import browser

    build, _ = book
    with browser.serve(build / "html") as base:
        yield base, build / "html", build


@pytest.fixture(scope="session")
def chromium():
    """The system's Chromium, headless, driven by Playwright (tests/browser.py)."""
    import browser

    with browser.browser() as instance:
        yield instance
