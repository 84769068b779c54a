"""Ship the in-browser trainer's MNIST digits with the site, made at build time from data/MNIST/raw.

``lenet_helpers.export.digits_script`` packs MNIST's first 6,000 training digits and first 1,000 test digits
(uint8, gzip, base64: about 1.5 MB) into a script, ``_static/lenet-training-digits.js``; nothing is committed
but the MNIST files themselves. A script, not a binary file, because a page opened from ``file://`` may load
scripts but not fetch files. Every page names it in ``<meta name="lenet-training-digits">``, relative to the
page, and the trainer (``lenet_helpers/static/train.js``) loads it when it is shown.

The site carries one copy: the English edition, at the site's root, has it; the other editions (``zh-cn/``, built
separately by tools/editions.py and copied under the root) point at the root's copy.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent


def _edition_prefix(app: Sphinx) -> str:
    """From an edition's root to the site's root: "" for English, "../" for an edition under a sub-path."""
    from site_editions import edition_of, to_site_root  # _ext/, beside this extension

    return to_site_root(edition_of(app))


def stage_digits(app: Sphinx) -> None:
    """Write the digits' script into <build>/.training-digits (once: it is kept while the MNIST files and the
    packing code stay the same) and add that folder to the English edition's static path."""
    if app.builder.format != "html" or _edition_prefix(app):
        return
    from lenet_helpers import data, export

    staging = Path(app.doctreedir).parent / ".training-digits"
    stamp = staging / "stamp"
    key = hashlib.sha256((repr(data.MNIST_FILES) + inspect.getsource(export)).encode()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == key):
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "static").mkdir(exist_ok=True)
        (staging / "static" / export.DIGITS_SCRIPT).write_text(export.digits_script(root=ROOT / "data"),
                                                               encoding="utf-8")
        stamp.write_text(key)
    app.config.html_static_path.append(str(staging / "static"))


def name_digits(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """<meta name="lenet-training-digits" content="(relative path of the script)"> on every page."""
    if app.builder.format != "html" or "pathto" not in context:
        return
    from lenet_helpers import export

    # pathto(..., 1) is relative to this page within its own edition; other editions step up to the site's root
    here = context["pathto"](f"_static/{export.DIGITS_SCRIPT}", 1)
    prefix = _edition_prefix(app)
    if prefix:
        depth = pagename.count("/")
        here = "../" * depth + prefix + f"_static/{export.DIGITS_SCRIPT}"
    context["metatags"] = context.get("metatags", "") + f'\n<meta name="lenet-training-digits" content="{here}">'


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", stage_digits)
    app.connect("html-page-context", name_digits)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
