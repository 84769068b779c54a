"""What the package writes for people, in English or Chinese (中文).

The package speaks the language set with :func:`set_language` (``"en"``, the default, or ``"zh_CN"``; the
environment variable ``LENET_LANGUAGE`` sets it at import). Three kinds of words follow it:

* the package's own messages (self-checks, table headers, plot labels, generated verdicts): ``_("English")``
  looks the words up in the package's gettext catalog, ``lenet_helpers/locales/zh_CN/LC_MESSAGES/lenet_helpers.po``
  (extracted from the code by ``make translations``; a test keeps it complete). ``_`` returns a :class:`Message`,
  which is turned into text only when it is shown, so one message can be shown in both languages;
* a chapter's own words in a figure: ``ax.set_title(tr(en="Error per epoch", zh="每个迭代周期的错误率"))``;
* a chapter's generated prose: ``say(en=f"...", zh=f"...")`` displays Markdown written in both languages;
  a chapter's printed lines: ``echo(en=f"...", zh=f"...")`` prints them in the reader's language.

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
import contextlib
import html
import io
import os
import re
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LANGUAGES", "set_language", "get_language", "using", "bilingual", "tr", "say", "echo", "describe",
           "Message", "Phrase", "Prose", "use_cjk_font", "in_any_language", "set_alt", "alt_text"]

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

    For Chinese, matplotlib gets a font with Chinese glyphs; if there is none, a warning says what to install.

    Example:
        >>> set_language("zh")
        >>> get_language()
        'zh_CN'
        >>> set_language("en")
    """
    global _language
    _language = _checked(language)
    if _language != "en":
        try:
            use_cjk_font()
        except RuntimeError as missing:  # the words still follow the language; only the figures' glyphs are missing
            import warnings

            warnings.warn(f"{missing}. Until then the figures draw Chinese characters as empty boxes.", stacklevel=2)


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
            elif callable(part):  # words made for each language (see computed)
                out.append(part(language))
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

    def phrase(self) -> "Phrase":
        """This message as a :class:`Phrase`: a ``str`` in the current language that can still be said in another."""
        return Phrase(self)


class Phrase(str):
    """A ``str`` (the words in the language the package spoke when it was made) that remembers its
    :class:`Message`, so that a table or a figure can show it in another language (``render``).

    For values that code compares, slices or stores (a table's cells, a layer's description): they behave as the
    plain string everywhere, and the book build can still show them in both languages.

    Example:
        >>> kind = _("Figure").phrase()
        >>> kind, kind.render("zh_CN")
        ('Figure', '图')
    """

    __slots__ = ("message",)

    def __new__(cls, message: "Message"):
        self = super().__new__(cls, str(message))
        self.message = message
        return self

    def render(self, language: str | None = None) -> str:
        return self.message.render(language)

    def __format__(self, spec: str) -> str:
        if bilingual():
            _formatted[str(self)] = self  # written into a chapter's sentence: say() and echo() can say it again
        return format(str(self), spec)

    def __reduce__(self):  # pickled (copied to another process) as the plain string
        return (str, (str(self),))


_formatted: dict[str, "Phrase"] = {}  # phrases put into f-strings, in the book build: their words -> the phrase


def _in_language(words: str, language: str) -> str:
    """A chapter's ``words`` for ``language``, where the phrases of the package it quotes (``f"{describe(layer)}"``:
    written in the language the book is built in) are said in ``language`` too. Only whole phrases are replaced."""
    if language == _language or not _formatted:
        return words
    for english in sorted(_formatted, key=len, reverse=True):
        if english in words:
            words = _said_in_place(words, english, _formatted[english].render(language))
    return words


def _columns(words: str) -> int:
    """Columns ``words`` take in a terminal or a ``<pre>``: a Chinese character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in words)


def _said_in_place(words: str, english: str, said: str) -> str:
    r"""``words`` with each whole ``english`` replaced by ``said``; where it stands in a column of printed lines (a row
    label, or a cell padded with spaces), the spaces around it are adjusted so that the columns stay aligned.

    Example:
        >>> print(_said_in_place("output    840\nC1     122304", "output", "输出"))
        输出      840
        C1     122304
    """
    gap = _columns(english) - _columns(said)  # columns to give back (negative: to take)
    out, last = [], 0
    for match in re.finditer(rf"(?<![\w.]){re.escape(english)}(?![\w(])", words):
        start, end = match.span()
        before = words[last:start]
        following = len(words[end:]) - len(words[end:].lstrip(" "))
        preceding = len(before) - len(before.rstrip(" "))
        line_start = before.rstrip(" ").endswith("\n") or (not before.strip(" ") and last == 0)
        if gap and following and not preceding and (line_start or following >= 2) and words[end + following:][:1] not in ("", "\n"):
            out += [before, said, " " * max(1, following + gap)]
            last = end + following
        elif (gap and (line_start or preceding >= 2) and preceding + gap >= (0 if line_start else 1)
              and (preceding or words[end:end + 1] not in ("", "\n"))):  # right-aligned: a label before its value
            out += [before[:len(before) - preceding], " " * (preceding + gap), said]
            last = end
        else:
            out += [before, said]
            last = end
    return "".join(out) + words[last:]


def _(message: str) -> Message:
    """A message of the package's own, to translate with its catalog (``make translations`` extracts every
    ``_("...")`` of the package's code)."""
    return Message((message, (), {}))


def computed(words) -> Message:
    """A message whose words ``words(language)`` makes for each language (when joining, wrapping or ordering
    differs between them).

    Example:
        >>> m = computed(lambda language: " / ".join([_("Figure").render(language)] * 2))
        >>> m.render("zh_CN")
        '图 / 图'
    """
    if not callable(words):
        raise TypeError(f"computed() needs a function of the language, got {type(words).__name__}")
    return Message(words)


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
        return "\n".join(f'<div lang="{tag}" data-lenet-lang="{code}">\n\n'
                         f'{_in_language(self.pair.render(code), code).strip()}\n\n</div>'
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


class Printed:
    """Lines as ``print`` shows them, in the reader's language (see :func:`echo`)."""

    def __init__(self, en: str, zh: str):
        self.pair = _words(en, zh, "echo")

    def __str__(self) -> str:
        return self.pair.render()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_both(lambda code: f'<pre class="lenet-printed">'
                                      f'{html.escape(_in_language(self.pair.render(code), code))}</pre>')


def echo(en: str, zh: str) -> None:
    """Print ``en`` or ``zh``, whichever is the reader's language: ``print`` for a chapter's own sentences.

    On the website, the lines are shown in both languages and each page keeps its own (``print`` can only write one).

    Example:
        >>> echo(en=f"output size: {28}", zh=f"输出大小：{28}")
        output size: 28
    """
    printed = Printed(en, zh)
    if bilingual() and _in_notebook():
        from IPython.display import display

        display(printed)
    else:
        print(printed)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


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


# Fonts with Chinese glyphs, preferred first: Noto Sans CJK (Debian's fonts-noto-cjk; Google's, as on Colab with
# fonts-noto-cjk installed), Adobe's Source Han Sans (the same design), then those of macOS, Windows and other Linux
# distributions.
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK TC",
              "Noto Sans CJK JP", "Noto Sans CJK KR", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
              "Microsoft YaHei", "SimHei", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
              "AR PL UMing CN", "Arial Unicode MS")
_MISSING_FONT = ("no font with Chinese glyphs for the figures: install one and restart the kernel "
                 "(Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; Colab: !apt-get install -y fonts-noto-cjk; "
                 "macOS and Windows have one)")


def _any_cjk_font(font_manager) -> str | None:
    """A font of matplotlib's that fontconfig says covers Chinese (Linux, BSD), for a CJK font not listed above."""
    import shutil
    import subprocess

    if not shutil.which("fc-list"):
        return None
    try:
        files = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    covering = sorted({line.strip().rstrip(":") for line in files.splitlines() if line.strip()})
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in covering:  # installed after matplotlib made its list of fonts (apt-get install in a running kernel)
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    names = sorted({f.name for f in font_manager.fontManager.ttflist if f.fname in set(covering)})
    return next((n for n in names if "sans" in n.lower() and "mono" not in n.lower()), names[0] if names else None)


def use_cjk_font() -> str:
    """Let matplotlib draw Chinese: a CJK font after the default one, which still draws Latin letters and digits
    (matplotlib falls back from one family of ``font.family`` to the next, glyph by glyph). Returns its name.

    Raises ``RuntimeError`` naming the package to install when matplotlib finds no font with Chinese glyphs.

    Example:
        >>> use_cjk_font()  # doctest: +SKIP
        'Noto Sans CJK SC'
    """
    import matplotlib
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in _CJK_FONTS if name in available), None) or _any_cjk_font(font_manager)
    if found is None:
        raise RuntimeError(_MISSING_FONT)
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


def in_any_language(words):
    """``words`` as given to the package (a title, say), or, when they were made by ``_``, :func:`tr` or a
    :class:`Phrase`, something that says them in any language (``.render(language)``).

    Example:
        >>> in_any_language(_("Figure")).render("zh_CN")
        '图'
        >>> in_any_language("a title of my own")
        'a title of my own'
    """
    if hasattr(words, "render"):
        return words
    return _drawn.get(words, words) if isinstance(words, str) else words


def set_alt(figure, message: "Message"):
    """Give ``figure`` the alt text ``message`` (a :class:`Message`, said in any language); returns the figure.
    :func:`describe` does it from an English and a Chinese text.

    Example:
        >>> from matplotlib.figure import Figure
        >>> alt_text(set_alt(Figure(), _("Figure")), "zh_CN")
        '图'
    """
    figure._lenet_alt = message
    return figure


def alt_text(figure, language: str) -> str:
    """The alt text of ``figure`` in ``language``: the one given by :func:`describe` or :func:`set_alt`, else one made
    from its titles and axis labels.

    Example:
        >>> from matplotlib.figure import Figure
        >>> figure = Figure()
        >>> figure.subplots().set(xlabel="epoch", ylabel="error")  # doctest: +ELLIPSIS
        [...]
        >>> alt_text(figure, "en")
        'error against epoch'
    """
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
    if language != "en":
        use_cjk_font()
    with _speaking(figure, language):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return _palette_png(buffer.getvalue())


def _palette_png(png: bytes) -> bytes:
    """``png`` with at most 256 colours, a third of the bytes or less for the course's plots (their colours are few;
    a colour map's shades move by a few levels out of 255): every figure is embedded in its page, twice in the
    notebook (both languages), and a page must stay light."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    small = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(small, format="PNG", optimize=True)
    return small.getvalue() if small.tell() < len(png) else png


@contextlib.contextmanager
def _speaking(figure, language: str):
    """For a while, the words of ``figure`` made with ``_``, :func:`tr` or :func:`describe` in ``language``."""
    texts = _words_in_figure(figure)
    before = [t.get_text() for t in texts]
    try:
        for t, words in zip(texts, before):
            known = _drawn.get(words)
            if known is not None:
                t.set_text(known.render(language))
        yield figure
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
    with _speaking(figure, language):
        return alt_text(figure, language)


def _install_figure_display() -> None:
    """In a notebook of the book build, show every matplotlib figure with :func:`figure_html`.

    matplotlib's inline backend resets the figure formatters when it starts, which is when a cell first draws with
    pyplot (later than this package's import, and before that cell shows its figure): the formatter is put back
    right after each reset, and after every cell too.
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

    def keeping_ours(select_figure_formats):
        """IPython's select_figure_formats removes every formatter of figures (matplotlib_inline calls it when a cell
        first uses pyplot, before the cell shows its figure): put this one back each time."""
        if getattr(select_figure_formats, "_lenet", False):
            return select_figure_formats

        def select_then_install(*args, **kwargs):
            result = select_figure_formats(*args, **kwargs)
            install()
            return result

        select_then_install._lenet = True
        return select_then_install

    import sys

    from IPython.core import pylabtools

    pylabtools.select_figure_formats = keeping_ours(pylabtools.select_figure_formats)
    inline = sys.modules.get("matplotlib_inline.backend_inline")  # imported already: it holds its own reference
    if inline is not None and hasattr(inline, "select_figure_formats"):
        inline.select_figure_formats = keeping_ours(inline.select_figure_formats)
    install()
    shell.events.register("post_execute", install)


def _start() -> None:
    language = os.environ.get("LENET_LANGUAGE")
    if language:
        set_language(language)
    if bilingual():
        use_cjk_font()  # before any figure is made: its words get the fallback font too
        _install_figure_display()


_WORDS = re.compile(r"\{[^{}]*\}")


def placeholders(message: str) -> list[str]:
    """The ``{placeholders}`` of a message, sorted (a translation must keep them)."""
    return sorted(_WORDS.findall(message))


_start()
