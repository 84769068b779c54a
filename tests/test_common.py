"""tools/common.py: what the tools (and the tests) share, defined once."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import common  # noqa: E402


def test_run_gives_the_result_or_an_error_of_the_callers_kind():
    class Failed(common.ToolError):
        pass

    result = common.run([sys.executable, "-c", "print('hello')"], "saying hello")
    assert result.stdout == "hello\n"
    with pytest.raises(Failed, match=r"(?s)exiting failed \(.*-c.*\):\n.*boom"):
        common.run([sys.executable, "-c", "import sys; sys.exit('boom')"], "exiting", Failed)


def test_notebooks_round_trip_byte_for_byte(tmp_path):
    for path in common.chapters()[:2] + common.translated_chapters()[:1]:
        copy = tmp_path / path.name
        common.write_notebook(copy, common.read_notebook(path))
        assert copy.read_bytes() == path.read_bytes()
        assert common.first_code_cell(common.read_notebook(path))["cell_type"] == "code"


def test_each_shared_helper_is_defined_once():
    """The tools and the tests import what common.py defines instead of writing it again."""
    shared = {"jupyter_book", "package_version", "chapters", "translated_chapters", "checkout_files", "read_notebook",
              "notebook_text", "write_notebook", "first_code_cell", "_run", "_read_notebook", "_write_notebook"}
    files = sorted((ROOT / "tools").glob("*.py")) + [ROOT / "tests" / "conftest.py"]
    for path in files:
        if path.name == "common.py":
            continue
        defined = {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
        again = defined & shared - {"jupyter_book"} if path.name == "conftest.py" else defined & shared
        assert not again, f"{path.name} defines {sorted(again)} again: import them from tools/common.py"
