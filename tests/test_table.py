"""lenet_helpers._table: the tables the package prints, with headers and words in the reader's language."""

from typing import NamedTuple

import pytest

from lenet_helpers import counting, language, models
from lenet_helpers._table import COLUMNS, Table, _width, format_value, header, name_columns
from lenet_helpers.language import _, using


class Row(NamedTuple):
    layer: str
    kind: str
    output_shape: tuple
    parameters: int
    new_column: float


def table():
    t = Table([Row("C1", _("conv {size}").format(size="5×5").phrase(), (6, 28, 28), 156, 0.5),
               Row("S2", _("subsampling {size}").format(size="2×2"), (6, 14, 14), 12, 0.25)])
    return t


def test_headers_come_from_the_catalog_of_known_columns_and_follow_the_language():
    t = table()
    assert t.headers() == ["layer", "kind", "output shape", "parameters", "new column"]
    assert t.headers("zh_CN") == ["层", "类型", "输出形状", "参数", "new column"]
    with using("zh_CN"):
        text = str(t)
    assert text.splitlines()[0].split() == ["层", "类型", "输出形状", "参数", "new", "column"]
    assert "卷积 5×5" in text and "下采样 2×2" in text and "122" not in text


def test_a_chinese_table_lines_up_in_a_terminal():
    """A Chinese character takes two columns of a terminal: the columns still line up."""
    with using("zh_CN"):
        lines = str(table()).splitlines()
    rule = lines[1]
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    for line in (lines[0], lines[2], lines[3]):
        cells = line.split()
        positions, column = [], 0
        for ch in line:
            positions.append(column)
            column += _width(ch)
        found = [positions[i] for i, ch in enumerate(line) if ch != " " and (i == 0 or line[i - 1] == " ")]
        assert all(any(abs(f - s) <= 0 or f > s for f in found) for s in starts) and cells


def test_a_module_names_its_new_columns(monkeypatch):
    monkeypatch.setattr("lenet_helpers._table.COLUMNS", dict(COLUMNS))  # the catalog as it was, after the test
    name_columns(new_column=_("layer"))
    assert str(header("new_column")) == "layer" and header("new_column").render("zh_CN") == "层"
    with pytest.raises(TypeError, match="must be a message of the package"):
        name_columns(new_column="new column")


def test_the_html_table_shows_each_language_on_the_website(monkeypatch):
    assert "<th" in table()._repr_html_() and "data-lenet-lang" not in table()._repr_html_()
    monkeypatch.setenv("LENET_BILINGUAL", "1")
    html = table()._repr_html_()
    english, chinese = html.split('<div lang="zh-CN" data-lenet-lang="zh_CN">')
    assert english.startswith('<div lang="en" data-lenet-lang="en">') and "output shape" in english
    assert "输出形状" in chinese and "卷积 5×5" in chinese and "output shape" not in chinese


def test_cells_are_written_as_before():
    assert format_value(122304) == "122,304" and format_value((6, 28, 28)) == "6×28×28"
    assert format_value(None) == "" and format_value(True) == "True" and format_value(0.123456) == "0.1235"
    assert format_value(_("input"), "zh_CN") == "输入"
    assert table().to_dicts()[1]["kind"] == "subsampling 2×2"
    assert str(Table()) == "(empty table)"


def test_the_package_tables_speak_chinese():
    with using("zh_CN"):
        trace = models.LeNet5().trace()
        text = str(trace)
    assert trace[0].layer == "输入" and trace[1].kind == "卷积 5×5，1→6 + 缩放的 tanh"
    assert "可训练的下采样 2×2" in text and "欧氏 RBF 84→10" in text
    assert models.LeNet5().trace()[0].layer == "input"  # English again
    assert counting.count_table(models.LeNet5(), (1, 32, 32)).headers("zh_CN")[-2:] == ["参数", "连接"]


def test_the_names_of_a_models_layers_are_code_and_the_packages_words_are_words():
    """count_table and trace_shapes name their rows by the model's own names (conv1, relu: code on the page); the
    paper's table, the input row and the totals are words in the reader's language."""
    traced = models.trace_shapes(models.LeNet5Modern(), (1, 32, 32))
    assert traced.code_columns == ("layer",)
    page = traced._html("zh_CN")
    assert "<code>C1</code>" in page and "<code>output</code>" in page and "<td" in page and "输入" in page
    assert "<code>输入</code>" not in page
    counted = counting.count_table(models.LeNet5Modern(), (1, 32, 32))
    assert "<code>合计</code>" not in counted._html("zh_CN") and "合计" in counted._html("zh_CN")
    paper = counting.lenet5_table()
    assert "<code>" not in paper._html("en")
    assert [format_value(r.kind, "zh_CN") for r in paper][:3] == ["卷积", "下采样", "卷积，按表 I 连接"]
    assert paper[-1].layer == "output" and format_value(paper[-1].layer, "zh_CN") == "输出"
    assert str(paper) == str(counting.lenet5_table())  # English by default
