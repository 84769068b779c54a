"""Self-checks for chapter 1, convolution.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`corr2d`                  ``fn(X, K) -> tensor``
:func:`conv_output_size`        ``fn(n, k, p=0, s=1, d=1) -> int``
:func:`same_padding`            ``fn(k, d=1) -> int``
==============================  ===================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import conv as _conv
from ._core import (
    CheckResult,
    _cases,
    _compare_int,
    _compare_tensor,
    _run,
)

__all__ = ["corr2d", "conv_output_size", "same_padding"]


def corr2d(fn) -> CheckResult:
    """Check ``fn(X, K)``: 2-D cross-correlation, no padding, stride 1.

    Shapes: X: H×W, K: kh×kw -> (H-kh+1)×(W-kw+1). Compared with
    ``torch.nn.functional.conv2d`` on hidden cases (non-square inputs and
    kernels, a 1×1 kernel, a kernel as large as the input).

    Example:
        >>> corr2d(lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    shapes = [((3, 3), (2, 2)), ((4, 6), (2, 3)), ((6, 4), (3, 1)), ((5, 5), (1, 1)), ((3, 4), (3, 4)), ((7, 8), (5, 5))]
    cases = [{"X": torch.arange(9.0).reshape(3, 3), "K": torch.tensor([[0.0, 1.0], [2.0, 3.0]])}]
    cases += [{"X": torch.randn(*x, generator=g), "K": torch.randn(*k, generator=g)} for x, k in shapes[1:]]

    def reference(X, K):
        return F.conv2d(X[None, None], K[None, None])[0, 0]

    def hint(args):
        (h, w), (kh, kw) = args["X"].shape, args["K"].shape
        return (f"the output has (H - kh + 1) × (W - kw + 1) = {h - kh + 1} × {w - kw + 1} cells; each is the sum of "
                "the elementwise product of K with the window of X at that position (no kernel flip).")

    return _run("corr2d", fn, cases, reference, _compare_tensor, hint)


def _effective_size(n, k, p, d):
    return n + 2 * p - d * (k - 1)


def conv_output_size(fn) -> CheckResult:
    """Check ``fn(n, k, p=0, s=1, d=1)``: output length of a convolution.

    The answer is floor((n + 2p - d(k-1) - 1) / s) + 1, checked on hidden
    cases where the division is exact and where it is not.

    Example:
        >>> conv_output_size(lambda n, k, p=0, s=1, d=1: (n + 2*p - d*(k-1) - 1) // s + 1).passed
        True
    """
    keys = ("n", "k", "p", "s", "d")
    cases = _cases((32, 5, 0, 1, 1), (28, 5, 2, 1, 1), (7, 3, 1, 1, 1), (256, 12, 2, 4, 1), (8, 3, 0, 2, 1),
                   (9, 3, 1, 2, 1), (10, 3, 0, 3, 1), (7, 3, 0, 1, 2), (16, 3, 2, 1, 2), (11, 5, 1, 3, 2),
                   (5, 5, 0, 1, 1), (1, 1, 0, 1, 1), keys=keys)

    def reference(n, k, p, s, d):
        return _conv.conv_output_size(n, k, padding=p, stride=s, dilation=d)

    def hint(args):
        n, k, p, s, d = (args[key] for key in keys)
        if p and _effective_size(n, k, p, d) != _effective_size(n, k, 0, d):
            tip = "padding adds p cells on *each* side, so the padded input has n + 2p cells."
        else:
            tip = "count the positions where the window fits."
        if d > 1:
            tip = "a dilated kernel spans d·(k - 1) + 1 cells of the input. " + tip
        if s > 1:
            tip += " With stride s, the window moves s cells at a time: floor the division, then add 1."
        return tip

    return _run("conv_output_size", fn, cases, reference, _compare_int, hint)


def same_padding(fn) -> CheckResult:
    """Check ``fn(k, d=1)``: the padding that keeps the size at stride 1 (odd effective kernels).

    The answer is d(k - 1) / 2.

    Example:
        >>> same_padding(lambda k, d=1: d * (k - 1) // 2).passed
        True
    """
    cases = _cases((1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (5, 3), (11, 1), keys=("k", "d"))

    def reference(k, d):
        p = d * (k - 1) // 2
        assert _conv.conv_output_size(20, k, padding=p, dilation=d) == 20
        return p

    def hint(args):
        return ("the output keeps n cells when 2p = d·(k - 1), the cells the window spans beyond its first one"
                + (" (with dilation d, a k-wide kernel spans d·(k - 1) + 1 cells)." if args["d"] > 1 else "."))

    return _run("same_padding", fn, cases, reference, _compare_int, hint)
