"""A headless Chromium for the site tests: find it, serve the built site on localhost, open pages offline.

Every request that does not go to the local server is blocked and recorded, so a page that still
needs a CDN fails its test. Console errors, uncaught exceptions and failed requests are recorded too.
``axe`` runs the axe-core accessibility checks (from the npm package pinned in assets/package-lock.json)
on an open page.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "assets" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")  # the rules of WCAG 2.0 and 2.1, levels A and AA
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run"]


def chromium() -> str:
    """Path of the system's Chromium: $CHROMIUM, or the first of CANDIDATES on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        if not Path(named).exists():
            raise FileNotFoundError(f"CHROMIUM={named} does not exist")
        return named
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium found: install it (Debian/Ubuntu: apt-get install chromium) "
                            "or set CHROMIUM=/path/to/chromium")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# How long Playwright waits for a page to load, settle or answer before a test fails (its own default is 30 s). A
# chapter is 20,000 elements and more; with both test workers and their browsers on a 2-core host, a dark-theme page
# of chapter 4 once took over 30 s (make bench, 6 December 2026).
TIMEOUT_MS = 120_000

# How long Page.wait_until_quiet waits, at most, for the page's requests to end.
QUIET_TIMEOUT_S = 30


class Page:
    """A Playwright page with everything that went wrong on it recorded."""

    def __init__(self, context, base: str):
        self.base = base
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: self.failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
        self.loading: dict[object, str] = {}  # the requests that have started and not ended: {request: url}
        self.last_request = time.monotonic()  # when a request last started or ended
        self.page.on("request", self._started)
        self.page.on("requestfinished", self._ended)
        self.page.on("requestfailed", self._ended)
        self.page.route("**/*", self._route)

    def _started(self, request):
        self.loading[request] = request.url
        self.last_request = time.monotonic()

    def _ended(self, request):
        self.loading.pop(request, None)
        self.last_request = time.monotonic()

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def wait_until_quiet(self, quiet_s: float = 0.5, timeout_s: float = QUIET_TIMEOUT_S) -> list[str]:
        """Wait until no request of the page has been loading for ``quiet_s`` seconds, or ``timeout_s`` at most;
        return the URLs still loading then (an empty list when the page went quiet).

        This replaces Playwright's wait_for_load_state("networkidle"), which does the same from its own bookkeeping,
        has no bound of its own but the test's timeout, and says only "Timeout exceeded": on CI it once waited 120 s on
        a Chinese chapter that every other run opens in 1-2 s, and failed the test with nothing to tell why (issue 24's
        CI run, 6 December 2026). A page's requests all go to the local server, which answers at once, so one still
        loading after QUIET_TIMEOUT_S is the browser's bookkeeping, not the site: settle() reports it as a warning, and the explicit
        waits (MathJax, widgets, fonts, images) decide that the page is ready."""
        deadline = time.monotonic() + timeout_s
        while self.loading or time.monotonic() - self.last_request < quiet_s:
            if time.monotonic() > deadline:
                return sorted(self.loading.values()) or ["(none now, but requests kept starting)"]
            self.page.wait_for_timeout(100)
        return []

    def problems(self) -> list[str]:
        return [*self.errors, *(f"blocked: {u}" for u in self.blocked), *(f"failed: {u}" for u in self.failed)]


@contextmanager
def browser():
    """A headless Chromium (the system's) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            yield instance
        finally:
            instance.close()


def axe(page, tags=WCAG_TAGS, *, context=None, rules=None) -> list[dict]:
    """The axe-core violations on a Playwright page, for the rules tagged ``tags`` (or the rules named in ``rules``),
    in the whole page or in ``context`` (axe's {"include": ..., "exclude": ...}): a list of {"id", "impact", "help",
    "nodes": [{"target", "summary"}]}. axe is injected from assets/node_modules (it is a test tool: the site does not
    ship it)."""
    if not AXE.exists():
        raise FileNotFoundError(f"axe-core is not installed ({AXE}): run `npm ci --prefix assets` (make book does)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    run_only = {"type": "rule", "values": list(rules)} if rules else {"type": "tag", "values": list(tags)}
    return page.evaluate("""async ([context, runOnly]) => {
        const result = await axe.run(context || document, {runOnly, resultTypes: ["violations"]});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary}))}));
    }""", [context, run_only])
