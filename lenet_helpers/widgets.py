"""Interactive widgets: explorers for convolution and pooling, a draw-a-digit pad for LeNet-5, and a trainer that
trains LeNet-5 in the reader's browser.

The widgets are `anywidget <https://anywidget.dev>`_ widgets: the sliders,
the drawing and the arithmetic run in the browser (``static/explorer.js``,
``static/draw.js``, ``static/train.js``), so they stay interactive on the static
website where no Python kernel runs, and they work in JupyterLab, Jupyter
Notebook, VS Code and Colab. When a kernel is there, the settings are synced
with Python: move a slider and read the new value from the widget; set a value
from Python and the drawing follows. What the browser receives of a network is
made by :mod:`lenet_helpers.export`.

Example:
    >>> explorer = ConvExplorer(n=7, kernel_size=3, padding=1, stride=2)
    >>> explorer.output_size          # ⌊(7 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1
    4
    >>> explorer.stride = 1
    >>> explorer.output_size
    7
"""

from __future__ import annotations

import base64
import json
import pathlib

import anywidget
import torch
import traitlets

from . import export, models
from .export import export_model, model_input
from .modules import device_of, evaluating
from ._validate import check_choice, check_int, check_positive, check_tensor
from .conv import conv_output_size
from .pool import pool2d, pool_output_size

__all__ = ["ConvExplorer", "PoolExplorer", "grid_values", "DrawDigit", "TrainInBrowser", "TRAINABLE", "TRAIN_MOMENTUM",
           "trainable_networks", "pytorch_speed"]

_STATIC = pathlib.Path(__file__).parent / "static"
_ESM = (_STATIC / "explorer.js").read_text(encoding="utf-8")
_FRAME_CSS = (_STATIC / "widget.css").read_text(encoding="utf-8")  # the frame both widgets share
_CSS = _FRAME_CSS + (_STATIC / "explorer.css").read_text(encoding="utf-8")


def grid_values(n: int, seed: int = 0) -> list[list[int]]:
    """The n×n grid of digits 0–9 the pooling explorer shows (the browser computes the same grid).

    Example:
        >>> grid_values(3, seed=0)
        [[2, 2, 1], [1, 4, 7], [9, 5, 8]]
    """
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)

    def value(i: int, j: int) -> int:  # 32-bit integer hash, written as explorer.js's gridValue
        x = ((i + 1) * 73856093 & 0xFFFFFFFF) ^ ((j + 1) * 19349663 & 0xFFFFFFFF) ^ ((seed + 1) * 83492791 & 0xFFFFFFFF)
        x = ((x ^ (x >> 13)) * 2654435761) & 0xFFFFFFFF
        return (x >> 16) % 10

    return [[value(i, j) for j in range(n)] for i in range(n)]


class _Explorer(anywidget.AnyWidget):
    _esm = _ESM
    _css = _CSS
    kind = traitlets.Unicode().tag(sync=True)
    position = traitlets.Int(0, min=0).tag(sync=True)
    output_size = traitlets.Int(0).tag(sync=True)

    def __init__(self, **settings):
        for name, value in settings.items():
            trait = self.traits()[name]
            if isinstance(trait, traitlets.Int):
                check_int(value, name, minimum=trait.min)
                if trait.max is not None and value > trait.max:
                    raise ValueError(f"{name} must be at most {trait.max} in the explorer, got {value}")
        super().__init__(**settings)
        self._update()
        self.observe(lambda change: self._update(), names=self._inputs)

    _inputs: tuple[str, ...] = ()

    def _update(self) -> None:
        self.output_size = self._output_size()
        if self.position >= self.output_size ** 2:
            self.position = 0

    def _output_size(self) -> int:  # pragma: no cover - defined by each explorer
        raise NotImplementedError

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._inputs)
        return f"{type(self).__name__}({values}) -> output {self.output_size}×{self.output_size}"


class ConvExplorer(_Explorer):
    """Sliders for input size, kernel size, padding, stride and dilation of a square convolution.

    It draws the (padded) input grid, the window at the selected output
    position (click an output cell, or press play), the output grid, and the
    formula floor((n + 2p − d(k−1) − 1)/s) + 1 with the numbers filled in.
    Input cells that no window reaches are shaded.

    Synced traits: ``n``, ``kernel_size``, ``padding``, ``stride``,
    ``dilation``, ``position`` (the selected output cell, row-major) and
    ``output_size`` (0 when the window does not fit).

    Example:
        >>> ConvExplorer(n=32, kernel_size=5)      # LeNet-5's C1
        ConvExplorer(n=32, kernel_size=5, padding=0, stride=1, dilation=1) -> output 28×28
    """

    n = traitlets.Int(7, min=1, max=32).tag(sync=True)
    kernel_size = traitlets.Int(3, min=1, max=7).tag(sync=True)
    padding = traitlets.Int(0, min=0, max=4).tag(sync=True)
    stride = traitlets.Int(1, min=1, max=4).tag(sync=True)
    dilation = traitlets.Int(1, min=1, max=3).tag(sync=True)
    _inputs = ("n", "kernel_size", "padding", "stride", "dilation")

    def __init__(self, n: int = 7, kernel_size: int = 3, padding: int = 0, stride: int = 1, dilation: int = 1):
        super().__init__(kind="conv", n=n, kernel_size=kernel_size, padding=padding, stride=stride,
                         dilation=dilation)

    def _output_size(self) -> int:
        span = self.n + 2 * self.padding - self.dilation * (self.kernel_size - 1)
        return 0 if span < 1 else conv_output_size(self.n, self.kernel_size, self.padding, self.stride, self.dilation)


class PoolExplorer(_Explorer):
    """Sliders for input size, window, padding and stride of max or average pooling.

    The input is a grid of digits 0–9 (:func:`grid_values` of ``n`` and
    ``seed``); the output cells show the pooled values, computed in the
    browser. As in PyTorch, padding is at most half the window, max pooling
    never picks a padded cell and average pooling counts padded zeros.

    Synced traits: ``n``, ``pool_size``, ``stride``, ``padding``, ``mode``
    (``"max"`` or ``"avg"``), ``seed``, ``position`` and ``output_size``;
    ``values`` is the input grid and :meth:`output` the pooled grid.

    Example:
        >>> explorer = PoolExplorer(n=4, pool_size=2, mode="max", seed=0)
        >>> explorer.values
        [[2, 2, 1, 9], [1, 4, 7, 8], [9, 5, 8, 4], [1, 3, 7, 1]]
        >>> explorer.output()
        tensor([[4., 9.],
                [9., 8.]])
    """

    n = traitlets.Int(6, min=1, max=12).tag(sync=True)
    pool_size = traitlets.Int(2, min=1, max=4).tag(sync=True)
    stride = traitlets.Int(2, min=1, max=4).tag(sync=True)
    padding = traitlets.Int(0, min=0, max=2).tag(sync=True)
    mode = traitlets.Unicode("max").tag(sync=True)
    seed = traitlets.Int(0, min=0, max=2**31 - 2).tag(sync=True)
    values = traitlets.List().tag(sync=True)
    _inputs = ("n", "pool_size", "stride", "padding", "mode", "seed")

    def __init__(self, n: int = 6, pool_size: int = 2, stride: int | None = None, padding: int = 0,
                 mode: str = "max", seed: int = 0):
        check_choice(mode, "mode", ("max", "avg"))
        stride = pool_size if stride is None else stride
        if check_int(padding, "padding", minimum=0) > check_int(pool_size, "pool_size", minimum=1) // 2:
            raise ValueError(f"padding must be at most half the window (pool_size // 2 = {pool_size // 2}), "
                             f"as in PyTorch; got padding={padding}")
        super().__init__(kind="pool", n=n, pool_size=pool_size, stride=stride, padding=padding, mode=mode, seed=seed)

    @traitlets.validate("mode")
    def _check_mode(self, proposal):
        return check_choice(proposal["value"], "mode", ("max", "avg"))

    def _update(self) -> None:
        self.values = grid_values(self.n, self.seed)
        super()._update()

    def _output_size(self) -> int:
        if self.padding > self.pool_size // 2 or self.n + 2 * self.padding < self.pool_size:
            return 0
        return pool_output_size(self.n, self.pool_size, stride=self.stride, padding=self.padding)

    def output(self) -> torch.Tensor:
        """The pooled grid the explorer shows, computed with :func:`lenet_helpers.pool.pool2d`.

        Shape: output_size × output_size. Raises ValueError when the settings give no output.
        """
        if self.output_size == 0:
            raise ValueError(f"the settings give no output ({self!r}): make the input larger or the window smaller, "
                             "and keep the padding at most half the window")
        X = torch.tensor(self.values, dtype=torch.float32)
        return pool2d(X, self.pool_size, mode=self.mode, stride=self.stride, padding=self.padding)


# ---------------------------------------------------------------------------
# Draw a digit: LeNet-5 in the reader's browser
# ---------------------------------------------------------------------------

_DRAW_ESM = (_STATIC / "draw.js").read_text(encoding="utf-8")
_DRAW_CSS = _FRAME_CSS + (_STATIC / "draw.css").read_text(encoding="utf-8")


def _export_all(models: dict, normalize, name: str) -> tuple[list, str, dict]:
    """Several trained models for a page: their specs (offsets into one concatenation), that concatenation of
    their float32 weights as base64, and {name: (model, spec)}."""
    if not isinstance(models, dict) or not models:
        raise TypeError(f"{name} must be a non-empty dict {{name: model}}, got {type(models).__name__}")
    exported, specs, chunks, offset = {}, [], [], 0
    for key, model in models.items():
        scaling = normalize.get(key, "paper") if isinstance(normalize, dict) else normalize
        size = getattr(model, "input_size", (1, 32, 32))
        if tuple(size)[0] != 1 or size[1] != size[2]:
            raise ValueError(f"{name}[{key!r}] must take 1×N×N grey images, its input_size is {tuple(size)}")
        spec, tensors = export_model(model, key, normalize=scaling, input_size=size[1])
        if not tensors:
            raise ValueError(f"{name}[{key!r}] has no weights: pass trained course models such as LeNet5")
        for where in spec["tensors"].values():
            where["offset"] += offset
        offset += sum(t.numel() for t in tensors.values())
        chunks += [t.flatten() for t in tensors.values()]
        specs.append(spec)
        exported[key] = (model, spec)
    flat = torch.cat(chunks).numpy().astype("<f4").tobytes()
    return specs, base64.b64encode(flat).decode("ascii"), exported


class DrawDigit(anywidget.AnyWidget):
    """Draw a digit with the mouse or a finger and watch trained networks read it, layer by layer.

    It shows the preprocessing (bounding box, scaled to fit 20×20, centred by mass in 28×28,
    padded to 32×32 and normalised: :func:`lenet_helpers.data.mnist_style`), the feature maps
    of every layer, F6 as a 7×12 bitmap next to the RBF code it is compared with, and the ten
    output scores with the predicted digit. "Show me a test digit" steps through ``digits``.

    The forward pass runs in the browser (``static/draw.js``) with the models' weights, exported
    into the widget as float32 (about 4 bytes per parameter, a third more as base64 in a page), so
    it works on the static website. With a kernel, ``digit`` (28×28 list), ``scores`` and
    ``prediction`` come back to Python, and :meth:`forward` checks them with PyTorch.

    Args:
        models: {name: trained model} — course models taking 1×32×32 inputs (LeNet5, LeNet5Modern, …).
        digits: optional (images, labels) of test digits: N×28×28 uint8 (0 = background) or floats in
            [0, 1], and N labels; at most 500.
        normalize: the models' input scaling (``data.normalization``): one name, or {name: scaling}.

    Example:
        >>> from lenet_helpers import models
        >>> pad = DrawDigit({"LeNet-5 (1998)": models.LeNet5()})
        >>> pad.model_name, pad.prediction
        ('LeNet-5 (1998)', -1)
    """

    _esm = _DRAW_ESM
    _css = _DRAW_CSS
    specs = traitlets.List().tag(sync=True)
    weights = traitlets.Unicode().tag(sync=True)  # base64 of the float32 tensors of every model
    digits = traitlets.Unicode().tag(sync=True)  # base64 of N×28×28 uint8
    digit_labels = traitlets.List().tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    digit = traitlets.List().tag(sync=True)  # set by the browser: the 28×28 digit it fed the network
    scores = traitlets.List().tag(sync=True)  # set by the browser: the model's ten outputs
    prediction = traitlets.Int(-1).tag(sync=True)  # set by the browser; -1 when nothing is drawn

    MAX_DIGITS = 500

    def __init__(self, models: dict, digits=None, normalize="paper"):
        if not isinstance(models, dict) or not models:
            raise TypeError(f"models must be a non-empty dict {{name: model}}, got {type(models).__name__}")
        specs, weights, self._models = _export_all(models, normalize, "models")
        images, labels = self._check_digits(digits)
        super().__init__(specs=specs, weights=weights,
                         digits=base64.b64encode(images.numpy().tobytes()).decode("ascii"),
                         digit_labels=labels, model_name=specs[0]["name"])

    def _check_digits(self, digits):
        if digits is None:
            return torch.zeros(0, 28, 28, dtype=torch.uint8), []
        if not isinstance(digits, (tuple, list)) or len(digits) != 2:
            raise TypeError("digits must be a pair (images, labels)")
        images, labels = digits
        images = check_tensor(images, "digits images", ndim=(3, 4), layout="N×28×28 (or N×1×28×28)")
        if images.ndim == 4:
            images = images[:, 0]
        if tuple(images.shape[1:]) != (28, 28):
            raise ValueError(f"digits images must be N×28×28 MNIST digits, got shape {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            if images.min() < 0 or images.max() > 1:
                raise ValueError("digits images must be uint8 (0-255) or floats in [0, 1] (no normalisation)")
            images = (images.float() * 255).round().to(torch.uint8)
        labels = [int(v) for v in torch.as_tensor(labels).flatten().tolist()]
        if len(labels) != len(images):
            raise ValueError(f"digits must have one label per image, got {len(images)} images and {len(labels)} labels")
        if not 1 <= len(images) <= self.MAX_DIGITS:
            raise ValueError(f"digits must hold 1 to {self.MAX_DIGITS} images (they are embedded in the page), "
                             f"got {len(images)}")
        return images.cpu().contiguous(), labels

    @traitlets.validate("model_name")
    def _check_model_name(self, proposal):
        names = [spec["name"] for spec in self.specs] or [proposal["value"]]
        return check_choice(proposal["value"], "model_name", names)

    @property
    def page_bytes(self) -> int:
        """How many bytes the weights and digits add to a page (base64 text)."""
        return len(self.weights) + len(self.digits)

    def forward(self, digit=None) -> torch.Tensor:
        """PyTorch's outputs for a 28×28 digit (default: the one drawn in the browser), for ``model_name``.

        Shape: 28×28 in [0, 1] -> 10 (RBF penalties or logits, like ``scores``).
        """
        digit = self.digit if digit is None else digit
        if digit is None or len(digit) == 0:
            raise ValueError("nothing drawn yet: draw a digit in the widget, or pass a 28×28 digit")
        digit = torch.as_tensor(digit, dtype=torch.float32)
        if tuple(digit.shape) != (28, 28):
            raise ValueError(f"digit must be 28×28, got shape {tuple(digit.shape)}")
        model, spec = self._models[self.model_name]
        x = model_input(digit, spec)
        with evaluating(model), torch.no_grad():
            return model(x.to(device_of(model)))[0].cpu()

    def __repr__(self) -> str:
        return f"DrawDigit({', '.join(repr(s['name']) for s in self.specs)}, {len(self.digit_labels)} test digits)"


# ---------------------------------------------------------------------------
# Train LeNet-5 in the reader's browser
# ---------------------------------------------------------------------------


def _module_url(source: str) -> str:
    """A JavaScript module as a data: URL, so that one widget's code can import another's."""
    return "data:text/javascript;base64," + base64.b64encode(source.encode("utf-8")).decode("ascii")


# train.js imports draw.js (its forward pass, its pad): in a page, both are inlined as data: URLs, and train.js
# starts its worker from its own URL (import.meta.url).
_TRAIN_JS = (_STATIC / "train.js").read_text(encoding="utf-8").replace('"./draw.js"', json.dumps(_module_url(_DRAW_ESM)))
_TRAIN_ESM = f"import widget from {json.dumps(_module_url(_TRAIN_JS))};\nexport default widget;\n"
_TRAIN_CSS = _DRAW_CSS + (_STATIC / "train.css").read_text(encoding="utf-8")

TRAIN_MOMENTUM = 0.9  #: SGD's momentum in the browser (torch.optim.SGD's ``momentum``)

#: What the page can train: each network, its initialisation ("paper": uniform ±2.4/F_i; "pytorch": PyTorch's
#: default, ±1/√F_i), its loss (from its output: MAP for the RBF penalties, cross-entropy for logits), and the
#: learning rates and batch sizes the reader can choose, with the defaults chosen on validation digits
#: (benchmarks/browser_defaults.py, benchmarks/browser-defaults.md).
TRAINABLE = {
    "LeNet5Modern": {"make": models.LeNet5Modern, "init": "pytorch", "lr": 0.01, "batch": 16,
                     "lrs": [0.002, 0.005, 0.01, 0.02, 0.05, 0.1], "batches": [1, 4, 8, 16, 32, 64, 128]},
    "LeNet-5 (1998)": {"make": models.LeNet5, "init": "paper", "lr": 0.0005, "batch": 8,
                       "lrs": [0.0002, 0.0005, 0.001, 0.002, 0.005], "batches": [1, 4, 8, 16, 32, 64, 128]},
}


def trainable_networks() -> list[dict]:
    """What the in-browser trainer receives for each network of :data:`TRAINABLE`: its exported layers (no weights:
    the browser draws them), its fixed buffers (the RBF codes), its initialisation and its choices.

    Example:
        >>> [(n["name"], n["init"], n["lr"], n["batch"]) for n in trainable_networks()]
        [('LeNet5Modern', 'pytorch', 0.01, 16), ('LeNet-5 (1998)', 'paper', 0.0005, 8)]
    """
    found = []
    for name, choice in TRAINABLE.items():
        spec, tensors = export_model(choice["make"](), name)
        buffers = {key: tensors[key].flatten().tolist() for key, where in spec["tensors"].items() if not where["parameter"]}
        found.append({"name": name, "spec": spec, "buffers": buffers, "momentum": TRAIN_MOMENTUM,
                      **{key: value for key, value in choice.items() if key != "make"}})
    return found


class TrainInBrowser(anywidget.AnyWidget):
    """Train LeNet-5 in the reader's browser, from random weights, and watch it learn; then draw digits for it.

    The browser trains ``LeNet5Modern`` (cross-entropy) or the faithful ``LeNet5`` (RBF output, MAP loss) with
    SGD and momentum on MNIST's first :data:`~lenet_helpers.export.TRAIN_DIGITS` training digits, in a Web
    Worker (``static/train.js``: draw.js's forward pass and its own backward pass), and counts the error on the
    first :data:`~lenet_helpers.export.TEST_DIGITS` test digits, which it never trains on. It draws the training
    loss, the held-out error and C1's six kernels as they change, and the digits seen per second; Start, Pause
    and Reset, a learning rate and a batch size. A draw-a-digit pad (:class:`DrawDigit`'s) reads the reader's
    drawings with the network being trained, and with the trained networks of ``compare``.

    On the course's website the digits come with the site (``export.digits_script``); in Jupyter the kernel
    sends them. With a kernel, ``steps``, ``digits_seen``, ``test_error`` and the weights (``trained``) come
    back to Python at every evaluation, and :meth:`model` gives the network the browser trained as a PyTorch model.

    Args:
        compare: {name: trained model} the pad also runs (the course's trained networks), or None.
        network: the network to train first, a key of :data:`TRAINABLE`.
        seed: the first random initialisation; each Reset draws the next.
        eval_every: digits between two counts of the held-out error (default: one pass over the training digits).

    Example:
        >>> trainer = TrainInBrowser(network="LeNet-5 (1998)")
        >>> trainer.network, trainer.test_error, [n["name"] for n in trainer.networks]
        ('LeNet-5 (1998)', -1.0, ['LeNet5Modern', 'LeNet-5 (1998)'])
    """

    _esm = _TRAIN_ESM
    _css = _TRAIN_CSS
    networks = traitlets.List().tag(sync=True)
    network = traitlets.Unicode().tag(sync=True)
    specs = traitlets.List().tag(sync=True)  # the compared networks, as DrawDigit's
    weights = traitlets.Unicode().tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    eval_every = traitlets.Int(export.TRAIN_DIGITS).tag(sync=True)
    steps = traitlets.Int(0).tag(sync=True)  # set by the browser at each evaluation
    digits_seen = traitlets.Int(0).tag(sync=True)
    test_error = traitlets.Float(-1.0).tag(sync=True)  # fraction of the held-out digits read wrong; -1 before
    trained = traitlets.Unicode().tag(sync=True)  # base64 of the float32 weights the error was counted with

    def __init__(self, compare: dict | None = None, network: str = "LeNet5Modern", seed: int = 0,
                 eval_every: int = export.TRAIN_DIGITS):
        check_choice(network, "network", tuple(TRAINABLE))
        seed = check_int(seed, "seed", minimum=0)
        eval_every = check_int(eval_every, "eval_every", minimum=1)
        specs, weights, self._compared = _export_all(compare, "paper", "compare") if compare is not None else ([], "", {})
        super().__init__(networks=trainable_networks(), network=network, specs=specs, weights=weights, seed=seed,
                         eval_every=eval_every)
        self.on_msg(self._answer)

    @traitlets.validate("network")
    def _check_network(self, proposal):
        return check_choice(proposal["value"], "network", tuple(TRAINABLE))

    def _answer(self, widget, content, buffers) -> None:
        """The browser asks for the training digits (in Jupyter: the website ships them as a file)."""
        if isinstance(content, dict) and content.get("request") == "digits":
            header, packed = export.pack_digits()
            self.send({"digits": header}, buffers=[packed])

    def model(self) -> torch.nn.Module:
        """The network the browser trained (its weights at the last evaluation), as a PyTorch model.

        Raises ValueError before the browser has sent any (train it in the widget, with a kernel running).
        """
        if not self.trained:
            raise ValueError("nothing trained yet: press Start in the widget (in Jupyter, with a kernel running), "
                             "and wait for its first evaluation")
        made = TRAINABLE[self.network]["make"]()
        spec, _ = export_model(made, self.network)
        return export.load_exported(made, spec, self.trained).eval()

    def __repr__(self) -> str:
        error = f", held-out error {self.test_error:.2%}" if self.test_error >= 0 else ""
        return f"TrainInBrowser({self.network!r}, {self.digits_seen:,} digits seen{error})"


def pytorch_speed(network: str = "LeNet5Modern", batch_size: int | None = None, *, seconds: float = 3.0,
                  lr: float | None = None, threads: int | None = None) -> float:
    """Digits per second PyTorch trains ``network`` on this machine's CPU the way the browser does: SGD with
    momentum, batches of ``batch_size`` (default: the network's default in the browser) drawn from the browser's
    training digits, forward, loss, backward and step, for about ``seconds`` after a few warm-up steps, with
    ``threads`` CPU threads (default: PyTorch's own setting). The figure the browser's speed is compared with
    (tests/test_site.py, ``make bench``).

    Example:
        >>> pytorch_speed("LeNet5Modern", 16, seconds=0.2) > 0
        True
    """
    import time

    choice = TRAINABLE[check_choice(network, "network", tuple(TRAINABLE))]
    batch_size = check_int(choice["batch"] if batch_size is None else batch_size, "batch_size", minimum=1)
    seconds = check_positive(seconds, "seconds")
    if threads is not None:
        previous = torch.get_num_threads()
        torch.set_num_threads(check_int(threads, "threads", minimum=1))
        try:
            return pytorch_speed(network, batch_size, seconds=seconds, lr=lr)
        finally:
            torch.set_num_threads(previous)
    (images, labels), _ = export.training_digits(n_test=1)
    model = choice["make"]()
    spec, _ = export_model(model, network)
    x, y = model_input(images.float() / 255, spec), labels.long()
    optimizer = torch.optim.SGD(model.parameters(), lr=choice["lr"] if lr is None else lr, momentum=TRAIN_MOMENTUM)
    generator = torch.Generator().manual_seed(0)
    def step():
        batch = torch.randint(0, len(y), (batch_size,), generator=generator)
        loss = model.loss(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(5):  # warm-up
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * batch_size / (time.perf_counter() - start)
