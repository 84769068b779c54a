"""The English and Chinese editions of the site (built by tools/editions.py): a link on every page to the same page
in the other edition, and on a Chinese page a header in Chinese whose Colab button and .ipynb download give the
Chinese notebook (chapters/zh_CN/).

The editions are defined in locales/editions.yml (tools/editions.py reads it too). The English edition is the site's
root; each other one lives under its ``path`` (``zh-cn/``). Which edition a build makes is Sphinx's ``language``
(``zh_CN`` for the Chinese one).
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static"

#: language -> its edition: ``path`` (sub-path of the site), ``tag``, ``name`` (the link's text), ``switch`` (the
#: links' label), and for the other editions their ``notebooks`` and the ``header`` words the theme leaves in English.
EDITIONS = yaml.safe_load((ROOT / "locales" / "editions.yml").read_text(encoding="utf-8"))


def edition_of(app: Sphinx) -> str:
    """The edition a build makes: its Sphinx ``language`` (``zh_CN``), or English for any language without one."""
    language = app.config.language or "en"
    return language if language in EDITIONS else "en"


def to_site_root(language: str) -> str:
    """From the root of ``language``'s edition to the site's root: "" for English, "../" for ``zh-cn/``."""
    path = EDITIONS[language]["path"].strip("/")
    return "../" * (path.count("/") + 1) if path else ""


def switch_html(app: Sphinx, pagename: str) -> str:
    """The links from ``pagename`` to the same page in every other edition."""
    here = edition_of(app)
    up = "../" * pagename.count("/") + to_site_root(here)  # from this page to the site's root
    links = []
    for language, edition in EDITIONS.items():
        if language != here:
            path, tag = edition["path"].strip("/"), edition["tag"]
            href = f"{up}{path + '/' if path else ''}{pagename}.html"
            links.append(f'<a href="{escape(href)}" hreflang="{tag}" lang="{tag}">{escape(edition["name"])}</a>')
    label = escape(EDITIONS[here]["switch"])
    return f'<nav class="edition-switch" aria-label="{label}">{" · ".join(links)}</nav>\n'


def add_switch(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Put the other editions' links at the top of every page's article, and keep only this edition's language of
    the outputs made in both (:func:`only_language`)."""
    if "body" not in context or app.builder.format != "html":
        return
    context["body"] = switch_html(app, pagename) + only_language(context["body"], edition_of(app))


_BOTH = re.compile(r'<div lang="[^"]*" data-lenet-lang="([^"]+)">')
_DIV = re.compile(r"<div\b|</div>")


def only_language(body: str, language: str) -> str:
    """``body`` without the blocks of outputs in other languages than ``language``.

    The book's notebooks are executed once, with every output the package makes in both languages
    (``lenet_helpers.language``, ``LENET_BILINGUAL=1``), each in a ``<div lang data-lenet-lang>``. Each edition's
    pages keep their own: a figure in both languages would otherwise weigh twice in every page. (The notebooks
    offered for download keep both; ``editions.css`` shows the right one there too.)

        >>> only_language('<div lang="en" data-lenet-lang="en"><p>3 errors</p></div>'
        ...               '<div lang="zh-CN" data-lenet-lang="zh_CN"><div>3 个错误</div></div>!', "zh_CN")
        '<div lang="zh-CN" data-lenet-lang="zh_CN"><div>3 个错误</div></div>!'
    """
    kept, at = [], 0
    for block in _BOTH.finditer(body):
        if block.start() < at:  # inside a block already dropped
            continue
        if block.group(1) == language:
            continue
        depth, end = 1, None
        for tag in _DIV.finditer(body, block.end()):
            depth += 1 if tag.group() != "</div>" else -1
            if depth == 0:
                end = tag.end()
                break
        if end is None:  # not closed: leave the page as it is
            return body
        kept.append(body[at:block.start()])
        at = end
    kept.append(body[at:])
    return "".join(kept)


def edition_notebook(language: str, pagename: str) -> str | None:
    """The path (in the repository) of the ``language`` notebook of the chapter ``pagename``, if it has one."""
    folder = EDITIONS.get(language, {}).get("notebooks")
    if folder is None or not pagename.startswith("chapters/") or pagename.count("/") != 1:
        return None
    path = f"{folder}/{pagename.split('/', 1)[1]}.ipynb"
    return path if (ROOT / path).is_file() else None


def _buttons(buttons):
    for button in buttons:
        yield button
        yield from _buttons(button.get("buttons", []))


def edition_header(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """On a page of another edition: the header in its language (the words the theme leaves in English), and its
    Colab button opening that edition's notebook (chapters/zh_CN/...). Runs after the theme made the buttons (501)."""
    language = edition_of(app)
    if language == "en" or app.builder.format != "html":
        return
    words = EDITIONS[language].get("header", {})
    said = context.get("gettext") or app.builder.templates.environment.globals.get("gettext")
    if callable(said):  # the templates' own words, {{ _('Color mode') }} (jinja's _ calls gettext): these, else the theme's
        from jinja2 import pass_context
        from jinja2.utils import _PassArg

        if _PassArg.from_obj(said) is _PassArg.context:
            context["gettext"] = pass_context(lambda ctx, message, **kw: words.get(message) or said(ctx, message, **kw))
        else:
            context["gettext"] = lambda message, **kw: words.get(message) or said(message, **kw)
    if "theme_search_bar_text" in context:
        context["theme_search_bar_text"] = words.get(context["theme_search_bar_text"], context["theme_search_bar_text"])
    notebook = edition_notebook(language, pagename)
    for button in _buttons(context.get("header_buttons", [])):
        for key in ("tooltip", "text"):
            if isinstance(button.get(key), str):
                button[key] = words.get(button[key], button[key])
        url = button.get("url", "")
        if notebook and "colab.research.google.com" in url and url.endswith(f"/{pagename}.ipynb"):
            button["url"] = url[: -len(f"{pagename}.ipynb")] + notebook


def edition_downloads(app: Sphinx, exception) -> None:
    """The .ipynb a Chinese page offers for download (``_sources/chapters/X.ipynb``) is the Chinese notebook."""
    language = edition_of(app)
    if exception is not None or language == "en" or app.builder.format != "html":
        return
    import shutil

    for docname in app.env.found_docs:
        notebook = edition_notebook(language, docname)
        target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if notebook and target.exists():
            shutil.copyfile(ROOT / notebook, target)


class TranslatableExerciseTitles(SphinxTransform):
    """sphinx-exercise writes an exercise's own title ("★ Pooling with rectangular windows") as a subtitle node
    without a source, which Sphinx takes for a built-in text and does not translate. Give each its source, so that
    it is translated like any heading. Runs before Sphinx's translation (priority 20)."""

    default_priority = 10

    def apply(self) -> None:
        from sphinx_exercise.nodes import exercise_subtitle

        for subtitle in self.document.findall(exercise_subtitle):
            exercise = subtitle.parent.parent
            subtitle.source = subtitle.source or exercise.source or self.document["source"]
            subtitle.line = subtitle.line or exercise.line
            subtitle.rawsource = subtitle.rawsource or subtitle.astext()
            exercise["course_title"] = (subtitle.source, subtitle.line, subtitle.rawsource)


class KeepHeadingAnchors(SphinxTransform):
    """Links such as [text](05_training.ipynb#the-papers-preprocessing) point at the anchors that myst-parser makes
    from the English headings (myst_heading_anchors). When Sphinx translates a heading, it parses the translation as a
    heading of its own, and myst-parser then replaces the page's record of its anchors with that one heading's
    (Chinese) anchor: every such link breaks. The anchors of the page as it was parsed are put back after the
    translation (priority 20), so both editions share the English anchors."""

    default_priority = 25

    def apply(self) -> None:
        slugs = getattr(self.document, "myst_slugs", None)
        if slugs:
            self.env.metadata[self.env.docname]["myst_slugs"] = slugs


class RegisterTranslatedExercises(SphinxTransform):
    """sphinx-exercise keeps a copy of each exercise, made when the directive ran (before the translation), and
    titles the exercise's solution from that copy: "解答 练习 19 (★★ Signed features)". After the translation
    (priority 20), the copy is replaced by one of the translated exercise."""

    default_priority = 26

    def apply(self) -> None:
        registry = getattr(self.env, "sphinx_exercise_registry", None)
        if registry is None or edition_of(self.app) == "en":
            return
        for exercise in self.document.findall(nodes.Element):
            label = exercise.get("label") if "course_title" in exercise.attributes else None
            if label in registry and registry[label].get("type") == "exercise":
                registry[label]["node"] = exercise.deepcopy()


class TranslateToctreeCaptions(SphinxTransform):
    """The sidebar's part captions ("Start here", ...) are extracted from the root page's table of contents, but
    sphinx-external-toc inserts that table (priority 100) after Sphinx has translated the page (20): translate the
    captions here, from the root page's catalog, the way Sphinx translates everything else."""

    default_priority = 101

    def apply(self) -> None:
        from sphinx import addnodes
        from sphinx.locale import init as init_locale
        from sphinx.util.i18n import docname_to_domain

        if edition_of(self.app) == "en" or not self.config.locale_dirs:
            return
        dirs = [str(Path(self.env.srcdir, d)) for d in self.config.locale_dirs]
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        catalog, found = init_locale(dirs, self.config.language, domain)
        if not found:
            return
        for toctree in self.document.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalog.gettext(toctree["caption"])


class ExerciseTitleMessages(SphinxPostTransform):
    """For the gettext builder only: sphinx-exercise's post-transform has merged each subtitle into a new title by
    then, so that title carries the subtitle's text as its message (the catalog then holds every exercise title)."""

    default_priority = 25  # after sphinx-exercise's ResolveTitlesInExercises (20)
    builders = ("gettext",)

    def run(self) -> None:
        for exercise in self.document.findall(nodes.Element):
            if "course_title" in exercise.attributes and exercise.children and isinstance(exercise[0], nodes.title):
                exercise[0].source, exercise[0].line, exercise[0].rawsource = exercise["course_title"]
                exercise[0].uid = ""  # the gettext builder adds only nodes with a uid (given at read time)


def use_static(app: Sphinx, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", use_static)
    app.connect("html-page-context", add_switch)
    app.connect("html-page-context", edition_header, priority=900)
    app.connect("build-finished", edition_downloads)
    app.add_transform(TranslatableExerciseTitles)
    app.add_transform(KeepHeadingAnchors)
    app.add_transform(TranslateToctreeCaptions)
    app.add_transform(RegisterTranslatedExercises)
    app.add_post_transform(ExerciseTitleMessages)
    app.add_css_file("editions.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
