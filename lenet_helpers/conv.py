"""Convolution from scratch: the sliding window, padding, stride and dilation.

What deep learning calls a "convolution" is a *cross-correlation*: the kernel
slides over the input, unflipped, and at each position we sum the products of
the overlapping numbers. (A true convolution flips the kernel first; since the
kernel is learned, the flip makes no difference to what a network can learn.)

The functions here are written for reading, with plain Python loops. The tests
check them against ``torch.nn.functional.conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_pair, check_tensor, is_pair
from ._window import check_window_fits, output_length

__all__ = ["conv_output_size", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out"]


def conv_output_size(n, kernel_size, padding=0, stride=1, dilation=1):
    """Size of a convolution's output: floor((n + 2p - d(k - 1) - 1) / s) + 1.

    Each argument is an int, or a pair ``(height, width)``; if any is a pair the
    answer is a pair ``(out_height, out_width)``, else an int.

    Args:
        n: input size.
        kernel_size: kernel size k.
        padding: zeros added on *each* side, p >= 0.
        stride: step between windows, s >= 1.
        dilation: spacing between kernel taps, d >= 1 (1 = an ordinary kernel).

    Example:
        >>> conv_output_size(32, 5)              # LeNet-5's C1
        28
        >>> conv_output_size(256, 12, padding=2, stride=4)
        63
        >>> conv_output_size((28, 28), 5, padding=2)
        (28, 28)
    """
    sizes = [
        check_pair(n, "n", minimum=1),
        check_pair(kernel_size, "kernel_size", minimum=1),
        check_pair(padding, "padding", minimum=0),
        check_pair(stride, "stride", minimum=1),
        check_pair(dilation, "dilation", minimum=1),
    ]
    pairs = any(is_pair(a) for a in (n, kernel_size, padding, stride, dilation))
    out = []
    for i, dim in enumerate(("height", "width") if pairs else ("", "")):
        n_i, k_i, p_i, s_i, d_i = (a[i] for a in sizes)
        check_window_fits(n_i, k_i, p_i, d_i, kernel="kernel_size", image="input", dim=dim)
        out.append(output_length(n_i, k_i, p_i, s_i, d_i))
    return tuple(out) if pairs else out[0]


def _geometry(X: torch.Tensor, K: torch.Tensor, padding, stride, dilation):
    """Check the window settings against X (…×H×W) and K (…×kh×kw); return them with the output size."""
    p = check_pair(padding, "padding", minimum=0)
    s = check_pair(stride, "stride", minimum=1)
    d = check_pair(dilation, "dilation", minimum=1)
    (h, w), (kh, kw) = X.shape[-2:], K.shape[-2:]
    check_window_fits(h, kh, p[0], d[0], kernel="K", image="input X", dim="height")
    check_window_fits(w, kw, p[1], d[1], kernel="K", image="input X", dim="width")
    out = (output_length(h, kh, p[0], s[0], d[0]), output_length(w, kw, p[1], s[1], d[1]))
    return p, s, d, out


def corr2d(X, K, padding=0, stride=1, dilation=1) -> torch.Tensor:
    """2-D cross-correlation of one input X with one kernel K (what deep learning calls convolution).

    Shapes:
        X: H×W, K: kh×kw -> output: out_h×out_w, with the sizes of :func:`conv_output_size`.

    ``padding`` adds zeros around X, ``stride`` steps the window by more than one
    cell, ``dilation`` spreads the kernel's taps apart. Each may be an int or a
    pair (height, width). The result is differentiable, so a kernel can be learned.

    Example:
        >>> X = torch.arange(9.0).reshape(3, 3)
        >>> K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> corr2d(X, K)
        tensor([[19., 25.],
                [37., 43.]])
    """
    X = check_tensor(X, "X", ndim=2, layout="H×W")
    K = check_tensor(K, "K", ndim=2, layout="kh×kw")
    (ph, pw), (sh, sw), (dh, dw), (out_h, out_w) = _geometry(X, K, padding, stride, dilation)
    kh, kw = K.shape
    Xp = F.pad(X, (pw, pw, ph, ph))  # zeros: pw left and right, ph top and bottom
    Y = torch.zeros(out_h, out_w, dtype=torch.promote_types(X.dtype, K.dtype), device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * sh, j * sw
            window = Xp[top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw]
            Y[i, j] = (window * K).sum()
    return Y


def corr2d_multi_in(X, K, padding=0, stride=1, dilation=1) -> torch.Tensor:
    """Cross-correlation with several input channels: correlate each channel with its own kernel slice, then add.

    Shapes:
        X: C×H×W, K: C×kh×kw -> output: out_h×out_w.

    Example:
        >>> X = torch.stack([torch.arange(9.0).reshape(3, 3), torch.arange(1.0, 10.0).reshape(3, 3)])
        >>> K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
        >>> corr2d_multi_in(X, K)
        tensor([[ 56.,  72.],
                [104., 120.]])
    """
    X = check_tensor(X, "X", ndim=3, layout="C×H×W")
    K = check_tensor(K, "K", ndim=3, layout="C×kh×kw")
    if X.shape[0] != K.shape[0]:
        raise ValueError(
            f"K must have one kernel slice per input channel: X has {X.shape[0]} channels, K has {K.shape[0]} slices"
        )
    _geometry(X, K, padding, stride, dilation)  # check once, with the channel-level names
    return sum(corr2d(x, k, padding, stride, dilation) for x, k in zip(X, K))


def corr2d_multi_in_out(X, K, padding=0, stride=1, dilation=1) -> torch.Tensor:
    """Cross-correlation with several input and output channels: one multi-input kernel per output channel.

    Shapes:
        X: Cin×H×W, K: Cout×Cin×kh×kw -> output: Cout×out_h×out_w.
        This is ``torch.nn.functional.conv2d`` for one image, without bias.

    Example:
        >>> X = torch.ones(2, 4, 4)
        >>> K = torch.ones(3, 2, 3, 3)
        >>> corr2d_multi_in_out(X, K).shape
        torch.Size([3, 2, 2])
    """
    X = check_tensor(X, "X", ndim=3, layout="Cin×H×W")
    K = check_tensor(K, "K", ndim=4, layout="Cout×Cin×kh×kw")
    if X.shape[0] != K.shape[1]:
        raise ValueError(
            f"K must be Cout×Cin×kh×kw with Cin = X's channels: X has {X.shape[0]} channels, K has Cin = {K.shape[1]}"
        )
    _geometry(X, K, padding, stride, dilation)
    return torch.stack([corr2d_multi_in(X, k, padding, stride, dilation) for k in K])
