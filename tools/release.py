"""Build the package ``lenet-helpers`` the way a release does, and check what was built.

    python tools/release.py build DIST           # sdist, then the wheel from the sdist, then twine check
    python tools/release.py check vX.Y.Z DIST    # the Release workflow: is the tag the version, and is DIST that version?

``build`` builds from a copy of the checkout's files (those git tracks or would track), never from leftovers
in the folder, and checks that the wheel carries every file of ``lenet_helpers/`` (modules, the widgets'
JavaScript and CSS, the benchmark results the chapters read). ``check`` is what the Release workflow runs on
a version tag, so that the package on PyPI, the tag and the chapters' set-up cells all name one version.

Needs ``build`` and ``twine`` (pinned in requirements.txt). To cut a release, see the README.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import relocate  # noqa: E402
from common import ROOT, ToolError  # noqa: E402
PACKAGE = "lenet_helpers"


class ReleaseError(ToolError):
    """What was built, or the tag, is not what a release needs; the message says what to do."""


def package_files(root: Path = ROOT) -> set[str]:
    """The files of the package in the checkout, as paths relative to ``root`` (no caches)."""
    return {p.relative_to(root).as_posix() for p in common.checkout_files(root)
            if p.relative_to(root).parts[0] == PACKAGE and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def copy_checkout(target: Path, root: Path = ROOT) -> Path:
    """Copy the checkout's files (tracked, or new and not ignored) into ``target``; return it."""
    for path in common.checkout_files(root):
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    return target


def build(dist: Path, root: Path = ROOT, *, isolation: bool = True, python: str = sys.executable) -> tuple[Path, Path]:
    """Build the sdist, then the wheel from the sdist, into ``dist``; run ``twine check --strict``; check the
    wheel holds every package file. Returns (wheel, sdist).

    ``isolation=False`` builds with the setuptools already installed (no download; the tests use it)."""
    dist = Path(dist)
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lenet-build-") as tmp:
        source = copy_checkout(Path(tmp) / "source", root)
        command = [python, "-m", "build", "--outdir", str(dist), str(source)]
        common.run(command + ([] if isolation else ["--no-isolation"]), "building the sdist and the wheel", ReleaseError)
    version = common.package_version(root)
    wheel = dist / f"lenet_helpers-{version}-py3-none-any.whl"
    sdist = dist / f"lenet_helpers-{version}.tar.gz"
    for built in (wheel, sdist):
        if not built.exists():
            raise ReleaseError(f"{built.name} was not built: {sorted(p.name for p in dist.iterdir())} are in {dist}")
    common.run([python, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], "twine check", ReleaseError)
    missing = wheel_problems(wheel, root)
    if missing:
        raise ReleaseError("\n".join(missing))
    return wheel, sdist


def wheel_metadata(wheel: Path):
    """The wheel's METADATA (an email.message.Message: ``["Version"]``, ``get_all("Requires-Dist")``, …)."""
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(name).decode())


def wheel_problems(wheel: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the wheel: package files it lacks, or files it has that the checkout does not."""
    with zipfile.ZipFile(wheel) as z:
        inside = {n for n in z.namelist() if n.startswith(f"{PACKAGE}/")}
    expected = package_files(root)
    problems = [f"{wheel.name} lacks {name}: declare it in pyproject.toml's [tool.setuptools.package-data]"
                for name in sorted(expected - inside)]
    problems += [f"{wheel.name} has {name}, which is not a file of the checkout" for name in sorted(inside - expected)]
    version = wheel_metadata(wheel)["Version"]
    if version != common.package_version(root):
        problems.append(f"{wheel.name} says version {version}, lenet_helpers.__version__ is {common.package_version(root)}")
    return problems


def sdist_names(sdist: Path) -> set[str]:
    """The files in the sdist, relative to its top folder."""
    with tarfile.open(sdist) as t:
        return {name.split("/", 1)[1] for name in t.getnames() if "/" in name}


def check_tag(tag: str, dist: Path | None = None, root: Path = ROOT) -> None:
    """Raise ReleaseError unless ``tag`` is v + lenet_helpers.__version__, every set-up cell installs that
    version from the configured repository, and ``dist`` (if given) holds exactly that version's wheel and sdist."""
    version = common.package_version(root)
    if not re.fullmatch(r"v\d+(\.\d+)*([a-z]+\d+)?(\.post\d+)?", tag):
        raise ReleaseError(f"the tag {tag!r} is not a version tag like v{version}")
    if tag != f"v{version}":
        raise ReleaseError(f"the tag is {tag} but lenet_helpers.__version__ is {version!r}: tag the commit that sets "
                           f"__version__ = \"{tag[1:]}\" (bump it, run `make setup-cells`, commit), or delete the tag")
    expected = relocate.setup_cell(version, relocate.configured_repository(root).url)
    stale = [p.name for p in common.chapters(root)
             if "".join(common.first_code_cell(common.read_notebook(p))["source"]) != expected]
    if stale:
        raise ReleaseError(f"these chapters' set-up cells do not install {version}: {', '.join(stale)}. Run `make setup-cells`.")
    if dist is not None:
        names = sorted(p.name for p in Path(dist).iterdir())
        wanted = [f"lenet_helpers-{version}-py3-none-any.whl", f"lenet_helpers-{version}.tar.gz"]
        if names != sorted(wanted):
            raise ReleaseError(f"{dist} should hold exactly {' and '.join(wanted)}, it holds {names}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build the sdist and the wheel into DIST and check them")
    b.add_argument("dist", type=Path)
    b.add_argument("--no-isolation", action="store_true", help="use the installed setuptools (no download)")
    c = commands.add_parser("check", help="check a version tag (and DIST) before publishing")
    c.add_argument("tag")
    c.add_argument("dist", type=Path, nargs="?")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            wheel, sdist = build(args.dist, isolation=not args.no_isolation)
            print(f"Built and checked {wheel.name} ({wheel.stat().st_size:,} bytes) and {sdist.name} "
                  f"({sdist.stat().st_size:,} bytes) in {args.dist}")
        else:
            check_tag(args.tag, args.dist)
            print(f"{args.tag}: the package's version, and every set-up cell installs it.")
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
