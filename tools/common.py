"""What the course's tools share: the checkout, its notebooks, and running a command.

``relocate.py``, ``release.py``, ``colab.py``, ``editions.py`` and the tests import it (``sys.path`` holds
``tools/``). Like ``relocate.py``, it needs nothing but Python's standard library: a fork can use it before
anything is installed.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ToolError(Exception):
    """A step of a tool failed, or the checkout is not what it needs; the message says which and why."""


def run(command, what: str, error: type[Exception] = ToolError, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``, its output captured as text; raise ``error`` with ``what``, the command and the output's
    end if it fails. ``kwargs`` go to ``subprocess.run`` (``cwd``, ``env``, …)."""
    command = [str(c) for c in command]
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise error(f"{what} failed ({' '.join(command)}):\n{(result.stdout + result.stderr)[-3000:]}")
    return result


def jupyter_book(*args, book: Path = ROOT, capture: bool = False, timeout: float | None = None
                 ) -> subprocess.CompletedProcess:
    """Build ``book`` with the venv's jupyter-book, strictly (warnings are errors, every page still built);
    ``args`` are more options (``--builder``, ``--config``, ``--path-output``, …). ``capture``: keep the log in
    the result instead of printing it."""
    exe = Path(sys.executable).parent / "jupyter-book"
    command = [str(exe), "build", str(book), "--warningiserror", "--keep-going", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=capture, text=True, timeout=timeout)


def package_version(root: Path = ROOT) -> str:
    """``lenet_helpers.__version__``, read without importing the package (which needs torch)."""
    init = root / "lenet_helpers" / "__init__.py"
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ToolError(f"{init} does not set __version__")


def chapters(root: Path = ROOT) -> list[Path]:
    """Every chapter notebook, in file-name order."""
    return sorted((root / "chapters").glob("*.ipynb"))


def translated_chapters(root: Path = ROOT) -> list[Path]:
    """The chapters of the other editions (chapters/zh_CN/*.ipynb, made by tools/editions.py from the English ones):
    their set-up cell is the English one followed by a few lines that set the package's language."""
    return sorted((root / "chapters").glob("*/*.ipynb"))


def checkout_files(root: Path = ROOT) -> list[Path]:
    """The files of the checkout: those git tracks, plus new ones it does not ignore (all files when
    ``root`` is not a git checkout, except the venv, the build output and installed front-end files)."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, text=True, check=True).stdout
        if (root / ".git").exists():
            return sorted({root / name for name in listed.split("\0") if name and (root / name).is_file()})
    except (OSError, subprocess.CalledProcessError):
        pass
    skip = {".git", ".venv", "_build", "node_modules", "__pycache__", ".pytest_cache", ".hypothesis"}
    return sorted(p for p in root.rglob("*") if p.is_file() and not skip & set(p.relative_to(root).parts))


def read_notebook(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def notebook_text(nb: dict) -> str:
    """nbformat's own layout (one-space indents, sorted keys, a final newline): the round trip is byte-exact."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_notebook(path: Path, nb: dict) -> None:
    Path(path).write_text(notebook_text(nb), encoding="utf-8")


def first_code_cell(nb: dict) -> dict | None:
    return next((cell for cell in nb.get("cells", []) if cell.get("cell_type") == "code"), None)
