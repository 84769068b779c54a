"""The Chinese edition (中文版): its catalogs (locales/zh_CN), its glossary, and the built pages in the browser.

The catalog tests need no build. The browser tests use the strict build of both editions (the session fixture
``book``, built by tools/editions.py as make book builds it) and the served site of test_site.py.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

import browser
from conftest import ROOT
from test_book import source_of, toc_entries
from test_site import (DRAW_PAGES, SCREENSHOTS, SERIOUS, TRAIN_PAGES, axe_with_solutions_opened, check_drawing,
                       described, page_path, settle, trainer_ready, wait_for_status)

sys.path.insert(0, str(ROOT / "tools"))
import editions  # noqa: E402

PAGES = toc_entries()
LANGUAGE = "zh_CN"
EDITION = editions.EDITIONS[LANGUAGE]["path"]
CATALOGS = ROOT / "locales" / LANGUAGE / "LC_MESSAGES"
CJK = re.compile(r"[\u4e00-\u9fff]")


def catalog_of(entry: str):
    return CATALOGS / f"{entry}.po"


# ---------------------------------------------------------------------------
# The catalogs
# ---------------------------------------------------------------------------

def test_every_page_has_a_catalog_and_no_catalog_is_left_over():
    expected = {catalog_of(e) for e in PAGES}
    found = set(editions.catalogs(LANGUAGE))
    assert expected - found == set(), f"pages without a catalog (run make translations): {expected - found}"
    assert found - expected == set(), f"catalogs of pages not in the book: {found - expected}"


@pytest.mark.parametrize("entry", PAGES)
def test_every_message_is_translated(entry):
    """make test fails while a message is untranslated or fuzzy: make translations lists them."""
    s = editions.statistics(catalog_of(entry))
    assert s["total"] > 0
    todo = [f"untranslated: {m!r}" for m in s["untranslated"]] + [f"fuzzy: {m!r}" for m in s["fuzzy"]]
    assert not todo, f"{entry}: {len(todo)} of {s['total']} messages to translate (make translations):\n" + \
        "\n".join(t[:160] for t in todo[:20])


@pytest.mark.parametrize("entry", PAGES)
def test_translations_keep_code_math_links_numbers_and_the_glossary_terms(entry):
    problems = editions.problems(catalog_of(entry))
    assert not problems, f"{entry}:\n" + "\n".join(problems[:30])


def test_the_catalogs_hold_the_english_as_it_is_now(tmp_path):
    """After an English edit, the catalogs are out of date until make translations: the changed message is then
    untranslated or fuzzy, and the tests above fail until it is translated."""
    from babel.messages.pofile import read_po

    pot = editions.extract(tmp_path)
    stale = []
    for entry in PAGES:
        with (pot / f"{entry}.pot").open("rb") as f:
            english = {m.id for m in read_po(f) if m.id}
        with catalog_of(entry).open("rb") as f:
            kept = {m.id for m in read_po(f) if m.id}
        stale += [f"{entry}: not in the catalog: {m[:100]!r}" for m in sorted(english - kept)]
        stale += [f"{entry}: no longer in the English: {m[:100]!r}" for m in sorted(kept - english)]
    assert not stale, "run make translations, then translate:\n" + "\n".join(stale[:30])


def test_the_checker_finds_what_a_translation_gets_wrong(tmp_path):
    """tools/editions.problems on a catalog with one mistake of each kind."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="zh_CN")
    catalog.add("Each of the 340,908 connections of `LeNet5`", "`LeNet5` 的 34 万个连接各自")  # a number changed
    catalog.add("The stride $s$ of {cite}`lecun1998gradient`", "步长 $s$")  # a role dropped, a term another way
    catalog.add("See [chapter 5](05_training.ipynb#the-loop)", "见[第 5 章](05_training.ipynb#the-loop)")  # good
    path = tmp_path / "x.po"
    with path.open("wb") as f:
        write_po(f, catalog)
    found = "\n".join(editions.problems(path))
    assert "number not kept: ['340,908']" in found
    assert "role not kept" in found and "'stride' is translated as 步幅" in found
    assert "05_training" not in found


def test_every_glossary_term_is_in_the_book_and_has_one_chinese_form():
    terms = editions.glossary()
    names = Counter(t["english"].lower() for t in terms)
    assert [n for n, c in names.items() if c > 1] == []
    english = " ".join(editions.prose_of(m) for e in PAGES for m in _ids(catalog_of(e)))
    required = ["convolution", "cross-correlation", "padding", "stride", "dilation", "receptive field",
                "feature map", "pooling", "subsampling", "connection", "weight sharing", "squashing function"]
    listed = {t["english"] for t in terms}
    assert set(required) <= listed, set(required) - listed
    unused = [t["english"] for t in terms if not t["pattern"].search(english)]
    assert not unused, f"glossary terms the book never uses: {unused}"
    for t in terms:
        assert t["chinese"] and all(CJK.search(zh) for zh in t["chinese"]), t


def _ids(path):
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return [m.id for m in read_po(f) if m.id]


def test_each_common_mistake_has_its_note_where_it_is_taught():
    """Chinese tutorials often repeat four mistakes; each chapter that teaches the topic says so (常见误区)."""
    notes = {"chapters/02_pooling": "max pooling", "chapters/03_counting": "input",
             "chapters/04_lenet5": "1994", "chapters/05_training": "50,000"}
    from babel.messages.pofile import read_po

    for entry, topic in notes.items():
        with catalog_of(entry).open("rb") as f:
            messages = [m for m in read_po(f) if m.id]
        titles = [m for m in messages if m.id == "Common mistake"]
        assert titles and all(m.string == "常见误区" for m in titles), f"{entry}: no 常见误区 note"
        assert any(topic in m.id for m in messages), f"{entry}: the note does not mention {topic!r}"


def js_texts(path) -> dict[str, dict[str, str]]:
    """The TEXTS table of a widget's JavaScript: {language: {key: text}}."""
    source = path.read_text(encoding="utf-8")
    block = source[source.index("const TEXTS = {"):source.index("const TEXT = TEXTS")]
    tables = {}
    for language, body in re.findall(r"^  (\w+): \{\n(.*?)^  \},", block, re.M | re.S):
        entries = re.findall(r'^    (\w+): ((?:"[^"\n]*"\s*\+?\s*)+),', body, re.M)
        tables[language] = {key: "".join(re.findall(r'"([^"\n]*)"', value)) for key, value in entries}
    return tables


@pytest.mark.parametrize("name", ["explorer.js", "draw.js", "train.js"])
def test_the_widgets_speak_both_languages(name):
    tables = js_texts(ROOT / "lenet_helpers" / "static" / name)
    assert set(tables) == {"en", "zh"}
    assert set(tables["en"]) == set(tables["zh"]), set(tables["en"]) ^ set(tables["zh"])
    for key, english in tables["en"].items():
        chinese = tables["zh"][key]
        assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", chinese)), key
        if re.search(r"[a-z]{3,}", re.sub(r"\{\w+\}", "", english)) and key not in ("max", "avg"):
            assert CJK.search(chinese), f"{name}: {key} is not translated: {chinese!r}"


# ---------------------------------------------------------------------------
# The Chinese edition in the browser
# ---------------------------------------------------------------------------

class _OpenedZh(dict):
    def __init__(self, context, base):
        super().__init__()
        self.context, self.base = context, base

    def __missing__(self, entry):
        page = browser.Page(self.context, self.base)
        page.page.goto(f"{self.base}{EDITION}/{page_path(entry)}", wait_until="load")
        settle(page.page)
        self[entry] = page
        return page


@pytest.fixture(scope="session")
def opened_zh(site, chromium):
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield _OpenedZh(context, base)
    context.close()


def chinese_share(page) -> float:
    """The share of the article's letters that are Chinese characters (code, math, outputs, tables and the
    bibliography's entries left out)."""
    return page.evaluate(r"""() => {
        const copy = (document.querySelector('article') || document.body).cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .output, table, .citation').forEach(n => n.remove());
        const text = copy.innerText;
        const cjk = (text.match(/[\u4e00-\u9fff]/g) || []).length;
        const latin = (text.match(/[A-Za-z]+/g) || []).length;  // a Latin word counts as one letter's worth
        return cjk / Math.max(1, cjk + latin);
    }""")


@pytest.mark.book
@pytest.mark.parametrize("entry", PAGES)
def test_chinese_pages_load_offline_typeset_their_math_and_read_in_chinese(opened_zh, entry):
    page = opened_zh[entry]
    assert page.problems() == [], f"{entry}: " + "\n".join(page.problems())
    assert page.page.evaluate("() => document.documentElement.lang") == "zh-CN"
    heading = page.page.locator("article h1").first.inner_text()
    assert CJK.search(heading), f"{entry}: the title is not in Chinese: {heading!r}"
    if re.search(r"\$[^$\n]+\$", source_of(entry).read_text()):
        assert page.page.locator("mjx-container").count() > 0, f"{entry}: MathJax typeset nothing"
    share = chinese_share(page.page)
    assert share > 0.6, f"{entry}: only {share:.0%} of the prose is Chinese"


@pytest.mark.book
@pytest.mark.parametrize("entry", PAGES)
def test_every_page_links_to_itself_in_the_other_edition(site, entry):
    _, html, _ = site
    english, chinese = html / f"{entry}.html", html / EDITION / f"{entry}.html"
    for here, there in ((english, chinese), (chinese, english)):
        text = here.read_text(encoding="utf-8")
        links = re.findall(r'<nav class="edition-switch"[^>]*><a href="([^"]+)"', text)
        assert len(links) == 1, f"{here}: no link to the other edition"
        assert (here.parent / links[0]).resolve() == there.resolve(), (here, links[0])


@pytest.mark.book
def test_the_glossary_page_shows_every_term(opened_zh):
    page = opened_zh["glossary"].page
    text = page.locator("table.course-glossary").inner_text()
    for term in editions.glossary():
        assert term["english"] in text and term["chinese"][0] in text, term["english"]


@pytest.mark.book
@pytest.mark.parametrize("entry", [e for e in PAGES if "Explorer(" in source_of(e).read_text()])
def test_explorers_speak_chinese_and_respond(opened_zh, entry):
    page = opened_zh[entry].page
    explorers = page.locator(".lenet-explorer")
    assert explorers.count() >= 1
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        assert explorer.locator('input[name="n"]').get_attribute("aria-label") == "输入大小 n"
        formula = explorer.locator(".lenet-formula")
        before = formula.text_content()
        assert before.startswith("输出 = "), before
        slider = explorer.locator('input[name="n"]')
        slider.fill("5" if slider.input_value() != "5" else "6")
        assert formula.text_content() != before, f"{entry}: moving n did not change the formula"
    assert opened_zh[entry].problems() == []


@pytest.mark.book
@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_the_pad_speaks_chinese_and_reads_digits(opened_zh, entry):
    page = opened_zh[entry]
    root = page.page.locator(".lenet-draw")
    root.scroll_into_view_if_needed()
    assert root.locator('button[name="clear"]').inner_text() == "清除"
    assert root.locator('button[name="test-digit"]').inner_text() == "给我一个测试数字"
    check_drawing(root, "mouse")
    assert page.problems() == []


@pytest.mark.book
@pytest.mark.parametrize("entry", TRAIN_PAGES)
def test_the_trainer_speaks_chinese_and_trains(opened_zh, entry):
    page = opened_zh[entry]
    root = page.page.locator(".lenet-train")
    root.scroll_into_view_if_needed()
    trainer_ready(page.page, root)
    assert root.locator('button[name="run"]').inner_text() == "开始"
    assert root.locator('button[name="reset"]').inner_text() == "重置"
    assert root.locator(".lenet-draw select[name=model]").input_value() == "你的 LeNet5Modern"
    root.evaluate("r => r.lenet.start({until: 320})")
    wait_for_status(page.page, root, "paused", 120000)
    assert root.locator(".lenet-train-status").inner_text().startswith("已在 320 个数字后暂停")
    assert CJK.search(root.locator("svg.lenet-train-loss").get_attribute("aria-label"))
    assert page.problems() == []


@pytest.mark.book
@pytest.mark.parametrize("entry", ["chapters/01_convolution", "chapters/05_training"])
def test_screenshots_of_chinese_chapters_on_a_desktop_and_a_phone(site, chromium, entry):
    """Saved in _build/screenshots/ (CJK fonts must be installed where the tests run: Debian fonts-noto-cjk)."""
    base, _, _ = site
    if shutil.which("fc-list"):  # fontconfig (Linux): without a CJK font, Chromium draws boxes
        fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
        assert fonts.strip(), "no font with Chinese glyphs: install one (Debian: apt-get install fonts-noto-cjk)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, options in (("desktop", {"viewport": {"width": 1280, "height": 900}}),
                          ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                                     "device_scale_factor": 2})):
        context = chromium.new_context(locale="zh-CN", **options)
        try:
            page = browser.Page(context, base)
            page.page.goto(f"{base}{EDITION}/{page_path(entry)}", wait_until="load")
            settle(page.page)
            page.page.screenshot(path=str(SCREENSHOTS / f"{EDITION}__{entry.replace('/', '__')}-{name}.png"))
            assert page.problems() == []
        finally:
            context.close()


@pytest.mark.book
@pytest.mark.parametrize("entry", PAGES)
def test_chinese_pages_have_no_serious_accessibility_violations(opened_zh, entry):
    """axe-core (WCAG 2.0 and 2.1, A and AA) on the Chinese pages, light theme, hidden solutions opened."""
    violations = axe_with_solutions_opened(opened_zh[entry].page)
    serious = [described(v) for v in violations if v["impact"] in SERIOUS]
    assert not serious, f"{EDITION}/{entry}:\n" + "\n".join(serious)


@pytest.mark.book
def test_the_chinese_edition_executes_no_notebook(book):
    """The second edition takes every notebook's outputs from the first one's execution cache."""
    _, log = book
    if not log:
        pytest.skip("LENET_REUSE_BUILD: no build log")
    notebooks = [e for e in PAGES if source_of(e).suffix == ".ipynb"]
    assert log.count("Executing notebook using") == len(notebooks), "a notebook was executed twice"
    assert f"edition {LANGUAGE}:" in log
