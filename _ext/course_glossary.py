"""``{course-glossary}``: the glossary page's table of the course's terms, from locales/glossary.yml (English, 中文,
notes), the same in both editions."""

from __future__ import annotations

from pathlib import Path

import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

GLOSSARY = Path(__file__).resolve().parent.parent / "locales" / "glossary.yml"


class CourseGlossary(SphinxDirective):
    """``{course-glossary}``: the table of locales/glossary.yml (English, 中文, notes). Its cells are not messages to
    translate: the table is the same in both editions."""

    def run(self):
        self.env.note_dependency(str(GLOSSARY))
        terms = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))["terms"]
        table = nodes.table(classes=["course-glossary"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (30, 25, 45):
            group += nodes.colspec(colwidth=width)

        def row(cells):
            r = nodes.row()
            for i, text in enumerate(cells):
                entry = nodes.entry()
                # no source: Sphinx does not extract it as a message. The English column is marked as English
                # (docutils writes the class language-en as lang="en"): screen readers say it in English.
                entry += nodes.paragraph(text=text, classes=["language-en"] if i == 0 else [])
                r += entry
            return r

        head = nodes.thead()
        head += row(["English", "中文", "说明"])
        body = nodes.tbody()
        for term in sorted(terms, key=lambda t: t["english"].lower()):
            english = ", ".join([term["english"], *term.get("also", [])])
            body += row([english, "、".join(term["chinese"]), term.get("note", "")])
        group += head
        group += body
        return [table]


def setup(app: Sphinx) -> dict:
    app.add_directive("course-glossary", CourseGlossary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
