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

import torch
import torch.nn.functional as F

from .. import pool as _pool
from ._core import (
    CheckResult,
    _cases,
    _compare_int,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["pool2d", "pool_output_size", "global_avg_pool", "subsampling"]


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

    def hint(args):
        (h, w), (ph, pw) = args["X"].shape, args["pool_size"]
        tip = (f"windows do not overlap: the stride equals the window, so the output is "
               f"floor({h}/{ph}) × floor({w}/{pw}) = {h // ph} × {w // pw}.")
        return tip + (" Average pooling takes the mean of the window's values." if args["mode"] == "avg"
                      else " Max pooling takes the largest value of the window.")

    return _run("pool2d", fn, cases, reference, _compare_tensor, hint)


def pool_output_size(fn) -> CheckResult:
    """Check ``fn(n, k, s, p=0)``: output length of a pooling layer, floor((n + 2p - k)/s) + 1.

    Example:
        >>> pool_output_size(lambda n, k, s, p=0: (n + 2 * p - k) // s + 1).passed
        True
    """
    keys = ("n", "k", "s", "p")
    cases = _cases((28, 2, 2, 0), (10, 2, 2, 0), (5, 2, 2, 0), (7, 3, 2, 0), (7, 3, 2, 1), (13, 3, 2, 1),
                   (6, 3, 3, 0), (9, 2, 1, 0), (8, 4, 4, 2), keys=keys)

    def reference(n, k, s, p):
        return _pool.pool_output_size(n, k, stride=s, padding=p)

    def hint(args):
        return ("count the window positions: floor((n + 2p - k) / s) + 1. Windows that would run past the "
                "(padded) edge are dropped, so floor, not round.")

    return _run("pool_output_size", fn, cases, reference, _compare_int, hint)


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
        value = F.adaptive_avg_pool2d(X, 1).flatten(1)
        mistakes = {"N×C×1×1: flatten the result to N×C (.flatten(1), or .mean(dim=(2, 3)))": value[..., None, None],
                    "the largest value of each map (that is global max pooling)": X.amax(dim=(2, 3))}
        if X.shape[1] > 1:
            mistakes["the mean over the channels (average each map over its H×W positions instead)"] = X.mean(dim=1)
        if X.shape[0] > 1:
            mistakes["the mean over the batch as well (keep one row per image)"] = X.mean(dim=(0, 2, 3))
        return _Expected(value, mistakes)

    def hint(args):
        n, c, h, w = args["X"].shape
        return (f"average each of the {c} maps of each of the {n} images over its {h}×{w} positions "
                f"(dims 2 and 3): the result is {n}×{c}.")

    return _run("global_avg_pool", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


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
    g = torch.Generator().manual_seed(1998)
    shapes = [(1, 4, 4), (6, 28, 28), (16, 10, 10), (3, 5, 7), (2, 6, 4)]
    cases = [{"x": torch.arange(16.0).reshape(1, 4, 4), "weight": torch.tensor([0.5]), "bias": torch.tensor([1.0])}]
    cases += [{"x": torch.randn(*shape, generator=g), "weight": torch.randn(shape[0], generator=g),
               "bias": torch.randn(shape[0], generator=g)} for shape in shapes[1:]]

    def reference(x, weight, bias):
        sums = 4 * F.avg_pool2d(x[None], 2)[0]
        value = weight[:, None, None] * sums + bias[:, None, None]
        from ..layers import squash

        mistakes = {"the window's mean (the paper adds the four inputs: the sum is 4 times the mean)":
                        weight[:, None, None] * sums / 4 + bias[:, None, None],
                    "the squashing function applied (this exercise asks for the part inside f)": squash(value),
                    "max pooling in place of the window's sum (S2 adds its four inputs)":
                        weight[:, None, None] * F.max_pool2d(x[None], 2)[0] + bias[:, None, None]}
        if x.shape[0] > 1:
            mistakes["the first map's coefficient and bias for every map (each map has its own pair)"] = (
                weight[0] * sums + bias[0])
        return _Expected(value, mistakes)

    def hint(args):
        c, h, w = args["x"].shape
        return (f"for each of the {c} maps, add the 4 values of every 2×2 window (stride 2, {h // 2}×{w // 2} windows), "
                "multiply by that map's weight[c] and add its bias[c]. weight[:, None, None] broadcasts over a map.")

    return _run("subsampling", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)
