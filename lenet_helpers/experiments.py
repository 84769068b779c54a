"""Small controlled experiments: train several set-ups from scratch on the same data, seed by seed.

Chapter 6 measures what each modern change to LeNet-5 is worth. A fair comparison
gives every set-up the same data, the same number of passes and the same seeds,
and changes one thing at a time: :func:`compare` does exactly that and returns
one row per (set-up, seed).

Chapter 6 also measures the paper's argument for convolutions (Sec. II-A): a fully
connected network is not shift-invariant, a convolutional one is, nearly.
:func:`shift` moves digits by whole pixels, :func:`errors_under_shift` measures a
network on shifted digits, and :class:`RandomShifts` trains on randomly shifted
copies (data augmentation).

A comparison says something only when its difference stands out from the noise
between seeds. :func:`paired_difference` turns the results of two set-ups run with
the same seeds into the mean difference and its 95% confidence interval (a paired
*t* interval): a set-up is *clearly* better than another only when the whole
interval lies on one side of 0.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch
import torch.nn as nn

from ._table import Table
from ._validate import check_device, check_int, check_module, check_tensor
from .data import PAPER_BACKGROUND, batches
from .train import evaluate, set_seed, train
from .train import device as _best_device

__all__ = ["Run", "compare", "PairedDifference", "paired_difference", "t_quantile", "shift", "RandomShifts",
           "ShiftError", "errors_under_shift"]


class Run(NamedTuple):
    setup: str  # the name of the set-up (a key of compare's setups)
    seed: int
    train_loss: float  # mean loss over the last epoch, as training went
    train_error: float  # fraction misclassified over the last epoch, as training went
    test_error: float  # after training, in evaluation mode
    seconds: float  # training time (evaluation excluded)
    measured: object = None  # what compare's measure(model) returned after training (None without measure)
    history: list | None = None  # train's EpochStats, one per epoch (test_error each epoch with every_epoch=True)


def _setup_parts(name, setup):
    """(make_model, make_optimizer or None) from a set-up: a model factory, or a pair of factories."""
    first = setup[0] if isinstance(setup, (tuple, list)) and setup else setup
    if isinstance(first, nn.Module):
        raise TypeError(
            f"setups[{name!r}] must be a function returning a new model (e.g. lambda: lenet_variant('sigmoid')), "
            "not a model: each run starts from a fresh one"
        )
    if isinstance(setup, (tuple, list)):
        if len(setup) != 2 or not all(callable(f) for f in setup):
            raise TypeError(f"setups[{name!r}] must be make_model or a pair (make_model, make_optimizer) of functions")
        return setup[0], setup[1]
    if not callable(setup):
        raise TypeError(
            f"setups[{name!r}] must be a function returning a new model, or a pair (make_model, make_optimizer); "
            f"got {type(setup).__name__}"
        )
    return setup, None


def compare(
    setups: dict,
    train_data,
    test_data,
    *,
    seeds=(0,),
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    device=None,
    measure=None,
    scheduler=None,
    every_epoch: bool = False,
) -> Table:
    """Train each set-up once per seed, from scratch, and measure it: one :class:`Run` per (set-up, seed).

    Runs are **paired** by seed. Each run seeds every generator with :func:`set_seed`
    first, then builds its model and optimizer: set-ups with the same layers start
    from the same weights with the same seed. The batches come from a generator of
    their own, seeded with the seed too, so every set-up sees the same images in the
    same order with the same seed, whatever its layers draw at initialisation or
    while training (dropout), and a :class:`RandomShifts` data set gives it the same
    shifts. Runs of one seed then differ only by what the set-ups change (on a CPU
    exactly; on a GPU up to non-deterministic kernels), which is what
    :func:`paired_difference` needs.

    Args:
        setups: ``{name: make_model}`` or ``{name: (make_model, make_optimizer)}``;
            ``make_model()`` returns a new ``nn.Module``, ``make_optimizer(parameters)``
            a ``torch.optim.Optimizer`` for them (default: Adam with learning rate ``lr``).
        train_data, test_data: (images, labels) tensors, a Dataset or a DataLoader.
        seeds: the seeds to repeat each set-up with.
        epochs, batch_size, lr, device: as in :func:`train`.
        measure: optional; ``measure(model)`` is called on each trained model and
            what it returns (a number, a dict, …) goes in the run's ``measured``:
            for measurements beyond the test error, e.g. the training error in
            evaluation mode, or the error on shifted digits.
        scheduler: optional; ``scheduler(optimizer, total_steps)`` returns a
            learning-rate scheduler, stepped after every batch (e.g.
            ``lambda o, n: torch.optim.lr_scheduler.CosineAnnealingLR(o, n)``, the
            rate falling to 0 along a cosine over the run).
        every_epoch: also measure the error on ``test_data`` after every epoch
            (in each run's ``history``), to see where the error levels off.

    Returns:
        A table of :class:`Run`: setup, seed, train_loss and train_error of the
        last epoch (as training went), test_error after training, seconds of
        training, measured (``measure(model)``, or None) and history (the
        statistics of every epoch, see :class:`~lenet_helpers.train.EpochStats`).

    Example:
        >>> from lenet_helpers.models import lenet_variant
        >>> x, y = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
        >>> runs = compare({"relu": lenet_variant, "sigmoid": lambda: lenet_variant("sigmoid")},
        ...                (x, y), (x, y), seeds=(0, 1), device="cpu")
        >>> [(run.setup, run.seed) for run in runs]
        [('relu', 0), ('relu', 1), ('sigmoid', 0), ('sigmoid', 1)]
    """
    if not isinstance(setups, dict) or not setups:
        raise TypeError(f"setups must be a non-empty dict {{name: make_model}}, got {setups!r}")
    parts = {}
    for name, setup in setups.items():
        if not isinstance(name, str):
            raise TypeError(f"setups must be named by strings, got the key {name!r}")
        parts[name] = _setup_parts(name, setup)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a list of integers, e.g. (0, 1), got {seeds!r}")
    seeds = [check_int(seed, "seeds[i]", minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    epochs = check_int(epochs, "epochs", minimum=1)
    dev = check_device(device) if device is not None else _best_device()
    if test_data is None:
        raise ValueError("test_data must be given: compare measures the test error of every run")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be a function of the trained model, got {type(measure).__name__}")
    if scheduler is not None and not callable(scheduler):
        raise TypeError("scheduler must be a function (optimizer, total_steps) -> a learning-rate scheduler, "
                        f"got {type(scheduler).__name__}")
    if not isinstance(every_epoch, bool):
        raise TypeError(f"every_epoch must be True or False, got {every_epoch!r}")

    def on_device(data):  # move tensor pairs once, not once per run
        if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
            return data[0].to(dev), data[1].to(dev)
        return data

    train_data, test_data = on_device(train_data), on_device(test_data)
    runs = Table()
    for name, (make_model, make_optimizer) in parts.items():
        for seed in seeds:
            set_seed(seed)
            model = check_module(make_model(), f"setups[{name!r}]()").to(dev)
            if make_optimizer is not None:
                optimizer = make_optimizer(model.parameters())
            else:  # train's default, made here for the scheduler
                optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=dev.type in ("cpu", "cuda"))
            paired = _SeededBatches.of(train_data, batch_size, seed)
            if scheduler is not None:
                per_epoch = len(paired) if hasattr(paired, "__len__") else None
                if per_epoch is None:
                    raise TypeError("scheduler needs train_data whose number of batches is known (tensors, a Dataset, "
                                    "a DataLoader)")
                schedule = scheduler(optimizer, epochs * per_epoch)
            else:
                schedule = None
            history = train(model, paired, epochs=epochs, optimizer=optimizer, lr=lr, batch_size=batch_size,
                            device=dev, progress=False, scheduler=schedule,
                            test_data=test_data if every_epoch else None)
            last = history[-1]
            test = evaluate(model, test_data, device=dev)
            measured = measure(model) if measure is not None else None
            runs.append(Run(name, seed, last.train_loss, last.train_error, test.error, last.seconds, measured,
                            list(history)))
    return runs


class _SeededBatches:
    """The batches of ``data`` for one run, from a generator seeded with ``seed``: the same for every set-up.

    ``data``: (images, labels) tensors or a :class:`RandomShifts`; anything else (a Dataset, a DataLoader)
    is passed through as it is."""

    def __init__(self, data, batch_size: int, seed: int):
        self.data, self.batch_size = data, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def of(cls, data, batch_size: int, seed: int):
        """``data`` wrapped when it is tensors or RandomShifts; anything else as it is (train checks it)."""
        tensors = isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)
        if tensors and len(data[0]) != len(data[1]):
            raise ValueError(f"train_data must be (images, labels) of the same length, got {len(data[0])} and {len(data[1])}")
        return cls(data, batch_size, seed) if tensors or isinstance(data, RandomShifts) else data

    def __len__(self) -> int:
        if isinstance(self.data, RandomShifts):
            return len(self.data)
        return -(-len(self.data[1]) // self.batch_size)

    def __iter__(self):
        if isinstance(self.data, RandomShifts):
            return self.data.batches(self.generator)
        return batches(self.data[0], self.data[1], self.batch_size, generator=self.generator)


# ---------------------------------------------------------------------------
# Is a difference real? The paired t interval
# ---------------------------------------------------------------------------


def _t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` degrees of freedom (Abramowitz and Stegun 26.7.3, 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, term = math.cos(theta) ** 2, 1.0
    if df % 2:  # odd: (2/π)(θ + sin θ cos θ (1 + (2/3) cos²θ + (2·4)/(3·5) cos⁴θ + …)), df − 2 terms in all
        total = 1.0 if df > 1 else 0.0
        for k in range(1, (df - 3) // 2 + 1):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0))
    total = 1.0  # even: sin θ (1 + (1/2) cos²θ + (1·3)/(2·4) cos⁴θ + …), df/2 terms
    for k in range(1, df // 2):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    For a 95% interval from n paired measurements: ``t_quantile(0.975, n - 1)``.

    Example:
        >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, 9), 3), round(t_quantile(0.5, 3), 3)
        (2.776, 2.262, 0.0)
    """
    df = check_int(df, "df", minimum=1)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p < 1:
        raise ValueError(f"p must be a probability strictly between 0 and 1, got {p!r}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    target = 2 * p - 1  # P(|T| < t) for the quantile t
    low, high = 0.0, 1.0
    while _t_two_sided(high, df) < target:
        high *= 2
    for _ in range(200):  # bisection, to the last bit
        middle = (low + high) / 2
        if middle in (low, high):
            break
        low, high = (middle, high) if _t_two_sided(middle, df) < target else (low, middle)
    return (low + high) / 2


class PairedDifference(NamedTuple):
    """What :func:`paired_difference` returns: the mean of a − b over the pairs, and its confidence interval."""

    mean: float  # the mean of the differences a_i − b_i
    low: float  # the interval's lower end ...
    high: float  # ... and its upper end
    sd: float  # the standard deviation of the differences (n − 1 in the denominator)
    n: int  # the number of pairs
    confidence: float  # 0.95 for a 95% interval

    @property
    def verdict(self) -> str | None:
        """``"lower"`` when the whole interval is below 0 (a is clearly lower than b), ``"higher"`` when it is
        above, ``None`` when it contains 0 (no clear difference)."""
        return "lower" if self.high < 0 else "higher" if self.low > 0 else None


def _numbers(values, name: str) -> list:
    if isinstance(values, dict):
        values = list(values.values())
    if isinstance(values, torch.Tensor):
        values = values.detach().flatten().tolist()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of numbers (one per seed), got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise TypeError(f"{name} must hold finite numbers, got {v!r}")
        out.append(float(v))
    return out


def paired_difference(a, b, confidence: float = 0.95) -> PairedDifference:
    """The mean difference a − b of paired measurements, with its confidence interval (a paired *t* interval).

    ``a[i]`` and ``b[i]`` are measured on the same pair (the same seed: the same
    initial weights and the same batches), so what varies from pair to pair, the
    luck of the seed, cancels in ``a[i] − b[i]``. With n pairs, mean difference d̄
    and standard deviation s of the differences, the interval is
    d̄ ± t · s/√n, with t = :func:`t_quantile` ((1 + confidence)/2, n − 1).
    If the seeds were drawn again, 95% of such intervals would contain the true
    mean difference. ``verdict`` says whether the interval excludes 0.

    Args:
        a, b: the measurements, one per seed, in the same order (lists, tensors, or
            dicts {seed: value} with the same seeds); at least 2 pairs.
        confidence: the interval's coverage, between 0 and 1 (default 0.95).

    Shapes:
        a, b: n numbers each -> a :class:`PairedDifference` (mean, low, high, sd, n, confidence).

    Example:
        >>> d = paired_difference([1.10, 1.00, 1.25, 1.05, 1.20], [1.00, 0.95, 1.10, 1.00, 1.05])
        >>> round(d.mean, 3), round(d.low, 3), round(d.high, 3), d.verdict
        (0.1, 0.038, 0.162, 'higher')
        >>> paired_difference([1.0, 1.2], [1.1, 1.0]).verdict is None    # the interval contains 0
        True
    """
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            raise ValueError(f"a and b must be measured on the same seeds, got {sorted(a)} and {sorted(b)}")
        b = {key: b[key] for key in a}
    x, y = _numbers(a, "a"), _numbers(b, "b")
    if len(x) != len(y):
        raise ValueError(f"a and b must hold one number per seed each, paired: got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"a paired interval needs at least 2 pairs (seeds), got {len(x)}")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (0.95 for a 95% interval), got {confidence!r}")
    differences = [u - v for u, v in zip(x, y)]
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    half = t_quantile((1 + confidence) / 2, n - 1) * sd / math.sqrt(n)
    return PairedDifference(mean, mean - half, mean + half, sd, n, float(confidence))


# ---------------------------------------------------------------------------
# Shifted digits: Sec. II-A measured, and data augmentation
# ---------------------------------------------------------------------------


def _per_image_shift(value, name: str, n: int) -> torch.Tensor:
    """A shift given as an int (the same for every image) or as N integers: a long tensor of N shifts (CPU)."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 1 or len(value) != n or value.is_floating_point() or value.dtype == torch.bool:
            raise ValueError(f"{name} must be an integer or a 1-D integer tensor with one shift per image ({n}), "
                             f"got a {value.dtype} tensor of shape {tuple(value.shape)}")
        return value.detach().to("cpu", torch.long)
    return torch.full((n,), check_int(value, name), dtype=torch.long)


def shift(images, dx, dy, *, fill: float = PAPER_BACKGROUND) -> torch.Tensor:
    """Move each image ``dx`` pixels to the right and ``dy`` pixels down (negative: left, up).

    What moves past the border is lost; the uncovered pixels get ``fill``, the
    background (the paper's −0.1 by default, Sec. II-B). Nothing wraps around, unlike
    ``torch.roll``. ``dx`` and ``dy`` are integers, the same for every image, or 1-D
    integer tensors with one shift per image.

    Shapes:
        images: N×C×H×W; dx, dy: int or N -> N×C×H×W.

    Example:
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)
        >>> shift(x, 1, 0, fill=0.0)[0, 0].tolist()
        [[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 6.0, 7.0]]
        >>> shift(x, 0, -1, fill=-1.0)[0, 0].tolist()
        [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [-1.0, -1.0, -1.0]]
    """
    images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
    if isinstance(fill, bool) or not isinstance(fill, (int, float)):
        raise TypeError(f"fill must be a number (the background value), got {fill!r}")
    n, _, h, w = images.shape
    dx = _per_image_shift(dx, "dx", n).clamp(-w, w)
    dy = _per_image_shift(dy, "dy", n).clamp(-h, h)
    if n == 0:
        return images.clone()
    m = int(max(dx.abs().max(), dy.abs().max()))
    padded = torch.nn.functional.pad(images, (m, m, m, m), value=float(fill))
    dev = images.device
    # Output pixel (i, j) is input pixel (i - dy, j - dx): row i - dy + m, column j - dx + m of the padded image.
    rows = (m - dy).to(dev).view(n, 1, 1) + torch.arange(h, device=dev).view(1, h, 1)
    cols = (m - dx).to(dev).view(n, 1, 1) + torch.arange(w, device=dev).view(1, 1, w)
    picked = padded.permute(0, 2, 3, 1)[torch.arange(n, device=dev).view(n, 1, 1), rows, cols]  # N×H×W×C
    return picked.permute(0, 3, 1, 2).contiguous()


class RandomShifts:
    """Mini-batches of randomly shifted images, a new shift for each image at every pass: data augmentation.

    Each pass (each ``iter()``) shuffles the images, as :func:`lenet_helpers.data.batches`
    does, and moves every image by ``dx`` and ``dy`` pixels drawn uniformly from
    −max_shift … max_shift, with :func:`shift`. It draws from PyTorch's global
    generator, so :func:`lenet_helpers.train.set_seed` makes it repeatable. Give it
    to :func:`lenet_helpers.train.train` or :func:`compare` as ``train_data``
    (its own ``batch_size`` is used).

    Shapes:
        images: N×C×H×W, labels: N -> batches of (batch_size×C×H×W, batch_size).

    Example:
        >>> x, y = torch.zeros(10, 1, 8, 8), torch.arange(10)
        >>> data = RandomShifts(x, y, max_shift=2, batch_size=4)
        >>> len(data), [tuple(xb.shape) for xb, _ in data]
        (3, [(4, 1, 8, 8), (4, 1, 8, 8), (2, 1, 8, 8)])
    """

    def __init__(self, images, labels, max_shift: int = 2, batch_size: int = 64, *, fill: float = PAPER_BACKGROUND):
        self.images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
        self.labels = check_tensor(labels, "labels", ndim=1, layout="one label per image")
        if len(self.images) != len(self.labels):
            raise ValueError(f"images and labels must have the same length, got {len(self.images)} and {len(self.labels)}")
        self.max_shift = check_int(max_shift, "max_shift", minimum=0)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        if isinstance(fill, bool) or not isinstance(fill, (int, float)):
            raise TypeError(f"fill must be a number (the background value), got {fill!r}")
        self.fill = float(fill)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        return self.batches()

    def batches(self, generator: torch.Generator | None = None):
        """One pass of shifted batches, drawing the order and the shifts from ``generator`` (default: PyTorch's
        global generator, as ``iter()`` does)."""
        k = self.max_shift
        for x, y in batches(self.images, self.labels, self.batch_size, generator=generator):
            dx, dy = torch.randint(-k, k + 1, (2, len(y)), generator=generator)
            yield shift(x, dx, dy, fill=self.fill), y

    def __repr__(self) -> str:
        return (f"RandomShifts({len(self.labels)} images, max_shift={self.max_shift}, "
                f"batch_size={self.batch_size})")


class ShiftError(NamedTuple):
    shift: int  # pixels each image was moved by (left, right, up or down)
    error: float  # fraction of the shifted images misclassified


def errors_under_shift(model: nn.Module, data, shifts=range(5), *, seed: int = 0, fill: float = PAPER_BACKGROUND,
                       device=None) -> Table:
    """The error of ``model`` on ``data`` with every image moved by each number of pixels in ``shifts``.

    For a shift of s pixels, each image moves s pixels left, right, up or down,
    the direction drawn at random for each image by a generator seeded with
    ``seed`` (so two models are measured on exactly the same shifted images).
    The uncovered pixels get ``fill``, the background. Uses
    :func:`lenet_helpers.train.evaluate` (evaluation mode, no gradients).

    Shapes:
        data: (N×C×H×W images, N labels) -> a table of :class:`ShiftError` (shift, error), one row per shift.

    Example:
        >>> from lenet_helpers.models import lenet_variant
        >>> x, y = torch.zeros(6, 1, 32, 32), torch.zeros(6, dtype=torch.long)
        >>> [row.shift for row in errors_under_shift(lenet_variant(), (x, y), shifts=(0, 2))]
        [0, 2]
    """
    check_module(model)
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError(f"data must be a pair of tensors (images, labels), got {type(data).__name__}")
    images = check_tensor(data[0], "data[0] (the images)", ndim=4, layout="N×C×H×W")
    labels = data[1]
    if isinstance(shifts, (str, bytes)) or not hasattr(shifts, "__iter__"):
        raise TypeError(f"shifts must be a list of pixel counts, e.g. range(5), got {shifts!r}")
    shifts = [check_int(s, "shifts[i]", minimum=0) for s in shifts]
    if not shifts:
        raise ValueError("shifts must hold at least one number of pixels, got none")
    seed = check_int(seed, "seed", minimum=0)
    direction = torch.randint(0, 4, (len(images),), generator=torch.Generator().manual_seed(seed))
    ux = torch.tensor([1, -1, 0, 0])[direction]  # right, left, down, up
    uy = torch.tensor([0, 0, 1, -1])[direction]
    rows = Table()
    for s in shifts:
        moved = shift(images, s * ux, s * uy, fill=fill)
        rows.append(ShiftError(s, evaluate(model, (moved, labels), device=device).error))
    return rows
