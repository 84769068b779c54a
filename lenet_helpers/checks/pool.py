"""Self-checks for chapter 2, pooling.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`pool2d`                  ``fn(X, pool_size, mode) -> tensor``
:func:`pool_output_size`        ``fn(n, k, s, p=0) -> int``
:func:`global_avg_pool`         ``fn(X) -> tensor`` (N×C×H×W -> N×C)
:func:`subsampling`             ``fn(x, weight, bias) -> tensor`` (LeNet-5's S2 before the squashing)
==============================  ===================================================
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import pool as _pool
from ..language import _
from ._core import (
    CheckResult,
    Mistake,
    _cases,
    _compare_int,
    _compare_tensor,
    _hints,
    _run,
    _section,
)

__all__ = ["pool2d", "pool_output_size", "global_avg_pool", "subsampling"]

_FROM_SCRATCH = _section(2, _("Pooling from scratch"))
_OUTPUT_SIZE = _section(2, _("How large is the output?"))
_GLOBAL = _section(2, _("Global average pooling"))
_S2 = _section(2, _("S2 and S4 in LeNet-5"))


def _pooled(X, size, mode, **options):
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return pool(X[None, None], size, **options)[0, 0]


_hints("pool2d",
       _("the windows do not overlap: the stride equals the window, so an H×W input gives floor(H/ph) × floor(W/pw) "
         "outputs; rows and columns left over at the end are dropped."),
       _("output cell (i, j) reads the window X[i·ph:(i + 1)·ph, j·pw:(j + 1)·pw]: its largest value for \"max\", its "
         "mean for \"avg\"."),
       _("two loops over the output's cells; window.max() or window.mean() depending on mode; ph is the window's "
         "height (rows), pw its width (columns)."))


def pool2d(fn) -> CheckResult:
    """Check ``fn(X, pool_size, mode)``: max or average pooling with stride equal to the window.

    Shapes: X: H×W, pool_size = (ph, pw) -> floor(H/ph)×floor(W/pw); mode is
    ``"max"`` or ``"avg"``; no padding; rows and columns left over at the end
    are dropped, as in PyTorch.

    Example:
        >>> pool2d(lambda X, pool_size, mode: __import__("lenet_helpers").pool.pool2d(X, pool_size, mode)).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    settings = [((4, 4), (2, 2), "max"), ((4, 4), (2, 2), "avg"), ((6, 6), (3, 3), "max"), ((4, 6), (2, 3), "avg"),
                ((5, 5), (2, 2), "max"), ((7, 5), (2, 2), "avg"), ((6, 4), (3, 2), "max"), ((3, 3), (3, 3), "avg")]
    cases = [{"X": torch.randn(*x, generator=g) * 3, "pool_size": k, "mode": m} for x, k, m in settings]

    def reference(X, pool_size, mode):
        return _pool.pool2d(X, pool_size, mode=mode)

    mistakes = [
        Mistake(_("takes the largest value whatever the mode: \"avg\" asks for the window's mean"), _FROM_SCRATCH,
                lambda X, pool_size, mode: _pooled(X, pool_size, "max") if mode == "avg" else None),
        Mistake(_("takes the mean whatever the mode: \"max\" asks for the window's largest value"), _FROM_SCRATCH,
                lambda X, pool_size, mode: _pooled(X, pool_size, "avg") if mode == "max" else None),
        Mistake(_("slides the window one cell at a time: here the stride equals the window, the windows do not "
                  "overlap"), _FROM_SCRATCH, lambda X, pool_size, mode: _pooled(X, pool_size, mode, stride=1)),
        Mistake(_("adds up each window for \"avg\": average pooling divides the sum by the window's size"),
                _FROM_SCRATCH, lambda X, pool_size, mode: (_pooled(X, pool_size, mode) * math.prod(pool_size)
                                                          if mode == "avg" else None)),
        Mistake(_("swaps the window's sides: pool_size is (height, width), rows first"), _FROM_SCRATCH,
                lambda X, pool_size, mode: (_pooled(X, pool_size[::-1], mode) if pool_size[0] != pool_size[1]
                                            else None)),
        Mistake(_("keeps a partial window at the end: rows and columns left over are dropped (floor, not ceil)"),
                _OUTPUT_SIZE, lambda X, pool_size, mode: (_pooled(X, pool_size, mode, ceil_mode=True)
                                                          if X.shape[0] % pool_size[0] or X.shape[1] % pool_size[1]
                                                          else None)),
    ]
    return _run("pool2d", fn, cases, reference, _compare_tensor, mistakes)


_hints("pool_output_size",
       _("count the window positions in the padded input, one every s cells."),
       _("the padded input has n + 2p cells; windows start at 0, s, 2s, … while they end inside it; a window that "
         "would run past the edge is dropped."),
       _("floor((n + 2p − k) / s) + 1: the floor division // counts the steps, + 1 the first window."))


def pool_output_size(fn) -> CheckResult:
    """Check ``fn(n, k, s, p=0)``: output length of a pooling layer, floor((n + 2p - k)/s) + 1.

    Hidden cases include divisions with remainders that separate the floor from
    ``round`` (Python's ``round(2.5)`` is 2) and from the ceiling.

    Example:
        >>> pool_output_size(lambda n, k, s, p=0: (n + 2 * p - k) // s + 1).passed
        True
    """
    keys = ("n", "k", "s", "p")
    cases = _cases((28, 2, 2, 0), (10, 2, 2, 0), (5, 2, 2, 0), (7, 3, 2, 0), (7, 3, 2, 1), (13, 3, 2, 1),
                   (6, 3, 3, 0), (9, 2, 1, 0), (8, 4, 4, 2), (10, 3, 3, 0), (11, 3, 3, 0), (9, 2, 2, 0), keys=keys)

    def reference(n, k, s, p):
        return _pool.pool_output_size(n, k, stride=s, padding=p)

    mistakes = [
        Mistake(_("rounds the division to the nearest integer (round): a window that would run past the edge is "
                  "dropped, so round down, with // (and Python's round(2.5) is 2, round(3.5) is 4)"), _OUTPUT_SIZE,
                lambda n, k, s, p: round((n + 2 * p - k) / s) + 1),
        Mistake(_("rounds the division up (math.ceil): a window that would run past the edge is dropped, so round "
                  "down, with //"), _OUTPUT_SIZE, lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1),
        Mistake(_("forgets the first window: the count is floor((n + 2p − k) / s) + 1 (an off-by-one)"),
                _OUTPUT_SIZE, lambda n, k, s, p: (n + 2 * p - k) // s),
        Mistake(_("pads one side only: padding adds p cells on each side"), _OUTPUT_SIZE,
                lambda n, k, s, p: (n + p - k) // s + 1 if p else None),
        Mistake(_("ignores the stride: the window moves s cells at a time, so divide by s"), _OUTPUT_SIZE,
                lambda n, k, s, p: n + 2 * p - k + 1 if s > 1 else None),
        Mistake(_("divides n by the window: that holds only when the stride equals the window and there is no "
                  "padding"), _OUTPUT_SIZE, lambda n, k, s, p: n // k),
    ]
    return _run("pool_output_size", fn, cases, reference, _compare_int, mistakes)


_hints("global_avg_pool",
       _("one number per map: the mean of its H×W values, for every image and every channel."),
       _("average over the two spatial dimensions, 2 and 3, and keep the batch (0) and the channels (1)."),
       _("X.mean(dim=(2, 3)) gives N×C."))


def global_avg_pool(fn) -> CheckResult:
    """Check ``fn(X)``: global average pooling, one number per map: the mean of each H×W map.

    Shapes: X: N×C×H×W -> N×C. Compared with
    ``torch.nn.functional.adaptive_avg_pool2d(X, 1)`` flattened to N×C, on hidden
    batches (one image, 1×1 maps, rectangular maps, many channels).

    Example:
        >>> global_avg_pool(lambda X: X.mean(dim=(2, 3))).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    shapes = [(2, 3, 4, 4), (1, 16, 5, 5), (3, 2, 1, 1), (4, 6, 3, 7), (2, 120, 2, 2), (5, 1, 6, 6)]
    cases = [{"X": torch.randn(*shape, generator=g) + torch.arange(shape[1]).view(1, -1, 1, 1)} for shape in shapes]

    def reference(X):
        return F.adaptive_avg_pool2d(X, 1).flatten(1)

    mistakes = [
        Mistake(_("gives N×C×1×1: flatten the result to N×C (.flatten(1), or .mean(dim=(2, 3)))"), _GLOBAL,
                lambda X: reference(X)[..., None, None]),
        Mistake(_("takes the largest value of each map: that is global max pooling"), _GLOBAL,
                lambda X: X.amax(dim=(2, 3))),
        Mistake(_("averages over the channels: average each map over its H×W positions instead"), _GLOBAL,
                lambda X: X.mean(dim=1) if X.shape[1] > 1 else None),
        Mistake(_("averages over the batch as well: keep one row per image"), _GLOBAL,
                lambda X: X.mean(dim=(0, 2, 3)) if X.shape[0] > 1 else None),
        Mistake(_("adds up each map: global average pooling takes its mean"), _GLOBAL,
                lambda X: X.sum(dim=(2, 3)) if X.shape[2] * X.shape[3] > 1 else None),
    ]
    return _run("global_avg_pool", fn, cases, reference, _compare_tensor, mistakes)


_hints("subsampling",
       _("each output unit adds the four inputs of its 2×2 window, multiplies the sum by its map's coefficient and "
         "adds its map's bias; the windows do not overlap."),
       _("the window sums are 4 times the windows' means (F.avg_pool2d), or x[c, 2i:2i + 2, 2j:2j + 2].sum(); "
         "weight[:, None, None] and bias[:, None, None] broadcast over a map."),
       _("weight[:, None, None] * (sums of the 2×2 windows) + bias[:, None, None], C×(H//2)×(W//2), no squashing."))


def subsampling(fn) -> CheckResult:
    """Check ``fn(x, weight, bias)``: LeNet-5's S2 (and S4) before the squashing, as in ``layers.Subsampling``.

    Each unit adds the four inputs of its 2×2 window (stride 2), multiplies the
    sum by its map's trainable coefficient ``weight[c]`` and adds its map's bias
    ``bias[c]``; rows or columns left over at the end are dropped.

    Shapes: x: C×H×W, weight: C, bias: C -> C×(H//2)×(W//2).

    Example:
        >>> subsampling(lambda x, weight, bias:
        ...     weight[:, None, None] * 4 * F.avg_pool2d(x[None], 2)[0] + bias[:, None, None]).passed
        True
    """
    from ..layers import squash

    g = torch.Generator().manual_seed(1998)
    shapes = [(1, 4, 4), (6, 28, 28), (16, 10, 10), (3, 5, 7), (2, 6, 4)]
    cases = [{"x": torch.arange(16.0).reshape(1, 4, 4), "weight": torch.tensor([0.5]), "bias": torch.tensor([1.0])}]
    cases += [{"x": torch.randn(*shape, generator=g), "weight": torch.randn(shape[0], generator=g),
               "bias": torch.randn(shape[0], generator=g)} for shape in shapes[1:]]

    def sums(x):
        return 4 * F.avg_pool2d(x[None], 2)[0]

    def reference(x, weight, bias):
        return weight[:, None, None] * sums(x) + bias[:, None, None]

    mistakes = [
        Mistake(_("takes the window's mean: the paper adds the four inputs (the sum is 4 times the mean)"), _S2,
                lambda x, weight, bias: weight[:, None, None] * sums(x) / 4 + bias[:, None, None]),
        Mistake(_("applies the squashing function: this exercise asks for the part inside f"), _S2,
                lambda x, weight, bias: squash(reference(x, weight, bias))),
        Mistake(_("takes the window's largest input (max pooling): S2 adds its four inputs"), _S2,
                lambda x, weight, bias: weight[:, None, None] * F.max_pool2d(x[None], 2)[0] + bias[:, None, None]),
        Mistake(_("uses the first map's coefficient and bias for every map: each map has its own pair"), _S2,
                lambda x, weight, bias: weight[0] * sums(x) + bias[0] if x.shape[0] > 1 else None),
        Mistake(_("adds the bias before multiplying: the sum is multiplied by the coefficient, then the bias is "
                  "added"), _S2, lambda x, weight, bias: weight[:, None, None] * (sums(x) + bias[:, None, None])),
    ]
    return _run("subsampling", fn, cases, reference, _compare_tensor, mistakes)
