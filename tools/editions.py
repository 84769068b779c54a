"""The course's two editions, English and Chinese (中文版), built from the same notebooks.

    python tools/editions.py build [--path-output DIR] [--cache-from DIR]   both editions, strictly (make book, make test)
    python tools/editions.py update                      the catalogs after an English edit (make translations)
    python tools/editions.py status                      what is untranslated or fuzzy, per catalog
    python tools/editions.py notebooks                   the Chinese notebooks, chapters/zh_CN (make translations)

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, checkout_files, jupyter_book, notebook_text, read_notebook  # noqa: E402
LOCALES = ROOT / "locales"
GLOSSARY = ROOT / "locales" / "glossary.yml"
# The package's own messages (lenet_helpers.language): what its code writes for people, one catalog per language.
PACKAGE = ROOT / "lenet_helpers"


def package_catalog(language: str = "zh_CN") -> Path:
    return PACKAGE / "locales" / language / "LC_MESSAGES" / "lenet_helpers.po"

# The editions (locales/editions.yml, which the Sphinx extension _ext/site_editions.py reads too): Sphinx's language
# code -> the edition's sub-path of the site, its title, its search language, its notebooks, ...
EDITIONS = yaml.safe_load((LOCALES / "editions.yml").read_text(encoding="utf-8"))
# The editions built after the English one, into sub-paths of its site.
TRANSLATED = {language: edition for language, edition in EDITIONS.items() if edition["path"]}
# Where each edition's notebooks are, relative to the course: the English ones are the chapters themselves.
NOTEBOOKS = {language: edition["notebooks"] for language, edition in TRANSLATED.items()}


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


def translated(language: str, cache: Path, words: Path | None = None) -> dict:
    """The changes to _config.yml that make the ``language`` edition, with outputs from the execution ``cache``;
    its search splits Chinese into words with jieba, the course's terms (the dictionary ``words``) kept whole."""
    edition = TRANSLATED[language]
    search = {"sphinx.config.html_search_language": edition["search"]} if "search" in edition else {}
    if search and words is not None:
        search["sphinx.config.html_search_options"] = {"dict": str(words)}
    return {
        "title": edition["title"],
        "execute.cache": str(cache),
        "sphinx.config.language": language,
        "sphinx.config.locale_dirs": [str(LOCALES)],
        "sphinx.config.gettext_compact": False,
        **search,
        # Words that extensions write themselves (sphinx-togglebutton, myst-nb), not in any catalog
        **{f"sphinx.config.{key}": value for key, value in edition.get("config", {}).items()},
    }


def search_words(path: Path) -> Path:
    """Write jieba's user dictionary for the Chinese search: every Chinese term of locales/glossary.yml of two
    characters or more, and its ``search_words`` (compounds such as 汇聚层). Without a frequency, jieba gives each the
    least that keeps it one word (a frequent single character would cut other words in two). Returns the path."""
    data = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))
    words = [zh for term in data["terms"] for zh in term["chinese"]] + list(data.get("search_words", []))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{word}\n" for word in dict.fromkeys(words) if len(word) > 1), encoding="utf-8")
    return path


# What a notebook's outputs depend on besides its own code cells (which jupyter-cache keys each notebook on): the
# package, the Sphinx extensions, MNIST, the pinned versions and the package's metadata, as the checkout has them.
EXECUTION_INPUTS = ("lenet_helpers", "_ext", "data", "requirements.txt", "pyproject.toml")
# Beside the execution cache: the key its outputs were made under (execution_key).
KEY_FILE = ".jupyter_cache.key"


def execution_key(root: Path = ROOT) -> str:
    """A key that changes whenever the notebooks' outputs may: the contents of the checkout's files (tracked, or new
    and not ignored) under EXECUTION_INPUTS, Python's version and PyTorch's."""
    import hashlib
    import platform
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for path in checkout_files(root):
        name = path.relative_to(root).as_posix()
        if name.split("/", 1)[0] in EXECUTION_INPUTS:
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "none"
    digest.update(f"python {platform.python_implementation()} {platform.python_version()}; torch {torch}".encode())
    return digest.hexdigest()


def prepare_cache(build_dir: Path, key: str) -> bool:
    """Keep ``build_dir``'s execution cache (``.jupyter_cache``) only if it was made under ``key``; otherwise remove it
    with Sphinx's saved state, so that every notebook runs again, and record ``key`` for the new one. Returns whether
    the cache was kept."""
    stamp = build_dir / KEY_FILE
    if stamp.exists() and stamp.read_text() == key:
        return True
    for stale in (".jupyter_cache", ".doctrees", ".editions"):
        shutil.rmtree(build_dir / stale, ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return False


def take_cache(source: Path, build_dir: Path, key: str) -> bool:
    """Copy ``source``'s execution cache (``source/_build/.jupyter_cache``, make book's) into ``build_dir`` if it was
    made under ``key`` (the checkout's :func:`execution_key` as it is now); else leave ``build_dir`` without one.
    Returns whether it was copied."""
    cache, stamp = source / "_build" / ".jupyter_cache", source / "_build" / KEY_FILE
    if not (cache.is_dir() and stamp.exists() and stamp.read_text() == key):
        return False
    shutil.copytree(cache, build_dir / ".jupyter_cache", dirs_exist_ok=True)
    (build_dir / KEY_FILE).write_text(key)
    return True


def build(path_output: Path | None = None, cache_from: Path | None = None) -> int:
    """Build the English site into <path_output>/_build/html and every other edition into a sub-path of it, with the
    execution cache of <path_output>/_build if it was made under the same :func:`execution_key`.
    Prints how long each edition took ("edition en: 123.4 s"; benchmarks/bench.py reads it)."""
    out = (path_output or ROOT).resolve()
    html = out / "_build" / "html"
    key = execution_key()
    if cache_from is not None and cache_from.resolve() != out:
        taken = take_cache(cache_from.resolve(), out / "_build", key)
        print(f"execution cache of {cache_from}: {'taken' if taken else 'not valid here (or none)'}", flush=True)
    # Outputs cached under another key (the package, MNIST or a version changed since) are not used.
    kept = prepare_cache(out / "_build", key)
    print(f"execution cache: {'kept (same execution key)' if kept else 'new (every notebook runs)'}", flush=True)
    # Every notebook runs once, for both editions: its outputs carry both languages (lenet_helpers.language), and
    # each edition's pages show their own.
    os.environ["LENET_BILINGUAL"] = "1"
    start = time.perf_counter()
    result = jupyter_book("--builder", "html", *(["--path-output", out] if path_output else []))
    if result.returncode:
        return result.returncode
    print(f"edition en: {time.perf_counter() - start:.1f} s", flush=True)
    for language, edition in TRANSLATED.items():
        start = time.perf_counter()
        where = out / "_build" / ".editions" / language
        words = search_words(where / "search-words.txt")
        config = edition_config(where, **translated(language, out / "_build" / ".jupyter_cache", words))
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


_PLACEHOLDER = re.compile(r"\{\w*\}")  # str.format's, in the package's messages


def prose_of(text: str) -> str:
    """A message without its code, math, roles, link targets and placeholders: the words a translator translates."""
    return _PLACEHOLDER.sub(" ", _TARGET.sub("] ", _MATH.sub(" ", _CODE.sub(" ", _ROLE.sub(" ", text)))))


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
            meant = words
            for phrase in term.get("not_in", []):  # the word in another sense
                meant = re.sub(re.escape(phrase), " ", meant, flags=re.I)
            if term["pattern"].search(meant) and not any(zh in chinese for zh in term["chinese"]):
                found.append(f"{where}: '{term['english']}' is translated as {' or '.join(term['chinese'])} "
                             "(locales/glossary.yml)")
            for variant in avoided(term, prose_of(chinese)):
                found.append(f"{where}: '{variant}' is not the course's word for '{term['english']}': write "
                             f"{' or '.join(term['chinese'])} (locales/glossary.yml)")
    return found


def avoided(term: dict, chinese: str) -> list[str]:
    """The variants of ``term`` (its ``avoid`` list) that ``chinese`` uses outside the words of its ``allow`` list.

    >>> avoided({"avoid": ["映射"], "allow": ["特征映射", "映射为"]}, "特征映射把图像映射为数字；每个映射")
    ['映射']
    """
    found = []
    for variant in term.get("avoid", []):
        allowed = [m.span() for word in term.get("allow", []) for m in re.finditer(re.escape(word), chinese)]
        for match in re.finditer(re.escape(variant), chinese):
            if not any(start <= match.start() and match.end() <= end for start, end in allowed):
                found.append(variant)
                break
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
    result = status(language)
    # The Chinese notebooks follow the chapters and the catalogs (an untranslated message stays English there).
    return write_notebooks(language) or result


# ---------------------------------------------------------------------------
# The Chinese notebooks (chapters/zh_CN/): what a learner opens on Colab from a Chinese page
# ---------------------------------------------------------------------------

# The lines a Chinese notebook's set-up cell adds to the English one: the package speaks Chinese; on Colab, which has
# no Chinese font, matplotlib gets one first (Debian's fonts-noto-cjk) so that the figures can draw their words.
LANGUAGE_LINES = {"zh_CN": """

# 中文版：课程软件包的输出（表格、图中的文字、自测的反馈）都用中文。Colab 没有中文字体，先为画图装上一个。
if "google.colab" in sys.modules and not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout:
    subprocess.run(["apt-get", "install", "--yes", "--quiet", "fonts-noto-cjk"], capture_output=True)
import lenet_helpers

lenet_helpers.set_language("zh_CN")"""}


def page_catalog(entry: str, language: str = "zh_CN") -> dict[str, str]:
    """The translated, not fuzzy, messages of page ``entry``'s catalog: ``{msgid: msgstr}``."""
    from babel.messages.pofile import read_po

    with (LOCALES / language / "LC_MESSAGES" / f"{entry}.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


_FENCE = re.compile(r"^(`{3,}|:{3,})(\{[\w-]+\})?\s*(.*)$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])(\s+)(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def translate_markdown(text: str, lookup, missing: list[str]) -> str:
    """``text`` (MyST Markdown) with each message Sphinx extracts from it (a paragraph, a heading, a list item, a
    table cell, a directive's title) replaced by ``lookup(message)``, its translation: the message as Sphinx writes
    it, its lines joined by spaces. Code, math, labels and directive options stay as they are. A message that
    ``lookup`` does not know is kept in English and added to ``missing``."""
    lines = text.split("\n")
    out: list[str] = []

    def say(words: str) -> str:
        words = words.strip()
        found = lookup(words)
        if found is None:
            if re.search(r"[A-Za-z]{2,}", prose_of(words)):
                missing.append(words)
            return words
        return found

    def starts_block(line: str) -> bool:  # a line that ends the paragraph above it (CommonMark: only "1." of lists)
        stripped = line.strip()
        item = _ITEM.match(line)
        return (not stripped or bool(_FENCE.match(stripped)) or bool(_HEADING.match(stripped))
                or stripped.startswith(("$$", "|")) or bool(re.match(r"^\(\S+\)=$", stripped))
                or bool(item and (not item.group(2)[0].isdigit() or item.group(2)[:-1] == "1")))

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        fence = _FENCE.match(stripped)
        if not stripped or re.match(r"^\(\S+\)=$", stripped):  # a blank line, a label
            out.append(line)
            i += 1
        elif fence:
            marks, directive, argument = fence.groups()
            close = i + 1
            while close < len(lines) and not (lines[close].strip().startswith(marks[0] * len(marks))
                                              and set(lines[close].strip()) == {marks[0]}):
                close += 1
            if directive is None:  # code: as it is
                out += lines[i:close + 1]
            else:
                title = say(argument) if argument and " " in argument.strip() else argument
                out.append(f"{indent}{marks}{directive}" + (f" {title}" if title else ""))
                body = i + 1
                while body < close and re.match(r"^\s*:[\w-]+:", lines[body]):  # the directive's options
                    out.append(lines[body])
                    body += 1
                out += translate_markdown("\n".join(lines[body:close]), lookup, missing).split("\n") if body < close else []
                if close < len(lines):
                    out.append(lines[close])
            i = close + 1
        elif stripped.startswith("$$"):  # display math: as it is
            close = i if (stripped.endswith("$$") and len(stripped) > 2) else i + 1
            while close < len(lines) and close > i and not lines[close].strip().endswith("$$"):
                close += 1
            out += lines[i:close + 1]
            i = close + 1
        elif _HEADING.match(stripped):
            hashes, words = _HEADING.match(stripped).groups()
            out.append(f"{indent}{hashes} {say(words)}")
            i += 1
        elif stripped.startswith("|"):  # a table: each cell is a message, the separator row stays
            cells = stripped.strip("|").split("|")
            if all(re.fullmatch(r"\s*:?-+:?\s*", c) for c in cells):
                out.append(line)
            else:
                out.append(indent + "| " + " | ".join(say(c) if c.strip() else "" for c in cells) + " |")
            i += 1
        else:
            item = _ITEM.match(line)
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() and not starts_block(lines[i]) and not (item and _ITEM.match(lines[i])):
                i += 1
            first = item.group(4) if item else stripped
            words = " ".join([first, *(l.strip() for l in lines[start + 1:i])])
            if item:
                out.append(f"{item.group(1)}{item.group(2)}{item.group(3)}{say(words)}")
            else:
                out.append(f"{indent}{say(words)}")
    return "\n".join(out)


def translated_notebook(source: Path, language: str = "zh_CN") -> tuple[dict, list[str]]:
    """The ``language`` edition of the chapter ``source``: the same cells, its Markdown translated from the page's
    catalog, and a set-up cell that makes the package speak ``language``. Returns (notebook, messages without a
    translation)."""
    entry = source.relative_to(ROOT).with_suffix("").as_posix()
    catalog = page_catalog(entry, language)
    nb = read_notebook(source)
    missing: list[str] = []
    first_code = True
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            text = translate_markdown(text, catalog.get, missing)
        elif cell["cell_type"] == "code" and first_code:
            first_code = False
            text = text + LANGUAGE_LINES[language]
        else:
            continue
        cell["source"] = text.splitlines(keepends=True)
    nb["metadata"]["lenet_helpers"] = {"language": language, "translated_from": source.relative_to(ROOT).as_posix(),
                                       "made_by": "tools/editions.py notebooks (do not edit: edit the English chapter "
                                                  "and the catalog, then run make translations)"}
    return nb, missing


def notebooks(language: str = "zh_CN", check: bool = False) -> list[str]:
    """Write the ``language`` notebooks (chapters/zh_CN/<chapter>.ipynb) from the English chapters and the catalogs;
    with ``check``, write nothing and return what is stale. Returns the problems found (stale or missing notebooks,
    notebooks of no chapter, messages without a translation)."""
    folder = ROOT / NOTEBOOKS[language]
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    problems = []
    for source in chapters:
        nb, missing = translated_notebook(source, language)
        problems += [f"{source.name}: no translation for {m[:90]!r}" for m in missing]
        target = folder / source.name
        text = notebook_text(nb)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            if check:
                problems.append(f"{target.relative_to(ROOT)} is stale: run make translations")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for leftover in sorted(set(folder.glob("*.ipynb")) - {folder / s.name for s in chapters}):
        problems.append(f"{leftover.relative_to(ROOT)} is no chapter's: remove it")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build both editions strictly")
    build_parser.add_argument("--path-output", type=Path, help="build into DIR/_build instead of the course's _build")
    build_parser.add_argument("--cache-from", type=Path, metavar="DIR",
                              help="start from DIR/_build's execution cache when its execution key is valid (make test "
                                   "takes make book's)")
    commands.add_parser("update", help="update the catalogs from the English text (make translations)")
    commands.add_parser("status", help="list what is untranslated, fuzzy or wrong").add_argument(
        "catalogs", nargs="*", type=Path, help="only these .po files")
    commands.add_parser("notebooks", help="write the Chinese notebooks (chapters/zh_CN) from the chapters and "
                                          "the catalogs (make translations does it too)")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.path_output, args.cache_from)
    if args.command == "notebooks":
        return write_notebooks()
    return update() if args.command == "update" else status(paths=args.catalogs)


def write_notebooks(language: str = "zh_CN") -> int:
    """Write the ``language`` notebooks; print what they still lack. 1 if a message had no translation."""
    problems = notebooks(language)
    for problem in problems:
        print(f"    {problem}")
    print(f"notebooks: {NOTEBOOKS[language]}/ written from chapters/ and the catalogs"
          + (f", {len(problems)} problems" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
