"""The website as readers see it: every page of _toc.yml opened in headless Chromium, with the network cut off.

These tests use the strict build of the whole book (the session fixture ``book`` in conftest.py), serve
it on localhost and block every other request. A page added to _toc.yml is tested without editing this
file. A screenshot of every page, in the light and in the dark theme, is saved under _build/screenshots/ for
reviewers (its first screen; the whole page with LENET_SCREENSHOTS=full), with every widget on its own; axe-core's
findings on every page, in both themes, are saved under _build/axe/.
"""

import json
import math
import os
import re
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import nbformat
import pytest
import torch

import browser
from conftest import ROOT
from test_book import CONFIG, executed_notebook, source_of, toc_entries

pytestmark = pytest.mark.book

# A whole-page screenshot of a chapter (30,000 to 48,000 pixels tall) takes 3.5-5.3 s on a 2-core host, against
# 0.1 s for its first screen (chapter 5, measured alone, one run each); every page in both themes made them about 150 s
# of make test. Nothing is asserted on them: they are for reviewers, who ask for them with LENET_SCREENSHOTS=full.
FULL_PAGE = os.environ.get("LENET_SCREENSHOTS") == "full"

PAGES = toc_entries()
SCREENSHOTS = ROOT / "_build" / "screenshots"
AXE_REPORTS = ROOT / "_build" / "axe"
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def page_path(entry: str) -> str:
    return "index.html" if entry == TOC_ROOT else f"{entry}.html"


TOC_ROOT = PAGES[0]


class _Opened(dict):
    """Pages opened on first use, then kept: {entry: browser.Page}. Each is screenshotted once loaded (FULL_PAGE)."""

    def __init__(self, context, base, suffix=""):
        super().__init__()
        self.context, self.base, self.suffix = context, base, suffix

    def screenshot_path(self, entry: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS / f"{entry.replace('/', '__')}{self.suffix}.png"

    def __missing__(self, entry):
        page = browser.Page(self.context, self.base)
        page.page.goto(self.base + page_path(entry), wait_until="load")
        settle(page)
        page.page.screenshot(path=str(self.screenshot_path(entry)), full_page=FULL_PAGE)
        self[entry] = page
        return page

    def __getitem__(self, entry):
        return to_front(super().__getitem__(entry))


def to_front(page):
    """``page`` (a browser.Page), made its window's front tab. The pages kept open all draw frames otherwise, and every
    click waits for frames: with the book's 13 Chinese pages open, opening chapter 5's hidden solutions took 16.5 s
    instead of 2.7 s in front (measured on a 2-core host, one run)."""
    page.page.bring_to_front()
    return page


@pytest.fixture(scope="session")
def opened(site, chromium):
    """Every page of the book, opened once in a 1280×900 window, everything that went wrong recorded."""
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield _Opened(context, base)
    context.close()


DARK = "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"  # how the theme keeps the choice


@pytest.fixture(scope="session")
def opened_dark(site, chromium):
    """Every page of the book in the dark theme, as a reader who chose it sees them (screenshots: <page>-dark.png)."""
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    context.add_init_script(DARK)
    yield _Opened(context, base, suffix="-dark")
    context.close()


def settle(page: browser.Page) -> None:
    """Wait until the page is as a reader sees it: MathJax has typeset, every embedded widget has rendered, the fonts
    and images have loaded, and no request has been loading for half a second (at most browser.QUIET_TIMEOUT_S of that
    last wait: see browser.Page.wait_until_quiet)."""
    still = page.wait_until_quiet()
    if still:
        warnings.warn(f"{page.page.url}: requests still loading after {browser.QUIET_TIMEOUT_S} s, as far as the "
                      f"browser tells: {still}")
    tab = page.page
    tab.wait_for_function("() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise")
    tab.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
    views = tab.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        tab.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea > *').length >= n", arg=views, timeout=30000)
    tab.evaluate("() => document.fonts.ready.then(() => null)")
    tab.wait_for_function("() => [...document.images].every(image => image.complete)")
    tab.wait_for_timeout(200)


def test_a_request_that_never_ends_is_named_once_the_wait_is_over(chromium):
    """settle()'s network wait is bounded and says what is still loading (Playwright's networkidle did neither)."""
    context = chromium.new_context()
    try:
        page = browser.Page(context, "http://127.0.0.1:9/")
        held = []
        # Registered last, so it comes before browser.Page's own route; it never answers.
        page.page.route("**/held.png", lambda route: held.append(route))
        with page.page.expect_request("**/held.png"):  # (else, on a busy host, the wait may start before it does)
            page.page.set_content('<img src="http://127.0.0.1:9/held.png" alt="">', wait_until="domcontentloaded")
        start = time.monotonic()
        assert page.wait_until_quiet(timeout_s=1) == ["http://127.0.0.1:9/held.png"]
        assert time.monotonic() - start < 10
        assert held, "the request never reached the route"
    finally:
        context.close()


def article_text(page) -> str:
    """The visible text of the page's article, without code listings."""
    return page.evaluate("""() => {
        const article = document.querySelector('article') || document.body;
        const copy = article.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(n => n.remove());
        return copy.innerText;
    }""")


@pytest.mark.parametrize("entry", PAGES)
def test_page_loads_offline_with_no_errors_and_no_failed_requests(opened, entry):
    page = opened[entry]
    assert page.problems() == [], f"{entry}: " + "\n".join(page.problems())


@pytest.mark.parametrize("entry", PAGES)
def test_every_formula_is_typeset(opened, entry):
    page = opened[entry].page
    text = article_text(page)
    leftover = re.findall(r"\$[^$\n]{1,80}\$|\\\(|\\\[|\\begin\{", text)
    assert not leftover, f"{entry}: math left as text: {leftover[:5]}"
    source = source_of(entry).read_text()
    if re.search(r"\$[^$\n]+\$", source):
        assert page.locator("mjx-container").count() > 0, f"{entry}: the page has math but MathJax typeset none"


@pytest.mark.parametrize("entry", PAGES)
def test_outputs_are_all_there_images_load_and_nothing_failed(opened, site, entry):
    _, _, build = site
    page = opened[entry].page
    broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))")
    assert broken == [], f"{entry}: images that did not load: {broken}"
    text = page.evaluate("() => document.body.innerText")
    for bad in ("Traceback (most recent call last)", "Error displaying widget", "Error rendering output"):
        assert bad not in text, f"{entry}: the page shows '{bad}'"
    source = source_of(entry)
    if source.suffix == ".ipynb":
        executed = executed_notebook(build, source)
        expected = sum(1 for c in executed.cells if c.cell_type == "code" and c.outputs)
        shown = page.locator(".cell_output").count()
        assert shown == expected, f"{entry}: {expected} cells have outputs, the page shows {shown}"


def explorer_state(explorer) -> dict:
    return explorer.evaluate("""e => ({
        formula: e.querySelector('.lenet-formula').textContent,
        picture: e.querySelector('svg.lenet-picture').innerHTML,
        size: e.dataset.outputSize,
    })""")


@pytest.mark.parametrize("entry", [e for e in PAGES if "Explorer(" in source_of(e).read_text()])
def test_explorers_render_and_respond_without_a_kernel(opened, entry):
    page = opened[entry].page
    explorers = page.locator(".lenet-explorer")
    assert explorers.count() >= 1, f"{entry}: no explorer rendered"
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        before = explorer_state(explorer)
        assert "output = " in before["formula"] and "<rect" in before["picture"]
        slider = explorer.locator('input[name="n"]')
        new = "5" if slider.input_value() != "5" else "6"
        slider.fill(new)
        after = explorer_state(explorer)
        assert after["formula"] != before["formula"], f"{entry}: moving n did not change the formula"
        assert after["picture"] != before["picture"], f"{entry}: moving n did not redraw the picture"
        assert f"({new} + 2·" in after["formula"], after["formula"]
        explorer.locator('button[name="next"]').click()
        assert explorer_state(explorer)["picture"] != after["picture"], f"{entry}: 'next' did not move the window"
    assert opened[entry].problems() == []


@pytest.mark.parametrize("entry", [e for e in PAGES if "{solution" in source_of(e).read_text()])
def test_hidden_solutions_open_when_clicked(opened, entry):
    page = opened[entry].page
    solutions = page.locator(".solution.dropdown")
    assert solutions.count() >= 1
    for i in range(solutions.count()):
        solution = solutions.nth(i)
        body = solution.locator(":scope > :not(.admonition-title)").first
        assert not body.is_visible(), f"{entry}: solution {i} is visible before it is opened"
        solution.locator("button.toggle-button").click()
        body.wait_for(state="visible", timeout=5000)


@pytest.mark.parametrize("entry", [e for e in PAGES if source_of(e).suffix == ".ipynb"])
def test_colab_and_download_links_point_at_this_notebook(opened, site, entry):
    base, _, _ = site
    page = opened[entry].page
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    expected = COLAB.format(repo=repo, branch=CONFIG["repository"]["branch"], path=f"{entry}.ipynb")
    colab = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href).filter(h => h.includes('colab.research.google.com'))")
    assert colab == [expected], f"{entry}: Colab links {colab}"
    downloads = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href).filter(h => h.endsWith('.ipynb') && !h.includes('colab'))")
    assert downloads, f"{entry}: no download link for the notebook"
    for url in downloads:
        response = page.request.get(url)
        assert response.ok, f"{entry}: {url} answered {response.status}"
        notebook = json.loads(response.text())
        assert notebook["cells"] and notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_search_finds_lenet(site, chromium):
    base, _, _ = site
    context = chromium.new_context()
    page = browser.Page(context, base)
    page.page.goto(base + "search.html?q=LeNet")
    results = page.page.locator("#search-results li")
    results.first.wait_for(timeout=20000)
    assert results.count() >= 3
    page.page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)
    assert page.problems() == []
    context.close()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag != "meta" else ():
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "link", "script", "img", "iframe", "source"):
                self.links.append(attrs[key])


def test_internal_links_and_references_resolve(site):
    """A link check of every internal link (files and #anchors) on every page of the site."""
    _, html, _ = site
    parsed = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = p
        return parsed[path]

    pages = [html / page_path(e) for e in PAGES] + [html / "search.html", html / "genindex.html"]
    pages += [html / "zh-cn" / page_path(e) for e in PAGES]  # the Chinese edition (tests/test_editions.py)
    assert (html / "index.html").exists()
    missing = [str(page.relative_to(html)) for page in pages if not page.exists()]
    assert not missing, f"pages of _toc.yml that were not built: {missing}"
    broken = []
    for page in pages:
        for link in parse(page).links:
            url = urlparse(link)
            if url.scheme or link.startswith("//"):
                continue  # external: not checked here (the browser tests block them)
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html" and url.fragment not in parse(target).ids:
                broken.append(f"{page.relative_to(html)}: {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


# ---------------------------------------------------------------------------
# Draw a digit: LeNet-5 in the reader's browser (chapter 5)
# ---------------------------------------------------------------------------

DRAW_PAGES = [e for e in PAGES if "DrawDigit(" in source_of(e).read_text()]
TRAIN_PAGES = [e for e in PAGES if "TrainInBrowser(" in source_of(e).read_text()]
DRAW_MODELS = {"LeNet-5 (1998)": "LeNet5", "LeNet5Modern": "LeNet5Modern"}


def test_the_draw_digit_widget_is_in_the_book():
    assert DRAW_PAGES == ["chapters/05_training"]


@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_the_browser_forward_pass_matches_pytorch_on_100_test_digits(opened, entry):
    """The widget's own JavaScript, on the built page, with the weights the build trained, against PyTorch."""
    from lenet_helpers import data, export, models

    page = opened[entry].page
    found = page.locator(".lenet-draw").evaluate("""root => {
        const api = root.lenet;
        const digits = Array.from({length: 100}, (_, i) => api.testDigit(i));
        const runs = Object.fromEntries(api.specs.map((s) => [s.name, digits.map((d) => api.run(s.name, d))
            .map((r) => ({output: r.output, prediction: r.prediction}))]));
        return {specs: api.specs, weights: Array.from(api.weights), labels: api.labels.slice(0, 100), digits, runs};
    }""")
    images, labels = data.mnist_tensors(train=False, normalize="none", size=28)
    assert torch.equal(torch.tensor(found["digits"]).view(100, 28, 28), images[:100, 0])
    assert found["labels"] == labels[:100].tolist()
    weights = torch.tensor(found["weights"], dtype=torch.float32)
    assert [s["name"] for s in found["specs"]] == list(DRAW_MODELS)
    for spec in found["specs"]:
        model = export.load_exported(getattr(models, DRAW_MODELS[spec["name"]])(), spec, weights).eval()
        x = export.model_input(images[:100, 0].double(), spec)
        with torch.no_grad():
            expected64 = model.double()(x)
            expected32 = model.float()(x.float())
        js = torch.tensor([r["output"] for r in found["runs"][spec["name"]]], dtype=torch.float64)
        assert (js - expected64).abs().max() < 1e-4, spec["name"]
        assert (js - expected32.double()).abs().max() < 1e-4, spec["name"]
        predicted = model.scores(expected64).argmax(dim=1)
        assert [r["prediction"] for r in found["runs"][spec["name"]]] == predicted.tolist(), spec["name"]
        correct = (predicted == labels[:100]).sum().item()
        assert correct >= 95, f"{spec['name']}: {correct}/100 test digits right: are these the trained weights?"


STROKES = {  # fractions of the pad: strokes of a "1" and of a "7"
    "1": [[(0.52, 0.12), (0.50, 0.88)]],
    "7": [[(0.22, 0.18), (0.78, 0.18), (0.45, 0.88)]],
}


def draw(pad, strokes, pointer_type: str) -> None:
    """Synthesize pointer events along the strokes on the pad (a canvas)."""
    pad.evaluate("""(canvas, [strokes, type]) => {
        const rect = canvas.getBoundingClientRect();
        const at = ([fx, fy]) => ({clientX: rect.left + fx * rect.width, clientY: rect.top + fy * rect.height});
        const fire = (name, point) => canvas.dispatchEvent(new PointerEvent(name, {...at(point), pointerId: 7,
            pointerType: type, isPrimary: true, bubbles: true, cancelable: true, buttons: name === "pointerup" ? 0 : 1}));
        for (const stroke of strokes) {
            fire("pointerdown", stroke[0]);
            for (let s = 1; s < stroke.length; s++) {
                const [a, b] = [stroke[s - 1], stroke[s]];
                for (let t = 1; t <= 20; t++) fire("pointermove", [a[0] + (b[0] - a[0]) * t / 20, a[1] + (b[1] - a[1]) * t / 20]);
            }
            fire("pointerup", stroke[stroke.length - 1]);
        }
    }""", [strokes, pointer_type])


def widget_state(root) -> dict:
    return root.evaluate("""root => ({...root.lenet.state(),
        c1: Array.from(root.querySelectorAll('[data-layer="C1"] canvas'), (c) => c.toDataURL()).join(),
        shown: root.querySelector('.lenet-draw-predicted').textContent})""")


def check_drawing(root, pointer_type: str) -> None:
    root.locator('button[name="clear"]').click()
    empty = widget_state(root)
    assert empty["prediction"] is None and empty["source"] == "empty" and empty["shown"] == "?"
    seen = {}
    for digit, strokes in STROKES.items():
        root.locator('button[name="clear"]').click()
        draw(root.locator("canvas.lenet-draw-pad"), strokes, pointer_type)
        state = widget_state(root)
        assert state["source"] == "drawn" and state["prediction"] is not None
        assert state["shown"] == str(state["prediction"]) == digit, f"{pointer_type}: drew a {digit}, read {state}"
        assert state["c1"] != empty["c1"], "the C1 maps were not redrawn"
        seen[digit] = state
    assert seen["1"]["layers"] != seen["7"]["layers"] and seen["1"]["c1"] != seen["7"]["c1"]
    for name in ("S2", "C3", "S4", "C5", "F6", "output"):
        assert seen["1"]["layers"][name] != seen["7"]["layers"][name], f"{name} did not change"
    root.locator("select[name=model]").select_option("LeNet5Modern")
    assert widget_state(root)["model"] == "LeNet5Modern" and widget_state(root)["prediction"] == 7
    root.locator("select[name=model]").select_option("LeNet-5 (1998)")


@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_drawing_a_1_and_a_7_updates_the_prediction_and_the_maps(opened, entry):
    page = opened[entry]
    root = page.page.locator(".lenet-draw")
    root.scroll_into_view_if_needed()
    check_drawing(root, "mouse")
    # The button goes on from the test digit shown last, whichever test clicked it before: show the last digit
    # first, so that the next click shows test 0 whatever the order the tests ran in.
    root.evaluate("el => el.lenet.showTestDigit(el.lenet.labels.length - 1)")
    root.locator('button[name="test-digit"]').click()
    first = widget_state(root)
    root.locator('button[name="test-digit"]').click()
    second = widget_state(root)
    assert (first["source"], first["prediction"]) == ("test 0", 7) and second["source"] == "test 1"
    assert second["prediction"] == 2 and second["c1"] != first["c1"]
    assert page.problems() == []


@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_the_pad_works_with_touch_on_a_phone(site, chromium, entry):
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                   device_scale_factor=2)
    try:
        page = browser.Page(context, base)
        page.page.goto(base + page_path(entry), wait_until="load")
        settle(page)
        root = page.page.locator(".lenet-draw")
        root.scroll_into_view_if_needed()
        box = root.locator("canvas.lenet-draw-pad").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 200, box
        assert root.evaluate("r => r.scrollWidth <= r.clientWidth + 1"), "the widget is wider than the phone"
        assert root.locator("canvas.lenet-draw-pad").evaluate("c => getComputedStyle(c).touchAction") == "none"
        check_drawing(root, "touch")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        root.screenshot(path=str(SCREENSHOTS / "draw-a-digit-phone.png"))
        assert page.problems() == []
    finally:
        context.close()



# ---------------------------------------------------------------------------
# Accessibility: axe-core (WCAG 2.0 and 2.1, A and AA) on every page, in the light and the dark theme
# ---------------------------------------------------------------------------

THEMES = ("light", "dark")
SERIOUS = ("serious", "critical")

# Serious or critical violations that stay, each with its reason: {rule: (pages, or "*" for all; most nodes on a
# page; why)}. A rule not listed here, a page not listed, or more nodes than listed fails the test.
ACCEPTED: dict[str, tuple] = {}


def wait_for_tab_stops(page, timeout: int = 5000) -> None:
    """After opening hidden solutions: wait (up to ``timeout`` ms) until every code block or output that now
    scrolls has its tab stop (_ext/accessibility.py gives it one when its size changes), as a reader would find it."""
    page.wait_for_timeout(300)
    try:
        page.wait_for_function("""() => [...document.querySelectorAll('pre, .cell_output > .output')].every(
            (e) => !(e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight) || e.tabIndex >= 0)""",
                               timeout=timeout)
    except Exception:  # axe then reports the block that has none
        pass


# The code listings' colours. A listing is a <pre> of spans, one per token, coloured by the token's class (Pygments:
# k a keyword, mi a number, ...) on the listings' one background: three quarters of a chapter's elements (16,814 of
# 21,381 in chapter 5), which made axe's run on it 2-3 times longer. Every page's listings are checked for what can
# differ from one listing to another (a <pre> that scrolls must take the focus); the colour of each token class, the
# same on every page, is checked in full on the fewest pages whose listings use every token class of the book
# (code_colour_pages), in each theme and each edition. A new token class anywhere adds its page to them.
CODE = ".highlight"
CODE_RULES = ("scrollable-region-focusable",)  # the WCAG A/AA rules that apply inside a listing, besides the colours


def code_token_classes(html: str) -> set[str]:
    """The token classes (Pygments) of the spans in the code listings of a built page."""
    listings = re.findall(r'<div class="highlight"><pre>(.*?)</pre>', html, re.S)
    return {name for listing in listings for name in re.findall(r'<span class="([^"]+)"', listing)}


def covering_pages(classes: dict[str, set[str]]) -> list[str]:
    """The fewest pages (greedily) whose token classes, together, are every page's: {page: classes} -> pages."""
    left, chosen = set().union(*classes.values()), []
    while left:
        best = max(classes, key=lambda entry: len(classes[entry] & left))
        chosen.append(best)
        left -= classes[best]
    return chosen


@pytest.fixture(scope="session")
def code_colour_pages(site) -> list[str]:
    """The pages on which axe checks the colours of the code listings (CODE), in either edition: the fewest that show
    every token class of both."""
    import editions  # (tools/, on the path: conftest.py)

    _, html, _ = site
    classes = {entry: set().union(*(code_token_classes((html / edition["path"] / page_path(entry)).read_text(
        encoding="utf-8")) for edition in editions.EDITIONS.values())) for entry in PAGES}
    # Read from Sphinx's listing markup: if that markup changed, no class would be found, no page chosen, and the
    # listings' colours would go unchecked without a failure. Every chapter's code has keywords, names and integers.
    found = set().union(*classes.values())
    assert {"k", "n", "mi"} <= found, (f"the code listings' Pygments classes were not found (found: {sorted(found)}): "
                                       "has the markup code_token_classes reads changed?")
    return covering_pages(classes)


def axe_with_solutions_opened(page, code: bool = True) -> list[dict]:
    """axe-core's violations on ``page`` (browser.axe), its hidden solutions opened so that they are checked too,
    then closed again, as the other tests expect them. With ``code=False``, the code listings (CODE) are checked for
    CODE_RULES only: their colours are checked on the pages of ``code_colour_pages``."""
    toggles = page.locator(".solution.dropdown.toggle-hidden button.toggle-button").element_handles()
    click_all(page, toggles)
    wait_for_tab_stops(page)
    if code or not page.locator(CODE).count():
        violations = browser.axe(page)
    else:
        violations = browser.axe(page, context={"exclude": [[CODE]]})
        violations += browser.axe(page, context={"include": [[CODE]]}, rules=CODE_RULES)
    click_all(page, toggles)
    return violations


def click_all(page, elements) -> None:
    """Click ``elements`` from the page's own script, at once: the toggles of the hidden solutions, opened so that
    other checks see what they hide (test_hidden_solutions_open_when_clicked clicks them as a reader does)."""
    page.evaluate("elements => elements.forEach((e) => e.click())", elements)


def described(violation: dict) -> str:
    """One violation for a failure message: rule, impact, node count, help, and its first nodes."""
    return (f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])} nodes): {violation['help']}\n    "
            + "\n    ".join(f"{n['target']}: {n['summary']}" for n in violation["nodes"][:6]))


def test_the_code_colours_are_checked_on_pages_that_show_every_token_class():
    pages = {"a": {"k", "n"}, "b": {"k", "n", "mi"}, "c": {"mh"}, "d": set()}
    chosen = covering_pages(pages)
    assert sorted(chosen) == ["b", "c"] and set().union(*(pages[p] for p in chosen)) == set().union(*pages.values())
    listing = '<div class="highlight"><pre><span></span><span class="kn">import</span> <span class="nn">torch</span></pre>'
    assert code_token_classes(listing + '<p><span class="x">prose</span></p>') == {"kn", "nn"}


def themed(request, theme: str) -> _Opened:
    """The pages opened in ``theme``. A test that calls this names ``site`` too, so that it is known to need the
    built book (conftest.needs_the_book: it runs after the tests that do not, while the book is built)."""
    return request.getfixturevalue("opened" if theme == "light" else "opened_dark")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("entry", PAGES)
def test_no_serious_accessibility_violations(request, site, code_colour_pages, entry, theme):
    page = themed(request, theme)[entry]
    assert page.page.evaluate("() => document.documentElement.dataset.theme") == theme
    violations = axe_with_solutions_opened(page.page, code=entry in code_colour_pages)
    report = AXE_REPORTS / theme / f"{entry.replace('/', '__')}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(violations, indent=1, ensure_ascii=False))
    unexplained = []
    for v in violations:
        if v["impact"] not in SERIOUS:
            continue
        pages, most, _ = ACCEPTED.get(v["id"], ((), 0, ""))
        if (pages != "*" and entry not in pages) or len(v["nodes"]) > most:
            unexplained.append(described(v))
    assert not unexplained, f"{entry} ({theme} theme):\n" + "\n".join(unexplained)
    assert page.problems() == [], f"{entry} ({theme}): " + "\n".join(page.problems())


# ---------------------------------------------------------------------------
# The widgets: readable in both themes, switching with the theme, usable from the keyboard
# ---------------------------------------------------------------------------

EXPLORER_PAGES = [e for e in PAGES if "Explorer(" in source_of(e).read_text()]
WIDGET_PAGES = EXPLORER_PAGES + [e for e in DRAW_PAGES + TRAIN_PAGES if e not in EXPLORER_PAGES]

# Every text of an explorer's picture (SVG: axe does not check it), with the contrast against what it is written on:
# the cell drawn just before it, or the widget's background.
SVG_CONTRAST = r"""root => {
    const rgb = (c) => c.match(/[\d.]+/g).map(Number);
    const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const lum = (c) => { const [r, g, b] = rgb(c).map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const frame = getComputedStyle(root).backgroundColor;
    if ((rgb(frame)[3] ?? 1) === 0) throw new Error("the widget has no background of its own");
    return Array.from(root.querySelectorAll("svg text"), (t) => {
        const before = t.previousElementSibling;
        const cell = before && before.tagName === "rect" ? before : null;
        const back = cell ? getComputedStyle(cell).fill : frame, fill = getComputedStyle(t).fill;
        return {text: t.textContent, on: cell ? cell.getAttribute("class") : "frame", fill, back, ratio: ratio(fill, back)};
    });
}"""

# Pooling settings that show every kind of cell with a number in it: padding (average mode writes its zeros), cells
# no window reaches, the window's cells, the selected output cell.
EVERY_CELL = {"n": "8", "pool_size": "2", "padding": "1", "stride": "3"}


def slug(entry: str) -> str:
    return entry.replace("/", "__")


def theme_of(page) -> str:
    return page.evaluate("() => document.documentElement.dataset.theme")


def check_explorer_contrast(explorer, where: str) -> None:
    if explorer.locator('select[name="mode"]').count():
        for name, value in EVERY_CELL.items():
            explorer.locator(f'input[name="{name}"]').fill(value)
        explorer.locator('select[name="mode"]').select_option("avg")
    texts = explorer.evaluate(SVG_CONTRAST)
    assert texts, f"{where}: the picture has no text"
    if explorer.locator('select[name="mode"]').count():
        kinds = {t["on"] for t in texts}
        for kind in ("lenet-cell lenet-pad", "lenet-cell lenet-unseen", "lenet-cell lenet-tap", "lenet-cell lenet-current"):
            assert any(k.startswith(kind) for k in kinds), f"{where}: no number on a '{kind}' cell: {kinds}"
    low = [t for t in texts if t["ratio"] < 4.5]
    assert not low, f"{where}: text below 4.5:1 (WCAG AA): {low[:5]}"


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("entry", WIDGET_PAGES)
def test_widgets_are_readable_in_both_themes(request, site, entry, theme):
    """The numbers and captions in the explorers' pictures keep 4.5:1; the pad and the maps are inverted in the
    dark theme. Screenshots of each widget (the pad with a test digit) and of the whole page, in this theme."""
    pages = themed(request, theme)
    page = pages[entry].page
    assert theme_of(page) == theme
    explorers = page.locator(".lenet-explorer")
    for i in range(explorers.count()):
        explorers.nth(i).scroll_into_view_if_needed()
        check_explorer_contrast(explorers.nth(i), f"{entry}, explorer {i}, {theme} theme")
    pads = page.locator(".lenet-draw")
    for i in range(pads.count()):
        pads.nth(i).locator('button[name="test-digit"]').click()
        wanted = "none" if theme == "light" else "invert(1)"
        assert pads.nth(i).locator("canvas.lenet-draw-pad").evaluate("c => getComputedStyle(c).filter") == wanted
    viewport = page.viewport_size
    for i, widget in enumerate(page.locator(".lenet-explorer, .lenet-draw, .lenet-train").all()):
        # a window taller than the widget, so that the page's sticky header is not drawn over it
        page.set_viewport_size({"width": viewport["width"], "height": int(widget.bounding_box()["height"]) + 400})
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(SCREENSHOTS / f"{slug(entry)}-widget-{i}-{theme}.png"))
    page.set_viewport_size(viewport)
    if FULL_PAGE:  # the whole page again, its pad showing a test digit
        page.screenshot(path=str(pages.screenshot_path(entry)), full_page=True)
    assert pages[entry].problems() == []


def widget_colours(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll(".lenet-explorer, .lenet-draw, .lenet-train"), (w) => {
        const style = (selector, property) => { const e = w.querySelector(selector); return e && getComputedStyle(e)[property]; };
        return {text: getComputedStyle(w).color, background: getComputedStyle(w).backgroundColor,
                cell: style(".lenet-cell", "fill"), number: style(".lenet-num", "fill"),
                button: style("button", "backgroundColor"), pad: style("canvas.lenet-draw-pad", "filter")};
    })""")


@pytest.mark.parametrize("entry", WIDGET_PAGES)
def test_widgets_switch_with_the_theme_button(site, chromium, entry):
    """The reader presses the theme's light/dark button: every widget changes its colours at once, no reload."""
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = browser.Page(context, base)
        page.page.goto(base + page_path(entry), wait_until="load")
        settle(page)
        assert theme_of(page.page) == "light"
        light = widget_colours(page.page)
        for _ in range(3):  # the button cycles through auto, dark and light
            if theme_of(page.page) == "dark":
                break
            page.page.locator(".theme-switch-button:visible").first.click()
        assert theme_of(page.page) == "dark"
        dark = widget_colours(page.page)
        assert light and len(light) == len(dark)
        for before, after in zip(light, dark):
            for key in ("text", "background", "cell", "number", "button", "pad"):
                if before[key] is not None:
                    assert before[key] != after[key], f"{entry}: {key} stayed {before[key]} in the dark theme"
        for i in range(page.page.locator(".lenet-explorer").count()):
            check_explorer_contrast(page.page.locator(".lenet-explorer").nth(i), f"{entry}, explorer {i}, switched")
        assert page.problems() == []
    finally:
        context.close()


def tab_through(page, root) -> list[dict]:
    """Reach the controls of a widget with the Tab key, from a button put just before it: for each control in the
    order reached, its name and whether it shows a visible focus ring."""
    root.evaluate("""r => { const b = document.createElement("button"); b.id = "tab-start"; b.textContent = "start";
                            r.before(b); }""")
    try:
        page.focus("#tab-start")
        reached = []
        for _ in range(40):
            page.keyboard.press("Tab")
            control = root.evaluate("""r => { const e = document.activeElement;
                if (!r.contains(e)) return null;
                const ring = (n) => { const s = getComputedStyle(n); return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2; };
                return {name: e.getAttribute("name") || e.getAttribute("aria-label"),  // the ring: on it, or on its box
                        ring: e.matches(":focus-visible") && (ring(e) || ring(e.parentElement))};
            }""")
            if control is None:
                break
            reached.append(control)
        return reached
    finally:
        page.evaluate("() => document.getElementById('tab-start').remove()")


def picture_position(explorer) -> tuple[int, int]:
    picture = explorer.locator("svg.lenet-picture")
    return int(picture.get_attribute("aria-valuenow")), int(picture.get_attribute("aria-valuemax")) + 1


@pytest.mark.parametrize("entry", EXPLORER_PAGES)
def test_explorers_work_from_the_keyboard(opened, entry):
    """Tab reaches every control, each with a visible focus ring; arrow keys move the sliders, the menu and the
    selected output cell; Enter and Space press the buttons."""
    page = opened[entry].page
    explorers = page.locator(".lenet-explorer")
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        pool = explorer.locator('select[name="mode"]').count() == 1
        sliders = ["n", "pool_size", "padding", "stride"] if pool else ["n", "kernel_size", "padding", "stride", "dilation"]
        reached = tab_through(page, explorer)
        assert [c["name"] for c in reached] == sliders + (["mode"] if pool else []) + [
            "previous", "play", "next", "output cell"], reached
        assert all(c["ring"] for c in reached), f"{entry}: no visible focus on {[c for c in reached if not c['ring']]}"

        slider = explorer.locator('input[name="n"]')
        slider.focus()
        before, value = explorer_state(explorer), int(slider.input_value())
        key, expected = ("ArrowLeft", value - 1) if value == int(slider.get_attribute("max")) else ("ArrowRight", value + 1)
        page.keyboard.press(key)
        assert int(slider.input_value()) == expected and explorer_state(explorer)["formula"] != before["formula"]

        picture = explorer.locator("svg.lenet-picture")
        picture.focus()
        page.keyboard.press("Home")
        assert picture_position(explorer)[0] == 0
        page.keyboard.press("ArrowRight")
        count = picture_position(explorer)[1]
        out = math.isqrt(count)
        assert picture_position(explorer)[0] == min(1, count - 1)
        page.keyboard.press("ArrowDown")
        assert picture_position(explorer)[0] == (min(1 + out, count - 1) if out > 1 else 0)
        page.keyboard.press("End")
        assert picture_position(explorer)[0] == count - 1
        assert picture.get_attribute("aria-valuetext").startswith(f"row {out}, column {out} of the {out}×{out} output")

        explorer.locator('button[name="next"]').focus()
        page.keyboard.press("Enter")
        assert picture_position(explorer)[0] == 0  # from the last cell, "next" goes round to the first
        play = explorer.locator('button[name="play"]')
        play.focus()
        page.keyboard.press("Space")
        assert play.get_attribute("data-playing") == "true" and play.text_content().strip() == "pause"
        page.keyboard.press("Space")
        assert play.get_attribute("data-playing") == "false" and play.text_content().strip() == "play"

        if pool:
            mode = explorer.locator('select[name="mode"]')
            mode.select_option("max")
            mode.focus()
            picture_before = explorer_state(explorer)["picture"]
            page.keyboard.press("ArrowDown")
            assert mode.input_value() == "avg" and explorer_state(explorer)["picture"] != picture_before
    assert opened[entry].problems() == []


@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_the_pad_works_from_the_keyboard(opened, entry):
    """Tab reaches the menu, both buttons and the pad, each with a visible focus ring. On the pad, the arrow keys move
    a pen, Space puts it down and lifts it, Delete clears: a line drawn so is read as a 1, and the reading is
    announced (a status region)."""
    page = opened[entry]
    root = page.page.locator(".lenet-draw")
    root.scroll_into_view_if_needed()
    reached = tab_through(page.page, root)
    assert [c["name"] for c in reached] == ["model", "clear", "test-digit", "drawing pad"], reached
    assert all(c["ring"] for c in reached), reached

    root.locator('button[name="test-digit"]').focus()
    page.page.keyboard.press("Enter")
    first = widget_state(root)["source"]
    page.page.keyboard.press("Enter")
    assert first.startswith("test ") and widget_state(root)["source"] == f"test {int(first[5:]) + 1}"
    root.locator('button[name="clear"]').focus()
    page.page.keyboard.press("Enter")
    assert widget_state(root)["source"] == "empty"

    select = root.locator('select[name="model"]')
    select.focus()
    page.page.keyboard.press("ArrowDown")
    assert widget_state(root)["model"] == "LeNet5Modern"
    page.page.keyboard.press("ArrowUp")
    assert widget_state(root)["model"] == "LeNet-5 (1998)"

    pad = root.locator("canvas.lenet-draw-pad")
    pad.focus()
    page.page.keyboard.press("Delete")
    assert widget_state(root)["source"] == "empty"
    pen = root.evaluate("r => r.lenet.pen()")
    size = pad.evaluate("c => c.width")
    step = 10  # draw.js's PEN_STEP
    for _ in range(round((pen["x"] - size / 2) / step)):
        page.page.keyboard.press("ArrowLeft")
    for _ in range(round((pen["y"] - 0.15 * size) / step)):
        page.page.keyboard.press("ArrowUp")
    assert root.locator(".lenet-draw-pen").is_visible()
    page.page.keyboard.press("Space")
    assert root.evaluate("r => r.lenet.pen().down")
    for _ in range(round(0.7 * size / step)):
        page.page.keyboard.press("ArrowDown")
    page.page.keyboard.press("Space")
    state = widget_state(root)
    assert state["source"] == "drawn" and state["prediction"] == 1, state
    assert "reads a 1" in root.locator('[role="status"]').text_content()
    page.page.keyboard.press("Delete")
    assert widget_state(root)["source"] == "empty"
    assert page.problems() == []


# ---------------------------------------------------------------------------
# Train LeNet-5 in the browser (chapters/train_in_browser)
# ---------------------------------------------------------------------------

# The digits each network trains on in test_the_browser_trains_lenet5: with the page's default learning rate and
# batch size, about 60 s of training on the shared 2-core machine the course is tested on (LeNet5Modern: about 800
# digits per second of one core; the faithful LeNet-5, with its tanh everywhere and no ReLU zeros to skip in the
# backward pass: about 600).
BUDGET = {"LeNet5Modern": 48_000, "LeNet-5 (1998)": 36_000}
TARGET_ERROR = {"LeNet5Modern": 0.05, "LeNet-5 (1998)": 0.08}  # issue 26: after the budget, on the held-out digits
TRAIN_REPORT = ROOT / "_build" / "train-in-browser.json"  # what the tests measured, for reviewers


def test_the_trainer_is_in_the_book():
    assert TRAIN_PAGES == ["chapters/train_in_browser"]


def trainer_ready(page, root) -> dict:
    """Wait until the trainer has its digits and a count of its held-out error (ready, or paused); its state."""
    page.wait_for_function("r => r.lenet && ['ready', 'paused'].includes(r.dataset.status) "
                           "&& r.lenet.state().error !== null", arg=root.element_handle(), timeout=60000)
    return root.evaluate("r => r.lenet.state()")


def trainer_state(root) -> dict:
    return root.evaluate("r => r.lenet.state()")


def wait_for_status(page, root, status: str, timeout: int) -> dict:
    page.wait_for_function("([r, s]) => r.dataset.status === s", arg=[root.element_handle(), status], timeout=timeout)
    return trainer_state(root)


def record(key: str, values: dict) -> None:
    TRAIN_REPORT.parent.mkdir(parents=True, exist_ok=True)
    found = json.loads(TRAIN_REPORT.read_text()) if TRAIN_REPORT.exists() else {}
    found[key] = values
    TRAIN_REPORT.write_text(json.dumps(found, indent=1, ensure_ascii=False))


@pytest.mark.parametrize("entry", TRAIN_PAGES)
def test_the_trainer_pauses_resets_and_works_from_the_keyboard(opened, entry):
    """Tab reaches every control of the trainer, then the pad's, each with a visible focus ring. Enter starts it and
    Space pauses it: paused, the step counter stops; Start goes on from there. Reset draws a fresh network (no
    steps, empty curves, new weights within the initialisation's bounds, an error near chance). The network menu
    answers the arrow keys and brings that network's own defaults."""
    from lenet_helpers import widgets
    from test_train_js import expected_bound

    page = opened[entry].page
    root = page.locator(".lenet-train")
    root.scroll_into_view_if_needed()
    first = trainer_ready(page, root)
    assert first["network"] == "LeNet5Modern" and first["steps"] == 0 and first["digits"]["train"] == 6000
    reached = tab_through(page, root)
    assert [c["name"] for c in reached] == ["network", "lr", "batch", "run", "reset",
                                            "model", "clear", "test-digit", "drawing pad"], reached
    assert all(c["ring"] for c in reached), reached

    run = root.locator('button[name="run"]')
    run.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("r => Number(r.dataset.steps) >= 20", arg=root.element_handle(), timeout=60000)
    assert run.inner_text() == "Pause" and run.get_attribute("aria-pressed") == "true"
    page.keyboard.press("Space")
    paused = wait_for_status(page, root, "paused", 60000)
    assert run.inner_text() == "Start" and paused["error"] is not None
    assert "Paused after" in root.locator(".lenet-train-status").inner_text()
    page.wait_for_timeout(1500)
    assert trainer_state(root)["steps"] == paused["steps"], "the step counter went on after Pause"
    page.keyboard.press("Enter")  # Start goes on with the same network
    page.wait_for_function("([r, n]) => Number(r.dataset.steps) >= n + 10", arg=[root.element_handle(), paused["steps"]],
                           timeout=60000)
    page.keyboard.press("Space")
    trained = wait_for_status(page, root, "paused", 60000)
    assert trained["seen"] > paused["seen"] and trained["losses"][: len(paused["losses"])] == paused["losses"]
    before = root.evaluate("r => Array.from(r.lenet.weights())")

    root.locator('button[name="reset"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_function("r => r.lenet.state().seen === 0 && r.lenet.state().error !== null",
                           arg=root.element_handle(), timeout=60000)
    fresh = trainer_state(root)
    assert fresh["steps"] == 0 and fresh["losses"] == [] and len(fresh["errors"]) == 1 and fresh["seed"] == first["seed"] + 1
    assert fresh["error"] > 0.5, f"a fresh network reads {1 - fresh['error']:.0%} of the digits: is it fresh?"
    after = torch.tensor(root.evaluate("r => Array.from(r.lenet.weights())"), dtype=torch.float64)
    assert not torch.equal(after, torch.tensor(before, dtype=torch.float64))
    spec, model = root.evaluate("r => r.lenet.spec()"), widgets.TRAINABLE["LeNet5Modern"]["make"]()
    for key, where in spec["tensors"].items():
        values = after[where["offset"]:where["offset"] + where["size"]]
        assert (values.abs() <= expected_bound(model, key, "pytorch").float().double() * (1 + 1e-6)).all(), key
    assert root.locator('[data-figure="steps"]').inner_text() == "0"

    menu = root.locator('select[name="network"]')
    menu.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("r => r.lenet.state().network === 'LeNet-5 (1998)'", arg=root.element_handle())
    faithful = widgets.TRAINABLE["LeNet-5 (1998)"]
    assert root.locator('select[name="lr"]').input_value() == str(faithful["lr"])
    assert root.locator('select[name="batch"]').input_value() == str(faithful["batch"])
    page.keyboard.press("ArrowUp")
    page.wait_for_function("r => r.lenet.state().network === 'LeNet5Modern'", arg=root.element_handle())
    assert opened[entry].problems() == []


# While the trainer trains: a slider put on the page, moved with the arrow keys every 0.5 s, records how long each
# key press waited for the page (the time from the key event to its input handler), and every long task is noted.
PROBE = """() => {
    const slider = document.createElement("input");
    Object.assign(slider, {type: "range", id: "probe", min: 0, max: 1000, value: 0});
    slider.setAttribute("aria-label", "probe");
    document.querySelector("article").prepend(slider);
    window.__probe = {delays: [], longest: 0};
    slider.addEventListener("input", (event) => window.__probe.delays.push(performance.now() - event.timeStamp));
    new PerformanceObserver((list) => { for (const e of list.getEntries())
        window.__probe.longest = Math.max(window.__probe.longest, e.duration); }).observe({type: "longtask"});
}"""


@pytest.mark.parametrize("network", BUDGET)
@pytest.mark.parametrize("entry", TRAIN_PAGES)
def test_the_browser_trains_lenet5(opened, entry, network):
    """Start trains: after the budget of digits, with the default settings, the held-out error the widget shows is
    within the target, and PyTorch counts the same errors with the weights the widget exports. Its speed is at
    least a tenth of PyTorch's on this CPU, same network and batch size, measured in this run. The page stays
    responsive meanwhile (a slider answers within 200 ms). The pad, fed the weights just trained, reads a drawn 1
    and 7."""
    from lenet_helpers import export, models, widgets

    page = opened[entry].page
    root = page.locator(".lenet-train")
    root.scroll_into_view_if_needed()
    trainer_ready(page, root)
    root.locator('select[name="network"]').select_option(network)
    root.evaluate("r => r.lenet.reset({seed: 0})")  # the same run whichever tests ran before
    page.wait_for_function("([r, n]) => r.lenet.state().network === n && r.lenet.state().seen === 0 "
                           "&& r.lenet.state().error !== null && r.dataset.status === 'ready'",
                           arg=[root.element_handle(), network], timeout=120000)
    settings = trainer_state(root)
    defaults = widgets.TRAINABLE[network]
    assert (settings["lr"], settings["batch"]) == (defaults["lr"], defaults["batch"])
    if not page.evaluate("() => !!window.__probe"):
        page.evaluate(PROBE)
    page.evaluate("() => { window.__probe.delays = []; window.__probe.longest = 0; }")
    slider = page.locator("#probe")
    start = time.perf_counter()
    root.evaluate("(r, n) => r.lenet.start({until: n})", BUDGET[network])
    presses = 0
    while root.evaluate("r => r.dataset.status") == "running":
        if presses < 20:
            slider.focus()
            page.keyboard.press("ArrowRight")
            presses += 1
        page.wait_for_timeout(500)
        assert time.perf_counter() - start < 1200, "the budget took over 20 minutes"
    wall = time.perf_counter() - start
    done = trainer_state(root)
    probe = page.evaluate("() => window.__probe")
    assert done["status"] == "paused" and done["seen"] == BUDGET[network]

    shown = root.locator('[data-figure="error"]').inner_text()
    weights = torch.tensor(root.evaluate("r => Array.from(r.lenet.weights())"), dtype=torch.float32)
    spec = root.evaluate("r => r.lenet.spec()")
    model = export.load_exported(widgets.TRAINABLE[network]["make"](), spec, weights).double()
    _, (images, labels) = export.training_digits()
    with torch.no_grad():
        wrong = (model.predict(export.model_input(images.double() / 255, spec)) != labels.long()).sum().item()
    assert round(done["error"] * len(labels)) == wrong, "the widget's count differs from PyTorch's"
    assert shown == f"{100 * done['error']:.1f}%"

    js_speed = done["seen"] / done["seconds"]
    torch_speed = widgets.pytorch_speed(network, settings["batch"], seconds=2.0)  # the floor below is 10 times lower
    measured = {"budget": BUDGET[network], "error": done["error"], "wall_s": round(wall, 1),
                "training_s": round(done["seconds"], 1), "browser_digits_per_s": round(js_speed),
                "pytorch_digits_per_s": round(torch_speed), "pytorch_threads": torch.get_num_threads(),
                "ratio": round(js_speed / torch_speed, 3),
                "pytorch_one_thread_digits_per_s": round(widgets.pytorch_speed(network, settings["batch"], seconds=1.5,
                                                                                threads=1)),
                "load_average": list(os.getloadavg()),
                "slider_delays_ms": [round(d) for d in probe["delays"]], "longest_task_ms": probe["longest"],
                "lr": settings["lr"], "batch": settings["batch"]}
    record(network, measured)
    assert done["error"] <= TARGET_ERROR[network], measured
    assert js_speed >= 0.1 * torch_speed, measured
    assert len(probe["delays"]) >= min(presses, 3) and max(probe["delays"]) < 200, measured

    pad = root.locator(".lenet-draw")
    pad.scroll_into_view_if_needed()
    assert pad.locator('select[name="model"]').input_value() == f"your {network}"
    for digit, strokes in STROKES.items():
        pad.locator('button[name="clear"]').click()
        draw(pad.locator("canvas.lenet-draw-pad"), strokes, "mouse")
        state = widget_state(pad)
        assert state["source"] == "drawn" and state["shown"] == digit, f"{network} read a drawn {digit} as {state}"
    pad.locator('button[name="clear"]').click()
    assert opened[entry].problems() == []


@pytest.mark.parametrize("entry", TRAIN_PAGES)
def test_the_trainer_works_from_a_file(site, chromium, entry):
    """The site opened from the disk (file://), as a reader who downloaded it would: the digits load and it trains."""
    _, html, _ = site
    base = (html.resolve()).as_uri() + "/"
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = browser.Page(context, base)
        page.page.goto(base + page_path(entry), wait_until="load")
        root = page.page.locator(".lenet-train")
        trainer_ready(page.page, root)
        root.evaluate("r => r.lenet.start({until: 160})")
        done = wait_for_status(page.page, root, "paused", 120000)
        assert done["seen"] == 160 and done["error"] is not None
        assert page.problems() == []
    finally:
        context.close()


def test_the_site_ships_the_digits_once_and_small(site):
    """One copy of the digits' script, at most 3 MB, named by every page of both editions; it records the MD5 of
    the MNIST files it was made from."""
    from lenet_helpers import data, export

    _, html, _ = site
    copies = sorted(html.rglob(export.DIGITS_SCRIPT))
    assert copies == [html / "_static" / export.DIGITS_SCRIPT], copies
    assert copies[0].stat().st_size <= 3_000_000
    text = copies[0].read_text()
    pack = json.loads(text[text.index("= ") + 2:text.rstrip().rindex(";")])
    assert pack["source_md5"] == data.MNIST_FILES and (pack["train"], pack["test"]) == (6000, 1000)
    for page in (html / "chapters" / "train_in_browser.html", html / "zh-cn" / "chapters" / "train_in_browser.html",
                 html / "intro.html", html / "zh-cn" / "intro.html"):
        found = re.search(r'<meta name="lenet-training-digits" content="([^"]+)"', page.read_text())
        assert found and (page.parent / found.group(1)).resolve() == copies[0].resolve(), page
