"""What the package writes for people, in English or Chinese (中文).

The package speaks the language set with :func:`set_language` (``"en"``, the default, or ``"zh_CN"``; the
environment variable ``LENET_LANGUAGE`` sets it at import). Three kinds of words follow it:

* the package's own messages (self-checks, table headers, plot labels, generated verdicts): ``_("English")``
  looks the words up in the package's gettext catalog, ``lenet_helpers/locales/zh_CN/LC_MESSAGES/lenet_helpers.po``
  (extracted from the code by ``make translations``; a test keeps it complete). ``_`` returns a :class:`Message`,
  which is turned into text only when it is shown, so one message can be shown in both languages;
* a chapter's own words in a figure: ``ax.set_title(tr(en="Error per epoch", zh="每个迭代周期的错误率"))``;
* a chapter's generated prose: ``say(en=f"...", zh=f"...")`` displays Markdown written in both languages.

**Both languages at once.** The website is built by executing every notebook once, and the Chinese edition reuses
those outputs. When ``LENET_BILINGUAL=1`` (the book build sets it), every output the package makes carries both
languages, each marked with its ``lang``; the page shows the one that matches its own ``<html lang>`` (a style sheet
of the site, ``_ext/static/editions.css``). Figures are drawn twice, once with their words in each language, each
with an alt text made from the figure's titles and labels (or set with :func:`describe`).

Example:
    >>> set_language("zh_CN")
    >>> str(_("Figure"))
    '图'
    >>> tr(en="error rate", zh="错误率")
    '错误率'
    >>> set_language("en")
    >>> str(_("Figure"))
    'Figure'
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LANGUAGES", "set_language", "get_language", "using", "bilingual", "tr", "say", "describe",
           "Message", "Prose"]

#: The languages the package speaks: its code -> the ``lang`` tag of a web page in it.
LANGUAGES = {"en": "en", "zh_CN": "zh-CN"}
LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "lenet_helpers"

_language = "en"
_catalogs: dict[str, dict[str, str]] = {}
_drawn: dict[str, "Message | _Pair"] = {}  # figure words as drawn (English) -> how to say them in any language


def _remember(english: str, words) -> None:
    if len(_drawn) > 50_000:  # a long notebook: forget the oldest half
        for key in list(_drawn)[:25_000]:
            del _drawn[key]
    _drawn[english] = words


# ---------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------


def _checked(language) -> str:
    if isinstance(language, str):
        code = language.replace("-", "_")
        for known in LANGUAGES:
            if code.lower() == known.lower() or (known != "en" and code.lower() == known.split("_")[0].lower()):
                return known
    raise ValueError(f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {language!r}")


def set_language(language: str) -> None:
    """Make the package speak ``language``: ``"en"`` or ``"zh_CN"`` (``"zh"`` and ``"zh-CN"`` work too).

    Example:
        >>> set_language("zh")
        >>> get_language()
        'zh_CN'
        >>> set_language("en")
    """
    global _language
    _language = _checked(language)
    if _language != "en":
        _use_cjk_font()


def get_language() -> str:
    """The language the package speaks now: ``"en"`` or ``"zh_CN"``."""
    return _language


@contextmanager
def using(language: str):
    """Speak ``language`` inside a ``with`` block, then go back.

    Example:
        >>> with using("zh_CN"):
        ...     print(_("Figure"))
        图
    """
    global _language
    before, _language = _language, _checked(language)
    try:
        yield
    finally:
        _language = before


def bilingual() -> bool:
    """Whether outputs carry both languages (``LENET_BILINGUAL=1``: the book build)."""
    return os.environ.get("LENET_BILINGUAL", "") not in ("", "0")


# ---------------------------------------------------------------------------
# The package's catalog
# ---------------------------------------------------------------------------


def _unquote(line: str) -> str:
    return line[line.index('"') + 1:line.rindex('"')].encode("latin-1", "backslashreplace").decode("unicode_escape")


def read_po(path: Path) -> dict[str, str]:
    """The translated, not fuzzy, messages of a .po file: ``{msgid: msgstr}`` (no plurals, no contexts)."""
    entries, entry, field, fuzzy = {}, {}, None, False

    def close():
        if entry.get("msgid") and entry.get("msgstr") and not fuzzy:
            entries[entry["msgid"]] = entry["msgstr"]

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            close()
            entry, field, fuzzy = {}, None, False
        elif line.startswith("#,"):
            fuzzy = fuzzy or "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid ", "msgstr ")):
            field = line.split(" ", 1)[0]
            entry[field] = _unquote(line)
        elif line.startswith('"') and field:
            entry[field] += _unquote(line)
    return entries


def _catalog(language: str) -> dict[str, str]:
    if language not in _catalogs:
        path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        _catalogs[language] = read_po(path) if path.exists() else {}
    return _catalogs[language]


def translate(message: str, language: str | None = None) -> str:
    """``message`` (English) in ``language`` (default: the current one); the English where there is no translation."""
    language = language or _language
    if language == "en":
        return message
    return _catalog(language).get(message, message)


def _render(value, language):
    return value.render(language) if hasattr(value, "render") else value


class Message:
    """Words of the package, turned into text in a language only when shown: ``str(m)`` in the current language,
    ``m.render("zh_CN")`` in Chinese. ``format`` fills ``{placeholders}`` (the values may be messages too), ``+``
    joins, and :meth:`join` joins many.

    Example:
        >>> m = _("{y} against {x}").format(x="t", y="E")
        >>> m.render("en"), m.render("zh_CN")
        ('E against t', 'E 随 t 的变化')
    """

    __slots__ = ("_parts",)

    def __init__(self, *parts):
        # Each part: a (msgid, args, kwargs) to translate, a plain string (not translated) or a Message.
        self._parts = parts

    def format(self, *args, **kwargs) -> "Message":
        if len(self._parts) != 1 or not isinstance(self._parts[0], tuple):
            raise TypeError("format() fills the placeholders of a single message made by _()")
        msgid, _args, _kwargs = self._parts[0]
        return Message((msgid, args, kwargs))

    def render(self, language: str | None = None) -> str:
        language = _checked(language or _language)
        out = []
        for part in self._parts:
            if isinstance(part, tuple):
                msgid, args, kwargs = part
                template = translate(msgid, language)
                if args or kwargs:
                    template = template.format(*(_render(a, language) for a in args),
                                               **{k: _render(v, language) for k, v in kwargs.items()})
                out.append(template)
            else:
                out.append(str(_render(part, language)))
        return "".join(out)

    def __str__(self) -> str:
        text = self.render()
        if bilingual() and self._parts:
            _remember(text, self)  # words that may end up in a figure: drawn in Chinese too
        return text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other) -> "Message":
        return Message(self, other)

    def __radd__(self, other) -> "Message":
        return Message(other, self)

    def __eq__(self, other) -> bool:
        return str(self) == str(other) if isinstance(other, (str, Message)) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, words: str) -> bool:
        return words in str(self)

    def join(self, parts) -> "Message":
        """``parts`` joined with this message between them (like ``str.join``)."""
        joined = []
        for i, part in enumerate(parts):
            if i:
                joined.append(self)
            joined.append(part)
        return Message(*joined)


def _(message: str) -> Message:
    """A message of the package's own, to translate with its catalog (``make translations`` extracts every
    ``_("...")`` of the package's code)."""
    return Message((message, (), {}))


def text(value, language: str | None = None) -> str:
    """``value`` (a :class:`Message`, or anything else) as text in ``language`` (default: the current one)."""
    return _render(value, language or _language) if hasattr(value, "render") else str(value)


# ---------------------------------------------------------------------------
# A chapter's own words
# ---------------------------------------------------------------------------


class _Pair:
    def __init__(self, en: str, zh: str):
        self.words = {"en": en, "zh_CN": zh}

    def render(self, language=None) -> str:
        return self.words[_checked(language or _language)]


def _words(en, zh, name: str = "tr") -> _Pair:
    for argument, value in (("en", en), ("zh", zh)):
        if not isinstance(value, str):
            raise TypeError(f"{name}(): {argument} must be a str, got {type(value).__name__}")
    return _Pair(en, zh)


def tr(en: str, zh: str) -> str:
    """A chapter's own words, ``en`` or ``zh`` as the package speaks now: for a figure's title, labels and legend.

    On the website, a figure drawn with these words is shown in both languages.

    Example:
        >>> tr(en="epoch", zh="迭代周期")
        'epoch'
    """
    pair = _words(en, zh)
    if bilingual():
        _remember(en, pair)
    return pair.render()


class Prose:
    """Generated Markdown in both languages, displayed in the reader's (see :func:`say`)."""

    def __init__(self, en: str, zh: str):
        self.pair = _words(en, zh, "say")

    def __str__(self) -> str:
        return self.pair.render()

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        if not bilingual():
            return self.pair.render()
        return "\n".join(f'<div lang="{tag}" data-lenet-lang="{code}">\n\n{self.pair.render(code).strip()}\n\n</div>'
                         for code, tag in LANGUAGES.items())


def say(en: str, zh: str) -> Prose:
    """Show generated Markdown in the reader's language: put ``say(en=f"...", zh=f"...")`` on a cell's last line.

    Write the Chinese as a Chinese author would, not word for word. On the website both are in the page and it
    shows the one in its own language.

    Example:
        >>> say(en="**3** errors", zh="**3** 个错误")
        **3** errors
    """
    return Prose(en, zh)


# ---------------------------------------------------------------------------
# Output in both languages (the book build)
# ---------------------------------------------------------------------------


def html_both(render) -> str:
    """HTML showing ``render(language)`` (HTML) in each language, each marked with its ``lang``: the page keeps the
    one that matches its own. Outside the book build, only the current language."""
    if not bilingual():
        return render(_language)
    return "".join(f'<div lang="{tag}" data-lenet-lang="{code}">{render(code)}</div>'
                   for code, tag in LANGUAGES.items())


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "PingFang SC", "Microsoft YaHei", "SimHei")


def _use_cjk_font() -> str:
    """Let matplotlib draw Chinese: a CJK font after the default one, which still draws Latin letters and digits
    (matplotlib falls back from one family of ``font.family`` to the next, glyph by glyph). Returns its name."""
    import matplotlib
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in _CJK_FONTS if name in available), None)
    if found is None:
        raise RuntimeError("no font with Chinese glyphs for the figures: install one "
                           "(Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; then restart the kernel)")
    families = list(matplotlib.rcParams["font.family"])
    if found not in families:
        matplotlib.rcParams["font.family"] = [*families, found]
    return found


def describe(figure, en: str, zh: str):
    """Give ``figure`` an alt text, in both languages, that says what it shows (screen readers read it).

    Without one, a figure's alt text is made from its titles and axis labels. Returns the figure.
    """
    figure._lenet_alt = _words(en, zh, "describe")
    return figure


def _alt(figure, language: str) -> str:
    described = getattr(figure, "_lenet_alt", None)
    if described is not None:
        return described.render(language)
    parts = []
    title = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) else ""
    if title:
        parts.append(title)
    for ax in figure.get_axes():
        bits = [t for t in (ax.get_title(), ax.get_title("left"), ax.get_title("right")) if t]
        x, y = ax.get_xlabel(), ax.get_ylabel()
        if x and y:
            bits.append(_("{y} against {x}").format(x=x, y=y).render(language))
        elif x or y:
            bits.append(x or y)
        if bits:
            parts.append(", ".join(bits))
    if not parts:
        return _("Figure").render(language)
    return "; ".join(dict.fromkeys(parts))  # one mention of each


def _words_in_figure(figure):
    from matplotlib.text import Text

    return [t for t in figure.findobj(Text) if t.get_text()]


def figure_png(figure, language: str) -> bytes:
    """``figure`` drawn as a PNG with its words in ``language`` (those made with ``_``, :func:`tr` or
    :func:`describe`; numbers and other words stay as they are)."""
    texts = _words_in_figure(figure)
    before = [t.get_text() for t in texts]
    try:
        if language != "en":
            _use_cjk_font()
        for t, words in zip(texts, before):
            known = _drawn.get(words)
            if known is not None:
                t.set_text(known.render(language))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        for t, words in zip(texts, before):
            t.set_text(words)


def figure_html(figure) -> str:
    """The figure in both languages, each image with its alt text (the book build's display of a figure)."""

    def render(language):
        png = base64.b64encode(figure_png(figure, language)).decode("ascii")
        alt = html.escape(_alt_in(figure, language), quote=True)
        return f'<img src="data:image/png;base64,{png}" alt="{alt}" class="lenet-figure">'

    return html_both(render)


def _alt_in(figure, language: str) -> str:
    texts = _words_in_figure(figure)
    before = [t.get_text() for t in texts]
    try:
        for t, words in zip(texts, before):
            known = _drawn.get(words)
            if known is not None:
                t.set_text(known.render(language))
        return _alt(figure, language)
    finally:
        for t, words in zip(texts, before):
            t.set_text(words)


def _install_figure_display() -> None:
    """In a notebook of the book build, show every matplotlib figure with :func:`figure_html`.

    matplotlib's inline backend resets the figure formatters when pyplot is first imported (it may be later than
    this package), so the formatter is put back after every cell too, before the backend shows that cell's figures.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is there wherever notebooks run
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    def install(*_args):
        shell.display_formatter.formatters["text/html"].for_type(Figure, figure_html)

    install()
    shell.events.register("post_execute", install)


def _start() -> None:
    language = os.environ.get("LENET_LANGUAGE")
    if language:
        set_language(language)
    if bilingual():
        _use_cjk_font()  # before any figure is made: its words get the fallback font too
        _install_figure_display()


_WORDS = re.compile(r"\{[^{}]*\}")


def placeholders(message: str) -> list[str]:
    """The ``{placeholders}`` of a message, sorted (a translation must keep them)."""
    return sorted(_WORDS.findall(message))


_start()
