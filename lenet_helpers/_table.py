"""A list of rows that prints as a table, in a terminal and in a notebook."""

from __future__ import annotations

import html
import numbers


def format_value(value) -> str:
    """How a table cell is written: 122304 -> '122,304', (6, 28, 28) -> '6×28×28'."""
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
    return str(value)


class Table(list):
    """Rows (named tuples) that print as an aligned table.

    ``str(table)`` gives plain text; notebooks show an HTML table. ``footer``
    is an optional last row (totals, say) with the same columns.
    """

    footer: tuple | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self[0]._fields) if self else ()

    def _cells(self):
        rows = [[format_value(v) for v in row] for row in self]
        footer = [format_value(v) for v in self.footer] if self.footer is not None else None
        return rows, footer

    def _numeric(self) -> list[bool]:
        """Which columns hold numbers (aligned right)."""
        return [
            all(isinstance(row[i], numbers.Number) and not isinstance(row[i], bool) for row in self)
            for i in range(len(self.columns))
        ]

    def __str__(self) -> str:
        if not self:
            return "(empty table)"
        header = [c.replace("_", " ") for c in self.columns]
        rows, footer = self._cells()
        everything = [header] + rows + ([footer] if footer else [])
        widths = [max(len(r[i]) for r in everything) for i in range(len(header))]

        numeric = self._numeric()

        def line(cells):
            return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        lines = [line(header), rule] + [line(r) for r in rows]
        if footer:
            lines += [rule, line(footer)]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if not self:
            return "<p>(empty table)</p>"
        rows, footer = self._cells()
        numeric = self._numeric()

        def cells(values, tag):
            return "".join(
                f'<{tag} style="padding: 0.2em 0.8em; text-align: {"right" if num else "left"}">{html.escape(v)}</{tag}>'
                for v, num in zip(values, numeric)
            )

        head = cells([c.replace("_", " ") for c in self.columns], "th")
        body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
        foot = f"<tfoot><tr>{cells(footer, 'th')}</tr></tfoot>" if footer else ""
        return f'<table style="border-collapse: collapse"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>'

    def to_dicts(self) -> list[dict]:
        """The rows as plain dictionaries (for JSON, or ``pandas.DataFrame(table.to_dicts())``)."""
        return [row._asdict() for row in self]
