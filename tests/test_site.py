"""The website as readers see it: every page of _toc.yml opened in headless Chromium, with the network cut off.

These tests use the strict build of the whole book (the session fixture ``book`` in conftest.py), serve
it on localhost and block every other request. A page added to _toc.yml is tested without editing this
file. A full-page screenshot of every page is saved under _build/screenshots/ for reviewers.
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import nbformat
import pytest
import torch

import browser
from conftest import ROOT
from test_book import CONFIG, source_of, toc_entries

pytestmark = pytest.mark.book

PAGES = toc_entries()
SCREENSHOTS = ROOT / "_build" / "screenshots"
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def page_path(entry: str) -> str:
    return "index.html" if entry == TOC_ROOT else f"{entry}.html"


TOC_ROOT = PAGES[0]


@pytest.fixture(scope="session")
def site(book):
    """(base URL, built html folder, _build folder) of the book served on localhost."""
    build, _ = book
    with browser.serve(build / "html") as base:
        yield base, build / "html", build


@pytest.fixture(scope="session")
def chromium():
    with browser.browser() as instance:
        yield instance


class _Opened(dict):
    """Pages opened on first use, then kept: {entry: browser.Page}. Each is screenshotted once loaded."""

    def __init__(self, context, base):
        super().__init__()
        self.context, self.base = context, base

    def __missing__(self, entry):
        page = browser.Page(self.context, self.base)
        page.page.goto(self.base + page_path(entry), wait_until="load")
        settle(page.page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.page.screenshot(path=str(SCREENSHOTS / f"{entry.replace('/', '__')}.png"), full_page=True)
        self[entry] = page
        return page


@pytest.fixture(scope="session")
def opened(site, chromium):
    """Every page of the book, opened once in a 1280×900 window, everything that went wrong recorded."""
    base, _, _ = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield _Opened(context, base)
    context.close()


def settle(page) -> None:
    """Wait for MathJax to typeset and for every embedded widget to render."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise")
    page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea > *').length >= n", arg=views, timeout=30000)
    page.wait_for_timeout(200)


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


def executed_notebook(build: Path, source: Path):
    """The notebook with the outputs the site was built from, out of the build's execution cache."""
    from jupyter_cache import get_cache

    _, notebook = get_cache(build / ".jupyter_cache").merge_match_into_notebook(nbformat.read(source, as_version=4))
    return notebook


def explorer_state(explorer) -> dict:
    return explorer.evaluate("""e => ({
        formula: e.querySelector('.lenet-formula').textContent,
        picture: e.querySelector('svg').innerHTML,
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
DRAW_MODELS = {"LeNet-5 (1998)": "LeNet5", "LeNet5Modern": "LeNet5Modern"}


def test_the_draw_digit_widget_is_in_the_book():
    assert DRAW_PAGES == ["chapters/05_training"]


@pytest.mark.parametrize("entry", DRAW_PAGES)
def test_the_browser_forward_pass_matches_pytorch_on_100_test_digits(opened, entry):
    """The widget's own JavaScript, on the built page, with the weights the build trained, against PyTorch."""
    from lenet_helpers import data, models, widgets

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
        model = widgets.load_exported(getattr(models, DRAW_MODELS[spec["name"]])(), spec, weights).eval()
        x = widgets.model_input(images[:100, 0].double(), spec)
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
        settle(page.page)
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
