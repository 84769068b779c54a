"""The book: its configuration, its notebooks, and a strict build of the whole site.

The build test is what proves, in CI, that every notebook executes without error and that the site
builds with no Sphinx warnings (-W). It builds into a temporary folder, with an empty execution cache,
so stale outputs can never hide a broken notebook. Skip it while iterating: pytest -m "not book".
"""

import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import jupyter_book

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
sys.path.insert(0, str(ROOT / "tools"))
import common  # noqa: E402
import relocate  # noqa: E402  (tools/relocate.py: the set-up cell and the repository's address)


def toc_entries() -> list[str]:
    """Every 'file' in _toc.yml, the root first, without extensions."""
    files = [TOC["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in TOC.items() if k != "root"})
    return files


def source_of(entry: str) -> Path:
    matches = [p for p in (ROOT / f"{entry}.md", ROOT / f"{entry}.ipynb") if p.exists()]
    assert len(matches) == 1, f"_toc.yml entry {entry!r} must match exactly one .md or .ipynb file, found {matches}"
    return matches[0]


NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def notebook_id(path: Path) -> str:
    return path.stem


def test_toc_intro_and_chapters_agree():
    """Every chapter is in _toc.yml once, and the intro's table of chapters links it (a Markdown link whose target is
    the notebook; that the link resolves on the built site is test_site.py's link check)."""
    entries = toc_entries()
    sources = [source_of(e) for e in entries]
    assert len(set(entries)) == len(entries), "a page is listed twice in _toc.yml"
    listed = {p for p in sources if p.suffix == ".ipynb"}
    assert set(NOTEBOOKS) <= listed, f"notebooks missing from _toc.yml: {sorted(set(NOTEBOOKS) - listed)}"
    assert NOTEBOOKS, "the book has no chapter notebooks"
    intro = (ROOT / "intro.md").read_text()
    linked = {target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", intro)}
    for path in NOTEBOOKS:
        assert f"chapters/{path.name}" in linked, f"intro.md's chapter table does not link {path.name}"
    assert "as they are published" not in intro


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: the build makes them. Clear them before committing."
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_every_notebook_starts_with_the_colab_set_up_cell(path):
    """The first code cell installs the package's one version (lenet_helpers.__version__) from PyPI, else
    from the release tag of the repository in _config.yml: the same cell in every chapter, written by
    tools/relocate.py. A chapter copied from another, or one left behind by a version bump, is stale."""
    nb = nbformat.read(path, as_version=4)
    first = next(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert relocate.is_setup_cell(first), f"{path.name}: the first code cell must be the set-up cell (copy chapter 0's)"
    version, url = common.package_version(ROOT), CONFIG["repository"]["url"]
    named_version, named_url = relocate.setup_cell_named(first)
    stale = [f"it installs {f'version {named_version}' if named_version else 'no pinned version'}, the package is {version}"
             ] if named_version != version else []
    stale += [f"it names {named_url}, _config.yml says {url}"] if named_url != url else []
    assert first == relocate.setup_cell(version, url), (
        f"{path.name}: the set-up cell is stale ({'; '.join(stale) or 'its code differs from tools/relocate.py'}). "
        "Run `make setup-cells` to rewrite it."
    )


def test_configuration():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["timeout"] > 0
    assert execute["allow_errors"] is False and execute["raise_on_error"] is True
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/") and CONFIG["repository"]["branch"]
    assert {"sphinx_exercise", "sphinx_togglebutton"} <= set(CONFIG["sphinx"]["extra_extensions"])
    assert {"dollarmath", "amsmath"} <= set(CONFIG["parse"]["myst_enable_extensions"])
    bib = (ROOT / CONFIG["bibtex_bibfiles"][0]).read_text()
    assert "@article{lecun1998gradient," in bib and "1998" in bib


# Addresses of GitHub repositories and Pages sites, as the course writes them (web, git, Colab, raw files).
ADDRESS = re.compile(r"(?i)(?:github\.com[/:]|colab\.research\.google\.com/github/|githubusercontent\.com/)"
                     r"([A-Za-z0-9][A-Za-z0-9-]*)/([\w.-]+?)(?:\.git)?(?![\w.-])|\b([A-Za-z0-9-]+)\.github\.io/([\w.-]*)")
# Files that name other people's repositories: npm's record of the site's front-end packages.
NOT_OURS = {"assets/package-lock.json"}


def is_placeholder(owner: str) -> bool:
    """OWNER/NAME in instructions, example…/… in examples and tests."""
    return owner in {"OWNER", "owner"} or owner.lower().startswith("example")


def test_repository_url_is_written_in_one_form():
    """_config.yml says where the course lives; every file of the checkout that names a GitHub repository
    or a GitHub Pages site (set-up cells, README, package metadata, workflows, …) names that one."""
    configured = relocate.configured_repository(ROOT)
    assert configured.url == CONFIG["repository"]["url"]
    stale = []
    for path in common.checkout_files(ROOT):
        name = path.relative_to(ROOT).as_posix()
        if name in NOT_OURS:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for match in ADDRESS.finditer(text):
            owner, repo, pages_owner, pages_name = match.groups()
            if owner and not is_placeholder(owner) and relocate.Repository(owner, repo) != configured:
                stale.append(f"{name}: {match.group(0)}")
            if pages_owner and not is_placeholder(pages_owner):
                if f"https://{match.group(0).lower().rstrip('/')}/" != configured.pages_url.lower():
                    stale.append(f"{name}: {match.group(0)}")
    assert not stale, (f"_config.yml says the course is {configured.url} (site {configured.pages_url}), but these "
                       "name another place. Run `make relocate REPOSITORY=<the right address>`:\n" + "\n".join(stale))


def test_the_readmes_timings_are_the_bench_record():
    """The README's times for make book and make test are the committed record's (make bench --only book writes
    lenet_helpers/results/bench-cpu.json; the README follows it), in seconds and in whole minutes."""
    record = json.loads((ROOT / "lenet_helpers" / "results" / "bench-cpu.json").read_text())
    readme = " ".join((ROOT / "README.md").read_text().split())
    book, after, fresh = record["fresh_clone_book_s"], record["make_test_after_book_s"], record["make_test_s"]
    assert (f"`make book` takes about {round(book / 60)} minutes from a fresh clone, and `make test` about "
            f"{round(after / 60)} more right after it, or {round(fresh / 60)} on a fresh clone") in readme
    assert (f"{record['cpu']}, {datetime.date.fromisoformat(record['date'][:10]):%-d %B %Y}: {book:.0f} s, then "
            f"{after:.0f} s, and {fresh:.0f} s, with the notebooks executing in "
            f"{record['book_execution_s']['total']:.0f} s in the same run") in readme


def test_readme_shows_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make book" in first_block and "make test" in first_block
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


LESSONS = [p for p in NOTEBOOKS if (p.stem[:2].isdigit() and not p.stem.startswith("00")) or p.stem == "backprop_by_hand"]  # numbered chapters and the backprop page; appendices are not lessons
EXERCISE = re.compile(r"```\{exercise\}[^\n]*\n(?:(?!```).)*?:label:\s*(\S+)", re.S)
SOLUTION = re.compile(r"```\{solution(?:-start)?\}\s*(\S+)\s*\n((?:(?!```).)*)```", re.S)


def exercises_of(path: Path):
    """The exercises of a chapter: label -> the cells from the exercise up to the next one."""
    cells = nbformat.read(path, as_version=4).cells
    found, current = {}, None
    for cell in cells:
        match = EXERCISE.search(cell.source) if cell.cell_type == "markdown" else None
        if match:
            current = match.group(1)
            found[current] = []
        if current is not None:
            found[current].append(cell)
    return found


@pytest.mark.parametrize("path", LESSONS, ids=notebook_id)
def test_every_lesson_has_five_exercises_with_hidden_solutions(path):
    exercises = exercises_of(path)
    assert len(exercises) >= 5, f"{path.name}: {len(exercises)} exercises, at least 5 expected"
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    solutions = {label: options for label, options in SOLUTION.findall(text)}
    for label in exercises:
        assert label in solutions, f"{path.name}: exercise {label} has no solution"
        assert re.search(r":class:\s*dropdown", solutions[label]), f"{path.name}: the solution of {label} is not hidden"
    gated = text.count("{solution-start}")
    assert gated == text.count("{solution-end}"), f"{path.name}: every solution-start needs a solution-end"


@pytest.mark.parametrize("path", LESSONS, ids=notebook_id)
def test_every_lesson_has_self_checked_exercises(path):
    from lenet_helpers import checks

    self_checked = 0
    for label, cells in exercises_of(path).items():
        code = "\n".join(c.source for c in cells if c.cell_type == "code")
        used = set(re.findall(r"\bchecks\.(\w+)\(", code))
        for name in used:
            assert name in checks.__all__, f"{path.name}: exercise {label} calls checks.{name}, which does not exist"
        self_checked += bool(used)
    assert self_checked >= 2, f"{path.name}: {self_checked} exercises have a self-check, at least 2 expected"


# ---------------------------------------------------------------------------
# The whole book, built strictly
# ---------------------------------------------------------------------------


def executed_notebook(build: Path, source: Path):
    """The notebook with the outputs the site was built from, out of the build's execution cache: where the build
    took make book's cache, its jupyter_execute/ copies hold no outputs, and the cache holds those of make book's
    execution."""
    from jupyter_cache import get_cache

    _, notebook = get_cache(build / ".jupyter_cache").merge_match_into_notebook(nbformat.read(source, as_version=4))
    return notebook


@pytest.mark.book
@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_every_notebook_was_executed_without_errors(book, path):
    build, log = book
    # executed in this build, or in make book's under the same execution key (tools/editions.py: execution_key)
    assert f"{path}: Executed notebook" in log or (TAKEN in log and f"{path}: Using cached notebook" in log), \
        f"{path.name} was not executed"
    executed = executed_notebook(build, path)
    for cell in executed.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.execution_count is not None, f"{path.name}: a cell did not run:\n{cell.source[:200]}"
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: a cell raised {output.get('ename')}"
            if output.output_type == "stream":
                assert "Traceback" not in output.text, f"{path.name}: a traceback was printed"
            data = output.get("data", {})
            text = data.get("text/plain", "")
            if text.startswith("<Figure size") or text.startswith("<matplotlib."):
                assert "image/png" in data or "image/svg+xml" in data, f"{path.name}: a figure was printed as text"


@pytest.mark.book
@pytest.mark.parametrize("path", LESSONS, ids=notebook_id)
def test_solutions_are_hidden_on_the_page_and_their_self_checks_pass(book, path):
    build, _ = book
    page = (build / "html" / "chapters" / f"{path.stem}.html").read_text()
    exercises = page.count('class="exercise admonition"')
    assert exercises >= 5
    assert page.count('class="solution dropdown admonition"') >= exercises
    executed = executed_notebook(build, path)
    inside, checked = False, 0
    for cell in executed.cells:
        if cell.cell_type == "markdown":
            inside = (inside or "{solution-start}" in cell.source) and "{solution-end}" not in cell.source
            continue
        for output in cell.get("outputs", []):
            shown = output.get("data", {}).get("text/html", "")
            if inside and "lenet-check" in shown:
                checked += 1
                assert 'data-passed="true"' in shown, f"{path.name}: a solution fails its own self-check:\n{shown}"
    assert checked >= 2, f"{path.name}: {checked} solutions run a self-check, at least 2 expected"


@pytest.mark.book
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if "widgets." in p.read_text()], ids=notebook_id)
def test_explorers_are_saved_into_the_page_for_the_static_site(book, path):
    """The widget state (settings and the browser code) is embedded, so the explorer runs without a kernel."""
    build, _ = book
    page = (build / "html" / "chapters" / f"{path.stem}.html").read_text()
    assert "application/vnd.jupyter.widget-state+json" in page
    source = path.read_text()
    assert "lenet_helpers.widgets." in page
    # each widget's marker is in its own JS and CSS; the trainer carries the pad's
    for makers, marker in ((("Explorer(",), "lenet-explorer-"), (("DrawDigit(", "TrainInBrowser("), "lenet-draw-"),
                           (("TrainInBrowser(",), "lenet-train-")):
        made = any(m in source for m in makers)
        assert (marker in page) == made, f"{path.name}: {marker} in the page: {made=} ({' or '.join(makers)} in the source)"
    assert page.count("application/vnd.jupyter.widget-view+json") >= 1
    assert len(page.encode()) < 2_000_000, f"{path.name}: {len(page.encode()):,} bytes is not a light page"


#: What tools/editions.py build says when it starts from make book's execution cache.
TAKEN = ": taken\n"


@pytest.mark.book
def test_a_rebuild_takes_outputs_from_the_cache(book):
    """The Chinese edition is a second build of the same notebooks, with the first one's execution cache: it executes
    nothing, every notebook's outputs come from the cache (as a rebuild of make book with nothing changed does)."""
    _, log = book
    english, chinese = log.split("\n--- the zh_CN edition:", 1)
    assert "Executing notebook" not in chinese
    for path in NOTEBOOKS:
        assert f"{path}: Using cached notebook" in chinese, f"{path.name} was not taken from the cache"


def test_the_execution_key_covers_what_the_outputs_depend_on(tmp_path):
    """make test takes make book's execution cache only under the same key: it changes with any file of the package,
    the extensions, MNIST, the pins and the package's metadata (not with a chapter's text: jupyter-cache keys each
    notebook on its code), and a build under another key starts from an empty cache."""
    import editions

    for name in ("lenet_helpers/conv.py", "_ext/x.py", "data/MNIST/raw/t10k-labels-idx1-ubyte.gz", "requirements.txt",
                 "pyproject.toml", "chapters/01_convolution.ipynb", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")
    key = editions.execution_key(tmp_path)
    assert editions.execution_key(tmp_path) == key
    for name, counts in (("lenet_helpers/conv.py", True), ("_ext/x.py", True), ("requirements.txt", True),
                         ("data/MNIST/raw/t10k-labels-idx1-ubyte.gz", True), ("pyproject.toml", True),
                         ("lenet_helpers/new_module.py", True), ("chapters/01_convolution.ipynb", False),
                         ("README.md", False)):
        (tmp_path / name).write_text("2")
        assert (editions.execution_key(tmp_path) != key) == counts, name
        key = editions.execution_key(tmp_path)

    build = tmp_path / "out" / "_build"
    (build / ".jupyter_cache").mkdir(parents=True)
    (build / ".doctrees").mkdir()
    assert not editions.prepare_cache(build, "a") and not (build / ".jupyter_cache").exists()
    assert not (build / ".doctrees").exists() and (build / editions.KEY_FILE).read_text() == "a"
    (build / ".jupyter_cache").mkdir()
    assert editions.prepare_cache(build, "a") and (build / ".jupyter_cache").exists()
    assert not editions.prepare_cache(build, "b") and not (build / ".jupyter_cache").exists()


def test_make_test_takes_make_books_cache_only_under_the_same_key(tmp_path):
    import editions

    source, target = tmp_path / "checkout", tmp_path / "test" / "_build"
    (source / "_build" / ".jupyter_cache").mkdir(parents=True)
    (source / "_build" / ".jupyter_cache" / "global.db").write_text("outputs")
    assert not editions.take_cache(source, target, "now")  # no key: not taken
    (source / "_build" / editions.KEY_FILE).write_text("before")
    assert not editions.take_cache(source, target, "now") and not (target / ".jupyter_cache").exists()  # another key
    (source / "_build" / editions.KEY_FILE).write_text("now")
    assert editions.take_cache(source, target, "now")
    assert (target / ".jupyter_cache" / "global.db").read_text() == "outputs"
    assert editions.prepare_cache(target, "now")  # and the build keeps it


def test_the_books_tests_run_last():
    """conftest orders the tests that need the built book after the others, so that both xdist workers run the
    others while the book is built in the background."""
    from types import SimpleNamespace

    from conftest import pytest_collection_modifyitems

    items = [SimpleNamespace(name=name, fixturenames=fixtures) for name, fixtures in
             (("a", ["site", "book"]), ("b", []), ("c", ["tmp_path"]), ("d", ["book"]), ("e", []))]
    pytest_collection_modifyitems(items)
    assert [item.name for item in items] == ["b", "c", "e", "a", "d"]


@pytest.mark.book
def test_a_cell_that_raises_fails_the_build(tmp_path):
    """With the book's own configuration, one failing cell must fail the whole build."""
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: broken\n")
    (tmp_path / "index.md").write_text("# A book with a broken page\n")
    (tmp_path / "references.bib").write_text((ROOT / "references.bib").read_text())
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")
    (tmp_path / "assets").symlink_to(ROOT / "assets")  # the site's npm files, installed by make
    (tmp_path / "data").symlink_to(ROOT / "data")  # the digits the in-browser trainer's pack is made from
    (tmp_path / "locales").symlink_to(ROOT / "locales")  # the editions' definition, read by _ext/site_editions.py
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("1 / 0")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "broken.ipynb")
    result = jupyter_book(book=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode != 0, "a notebook whose cell raises was built without complaint"
    assert "ZeroDivisionError" in log


def test_bench_help_works(root):
    """python benchmarks/bench.py --help prints its options (a bare % in a help string used to crash it)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(root / "benchmarks" / "bench.py"), "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--seeds" in result.stdout and "98.5% accuracy" in result.stdout and "time-to-target" in result.stdout


def test_declared_dependencies_are_used_and_python_versions_agree(root):
    """Every dependency in pyproject.toml is imported by the package (or says why not); the chapters'
    extra is imported by a chapter; and pyproject, the Makefile and the README ask for the same Python."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    sources = "\n".join(p.read_text() for p in (root / "lenet_helpers").rglob("*.py"))
    pyproject = (root / "pyproject.toml").read_text()
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", requirement)[0]
        imported = re.search(rf"^\s*(import|from) {name}\b", sources, re.M)
        explained = re.search(rf'"{re.escape(requirement)}",\s*# not imported: ', pyproject)
        assert imported or explained, f"{name} is declared in pyproject.toml but lenet_helpers never imports it"
    chapters = "\n".join(p.read_text() for p in NOTEBOOKS)
    for requirement in project["optional-dependencies"]["chapters"]:
        name = re.split(r"[<>=!~ \[]", requirement)[0]
        assert re.search(rf"import {name}\b", chapters), f"{name} is in the chapters extra but no chapter imports it"
    minimum = project["requires-python"].removeprefix(">=")
    assert f'MIN_PYTHON="{minimum}"' in (root / "tools" / "prerequisites.sh").read_text()  # what make checks
    assert f"Python {minimum} or newer" in (root / "README.md").read_text()
    assert f"Python {minimum} or newer" in (root / "intro.md").read_text()


def test_the_readme_ci_and_make_share_one_list_of_prerequisites(root):
    """The README's Debian/Ubuntu command installs exactly tools/prerequisites.sh's packages, which .ci/run installs
    (where missing) before make test: a green CI means a machine that ran the README's command passes."""
    script = root / "tools" / "prerequisites.sh"
    packages = subprocess.run(["bash", str(script), "packages"], capture_output=True, text=True, check=True).stdout.split()
    assert {"python3-venv", "nodejs", "npm", "chromium", "fonts-noto-cjk"} <= set(packages)
    commands = re.findall(r"`sudo apt-get install ([^`]+)`", (root / "README.md").read_text())
    assert [c.split() for c in commands] == [packages], "the README must show tools/prerequisites.sh's list, once"
    ci = (root / ".ci" / "run").read_text()
    assert re.search(r"^tools/prerequisites\.sh install$", ci, re.M)
    assert re.search(r"^#   " + re.escape(" ".join(packages)) + "$", ci, re.M), ".ci/run must name the list it installs"
    assert ci.index("tools/prerequisites.sh install") < ci.index("make test")
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^test: prerequisites ", makefile, re.M)


def test_prerequisites_name_what_is_missing_and_how_to_install_it(root, tmp_path):
    """With nothing on the PATH but bash, the check names each missing prerequisite and the Debian package."""
    script = root / "tools" / "prerequisites.sh"
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("bash", "dirname", "id"):
        (fake / tool).symlink_to(shutil.which(tool))
    (fake / "fc-list").write_text("#!" + shutil.which("bash") + "\nexit 0\n")  # fontconfig, with no CJK font
    (fake / "fc-list").chmod(0o755)
    env = {"PATH": str(fake), "PYTHON": "python3"}
    result = subprocess.run([str(fake / "bash"), str(script), "check", "python", "node", "font", "browser"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 1
    packages = subprocess.run(["bash", str(script), "packages"], capture_output=True, text=True, check=True).stdout.split()
    for words in ("Python 3.11 or newer", "Node.js 18", "Chromium", "CHROMIUM=", "no font with Chinese glyphs",
                  f"sudo apt-get install {' '.join(packages)}"):
        assert words in result.stdout, result.stdout
    (fake / "fc-list").unlink()  # no fontconfig at all: no font can be found, so the font is missing too
    result = subprocess.run([str(fake / "bash"), str(script), "check", "font"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 1 and "fontconfig fonts-noto-cjk" in result.stdout, result.stdout
    old_node = fake / "node"  # a Node.js 12, as Debian 11 and Ubuntu 22.04 ship
    old_node.write_text("#!" + shutil.which("bash") + "\n[ \"$1\" = --version ] && echo v12.22.9 || exit 1\n")
    old_node.chmod(0o755)
    result = subprocess.run([str(fake / "bash"), str(script), "check", "node"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 1 and "this is Node.js v12.22.9" in result.stdout, result.stdout


# ---------------------------------------------------------------------------
# Lessons: objectives, practice inside the lesson, difficulty marks, a summary
# ---------------------------------------------------------------------------

TITLE = re.compile(r"```\{exercise\}\s*([^\n]*)\n")
LESSON_CHAPTERS = [p for p in LESSONS if p.stem[:2] in {"01", "02", "03", "04", "05", "06"} or p.stem == "backprop_by_hand"]


def markdown_of(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def end_of_chapter_index(cells) -> int:
    """Index of the cell with the '## Exercises' heading (the harder end-of-chapter set)."""
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and re.search(r"^## Exercises\s*$", cell.source, re.M):
            return i
    return len(cells)


@pytest.mark.parametrize("path", LESSON_CHAPTERS, ids=notebook_id)
def test_three_self_checked_exercises_inside_each_lesson(path):
    """#12: the learner practises right after each idea, not only at the end of the chapter."""
    cells = nbformat.read(path, as_version=4).cells
    end = end_of_chapter_index(cells)
    assert end < len(cells), f"{path.name}: no '## Exercises' heading"
    before_end = {m.group(1) for c in cells[:end] if c.cell_type == "markdown" for m in EXERCISE.finditer(c.source)}
    inside = {label: group for label, group in exercises_of(path).items() if label in before_end}
    assert len(inside) >= 3, f"{path.name}: {len(inside)} exercises before '## Exercises', at least 3 expected"
    text = "\n".join(markdown_of(path))
    solutions = {label: options for label, options in SOLUTION.findall(text)}
    for label, group in inside.items():
        code = "\n".join(c.source for c in group if c.cell_type == "code")
        assert re.search(r"\bchecks\.\w+\(", code), f"{path.name}: in-lesson exercise {label} has no self-check"
        assert label in solutions and re.search(r":class:\s*dropdown", solutions[label]), (
            f"{path.name}: in-lesson exercise {label} has no hidden solution")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_every_exercise_has_a_difficulty_mark(path):
    for title in TITLE.findall("\n".join(markdown_of(path))):
        assert re.match(r"★{1,3} \S", title), f"{path.name}: exercise {title!r} has no difficulty mark (★, ★★ or ★★★)"


@pytest.mark.parametrize("path", LESSONS, ids=notebook_id)
def test_every_lesson_opens_with_objectives_and_ends_with_a_summary(path):
    text = "\n".join(markdown_of(path))
    objectives = re.search(r":::\{admonition\} After this chapter you can\n(.*?)\n:::", text, re.S)
    assert objectives, f"{path.name}: no 'After this chapter you can' admonition"
    bullets = [line for line in objectives.group(1).splitlines() if line.startswith("- ")]
    assert 3 <= len(bullets) <= 5, f"{path.name}: {len(bullets)} objectives, 3–5 expected"
    assert re.search(r"^## Summary\s*$", text, re.M), f"{path.name}: no '## Summary' section"
