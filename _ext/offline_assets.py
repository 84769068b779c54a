"""Serve the site's front-end files from the site itself, so that it works with no network at all.

By default a Jupyter Book page loads MathJax, require.js, the Jupyter widget
manager and anywidget's front end from CDNs. This extension copies them from
the npm packages pinned in ``assets/package.json`` (installed by ``make book``
with ``npm ci`` into ``assets/node_modules``) into ``_static/vendor/`` of the
built site. ``_config.yml`` points MathJax (``mathjax_path``) and myst-nb's
widget scripts (``nb_ipywidgets_js``) there, and ``_ext/widgets-config.js``
tells require.js where anywidget's module is, so the widget manager never
falls back to a CDN.

Nothing third-party is committed: the files come from the npm registry, at the
versions recorded in ``assets/package-lock.json``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "assets" / "node_modules"
CONFIG_SCRIPT = Path(__file__).resolve().parent / "widgets-config.js"  # ours: where require.js finds modules

# (source inside node_modules, target inside _static/vendor, files to keep when source is a folder)
ASSETS = [
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js", None),
    ("mathjax/es5/input", "mathjax/input", None),
    ("mathjax/es5/output", "mathjax/output", None),
    ("mathjax/es5/a11y", "mathjax/a11y", None),
    ("mathjax/es5/ui", "mathjax/ui", None),
    ("mathjax/es5/adaptors", "mathjax/adaptors", None),
    ("mathjax/es5/sre", "mathjax/sre", None),
    # The widget scripts are numbered in the order a page must load them (require.js, where the modules
    # are, the widget manager), whatever order the configuration is read in.
    ("requirejs/require.js", "widgets/1-require.js", None),
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "widgets/3-embed-amd.js", None),
    ("@jupyter-widgets/html-manager/dist", "html-manager", (".woff", ".woff2", ".ttf", ".eot", ".svg")),
    ("anywidget/dist/index.js", "anywidget/index.js", None),
]

MISSING = (
    "The site's front-end files are not installed (expected {path}).\n"
    "They come from npm: run `make book`, which runs `npm ci --prefix assets` (Node.js and npm are needed;\n"
    "see the README), or run that command yourself."
)


def _stamp() -> str:
    lock = ROOT / "assets" / "package-lock.json"
    text = lock.read_bytes() if lock.exists() else b""
    return hashlib.sha256(text + repr(ASSETS).encode() + CONFIG_SCRIPT.read_bytes()).hexdigest()


def _copy(source: Path, target: Path, keep) -> None:
    if source.is_dir():
        def ignore(folder, names):
            dropped = {n for n in names if n.endswith(".map")}
            if keep is not None:
                dropped |= {n for n in names if not (Path(folder, n).is_dir() or n.endswith(keep))}
            return dropped

        shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def stage_assets(app: Sphinx) -> None:
    """Copy the pinned npm files into <build>/.vendor-static/vendor and add that folder to the static path."""
    if app.builder.format != "html":
        return
    for source, _, _ in ASSETS:
        if not (MODULES / source).exists():
            raise ExtensionError(MISSING.format(path=MODULES / source))
    staging = Path(app.doctreedir).parent / ".vendor-static"
    stamp = staging.parent / ".vendor-static.stamp"
    if not (stamp.exists() and stamp.read_text() == _stamp()):
        shutil.rmtree(staging, ignore_errors=True)
        for source, target, keep in ASSETS:
            _copy(MODULES / source, staging / "vendor" / target, keep)
        _copy(CONFIG_SCRIPT, staging / "vendor" / "widgets" / "2-config.js", None)
        stamp.write_text(_stamp())
    app.config.html_static_path.append(str(staging))


def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script: sphinx-thebe registers its inline configuration twice under Jupyter
    Book, and the second copy fails in the browser ("Identifier 'THEBE_JS_URL' has already been declared")."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""  # inline scripts come as None or ""
        key = (str(filename), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def default_light_mode(app: Sphinx, config) -> None:
    """Start in light mode unless the reader chose otherwise. Without a default, the theme's script
    reads an empty mode on a first visit and logs "Got invalid theme mode" as a console error."""
    config.html_context.setdefault("default_mode", "light")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", default_light_mode)
    app.connect("builder-inited", stage_assets)
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
