"""The released package (tools/release.py): one version, a wheel and an sdist that carry what the chapters use.

`make colab` (tools/colab.py) then runs every chapter against that wheel in a fresh environment; here the
package is built and inspected, which takes seconds.
"""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import common  # noqa: E402
import relocate  # noqa: E402
import release  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Imported by the chapters without being installed by the package: the notebook's own kernel brings IPython.
KERNEL_PROVIDES = {"IPython", "ipykernel"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel, sdist), built from a copy of the checkout with the installed setuptools, twine-checked."""
    return release.build(tmp_path_factory.mktemp("dist"), isolation=False)


def test_the_version_is_written_in_one_place():
    import lenet_helpers

    assert lenet_helpers.__version__ == common.package_version()
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lenet_helpers.__version__"}
    version = re.escape(lenet_helpers.__version__)
    for path in common.checkout_files():
        name = path.relative_to(ROOT).as_posix()
        if path.suffix not in {".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".txt"} or name == "lenet_helpers/__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(rf"__version__\s*=", text) or name.startswith(("tests/", "tools/")), f"{name} sets __version__"
        assert not re.search(rf"(?<![\w.=]){version}(?![\w.])", text), (
            f"{name} writes the version {lenet_helpers.__version__} out: read lenet_helpers.__version__ instead")


def test_the_wheel_carries_every_file_of_the_package(built):
    wheel, sdist = built
    assert release.wheel_problems(wheel) == []
    inside = release.sdist_names(sdist)
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= inside
    assert release.package_files() <= inside, sorted(release.package_files() - inside)
    # What the chapters read from files: the widgets' browser code and the benchmark results.
    names = {Path(n).as_posix() for n in release.package_files()}
    assert any(n.startswith("lenet_helpers/static/") and n.endswith(".js") for n in names)
    assert any(n.startswith("lenet_helpers/static/") and n.endswith(".css") for n in names)
    assert any(n.startswith("lenet_helpers/results/") and n.endswith(".json") for n in names)


def test_the_wheel_metadata(built):
    wheel, _ = built
    meta = release.wheel_metadata(wheel)
    assert meta["Name"] == "lenet-helpers" and meta["Version"] == common.package_version()
    assert meta["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("torchinfo") and 'extra == "chapters"' in r for r in requires), requires
    assert not any(re.match(r"torch\b.*==", r) for r in requires), "torch must stay a loose lower bound (Colab's stays)"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    repository = relocate.configured_repository()
    assert urls["Repository"] == repository.url and urls["Homepage"] == repository.pages_url
    assert urls["Issues"] == f"{repository.url}/issues"
    assert meta["Description-Content-Type"] == "text/markdown"


def test_the_wheel_is_small(built):
    wheel, _ = built
    assert wheel.stat().st_size < 1_000_000, f"{wheel.name} is {wheel.stat().st_size:,} bytes: what got in?"


def chapter_imports():
    """(module, chapter) for every import in every chapter's code cells (IPython magics left out)."""
    found = set()
    for path in common.chapters():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    found |= {(alias.name, path.name) for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    found.add((node.module, path.name))
                    if node.module == "lenet_helpers":
                        found |= {(f"lenet_helpers.{alias.name}", path.name) for alias in node.names}
    return sorted(found)


def test_chapters_import_only_what_the_package_installs(built):
    """Each import of a chapter is the standard library, the package (and in the wheel), a dependency of the
    package or of its extra 'chapters', or the kernel's own IPython: nothing a learner would lack on Colab."""
    wheel, _ = built
    import zipfile

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    declared = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["chapters"]
    declared = {re.split(r"[<>=!~ \[;]", r)[0].lower().replace("_", "-") for r in declared}
    providers = importlib.metadata.packages_distributions()
    for module, chapter in chapter_imports():
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in KERNEL_PROVIDES:
            continue
        if top == "lenet_helpers":
            path = module.replace(".", "/")
            assert f"{path}.py" in in_wheel or f"{path}/__init__.py" in in_wheel or module == "lenet_helpers", (
                f"{chapter} imports {module}, which the wheel lacks (or an attribute it imports is not a module: fine "
                "if so, but then this test needs to know)")
            continue
        dists = {d.lower().replace("_", "-") for d in providers.get(top, [])}
        assert dists & declared, (
            f"{chapter} imports {top}, which neither lenet-helpers nor its extra 'chapters' installs "
            f"(provided by {sorted(dists) or 'nothing installed'}): add it to pyproject.toml")


def test_release_check_accepts_the_version_tag_only(built, tmp_path):
    version = common.package_version()
    release.check_tag(f"v{version}")
    release.check_tag(f"v{version}", built[0].parent)
    with pytest.raises(release.ReleaseError, match="__version__ is"):
        release.check_tag("v999.0.0")
    with pytest.raises(release.ReleaseError, match="not a version tag"):
        release.check_tag("release-1")
    (tmp_path / "stray.whl").write_text("")
    with pytest.raises(release.ReleaseError, match="should hold exactly"):
        release.check_tag(f"v{version}", tmp_path)


def test_release_command_line_says_what_to_do():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "check", "v999.0.0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "make setup-cells" in result.stderr


def test_colab_simulation_pins_come_from_requirements():
    import colab

    pins = colab.pinned(colab.PREINSTALLED)
    assert [p.split("==")[0] for p in pins] == ["torch", "torchvision", "ipykernel"] and all("==" in p for p in pins)
    with pytest.raises(colab.SimulationError, match="pins no version of no-such-package"):
        colab.pinned(["no-such-package"])


def test_colab_kernel_sees_nothing_of_the_checkout(tmp_path, monkeypatch):
    import colab

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere")
    env = colab.kernel_environment(tmp_path / "dist", tmp_path / "venv")
    assert "PYTHONPATH" not in env and "VIRTUAL_ENV" not in env
    assert env["PIP_FIND_LINKS"] == f"{tmp_path / 'dist'} /somewhere"
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin"))
    raw = colab.put_mnist(tmp_path / "content")
    assert raw == tmp_path / "content" / "data" / "MNIST" / "raw" and len(list(raw.glob("*.gz"))) == 4


def test_ci_runs_the_colab_simulation_after_the_tests():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert commands.index("make test") < commands.index("make colab")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^colab:.*\n\t.*tools/colab\.py", makefile, re.M)


def test_colab_reports_the_set_up_cells_time(tmp_path):
    import colab

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("pass"), nbformat.v4.new_code_cell("pass")]
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-01-01T10:00:00.000000Z",
                                         "shell.execute_reply": "2026-01-01T10:00:12.500000Z"}
    nbformat.write(nb, tmp_path / "timed.ipynb")
    assert colab.setup_seconds(tmp_path / "timed.ipynb") == 12.5
    nb.cells[1].metadata = {}
    nbformat.write(nb, tmp_path / "untimed.ipynb")
    assert colab.setup_seconds(tmp_path / "untimed.ipynb") is None


def test_colab_runs_the_chinese_notebooks_and_wants_chinese_self_checks(tmp_path):
    """make colab runs chapters/zh_CN too, two notebooks at a time, and a Chinese notebook whose self-check answers
    in English fails."""
    import json

    import colab

    found = colab.translated_notebooks()
    assert set(found) == {"zh_CN"}
    assert [p.name for p in found["zh_CN"]] == [p.name for p in colab.common.chapters()]
    assert colab.threads_each(2) == max(1, (os.cpu_count() or 1) // 2) and colab.threads_each(10**6) == 1

    def executed(verdicts):
        cells = [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {
                "text/html": [f'<div class="lenet-check" data-passed="true" style="x">{v}</div>']}}]}
            for v in verdicts]
        path = tmp_path / "executed.ipynb"
        path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        return path

    assert colab.untranslated_checks(executed(["✓ corr2d：全部 6 个隐藏用例都通过了"])) == []
    assert colab.untranslated_checks(executed(["✓ corr2d: all 6 hidden cases pass", "✓ 通过"])) == [
        "✓ corr2d: all 6 hidden cases pass"]
