"""The course's two editions, English and Chinese (中文版), built from the same notebooks.

    python tools/editions.py build [--path-output DIR]   both editions, strictly (make book, make test)
    python tools/editions.py update                      the catalogs after an English edit (make translations)
    python tools/editions.py status                      what is untranslated or fuzzy, per catalog

The Chinese edition uses Sphinx's translation workflow (the one the Python documentation uses):

1. ``update`` extracts every message of the book with Sphinx's gettext builder (notebooks not executed: their
   outputs are not translated) and merges them into ``locales/zh_CN/LC_MESSAGES/<page>.po`` with sphinx-intl.
   A message whose English changed becomes *fuzzy* (its old translation kept as a hint), a new one *untranslated*.
2. A translator edits the .po files (any PO editor, or a text editor): ``msgstr`` is the translation; remove the
   ``#, fuzzy`` line once a fuzzy one is checked.
3. ``build`` builds the English site into ``_build/html``, then the same notebooks a second time with
   ``language = zh_CN`` into ``_build/html/zh-cn``. The second build takes every notebook's outputs from the first
   one's execution cache, so no notebook runs twice; Sphinx compiles the .po files itself.

tests/test_editions.py fails while a message is untranslated or fuzzy, or a glossary term is translated another way.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
GLOSSARY = ROOT / "locales" / "glossary.yml"
# The package's own messages (lenet_helpers.language): what its code writes for people, one catalog per language.
PACKAGE = ROOT / "lenet_helpers"


def package_catalog(language: str = "zh_CN") -> Path:
    return PACKAGE / "locales" / language / "LC_MESSAGES" / "lenet_helpers.po"

# The editions beside the English one: Sphinx's language code -> the sub-path of the site, and the site's title.
EDITIONS = {"zh_CN": {"path": "zh-cn", "title": "从零实现 LeNet-5", "words": {
    "togglebutton_hint": "点击显示", "togglebutton_hint_hide": "点击隐藏",
    "nb_code_prompt_show": "显示代码", "nb_code_prompt_hide": "隐藏代码"}}}


def jupyter_book(*args: str | Path) -> subprocess.CompletedProcess:
    """Run the venv's jupyter-book on the course (warnings are errors), printing as it goes."""
    exe = Path(sys.executable).parent / "jupyter-book"
    command = [str(exe), "build", str(ROOT), "--warningiserror", "--keep-going", *map(str, args)]
    return subprocess.run(command, cwd=ROOT)


def edition_config(build: Path, **changes) -> Path:
    """Write a copy of _config.yml with ``changes`` (dotted keys: ``{"sphinx.config.language": "zh_CN"}``) into
    ``build`` and return its path. The local extensions' folders, which jupyter-book reads relative to the
    configuration file, are made absolute."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = config.get("sphinx", {}).get("local_extensions", {})
    for name, folder in extensions.items():
        extensions[name] = str(ROOT / folder)
    for dotted, value in changes.items():
        node = config
        *parents, key = dotted.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    build.mkdir(parents=True, exist_ok=True)
    path = build / "_config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def translated(language: str, cache: Path) -> dict:
    """The changes to _config.yml that make the ``language`` edition, with outputs from the execution ``cache``."""
    return {
        "title": EDITIONS[language]["title"],
        "execute.cache": str(cache),
        "sphinx.config.language": language,
        "sphinx.config.locale_dirs": [str(LOCALES)],
        "sphinx.config.gettext_compact": False,
        # Words that extensions write themselves (sphinx-togglebutton, myst-nb), not in any catalog
        **{f"sphinx.config.{key}": value for key, value in EDITIONS[language].get("words", {}).items()},
    }


def build(path_output: Path | None = None) -> int:
    """Build the English site into <path_output>/_build/html and every other edition into a sub-path of it.
    Prints how long each edition took ("edition en: 123.4 s"; benchmarks/bench.py reads it)."""
    out = (path_output or ROOT).resolve()
    html = out / "_build" / "html"
    # Every notebook runs once, for both editions: its outputs carry both languages (lenet_helpers.language), and
    # each edition's pages show their own.
    os.environ["LENET_BILINGUAL"] = "1"
    start = time.perf_counter()
    result = jupyter_book("--builder", "html", *(["--path-output", out] if path_output else []))
    if result.returncode:
        return result.returncode
    print(f"edition en: {time.perf_counter() - start:.1f} s", flush=True)
    for language, edition in EDITIONS.items():
        start = time.perf_counter()
        where = out / "_build" / ".editions" / language
        config = edition_config(where, **translated(language, out / "_build" / ".jupyter_cache"))
        print(f"\n--- the {language} edition: {html / edition['path']}", flush=True)
        result = jupyter_book("--builder", "html", "--config", config, "--path-output", where)
        if result.returncode:
            return result.returncode
        target = html / edition["path"]
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(where / "_build" / "html", target)
        print(f"edition {language}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


def extract(path_output: Path) -> Path:
    """Every message of the book, one .pot file per page, without executing a notebook. Returns their folder."""
    where = path_output / "_build" / ".gettext"
    config = edition_config(where, **{"execute.execute_notebooks": "off", "sphinx.config.gettext_compact": False})
    result = jupyter_book("--builder", "custom", "--custom-builder", "gettext", "--config", config,
                          "--path-output", where)
    if result.returncode:
        sys.exit(result.returncode)
    return where / "_build" / "gettext"


def catalogs(language: str = "zh_CN") -> list[Path]:
    """The .po files of ``language``, one per page, sorted."""
    return sorted((LOCALES / language / "LC_MESSAGES").rglob("*.po"))


def statistics(path: Path) -> dict:
    """Messages of one catalog: total, translated, untranslated and fuzzy counts, and the fuzzy/untranslated ids."""
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f)
    messages = [m for m in catalog if m.id]
    fuzzy = [m.id for m in messages if m.fuzzy]
    untranslated = [m.id for m in messages if not m.fuzzy and not m.string]
    return {"total": len(messages), "translated": len(messages) - len(fuzzy) - len(untranslated),
            "fuzzy": fuzzy, "untranslated": untranslated}


# What a translation keeps exactly as the English has it: code, math, roles ({cite}`...`; a {ref}'s title may be
# translated, not its target), link targets (not link texts), substitutions,
# the exercises' difficulty marks, and numbers (a number on a page is computed; a translation must not change it).
_CODE = re.compile(r"`[^`]+`")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.S)
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_SUBSTITUTION = re.compile(r"\{\{[^}]+\}\}")
_STARS = re.compile(r"★+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?")


def _kept(text: str) -> dict[str, list[str]]:
    """The parts of a message that its translation must keep unchanged, by kind."""
    # A role keeps its name and target; an explicit title ({ref}`title <target>`) is translated.
    roles = [re.sub(r"`[^`]*<([^>]+)>`$", r"`\1`", role) for role in _ROLE.findall(text)]
    bare = _ROLE.sub(" ", text)
    code = _CODE.findall(bare)
    math = _MATH.findall(_CODE.sub(" ", bare))
    prose = prose_of(text)
    return {"role": sorted(roles), "code": sorted(code), "math": sorted(math),
            "link target": sorted(_TARGET.findall(text)), "substitution": sorted(_SUBSTITUTION.findall(text)),
            "difficulty mark": sorted(_STARS.findall(prose)), "number": sorted(_NUMBER.findall(prose))}


def prose_of(text: str) -> str:
    """A message without its code, math, roles and link targets: the words a translator translates."""
    return _TARGET.sub("] ", _MATH.sub(" ", _CODE.sub(" ", _ROLE.sub(" ", text))))


def glossary() -> list[dict]:
    """The glossary's terms (locales/glossary.yml): ``english``, ``chinese``, and the ``pattern`` that finds the
    English term (case-insensitive, as a whole word, plural and adjective forms included)."""
    terms = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))["terms"]
    for term in terms:
        words = [re.escape(w) for w in [term["english"], *term.get("also", [])]]
        term["pattern"] = re.compile(r"(?<![\w-])(?:" + "|".join(words) + r")(?:s|es|al)?(?![\w-])", re.I)
    return terms


def problems(path: Path, terms: list[dict] | None = None) -> list[str]:
    """What is wrong with the translations of one catalog: markup or numbers not kept, glossary terms translated
    another way. (Untranslated and fuzzy messages are counted by ``statistics``.)"""
    from babel.messages.pofile import read_po

    terms = glossary() if terms is None else terms
    with path.open("rb") as f:
        catalog = read_po(f)
    found = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        english, chinese = message.id, message.string
        where = f"{path.name}:{message.lineno}: {english[:70]!r}"
        kept_en, kept_zh = _kept(english), _kept(chinese)
        for kind, parts in kept_en.items():
            missing = [p for p in parts if p not in kept_zh[kind] or kept_zh[kind].count(p) < parts.count(p)]
            if missing:
                found.append(f"{where}: {kind} not kept: {sorted(set(missing))}")
        braces = sorted(re.findall(r"\{[^{}]*\}", english))  # str.format's placeholders, and roles
        if braces != sorted(re.findall(r"\{[^{}]*\}", chinese)):
            found.append(f"{where}: placeholders not kept: {braces}")
        if re.match(r"\d+\. ", chinese):
            found.append(f"{where}: starts with '{chinese[:3]}', which Markdown reads as a numbered list (the heading "
                         f"is lost): write '{chinese[:chinese.index('.')]}\\. '")
        words = prose_of(english)
        for term in terms:
            if term["pattern"].search(words) and not any(zh in chinese for zh in term["chinese"]):
                found.append(f"{where}: '{term['english']}' is translated as {' or '.join(term['chinese'])} "
                             "(locales/glossary.yml)")
    return found


def status(language: str = "zh_CN", paths: list[Path] | None = None) -> int:
    """Print, per catalog (all of ``language``'s, or ``paths``), how much is translated and what is not, and every
    problem found; 1 if anything is untranslated, fuzzy or wrong."""
    todo = 0
    for path in paths or [*catalogs(language), package_catalog(language)]:
        path = path.resolve()
        s = statistics(path)
        name = path.relative_to(LOCALES / language / "LC_MESSAGES") if path.is_relative_to(LOCALES) else \
            path.relative_to(ROOT)
        print(f"{str(name):40} {s['translated']:4}/{s['total']:<4} translated, "
              f"{len(s['untranslated'])} untranslated, {len(s['fuzzy'])} fuzzy")
        for kind in ("untranslated", "fuzzy"):
            for message in s[kind]:
                text = message if isinstance(message, str) else message[0]
                print(f"    {kind}: {text[:100]!r}")
        todo += len(s["untranslated"]) + len(s["fuzzy"])
        for problem in problems(path):
            print(f"    {problem}")
            todo += 1
    return 1 if todo else 0


def package_messages():
    """Every ``_("...")`` of the package's code, as a Babel catalog (the template of the package's catalogs)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="lenet_helpers", domain="lenet_helpers")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None},
            comment_tags=("TRANSLATORS:",), strip_comment_tags=True):
        template.add(message, None, [(f"lenet_helpers/{filename}", lineno)], auto_comments=comments,
                     context=context)
    return template


def update_package(language: str = "zh_CN") -> Path:
    """Merge the package's messages into its ``language`` catalog (new ones untranslated, changed ones fuzzy)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = package_catalog(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=language)
    else:
        catalog = Catalog(locale=language, domain="lenet_helpers", project="lenet_helpers")
    catalog.update(package_messages())
    catalog.fuzzy = False
    catalog.project, catalog.version = "lenet_helpers", ""
    catalog.msgid_bugs_address = catalog.last_translator = catalog.language_team = ""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, ignore_obsolete=True, include_previous=False, sort_by_file=True,
             omit_header=False)

    def content(data: bytes) -> bytes:  # what changed, apart from the dates in the header
        return re.sub(rb'"(POT-Creation|PO-Revision)-Date: [^"]*"', b"", data)

    if not path.exists() or content(path.read_bytes()) != content(buffer.getvalue()):
        path.write_bytes(buffer.getvalue())
    return path


def update(language: str = "zh_CN") -> int:
    """Extract the English messages of the book and of the package and merge them into the ``language`` catalogs,
    then print their status."""
    update_package(language)
    pot = extract(ROOT)
    (pot / "sphinx.pot").unlink(missing_ok=True)  # the theme's own words: Sphinx and the theme translate them
    exe = Path(sys.executable).parent / "sphinx-intl"
    subprocess.run([str(exe), "update", "--pot-dir", str(pot), "--locale-dir", str(LOCALES), "--language", language,
                    "--line-width", "-1"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    # Pages that left the book leave their catalogs behind: remove them.
    pages = {p.relative_to(pot).with_suffix("") for p in pot.rglob("*.pot")}
    for path in catalogs(language):
        if path.relative_to(LOCALES / language / "LC_MESSAGES").with_suffix("") not in pages:
            print(f"removed {path.relative_to(ROOT)} (no longer in the book)")
            path.unlink()
    return status(language)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build both editions strictly").add_argument(
        "--path-output", type=Path, help="build into DIR/_build instead of the course's _build")
    commands.add_parser("update", help="update the catalogs from the English text (make translations)")
    commands.add_parser("status", help="list what is untranslated, fuzzy or wrong").add_argument(
        "catalogs", nargs="*", type=Path, help="only these .po files")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.path_output)
    return update() if args.command == "update" else status(paths=args.catalogs)


if __name__ == "__main__":
    sys.exit(main())
