"""Move the course to another GitHub repository in one command; keep the chapters' set-up cells in step.

The course names its repository in one place, ``repository: url:`` in ``_config.yml``, but the address is
also written out where a reader meets it: the chapters' set-up cells (Colab has no checkout to read the
configuration from), the README, the package's metadata on PyPI. This script rewrites all of them::

    make relocate REPOSITORY=https://github.com/OWNER/NAME   # python tools/relocate.py URL
    make setup-cells                                          # python tools/relocate.py --setup-cells
    python tools/relocate.py --check OWNER/NAME              # exit 1 unless _config.yml names OWNER/NAME

``relocate`` replaces every address of the old repository in every file of the checkout (its web and git
addresses, its Colab links and its GitHub Pages site), then rewrites each chapter's set-up cell from
:func:`setup_cell`. ``--setup-cells`` only does the second part: run it after changing the package's
version (``lenet_helpers.__version__``). ``--check`` is what the Pages workflow runs before building.

It needs nothing but Python 3.10 (no .venv): a fork can be relocated before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (ROOT, ToolError, checkout_files, chapters, first_code_cell, package_version,  # noqa: E402
                    read_notebook, translated_chapters, write_notebook)

# GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not at either end; a repository
# name is 1-100 letters, digits, '.', '-' or '_', and not '.' or '..'.
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_EXAMPLE = "https://github.com/OWNER/NAME"


class RelocateError(ToolError):
    """A bad repository address, or a checkout this script cannot relocate; the message says which."""


@dataclass(frozen=True)
class Repository:
    """A GitHub repository: ``owner/name``, with the addresses the course derives from it."""

    owner: str
    name: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.slug}"

    @property
    def pages_url(self) -> str:
        """Where GitHub Pages publishes the site: https://OWNER.github.io/NAME/ (the root for OWNER.github.io)."""
        host = f"{self.owner.lower()}.github.io"
        return f"https://{host}/" if self.name.lower() == host else f"https://{host}/{self.name}/"

    def __eq__(self, other):  # GitHub's names are case-insensitive
        return isinstance(other, Repository) and self.slug.lower() == other.slug.lower()

    def __hash__(self):
        return hash(self.slug.lower())


def parse_repository(url: str) -> Repository:
    """The repository at ``url``, which must be https://github.com/OWNER/NAME (a trailing / or .git is fine).

    >>> parse_repository("https://github.com/example/lenet-course.git").slug
    'example/lenet-course'
    >>> parse_repository("github.com/alice")
    Traceback (most recent call last):
    ...
    relocate.RelocateError: REPOSITORY must be the repository's address, https://github.com/OWNER/NAME; got 'github.com/alice', which does not start with https://github.com/
    """
    if not isinstance(url, str) or not url.strip():
        raise RelocateError(f"REPOSITORY must be the repository's address, {_EXAMPLE}; got nothing")
    given = url
    url = url.strip()

    def bad(why: str) -> RelocateError:
        return RelocateError(f"REPOSITORY must be the repository's address, {_EXAMPLE}; got {given!r}, {why}")

    if url.startswith("git@github.com:"):
        raise bad(f"which is a git (SSH) address: use https://github.com/{url.removeprefix('git@github.com:').removesuffix('.git')}")
    if re.match(r"(?i)https?://(www\.)?github\.com/", url) and not url.startswith("https://github.com/"):
        raise bad("which must start with https://github.com/ exactly (https, no www., lower case)")
    if not url.startswith("https://github.com/"):
        raise bad("which does not start with https://github.com/")
    path = url.removeprefix("https://github.com/").removesuffix("/")
    path = path.removesuffix(".git")
    parts = path.split("/")
    if len(parts) < 2 or not parts[1]:
        raise bad("which names an owner but no repository")
    if len(parts) > 2:
        raise bad(f"which has more than OWNER/NAME (drop '/{'/'.join(parts[2:])}')")
    owner, name = parts
    if not _OWNER.fullmatch(owner):
        raise bad(f"and {owner!r} is not a GitHub owner (letters, digits and single hyphens, at most 39)")
    if not _NAME.fullmatch(name) or name in {".", ".."}:
        raise bad(f"and {name!r} is not a repository name (letters, digits, '.', '-' and '_', at most 100)")
    return Repository(owner, name)


# ---------------------------------------------------------------------------------------------------
# What the checkout says
# ---------------------------------------------------------------------------------------------------


def configured_repository(root: Path = ROOT) -> Repository:
    """The repository named by ``repository: url:`` in ``root/_config.yml``."""
    config = root / "_config.yml"
    if not config.is_file():
        raise RelocateError(f"{config} not found: run this from the course's checkout")
    match = re.search(r"^repository:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*[\"']?([^\s\"'#]+)", config.read_text(), re.M)
    if not match:
        raise RelocateError(f"{config} has no 'repository: url:' entry")
    return parse_repository(match.group(1))


# ---------------------------------------------------------------------------------------------------
# The set-up cell
# ---------------------------------------------------------------------------------------------------

SETUP_CELL = '''\
# Set-up. On Colab, or wherever the course's helper package is missing, this installs it at the
# version these chapters were written for: from PyPI, or else from the course repository's release
# tag. Where lenet_helpers is already installed it does nothing. The package asks only for
# torch>=2.0, so the PyTorch that is already installed stays as it is.
import importlib
import importlib.util
import subprocess
import sys

COURSE_VERSION = "{version}"
COURSE_REPOSITORY = "{repository}"

if importlib.util.find_spec("lenet_helpers") is None:
    tried = []
    for requirement in (f"lenet-helpers[chapters]=={{COURSE_VERSION}}",
                        f"lenet-helpers[chapters] @ git+{{COURSE_REPOSITORY}}@v{{COURSE_VERSION}}"):
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement],
                             capture_output=True, text=True)
        if pip.returncode == 0:
            print(f"Installed {{requirement}}")
            break
        said = [line.strip() for line in pip.stderr.splitlines()]  # git's own words, else pip's
        reason = [line for line in said if line.startswith("fatal:")] or [line for line in said if line.startswith("ERROR:")]
        tried.append(f"  {{requirement}}\\n    {{(reason or ['pip failed'])[-1]}}")
    else:
        raise SystemExit("\\n".join([
            f"Could not install the course's helper package, lenet-helpers {{COURSE_VERSION}}. Tried:", *tried,
            "Check that this runtime is connected to the internet, then run this cell again.",
            f"The course and its releases: {{COURSE_REPOSITORY}}",
        ]))
    importlib.invalidate_caches()'''

_SETUP_MARK = 'importlib.util.find_spec("lenet_helpers") is None'
_SETUP_END = "    importlib.invalidate_caches()"  # the set-up cell's last line


def setup_cell(version: str, repository: str) -> str:
    """The source of every chapter's first code cell, for the package ``version`` and the ``repository`` URL."""
    return SETUP_CELL.format(version=version, repository=repository)


def is_setup_cell(source: str) -> bool:
    """Whether a code cell is a set-up cell (of this or an earlier form)."""
    return _SETUP_MARK in source


def setup_cell_named(source: str) -> tuple[str | None, str | None]:
    """The (version, repository) a set-up cell installs, as far as they can be read from it."""
    version = re.search(r'^COURSE_VERSION = "([^"]*)"', source, re.M)
    repository = re.search(r'^COURSE_REPOSITORY = "([^"]*)"', source, re.M)
    if not repository:
        repository = re.search(r"git\+(https://github\.com/[\w.-]+/[\w.-]+?)(?:\.git)?@", source)
    return (version.group(1) if version else None), (repository.group(1) if repository else None)


def write_setup_cells(root: Path = ROOT) -> list[Path]:
    """Rewrite each chapter's first code cell from :func:`setup_cell`; return the chapters that changed.

    Raises RelocateError (and changes nothing) if a chapter's first code cell is not a set-up cell."""
    source = setup_cell(package_version(root), configured_repository(root).url)
    notebooks = {path: read_notebook(path) for path in chapters(root)}
    for path, nb in notebooks.items():
        cell = first_code_cell(nb)
        if cell is None or not is_setup_cell("".join(cell["source"])):
            raise RelocateError(f"{path.relative_to(root)}: the first code cell is not the set-up cell. "
                                "Every chapter starts with it: copy chapter 0's first code cell there, then run this again.")
    changed = []
    for path, nb in notebooks.items():
        cell = first_code_cell(nb)
        if "".join(cell["source"]) != source:
            cell["source"] = source.splitlines(keepends=True)
            write_notebook(path, nb)
            changed.append(path)
    for path in translated_chapters(root):  # the English set-up cell, then the edition's own lines, kept
        nb = read_notebook(path)
        cell = first_code_cell(nb)
        old = "".join(cell["source"]) if cell else ""
        if _SETUP_END not in old:
            continue
        rewritten = source + old[old.index(_SETUP_END) + len(_SETUP_END):]
        if rewritten != old:
            cell["source"] = rewritten.splitlines(keepends=True)
            write_notebook(path, nb)
            changed.append(path)
    return changed


# ---------------------------------------------------------------------------------------------------
# Relocation
# ---------------------------------------------------------------------------------------------------


def rewrite_addresses(text: str, old: Repository, new: Repository) -> str:
    """``text`` with every address of ``old`` replaced by the same address of ``new``: web and git
    addresses (github.com/OWNER/NAME, git@github.com:OWNER/NAME.git), Colab and raw-file links
    (…/github/OWNER/NAME, githubusercontent.com/OWNER/NAME) and the Pages site (OWNER.github.io/NAME).

    >>> old, new = Repository("example-a", "course"), Repository("example-b", "lenet")
    >>> rewrite_addresses("see https://github.com/example-a/course/issues, https://example-a.github.io/course/", old, new)
    'see https://github.com/example-b/lenet/issues, https://example-b.github.io/lenet/'
    >>> rewrite_addresses("https://github.com/example-a/course-two stays", old, new)
    'https://github.com/example-a/course-two stays'
    """
    slug = rf"{re.escape(old.owner)}/{re.escape(old.name)}(?=\.git\b|(?![\w.-]))"
    text = re.sub(rf"(?i)((?:github\.com[/:]|/github/|githubusercontent\.com/)){slug}",
                  lambda m: m.group(1) + new.slug, text)
    return re.sub(re.escape(old.pages_url), new.pages_url, text, flags=re.I)


def mentions(text: str, repository: Repository) -> bool:
    """Whether ``text`` still names ``repository`` in any form (its OWNER/NAME or its Pages host and name)."""
    return bool(re.search(rf"(?i)(?<![\w.-]){re.escape(repository.slug)}(?![\w.-])", text)
                or repository.pages_url.lower() in text.lower())


def relocate(new_url: str, root: Path = ROOT) -> tuple[list[Path], list[Path]]:
    """Make the checkout at ``root`` name the repository at ``new_url`` everywhere.

    Returns (the files changed, the files that still name the old repository in some other form, to check
    by hand). Raises RelocateError for a bad address or a chapter without its set-up cell."""
    new = parse_repository(new_url)
    old = configured_repository(root)
    for path in chapters(root):  # check before changing anything
        cell = first_code_cell(read_notebook(path))
        if cell is None or not is_setup_cell("".join(cell["source"])):
            raise RelocateError(f"{path.relative_to(root)}: the first code cell is not the set-up cell; "
                                "copy chapter 0's first code cell there, then run this again.")
    changed, leftovers = set(), []
    for path in checkout_files(root):
        try:
            text = path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (MNIST, images): no addresses in there
        rewritten = rewrite_addresses(text, old, new) if old != new else text
        if rewritten != text:
            path.write_bytes(rewritten.encode("utf-8"))
            changed.add(path)
        if old != new and mentions(rewritten, old):
            leftovers.append(path)
    changed.update(write_setup_cells(root))
    return sorted(changed), leftovers


def check(slug: str, root: Path = ROOT) -> str | None:
    """None if ``_config.yml`` names the repository ``slug`` (OWNER/NAME, as in $GITHUB_REPOSITORY), else why not."""
    here = parse_repository(f"https://github.com/{slug}")
    configured = configured_repository(root)
    if configured == here:
        return None
    return (f"_config.yml names the repository {configured.url}, but this is {here.url}: its Colab links, "
            f"repository button and set-up cells would point at the wrong place. Run\n"
            f"    make relocate REPOSITORY={here.url}\n"
            "then commit and push the changes.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="relocate.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("repository", nargs="?", help=f"the new address, {_EXAMPLE}")
    what.add_argument("--setup-cells", action="store_true",
                      help="rewrite the chapters' set-up cells from _config.yml and lenet_helpers.__version__")
    what.add_argument("--check", metavar="OWNER/NAME", help="exit 1, saying what to do, unless _config.yml names OWNER/NAME")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problem = check(args.check)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                if os.environ.get("GITHUB_ACTIONS") == "true":  # also as an annotation on the workflow run's page
                    print(f"::error title=_config.yml names another repository::{' '.join(problem.split())}")
                return 1
            print(f"_config.yml names this repository ({args.check}).")
            return 0
        if args.setup_cells:
            changed = write_setup_cells()
            version, url = package_version(), configured_repository().url
            print(f"Set-up cells: lenet-helpers {version} from {url}; "
                  + (f"rewrote {', '.join(p.name for p in changed)}." if changed else "all were up to date."))
            return 0
        old = configured_repository()
        changed, leftovers = relocate(args.repository)
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    new = parse_repository(args.repository)
    if changed:
        print(f"Relocated from {old.url} to {new.url}. Changed:")
        for path in changed:
            print(f"  {path.relative_to(ROOT)}")
    else:
        print(f"Nothing to change: the course already names {new.url} everywhere.")
    if leftovers:
        print(f"Still naming {old.slug} in another form (check these by hand):", file=sys.stderr)
        for path in leftovers:
            print(f"  {path.relative_to(ROOT)}", file=sys.stderr)
    print(f"Next: commit, push, and enable GitHub Pages (Settings -> Pages -> Source: GitHub Actions). "
          f"The site will be at {new.pages_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
