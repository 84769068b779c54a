import base64
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lenet_helpers import language  # noqa: E402
from lenet_helpers.language import _, describe, get_language, say, set_language, tr, using  # noqa: E402

sys.path.insert(0, str(language.LOCALES.parent.parent / "tools"))
import editions  # noqa: E402  (tools/editions.py: extraction and the catalog checks)


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def both(monkeypatch):
    """The book build's setting: outputs in both languages."""
    monkeypatch.setenv("LENET_BILINGUAL", "1")


def test_the_language_setting_accepts_its_spellings_and_refuses_others():
    for spelling in ("zh_CN", "zh", "zh-CN", "ZH-cn"):
        set_language(spelling)
        assert get_language() == "zh_CN"
    set_language("en")
    for bad in ("fr", "", None, 3):
        with pytest.raises(ValueError, match="language must be one of 'en', 'zh_CN'"):
            set_language(bad)
    assert get_language() == "en"


def test_using_speaks_a_language_for_a_while_then_goes_back():
    with using("zh_CN"):
        assert str(_("Figure")) == "图"
        with using("en"):
            assert str(_("Figure")) == "Figure"
        assert get_language() == "zh_CN"
    assert get_language() == "en"


def test_a_message_is_rendered_when_shown_in_any_language():
    message = _("{y} against {x}").format(x="t", y=_("Figure"))
    assert message.render("en") == "Figure against t"
    assert message.render("zh_CN") == "图 随 t 的变化"
    assert str(message) == "Figure against t" and f"{message:>20}" == f"{'Figure against t':>20}"
    joined = _("Figure") + ": " + message
    assert joined.render("zh_CN") == "图: 图 随 t 的变化"
    assert ", ".join(["a", "b"]) == _(", ").join(["a", "b"]).render("en")
    assert "against" in message and message == "Figure against t"
    with pytest.raises(TypeError, match="single message"):
        joined.format(x=1)


def test_words_without_a_translation_stay_english():
    assert _("no such message, surely").render("zh_CN") == "no such message, surely"


def test_the_po_reader_joins_lines_skips_fuzzy_and_untranslated(tmp_path):
    po = tmp_path / "x.po"
    po.write_text('msgid ""\nmsgstr "header"\n\n#: a.py:1\nmsgid "one "\n"two"\nmsgstr "一"\n"二\\n"\n\n'
                  '#, fuzzy\nmsgid "old"\nmsgstr "旧"\n\nmsgid "todo"\nmsgstr ""\n\nmsgid "q \\"x\\""\nmsgstr "问 \\"x\\""\n',
                  encoding="utf-8")
    assert language.read_po(po) == {"one two": "一二\n", 'q "x"': '问 "x"'}


def test_tr_gives_the_current_language():
    assert tr(en="epoch", zh="迭代周期") == "epoch"
    with using("zh_CN"):
        assert tr(en="epoch", zh="迭代周期") == "迭代周期"
    with pytest.raises(TypeError, match="zh must be a str"):
        tr(en="epoch", zh=None)


def test_say_shows_the_readers_language_and_on_the_website_both(both, monkeypatch):
    prose = say(en="**3** errors", zh="**3** 个错误")
    markdown = prose._repr_markdown_()
    assert '<div lang="en" data-lenet-lang="en">\n\n**3** errors\n\n</div>' in markdown
    assert '<div lang="zh-CN" data-lenet-lang="zh_CN">\n\n**3** 个错误\n\n</div>' in markdown
    monkeypatch.delenv("LENET_BILINGUAL")
    assert prose._repr_markdown_() == "**3** errors"
    with using("zh_CN"):
        assert prose._repr_markdown_() == "**3** 个错误"


def test_html_both_marks_each_language():
    assert language.html_both(lambda code: f"<b>{code}</b>") == "<b>en</b>"


def test_a_figure_is_drawn_in_both_languages_with_alt_texts(both):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    ax.set_title(tr(en="Error per epoch", zh="每个迭代周期的错误率"))
    ax.set_xlabel(str(_("Figure")))
    ax.set_ylabel("%")
    page = language.figure_html(fig)
    images = re.findall(r'<div lang="([\w-]+)" data-lenet-lang="(\w+)"><img src="data:image/png;base64,([^"]+)" '
                        r'alt="([^"]*)"', page)
    assert [(tag, code) for tag, code, _png, _alt in images] == [("en", "en"), ("zh-CN", "zh_CN")]
    (_t1, _c1, png_en, alt_en), (_t2, _c2, png_zh, alt_zh) = images
    assert alt_en == "Error per epoch, % against Figure"
    assert alt_zh == "每个迭代周期的错误率, % 随 图 的变化"
    assert base64.b64decode(png_en) != base64.b64decode(png_zh)
    assert ax.get_title() == "Error per epoch"  # the figure is left as it was
    describe(fig, en="A falling line", zh="一条下降的线")
    assert 'alt="A falling line"' in language.figure_html(fig) and 'alt="一条下降的线"' in language.figure_html(fig)
    plt.close(fig)


def test_chinese_figures_have_a_font_with_chinese_glyphs():
    name = language.use_cjk_font()
    assert name in language._CJK_FONTS
    assert name in matplotlib.rcParams["font.family"]


def test_the_package_catalog_is_complete_and_keeps_placeholders():
    """Every ``_("...")`` of the package is translated in lenet_helpers/locales/zh_CN (run `make translations`
    after adding one), none is fuzzy, and each translation keeps the English's placeholders, code and numbers."""
    path = editions.package_catalog("zh_CN")
    catalog = language.read_po(path)
    wanted = {m.id for m in editions.package_messages() if m.id}
    missing = sorted(wanted - set(catalog))
    assert not missing, f"untranslated or fuzzy in {path.name} (run make translations, then translate): {missing[:10]}"
    stale = sorted(set(catalog) - wanted)
    assert not stale, f"{path.name} holds messages the package no longer has (run make translations): {stale[:10]}"
    assert editions.problems(path) == []


def test_the_catalog_check_finds_a_lost_placeholder(tmp_path):
    po = tmp_path / "lenet_helpers.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "{n} cases pass"\nmsgstr "通过 n 个用例"\n', encoding="utf-8")
    assert any("placeholders not kept" in problem for problem in editions.problems(po, terms=[]))


def test_a_phrase_is_the_string_and_can_still_be_said_in_another_language():
    phrase = _("{y} against {x}").format(x="t", y="E").phrase()
    assert isinstance(phrase, str) and phrase == "E against t" and phrase.upper() == "E AGAINST T"
    assert phrase.render("zh_CN") == "E 随 t 的变化"
    assert repr(phrase) == "'E against t'"
    import pickle

    assert pickle.loads(pickle.dumps(phrase)) == "E against t"  # a plain string in another process
    with using("zh_CN"):
        assert _("Figure").phrase() == "图"


def test_computed_words_are_made_in_each_language():
    lines = language.computed(lambda code: "\n".join([_("Figure").render(code)] * 2))
    assert lines.render("zh_CN") == "图\n图" and str(lines) == "Figure\nFigure"
    with pytest.raises(TypeError, match="function of the language"):
        language.computed("not a function")


def test_echo_prints_the_readers_language(capsys):
    language.echo(en="output size: 28", zh="输出大小：28")
    with using("zh_CN"):
        language.echo(en="output size: 28", zh="输出大小：28")
    assert capsys.readouterr().out == "output size: 28\n输出大小：28\n"
    with pytest.raises(TypeError, match="echo\\(\\): zh must be a str"):
        language.echo(en="x", zh=None)


def test_printed_lines_on_the_website_carry_both_languages(both):
    html = language.Printed("a < b", "甲 < 乙")._repr_html_()
    assert '<div lang="en" data-lenet-lang="en"><pre class="lenet-printed">a &lt; b</pre></div>' in html
    assert '<div lang="zh-CN" data-lenet-lang="zh_CN"><pre class="lenet-printed">甲 &lt; 乙</pre></div>' in html


def test_a_missing_chinese_font_is_named_with_what_to_install(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    monkeypatch.setattr(language, "_any_cjk_font", lambda manager: None)
    with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
        language.use_cjk_font()


def test_a_figure_title_made_with_tr_is_known_in_both_languages(both):
    title = tr(en="Error per epoch", zh="每个迭代周期的错误率")
    assert language.in_any_language(title).render("zh_CN") == "每个迭代周期的错误率"
    assert language.in_any_language("never drawn") == "never drawn"


def test_on_the_website_a_phrase_quoted_in_a_sentence_is_said_in_the_pages_language(both):
    kind = _("{y} against {x}").format(x="t", y="E").phrase()
    printed = language.Printed(en=f"C1: {kind}", zh=f"C1：{kind:12}；E against time")
    html = printed._repr_html_()
    assert "C1: E against t</pre>" in html and "C1：E 随 t 的变化 ；E against time</pre>" in html


def test_without_a_chinese_font_set_language_warns_and_still_speaks_chinese(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    monkeypatch.setattr(language, "_any_cjk_font", lambda manager: None)
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        set_language("zh_CN")
    assert get_language() == "zh_CN" and str(_("Figure")) == "图"


def test_in_the_book_build_a_figure_drawn_with_pyplot_in_a_cell_is_shown_in_both_languages(tmp_path):
    """The first cell that uses pyplot starts matplotlib's inline backend, which resets the figure formatters
    before the cell shows its figure: the figure must still be shown in both languages, with alt texts."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import lenet_helpers\nimport matplotlib.pyplot as plt"),
        nbformat.v4.new_code_cell("from lenet_helpers.language import tr\nfig, ax = plt.subplots(figsize=(2, 1))\n"
                                  "ax.set_title(tr(en='first', zh='第一'))\nplt.show()"),
    ])
    import os

    env = {**os.environ, "LENET_BILINGUAL": "1"}
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    [output] = nb.cells[1].outputs
    html = output["data"]["text/html"]
    assert 'alt="first"' in html and 'alt="第一"' in html


def test_a_phrase_said_in_chinese_keeps_the_columns_of_printed_lines():
    """A row label or a padded cell (printed with f"{name:7}" or f"{name:>6}") keeps its width once said in Chinese,
    which takes two columns a character; a phrase inside a sentence is only replaced."""
    said = language._said_in_place
    assert said("C1      5\noutput  840", "output", "输出") == "C1      5\n输出    840"
    assert said("    C1: 1\noutput: 2", "output", "输出") == "    C1: 1\n  输出: 2"
    assert said("the output layer", "output", "输出") == "the 输出 layer"
    assert said("output", "output", "输出") == "输出"
