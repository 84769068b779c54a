import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# The from-scratch code is plain Python loops: keep examples small, and never fail on timing.
settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")


@pytest.fixture(scope="session")
def root() -> Path:
    """The course checkout."""
    return ROOT


sys.path.insert(0, str(ROOT / "tools"))
import common  # noqa: E402  (tools/common.py: what the tools and the tests share)


def jupyter_book(*args, book=ROOT):
    """Build ``book``'s HTML strictly (warnings are errors) with the venv's jupyter-book; the log in the result."""
    return common.jupyter_book("--builder", "html", *args, book=book, capture=True, timeout=3600)


@pytest.fixture(scope="session")
def book(tmp_path_factory, worker_id):
    """Build the book from scratch (empty execution cache), both editions, into a temporary folder; shared by
    the build tests (test_book.py) and the browser tests (test_site.py, test_editions.py). Returns (_build
    folder, build log).

    Under pytest-xdist (make test runs two workers) the workers share one build: the first that needs it builds
    it, holding a lock; the other waits for it, then both run the book's tests.

    While working on the browser tests only, LENET_REUSE_BUILD=/path/to/out uses the site already built
    with `python tools/editions.py build --path-output /path/to/out` as it is (the build tests then have no log).
    """
    from filelock import FileLock  # (installed with torch)

    reuse = os.environ.get("LENET_REUSE_BUILD")
    if reuse:
        return Path(reuse) / "_build", ""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the folder above each worker's own
    out, record = shared / "book", shared / "book.json"
    with FileLock(str(shared / "book.lock")):
        if not record.exists():
            out.mkdir(exist_ok=True)
            # Both editions, as make book builds them: English in _build/html, Chinese in _build/html/zh-cn.
            command = [sys.executable, str(ROOT / "tools" / "editions.py"), "build", "--path-output", str(out)]
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
            record.write_text(json.dumps({"returncode": result.returncode, "log": result.stdout + result.stderr}))
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
