"""How much of a Chinese page a reader reads in English: the English share of its reading text.

A page's visible text is collected in the browser (``VISIBLE_TEXT``): everything a reader sees in the article, cell
outputs and tables included, hidden solutions opened, but not code listings, inline code, math, nor outputs hidden
by the page's language (``display: none``), nor text the page marks as English on purpose (``lang="en"``
outside an output: the glossary's English column, the link to the English edition). Each piece comes with its kind: ``prose`` or ``printed`` (a cell's printed
output, where tensors and reprs are code). ``english_share`` then counts, in words:

* Chinese words: the Chinese runs cut into words by jieba (punctuation left out);
* English words: Latin words that are not exempt;
* exempt: numbers; single letters (variables); acronyms in capitals (MNIST, GPU, RBF); proper names and the
  functions' own names (``NAMES``: LeNet, PyTorch, ReLU, tanh ...) and works' titles (``TITLES``); bibliography
  entries and citations (names and titles); words written as code (CamelCase, joined to a
  digit, ``_`` or ``.``, followed by ``(``, ``[`` or ``=``: ``Conv2d``, ``float32``, ``kernel_size=``,
  ``tensor(``); in printed output, Python's ``True``/``False``/``None``, a repr's ``(name):`` and ``'strings'``, and
  an exception's message after ``SomeError:`` (the library's words, English in every edition).

The share is English words / (Chinese words + English words + names and acronyms). Code does not count either way.
"""

from __future__ import annotations

import re

# The names a Chinese text keeps as they are: people, products, the paper's and the functions' own names.
NAMES = frozenset("""
LeNet PyTorch Python NumPy Jupyter JupyterLab Colab Google GitHub Sphinx Chromium Chrome Linux macOS Windows Debian
Ubuntu Homebrew Node npm pip uv make twine Markdown MyST torchvision torchinfo matplotlib ipywidgets anywidget
LeCun Bottou Bengio Haffner Yann Léon Yoshua Patrick Hubel Wiesel Fukushima Neocognitron Sobel Levenberg Marquardt
Adam Kaiming Glorot Xavier Krizhevsky AlexNet VGG ResNet Ioffe Szegedy Hinton Srivastava Kingma Zhang Lipton Li
Smola d2l Fashion Zalando Kuzushiji Cohen Simard Proceedings IEEE
RMSProp EBLearn
ReLU tanh sigmoid softmax logsumexp
""".split())
# Works cited by their English titles (a title is a name): each counts as one name.
TITLES = ("Gradient-Based Learning Applied to Document Recognition",
          "Backpropagation Applied to Handwritten Zip Code Recognition", "Dive into Deep Learning")
CODE_WORDS = frozenset({"True", "False", "None"})

LATIN = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’-]*[A-Za-zÀ-ÿ]|[A-Za-zÀ-ÿ]")
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

# In the browser: the visible text of the article, piece by piece: [{kind, text}].
VISIBLE_TEXT = r"""() => {
    const root = document.querySelector('main article') || document.querySelector('article') || document.body;
    const skip = 'script, style, code, kbd, samp, mjx-container, .MathJax, .cell_input, .headerlink, '
        + 'nav.edition-switch, .copybtn, .toggle-button .toggle-icon, .citation, .bibliography, .bibtex-citation';
    const pieces = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.nodeValue;
        if (!text || !text.trim()) continue;
        const element = node.parentElement;
        if (!element || element.closest(skip)) continue;
        if (element.closest('.highlight, pre.literal-block') && !element.closest('.cell_output')) continue;  // code
        const quoted = element.closest('[lang]');  // marked as English on purpose (a term's English name), not an output
        if (quoted && quoted.getAttribute('lang').startsWith('en') && !quoted.hasAttribute('data-lenet-lang')) continue;
        if (!element.checkVisibility({checkOpacity: false, checkVisibilityCSS: true})) continue;
        const printed = element.closest('.cell_output pre, pre.lenet-printed, .output pre');
        pieces.push({kind: printed ? 'printed' : 'prose', text});
    }
    return pieces;
}"""

_RAISED = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning): [^\n]*")
_SEGMENTER = None


def _words(text: str) -> list[str]:
    """The Chinese words of ``text`` (jieba, its default dictionary)."""
    global _SEGMENTER
    if _SEGMENTER is None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        _SEGMENTER = jieba.Tokenizer()
    return [w for run in CJK_RUN.findall(text) for w in _SEGMENTER.lcut(run) if CJK_RUN.search(w)]


def classify(word: str, before: str, after: str, printed: bool) -> str:
    """``"english"``, ``"name"`` (counted as reading text, not as English) or ``"code"`` (not counted) for a Latin
    ``word`` between the text ``before`` and ``after`` it."""
    left, right = before[-1:], after[:1]
    if len(word) == 1:
        return "code"  # a variable: x, n, k
    if left and (left in "_./\\" or left.isdigit()) or right and (right in "_([=" or right.isdigit()):
        return "code"  # joined to a digit, "_" or ".", or called: float32, x_1, nn.Conv2d, tensor(, kernel_size=
    if right == "." and after[1:2].isalpha():
        return "code"  # torch.nn
    if word in NAMES or word.rstrip("s") in NAMES or word.split("-")[0] in NAMES:
        return "name"
    if word.isupper() or (word.endswith("s") and word[:-1].isupper()):
        return "name"  # an acronym: MNIST, GPU, RBFs
    if re.search(r"[a-z][A-Z]", word) or (printed and word in CODE_WORDS):
        return "code"  # CamelCase: a class written as code
    if printed and left == "(" and after.startswith("):"):
        return "code"  # a module repr's (conv): ...
    if printed and left in "'\"" and right == left:
        return "code"  # a string in a repr: {'padding': 0}
    return "english"


def count(pieces: list[dict]) -> dict:
    """Words of each kind in the page's ``pieces`` (VISIBLE_TEXT), and the English ones themselves."""
    chinese = names = 0
    english: list[str] = []
    for piece in pieces:
        text, printed = piece["text"], piece["kind"] == "printed"
        for title in TITLES:
            names += text.count(title)
            text = text.replace(title, " ")
        if printed:  # an exception's message, as a library wrote it (PyTorch's errors are English everywhere)
            text = _RAISED.sub(" ", text)
        chinese += len(_words(text))
        for match in LATIN.finditer(text):
            start, end = match.span()
            word = match.group(0)
            kind = classify(word, text[max(0, start - 3):start], text[end:end + 3], printed)
            if kind == "english":
                english.append(word)
            elif kind == "name":
                names += 1
    return {"chinese": chinese, "names": names, "english": len(english), "english_words": english}


def english_share(pieces: list[dict]) -> float:
    """English words / reading words of a page (see the module's docstring)."""
    c = count(pieces)
    return c["english"] / max(1, c["chinese"] + c["english"] + c["names"])
