"""Accessibility fixes for the HTML that the theme and docutils write, found by axe-core in tests/test_site.py.

- The theme's colour-mode button is labelled "Color mode", but its three icons carry titles ("Light", "Dark",
  "System Settings") that Font Awesome turns into labelled images inside the button, so the button's content is not
  part of its name (axe: label-content-name-mismatch, on every page). ``templates/theme-switcher.html`` draws the icons
  as decoration (the button's label says what it does).
- The theme's search field shows "Search Ctrl+K" but is labelled "Search" only (label-content-name-mismatch, on every
  page). ``templates/search-button-field.html`` drops the label, so the text it shows is its name.
- The bibliography (References) is written by docutils as a ``role="list"`` whose items have the role
  ``doc-biblioentry``, which ARIA 1.2 deprecated: a list must hold list items (aria-required-children, critical).
  The entries are given the role ``listitem``.
- Code blocks and outputs too wide for the page scroll, so they must be reachable from the keyboard (WCAG 2.1.1;
  axe: scrollable-region-focusable). The theme gives them ``tabindex="0"`` when the page loads, the window resizes or
  the content changes, but not when a block starts to scroll later: a hidden solution the reader opens, say.
  ``SCROLL_TAB_STOPS`` watches each of them and does the same whenever its size changes.
- myst-nb labels the summary of a hidden cell ("Show code cell source") "Toggle hidden content", so what it shows is
  not its name (label-content-name-mismatch, chapter 6). The label is dropped: the text it shows is its name.
- Links in an exercise's tinted box had a contrast of 4.29 in the light theme (color-contrast, serious):
  ``static/accessibility.css`` gives them a darker blue.

The two templates are the theme's own (pydata-sphinx-theme, version 0.17.1) with those changes only. When the
theme is upgraded, the build stops (a warning, and warnings are errors) until they are compared with its new ones.
(``templates/toggle-*-sidebar.html`` are sphinx-book-theme 1.3.0's, their titles said with ``_()`` so that the
Chinese edition can say them: see the ``header`` words in locales/editions.yml, which _ext/site_editions.py uses.)
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
THEME_VERSION = "0.17.1"  # the pydata-sphinx-theme the templates were copied from
_HIDDEN_CELL_SUMMARY = '<summary aria-label="Toggle hidden content">'  # myst-nb's, for a hide-input cell
_BIBLIOENTRY = re.compile(r'(<div class="citation"[^>]*) role="doc-biblioentry"')

logger = logging.getLogger(__name__)

# The theme's own test (pydata-sphinx-theme: addTabStopsToScrollableElements), run again whenever an element's size
# changes: a tab stop for every code block or output that scrolls.
SCROLL_TAB_STOPS = """
(() => {
  const selector = "pre, .cell_output > .output, .jp-RenderedHTMLCommon, .pst-scrollable-table-container";
  const check = (el) => {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight) el.tabIndex = 0;
  };
  const watch = () => {
    if (!window.ResizeObserver) return;
    const observer = new ResizeObserver((entries) => entries.forEach((entry) => check(entry.target)));
    document.querySelectorAll(selector).forEach((el) => observer.observe(el));
    if (document.fonts) document.fonts.ready.then(() => document.querySelectorAll(selector).forEach(check));
  };
  if (document.readyState === "complete") watch();
  else window.addEventListener("load", watch);
})();
"""


def use_templates(app: Sphinx, config) -> None:
    """Put templates/ first in the template path, so that its files replace the theme's."""
    import pydata_sphinx_theme

    if pydata_sphinx_theme.__version__ != THEME_VERSION:
        logger.warning(f"_ext/templates/ holds templates of pydata-sphinx-theme {THEME_VERSION}, the theme is "
                       f"{pydata_sphinx_theme.__version__}: compare them with its components/ and update "
                       "THEME_VERSION in _ext/accessibility.py")
    config.templates_path.insert(0, str(TEMPLATES))
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def fix_page_html(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Give the bibliography's entries the role of what they are in its list (list items), and let the summary of
    a hidden cell be named by the text it shows."""
    body = context.get("body")
    if body and "doc-biblioentry" in body:
        body = context["body"] = _BIBLIOENTRY.sub(r'\1 role="listitem"', body)
    if body and _HIDDEN_CELL_SUMMARY in body:
        context["body"] = body.replace(_HIDDEN_CELL_SUMMARY, "<summary>")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", use_templates)
    app.connect("html-page-context", fix_page_html)
    app.add_js_file(None, body=SCROLL_TAB_STOPS, id="scroll-tab-stops")
    app.add_css_file("accessibility.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
