"""Pooling from scratch: max and average over a sliding window.

Pooling slides a window like a convolution, but has no weights: it keeps the
largest value (max pooling) or the mean (average pooling) of each window.
LeNet-5's S2 and S4 are neither: they *add* the four inputs of each 2×2 window,
multiply by a trainable coefficient and add a trainable bias (see
``lenet_helpers.models.Subsampling``). The tests check the functions here
against ``torch.nn.MaxPool2d`` and ``torch.nn.AvgPool2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_choice, check_pair, check_tensor, is_pair
from ._window import check_window_fits, output_length

__all__ = ["pool2d", "pool_output_size"]


def _settings(pool_size, stride, padding):
    """Check pooling settings; return (window, stride, padding) as pairs."""
    k = check_pair(pool_size, "pool_size", minimum=1)
    s = k if stride is None else check_pair(stride, "stride", minimum=1)
    p = check_pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"padding must be at most half of pool_size (as in PyTorch), got padding {padding!r} "
            f"for pool_size {pool_size!r}"
        )
    return k, s, p


def pool_output_size(n, pool_size, stride=None, padding=0):
    """Size of a pooling layer's output: floor((n + 2p - k) / s) + 1.

    ``stride`` defaults to the window size, as in PyTorch, so windows do not
    overlap. Arguments are ints or pairs (height, width); if any is a pair, so
    is the answer.

    Example:
        >>> pool_output_size(28, 2)   # LeNet-5's S2: 6×28×28 -> 6×14×14
        14
        >>> pool_output_size(5, 3, stride=2, padding=1)
        3
    """
    n_pair = check_pair(n, "n", minimum=1)
    k, s, p = _settings(pool_size, stride, padding)
    pairs = any(is_pair(a) for a in (n, pool_size, stride, padding))
    out = []
    for i, dim in enumerate(("height", "width") if pairs else ("", "")):
        check_window_fits(n_pair[i], k[i], p[i], kernel="pool_size", image="input", dim=dim)
        out.append(output_length(n_pair[i], k[i], p[i], s[i], 1))
    return tuple(out) if pairs else out[0]


def pool2d(X, pool_size, mode="max", stride=None, padding=0) -> torch.Tensor:
    """Max or average pooling of X, written as a loop over windows.

    Shapes:
        X: H×W (or C×H×W, each channel pooled on its own) -> out_h×out_w (or C×out_h×out_w),
        with the sizes of :func:`pool_output_size`.

    Args:
        pool_size: window size, an int or a pair (height, width).
        mode: ``"max"`` or ``"avg"``.
        stride: step between windows; defaults to ``pool_size`` (no overlap), like PyTorch.
        padding: cells added on each side, at most half the window. As in PyTorch,
            max pooling never picks a padded cell, and average pooling counts the
            padded zeros in the mean.

    The result is floating point (integer inputs are converted).

    Example:
        >>> X = torch.arange(16.0).reshape(4, 4)
        >>> pool2d(X, 2)
        tensor([[ 5.,  7.],
                [13., 15.]])
        >>> pool2d(X, 2, mode="avg")
        tensor([[ 2.5000,  4.5000],
                [10.5000, 12.5000]])
    """
    X = check_tensor(X, "X", ndim=(2, 3), layout="H×W or C×H×W")
    mode = check_choice(mode, "mode", ("max", "avg"))
    (kh, kw), (sh, sw), (ph, pw) = _settings(pool_size, stride, padding)
    check_window_fits(X.shape[-2], kh, ph, kernel="pool_size", image="input X", dim="height")
    check_window_fits(X.shape[-1], kw, pw, kernel="pool_size", image="input X", dim="width")
    if X.ndim == 3:
        return torch.stack([pool2d(x, pool_size, mode, stride, padding) for x in X])

    if not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    fill = float("-inf") if mode == "max" else 0.0  # max never picks padding; the mean counts it as 0
    Xp = F.pad(X, (pw, pw, ph, ph), value=fill)
    out_h = output_length(X.shape[0], kh, ph, sh, 1)
    out_w = output_length(X.shape[1], kw, pw, sw, 1)
    Y = torch.zeros(out_h, out_w, dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            window = Xp[i * sh : i * sh + kh, j * sw : j * sw + kw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y
