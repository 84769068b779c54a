"""A list of rows that prints as a table, in a terminal and in a notebook, in the package's language.

**Headers.** A table's columns are the fields of its rows (a ``NamedTuple``). A column's header is looked up in
:data:`COLUMNS`, the headers the package knows, each a message of its catalog (``_("output shape")``), so that it is
shown in the reader's language; a column that is not there is headed by its name, ``_`` written as a space. A module
that makes a table with a new column names its header once, at import::

    from ._table import Table, name_columns
    from .language import _

    name_columns(learning_rate=_("learning rate"))

**Cells.** A cell that is a :class:`~lenet_helpers.language.Message` or a
:class:`~lenet_helpers.language.Phrase` (``_("convolution").phrase()``, a ``str`` that can still be said in
another language) is shown in the reader's language; numbers, shapes and other strings as they are.

In the book build (``LENET_BILINGUAL=1``) the HTML table is written in every language, and each page shows its own.
"""

from __future__ import annotations

import html
import numbers

from .language import Message, _, html_both, text

__all__ = ["Table", "COLUMNS", "name_columns", "format_value", "header"]

#: The headers the package knows: a column's name -> its header (a message, said in the reader's language).
COLUMNS: dict[str, Message] = {
    # counting.LayerCount, models.LayerShape
    "layer": _("layer"),
    "kind": _("kind"),
    "output_shape": _("output shape"),
    "parameters": _("parameters"),
    "connections": _("connections"),
    # train.EpochStats, evaluation.Evaluation
    "epoch": _("epoch"),
    "train_loss": _("train loss"),
    "train_error": _("train error"),
    "test_loss": _("test loss"),
    "test_error": _("test error"),
    "seconds": _("seconds"),
    "loss": _("loss"),
    "accuracy": _("accuracy"),
    "error": _("error"),
    "total": _("total"),
    # experiments.Run, experiments.ShiftError
    "setup": _("setup"),
    "seed": _("seed"),
    "measured": _("measured"),
    "shift": _("shift"),
}


def name_columns(**headers: Message) -> None:
    """Give columns their headers (``name_columns(learning_rate=_("learning rate"))``): see the module's docstring.

    Example:
        >>> name_columns(learning_rate=_("learning rate"))
        >>> str(header("learning_rate"))
        'learning rate'
    """
    for name, words in headers.items():
        if not isinstance(words, Message):
            raise TypeError(f"the header of {name!r} must be a message of the package, _(\"...\"), "
                            f"got {type(words).__name__}")
    COLUMNS.update(headers)


def header(column: str):
    """The header of ``column``: its message in :data:`COLUMNS`, else its name with spaces for ``_``."""
    return COLUMNS.get(column, column.replace("_", " "))


def format_value(value, language: str | None = None) -> str:
    """How a table cell is written: 122304 -> '122,304', (6, 28, 28) -> '6×28×28'; words in ``language``
    (default: the package's)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    if isinstance(value, list):  # a run's history, say: too long for a cell
        return f"({len(value)} items)"
    return text(value, language)


class Table(list):
    """Rows (named tuples) that print as an aligned table.

    ``str(table)`` gives plain text; notebooks show an HTML table. ``footer``
    is an optional last row (totals, say) with the same columns. Headers and
    words in the cells follow the package's language (see the module's docstring).
    """

    footer: tuple | None = None
    #: Columns whose cells are names in the code (a model's layers: ``conv1``, ``relu``), shown as code in HTML;
    #: a cell that is a message of the package (``_("input")``) is shown as words.
    code_columns: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self[0]._fields) if self else ()

    def headers(self, language: str | None = None) -> list[str]:
        """The columns' headers in ``language`` (default: the package's)."""
        return [text(header(c), language) for c in self.columns]

    def _cells(self, language: str | None = None):
        rows = [[format_value(v, language) for v in row] for row in self]
        footer = [format_value(v, language) for v in self.footer] if self.footer is not None else None
        return rows, footer

    def _numeric(self) -> list[bool]:
        """Which columns hold numbers (aligned right)."""
        return [
            all(isinstance(row[i], numbers.Number) and not isinstance(row[i], bool) for row in self)
            for i in range(len(self.columns))
        ]

    def __str__(self) -> str:
        if not self:
            return str(_("(empty table)"))
        header_cells = self.headers()
        rows, footer = self._cells()
        everything = [header_cells] + rows + ([footer] if footer else [])
        widths = [max(_width(r[i]) for r in everything) for i in range(len(header_cells))]

        numeric = self._numeric()

        def line(cells):
            return "  ".join(_pad(c, w, right=num) for c, w, num in zip(cells, widths, numeric)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        lines = [line(header_cells), rule] + [line(r) for r in rows]
        if footer:
            lines += [rule, line(footer)]
        return "\n".join(lines)

    __repr__ = __str__

    def _html(self, language: str) -> str:
        if not self:
            return f"<p>{html.escape(text(_('(empty table)'), language))}</p>"
        rows, footer = self._cells(language)
        numeric = self._numeric()
        code = [c in self.code_columns for c in self.columns]

        def cells(values, tag, originals=None):
            return "".join(
                f'<{tag} style="padding: 0.2em 0.8em; text-align: {"right" if num else "left"}">'
                + (f"<code>{html.escape(v)}</code>" if is_code and originals is not None and v
                   and not hasattr(originals[i], "render") else html.escape(v)) + f"</{tag}>"
                for i, (v, num, is_code) in enumerate(zip(values, numeric, code))
            )

        head = cells(self.headers(language), "th")
        body = "".join(f"<tr>{cells(r, 'td', original)}</tr>" for r, original in zip(rows, self))
        foot = f"<tfoot><tr>{cells(footer, 'th')}</tr></tfoot>" if footer else ""
        return f'<table style="border-collapse: collapse"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>'

    def _repr_html_(self) -> str:
        return html_both(self._html)

    def to_dicts(self) -> list[dict]:
        """The rows as plain dictionaries (for JSON, or ``pandas.DataFrame(table.to_dicts())``)."""
        return [{k: (str(v) if isinstance(v, Message) else v) for k, v in row._asdict().items()} for row in self]


def _width(cell: str) -> int:
    """Columns a cell takes in a terminal: a Chinese character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in cell)


def _pad(cell: str, width: int, right: bool) -> str:
    space = " " * (width - _width(cell))
    return space + cell if right else cell + space
