"""Self-checks for chapter 2, pooling.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`pool2d`                  ``fn(X, pool_size, mode) -> tensor``
:func:`pool_output_size`        ``fn(n, k, s, p=0) -> int``
==============================  ===================================================
"""

from __future__ import annotations

import torch

from .. import pool as _pool
from ._core import (
    CheckResult,
    _cases,
    _compare_int,
    _compare_tensor,
    _run,
)

__all__ = ["pool2d", "pool_output_size"]


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
