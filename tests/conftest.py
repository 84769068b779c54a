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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (`make test` runs two workers, --dist loadgroup), every test that needs the
    built book runs on the same worker, so the book is built once while the other tests run beside it.
    It must run before xdist's own hook, which reads the groups: without tryfirst, both workers built the book."""
    for item in items:
        if item.get_closest_marker("book"):
            item.add_marker(pytest.mark.xdist_group("book"))


@pytest.fixture(scope="session")
def root() -> Path:
    """The course checkout."""
    return ROOT


def jupyter_book(*args, book=ROOT):
    """Build ``book`` strictly (warnings are errors) with the venv's jupyter-book."""
    exe = Path(sys.executable).parent / "jupyter-book"
    command = [str(exe), "build", str(book), "--builder", "html", "--warningiserror", "--keep-going", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """Build the book from scratch (empty execution cache) into a temporary folder; shared by the
    build tests (test_book.py) and the browser tests (test_site.py). Returns (_build folder, build log).

    While working on the browser tests only, LENET_REUSE_BUILD=/path/to/out uses the site already built
    with `python tools/editions.py build --path-output /path/to/out` as it is (the build tests then have no log).
    """
    reuse = os.environ.get("LENET_REUSE_BUILD")
    if reuse:
        return Path(reuse) / "_build", ""
    out = tmp_path_factory.mktemp("book")
    # Both editions, as make book builds them: English in _build/html, Chinese in _build/html/zh-cn.
    command = [sys.executable, str(ROOT / "tools" / "editions.py"), "build", "--path-output", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed (warnings are errors):\n{log[-8000:]}"
    return out / "_build", log
