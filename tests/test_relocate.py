"""tools/relocate.py: one command moves the course to another repository; the set-up cells it writes.

The long test relocates a copy of the checkout (a stand-in for a fork), then builds its website with
execution turned off: every Colab link, repository button and set-up cell must name the new place, and the
book's own stale-address and set-up-cell tests must pass on the copy.
"""

import doctest
import html as html_module
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import relocate  # noqa: E402
import release  # noqa: E402

FORK = "https://github.com/example-fork/lenet-course"


def test_doctests():
    assert doctest.testmod(relocate).failed == 0


@pytest.mark.parametrize("url, slug", [
    ("https://github.com/example/lenet", "example/lenet"),
    ("https://github.com/example/lenet/", "example/lenet"),
    ("https://github.com/example/lenet.git", "example/lenet"),
    ("  https://github.com/Example-Org/le.net_5 ", "Example-Org/le.net_5"),
])
def test_parse_repository_accepts_github_addresses(url, slug):
    assert relocate.parse_repository(url).slug == slug


@pytest.mark.parametrize("url, words", [
    ("", "got nothing"),
    ("github.com/example/lenet", "does not start with https://github.com/"),
    ("http://github.com/example/lenet", "https://github.com/ exactly"),
    ("https://www.github.com/example/lenet", "https://github.com/ exactly"),
    ("https://gitlab.com/example/lenet", "does not start with https://github.com/"),
    ("git@github.com:example/lenet.git", "use https://github.com/example/lenet"),
    ("https://github.com/example", "no repository"),
    ("https://github.com/example/", "no repository"),
    ("https://github.com/example/lenet/tree/main", "drop '/tree/main'"),
    ("https://github.com/-example/lenet", "is not a GitHub owner"),
    ("https://github.com/example/le net", "is not a repository name"),
    ("https://github.com/example/..", "is not a repository name"),
])
def test_parse_repository_says_what_is_wrong(url, words):
    with pytest.raises(relocate.RelocateError) as error:
        relocate.parse_repository(url)
    assert "https://github.com/OWNER/NAME" in str(error.value) and words in str(error.value)


def test_the_command_line_reports_a_bad_address_without_a_traceback():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "relocate.py"), "https://gitlab.com/example/lenet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: REPOSITORY must be") and "Traceback" not in result.stderr


def test_make_relocate_needs_a_repository():
    result = subprocess.run(["make", "-s", "relocate", f"PYTHON={sys.executable}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "make relocate REPOSITORY=https://github.com/OWNER/NAME" in result.stdout + result.stderr


def test_rewrite_addresses_covers_every_form():
    old, new = relocate.Repository("Example-A", "course"), relocate.Repository("example-b", "lenet")
    text = "\n".join([
        "https://github.com/Example-A/course",
        "https://github.com/example-a/course/issues",
        "git@github.com:Example-A/course.git",
        "https://github.com/Example-A/course.git",
        "https://colab.research.google.com/github/Example-A/course/blob/main/chapters/00.ipynb",
        "https://raw.githubusercontent.com/Example-A/course/main/README.md",
        "https://example-a.github.io/course/chapters/00.html",
        "https://github.com/Example-A/course-extras",  # another repository: untouched
        "https://github.com/Example-A/courses",
    ])
    assert relocate.rewrite_addresses(text, old, new).splitlines() == [
        "https://github.com/example-b/lenet",
        "https://github.com/example-b/lenet/issues",
        "git@github.com:example-b/lenet.git",
        "https://github.com/example-b/lenet.git",
        "https://colab.research.google.com/github/example-b/lenet/blob/main/chapters/00.ipynb",
        "https://raw.githubusercontent.com/example-b/lenet/main/README.md",
        "https://example-b.github.io/lenet/chapters/00.html",
        "https://github.com/Example-A/course-extras",
        "https://github.com/Example-A/courses",
    ]


def test_pages_address():
    assert relocate.Repository("Example", "lenet").pages_url == "https://example.github.io/lenet/"
    assert relocate.Repository("Example", "example.github.io").pages_url == "https://example.github.io/"


def test_check_names_the_command_to_run():
    configured = relocate.configured_repository()
    assert relocate.check(configured.slug) is None
    assert relocate.check(configured.slug.upper()) is None  # GitHub's names are case-insensitive
    problem = relocate.check("example-fork/lenet-course")
    assert f"make relocate REPOSITORY={FORK}" in problem and configured.url in problem


def test_check_annotates_the_workflow_run_on_github(monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert relocate.main(["--check", "example-fork/lenet-course"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("::error title=") and f"make relocate REPOSITORY={FORK}" in out
    assert err.startswith("error: _config.yml names the repository")


# ---------------------------------------------------------------------------------------------------
# The set-up cell, run with pip replaced by a stand-in
# ---------------------------------------------------------------------------------------------------


def run_setup_cell(monkeypatch, *, installed: bool, pip_results: list[int]):
    """Execute the set-up cell with lenet_helpers present or not, and pip calls that exit with ``pip_results``.
    Returns (the pip commands run, what was printed, the SystemExit message or None)."""
    import importlib.util
    import io
    from contextlib import redirect_stdout

    calls, results = [], iter(pip_results)

    def fake_run(command, **kwargs):
        calls.append(command)
        code = next(results)
        stderr = "" if code == 0 else ("Looking in indexes: …\nERROR: No matching distribution found for lenet-helpers"
                                       if len(calls) == 1 else
                                       "  error: subprocess-exited-with-error\n      fatal: unable to access 'https://github.com/x/': "
                                       "Could not resolve host: github.com\n  note: This error originates from a subprocess")
        return subprocess.CompletedProcess(command, code, "", stderr)

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (object() if installed else None) if name == "lenet_helpers" else real_find_spec(name, *a))
    source = relocate.setup_cell("9.8.7", "https://github.com/example/course")
    out, message = io.StringIO(), None
    with redirect_stdout(out):
        try:
            exec(compile(source, "<set-up cell>", "exec"), {})
        except SystemExit as e:
            message = str(e)
    return calls, out.getvalue(), message


def test_setup_cell_does_nothing_where_the_package_is_installed(monkeypatch):
    assert run_setup_cell(monkeypatch, installed=True, pip_results=[]) == ([], "", None)


def test_setup_cell_installs_the_pinned_version_from_pypi(monkeypatch):
    calls, printed, message = run_setup_cell(monkeypatch, installed=False, pip_results=[0])
    assert message is None and len(calls) == 1
    assert calls[0][1:] == ["-m", "pip", "install", "--quiet", "lenet-helpers[chapters]==9.8.7"]
    assert calls[0][0] == sys.executable
    assert "Installed lenet-helpers[chapters]==9.8.7" in printed


def test_setup_cell_falls_back_to_the_release_tag(monkeypatch):
    calls, printed, message = run_setup_cell(monkeypatch, installed=False, pip_results=[1, 0])
    assert message is None and len(calls) == 2
    assert calls[1][-1] == "lenet-helpers[chapters] @ git+https://github.com/example/course@v9.8.7"


def test_setup_cell_says_what_happened_when_both_fail(monkeypatch):
    calls, printed, message = run_setup_cell(monkeypatch, installed=False, pip_results=[1, 1])
    assert len(calls) == 2
    lines = message.splitlines()
    assert lines[0] == "Could not install the course's helper package, lenet-helpers 9.8.7. Tried:"
    assert "ERROR: No matching distribution found for lenet-helpers" in message  # pip's reason
    assert "fatal: unable to access" in message and "note:" not in message  # git's reason, not pip's noise
    assert "connected to the internet" in message and "https://github.com/example/course" in message
    assert len(lines) <= 8, "a short message, not pip's whole output"


def test_setup_cell_never_names_torch_or_forces_a_reinstall():
    source = relocate.setup_cell("1.2.3", "https://github.com/example/course")
    install_lines = [line for line in source.splitlines() if "lenet-helpers" in line or '"pip"' in line]
    for line in install_lines:
        assert not re.search(r"\btorch", line), line
        assert not re.search(r"--upgrade|\s-U\b|--force-reinstall|--ignore-installed|--no-deps", line), line


def test_write_setup_cells_refuses_a_chapter_without_one(tmp_path):
    copy = tmp_path / "course"
    for name in ("_config.yml", "lenet_helpers/__init__.py", "chapters/00_getting_started.ipynb"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    nb = json.loads((copy / "chapters/00_getting_started.ipynb").read_text())
    relocate.first_code_cell(nb)["source"] = ["print('a chapter that forgot its set-up cell')"]
    (copy / "chapters/07_new.ipynb").write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    before = (copy / "chapters/00_getting_started.ipynb").read_text()
    with pytest.raises(relocate.RelocateError, match="07_new.ipynb: the first code cell is not the set-up cell"):
        relocate.write_setup_cells(copy)
    assert (copy / "chapters/00_getting_started.ipynb").read_text() == before, "nothing may change"


def test_notebooks_round_trip_byte_for_byte():
    """The set-up cells are rewritten with json, in nbformat's layout: other cells must not move a byte."""
    for path in relocate.chapters():
        text = path.read_text(encoding="utf-8")
        assert json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False) + "\n" == text, path.name


# ---------------------------------------------------------------------------------------------------
# A fork, relocated and built
# ---------------------------------------------------------------------------------------------------


def run_book_tests(copy: Path) -> subprocess.CompletedProcess:
    """The copy's own set-up-cell and stale-address tests, run on the copy."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not book",
                           "tests/test_book.py", "-k", "set_up_cell or one_form"],
                          cwd=copy, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(copy)})


def test_relocating_a_fork(tmp_path):
    copy = release.copy_checkout(tmp_path / "fork")
    old = relocate.configured_repository()
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    # A new chapter, made by copying an old chapter's set-up cell: stale until the cells are rewritten.
    last = relocate.chapters(copy)[-1]
    nb = json.loads(last.read_text())
    relocate.first_code_cell(nb)["source"] = relocate.setup_cell("0.0.1", old.url).splitlines(keepends=True)
    (copy / "chapters" / "99_stale.ipynb").write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")

    # Before: a fork that only edited _config.yml by hand is caught, file by file.
    config = (copy / "_config.yml").read_text()
    (copy / "_config.yml").write_text(config.replace(old.url, FORK))
    before = run_book_tests(copy)
    assert before.returncode == 1, before.stdout[-3000:]
    assert "99_stale.ipynb: the set-up cell is stale (it installs version 0.0.1" in before.stdout
    assert "README.md" in before.stdout and "pyproject.toml" in before.stdout
    (copy / "_config.yml").write_text(config)
    check = subprocess.run([sys.executable, "tools/relocate.py", "--check", "example-fork/lenet-course"],
                           cwd=copy, capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and f"make relocate REPOSITORY={FORK}" in check.stderr

    moved = subprocess.run(["make", "-s", "relocate", f"REPOSITORY={FORK}", f"PYTHON={sys.executable}"],
                           cwd=copy, capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "Still naming" not in moved.stderr, moved.stderr

    # After: nothing names the old place; the copy's own tests agree; the Pages check passes.
    for path in relocate.checkout_files(copy):
        if path.suffix not in {".gz", ".png"}:
            assert not relocate.mentions(path.read_text(encoding="utf-8", errors="replace"), old), path
    assert relocate.configured_repository(copy).url == FORK
    assert f'Repository = "{FORK}"' in (copy / "pyproject.toml").read_text()
    after = run_book_tests(copy)
    assert after.returncode == 0, after.stdout[-3000:]
    check = subprocess.run([sys.executable, "tools/relocate.py", "--check", "example-fork/lenet-course"],
                           cwd=copy, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr

    # The website of the fork (notebooks not executed: the links and buttons are what matter here).
    (copy / "assets" / "node_modules").symlink_to(ROOT / "assets" / "node_modules")
    config = (copy / "_config.yml").read_text()
    (copy / "_config.yml").write_text(re.sub(r"execute_notebooks: \w+", 'execute_notebooks: "off"', config))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    built = subprocess.run([str(jupyter_book), "build", str(copy), "--path-output", str(tmp_path / "site"), "--builder", "html"],
                           cwd=copy, capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    html = tmp_path / "site" / "_build" / "html"
    for notebook in relocate.chapters(ROOT):
        page = (html / "chapters" / f"{notebook.stem}.html").read_text()
        assert f"https://colab.research.google.com/github/example-fork/lenet-course/blob/main/chapters/{notebook.name}" in page
        assert f'href="{FORK}"' in page, f"{notebook.stem}.html: no repository button for the fork"
        text = html_module.unescape(re.sub(r"<[^>]+>", "", page))
        assert f'COURSE_REPOSITORY = "{FORK}"' in text, f"{notebook.stem}.html: the set-up cell does not name the fork"
    for page in html.rglob("*.html"):
        assert not relocate.mentions(page.read_text(), old), f"{page.relative_to(html)} names {old.slug}"
