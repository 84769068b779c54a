"""Self-checks for chapter 1, convolution.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`corr2d`                  ``fn(X, K) -> tensor``
:func:`conv_output_size`        ``fn(n, k, p=0, s=1, d=1) -> int``
:func:`same_padding`            ``fn(k, d=1) -> int``
:func:`kernel_gradient`         ``fn(X, K, Y) -> tensor`` (∂L/∂K of the mean squared error)
:func:`window_coverage`         ``fn(n, k, p=0, s=1) -> tensor`` (windows covering each cell)
:func:`corr2d_multi_in_out`     ``fn(X, K) -> tensor`` (Cin×H×W, Cout×Cin×kh×kw)
:func:`receptive_field`         ``fn(layers) -> int`` (layers: (k, s, d) triples)
==============================  ===================================================
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import conv as _conv
from ..language import _
from ._core import (
    CheckResult,
    Mistake,
    _cases,
    _compare_counts,
    _compare_int,
    _compare_tensor,
    _hints,
    _run,
    _section,
)

__all__ = ["corr2d", "conv_output_size", "same_padding", "kernel_gradient", "window_coverage", "corr2d_multi_in_out",
           "receptive_field"]

_CORRELATION = _section(1, _("Cross-correlation or convolution?"))
_WINDOW = _section(1, _("The sliding window"))
_PADDING = _section(1, _("Padding, stride and dilation"))
_AUTOGRAD = _section(1, _("What autograd does"))
_INPUTS = _section(1, _("Several input channels"))
_OUTPUTS = _section(1, _("Several output channels"))
_FIELD = _section(1, _("How much of the image one unit sees"))


def _xcorr(X, K):
    return F.conv2d(X[None, None], K[None, None])[0, 0]


_hints("corr2d",
       _("the output has (H − kh + 1) × (W − kw + 1) cells, one per position where the kernel fits inside X."),
       _("output cell (i, j) is the sum of the elementwise product of K with the window X[i:i + kh, j:j + kw]; "
         "the kernel is not flipped."),
       _("two loops over i and j fill a tensor of zeros of the output's shape; Y[i, j] = (X[i:i + h, j:j + w] * K)"
         ".sum() with (h, w) = K.shape."))


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

    def shorter(X, K):
        return _xcorr(X, K)[:-1, :-1]

    mistakes = [
        Mistake(_("flips the kernel: that is a true convolution, and a CNN's layer computes a cross-correlation "
                  "(K as it is, not K.flip(0, 1))"), _CORRELATION, lambda X, K: _xcorr(X, K.flip(0, 1))),
        Mistake(_("gives an output one row and one column short: the kernel fits at H − kh + 1 positions, so the loop "
                  "runs over range(H - kh + 1) (an off-by-one: < where <= is meant)"), _WINDOW, shorter),
        Mistake(_("averages each window's products: a cross-correlation adds them up (.sum(), not .mean())"), _WINDOW,
                lambda X, K: _xcorr(X, K) / K.numel()),
        Mistake(_("gives the transpose of the output: Y[i, j] belongs to the window starting at row i and column j"),
                _WINDOW, lambda X, K: _xcorr(X, K).t()),
    ]
    return _run("corr2d", fn, cases, _xcorr, _compare_tensor, mistakes)


def _effective_size(n, k, p, d):
    return n + 2 * p - d * (k - 1)


_hints("conv_output_size",
       _("count the positions where the window fits in the padded input, one every s cells."),
       _("the padded input has n + 2p cells and a dilated kernel spans d·(k − 1) + 1 of them; the first window "
         "starts at cell 0, the last one must end inside the input."),
       _("the windows start at 0, s, 2s, … while start + d·(k − 1) ≤ n + 2p − 1: count them with a floor division "
         "(//), then add 1 for the first window."))


def conv_output_size(fn) -> CheckResult:
    """Check ``fn(n, k, p=0, s=1, d=1)``: output length of a convolution.

    The answer is floor((n + 2p - d(k-1) - 1) / s) + 1, checked on hidden
    cases where the division is exact and where it is not, with remainders that
    separate the floor from ``round`` and from the ceiling.

    Example:
        >>> conv_output_size(lambda n, k, p=0, s=1, d=1: (n + 2*p - d*(k-1) - 1) // s + 1).passed
        True
    """
    keys = ("n", "k", "p", "s", "d")
    cases = _cases((32, 5, 0, 1, 1), (28, 5, 2, 1, 1), (7, 3, 1, 1, 1), (256, 12, 2, 4, 1), (8, 3, 0, 2, 1),
                   (9, 3, 1, 2, 1), (10, 3, 0, 3, 1), (11, 3, 0, 3, 1), (9, 2, 0, 2, 1), (7, 3, 0, 1, 2),
                   (16, 3, 2, 1, 2), (11, 5, 1, 3, 2), (5, 5, 0, 1, 1), (1, 1, 0, 1, 1), keys=keys)

    def reference(n, k, p, s, d):
        return _conv.conv_output_size(n, k, padding=p, stride=s, dilation=d)

    def quotient(n, k, p, s, d):
        return (n + 2 * p - d * (k - 1) - 1) / s

    mistakes = [
        Mistake(_("pads one side only: padding adds p cells on each side, so the padded input has n + 2p cells"),
                _PADDING, lambda n, k, p, s, d: (n + p - d * (k - 1) - 1) // s + 1 if p else None),
        Mistake(_("forgets the first window: the count is floor((n + 2p − d·(k − 1) − 1) / s) + 1 (an off-by-one, "
                  "< where <= is meant)"), _PADDING, lambda n, k, p, s, d: (n + 2 * p - d * (k - 1) - 1) // s),
        Mistake(_("counts one window too many: the last window must end inside the input, so subtract 1 from the "
                  "cells before dividing by s (an off-by-one, <= where < is meant)"), _PADDING,
                lambda n, k, p, s, d: (n + 2 * p - d * (k - 1)) // s + 1),
        Mistake(_("rounds the division to the nearest integer (round): a window that does not fit is dropped, so "
                  "round down, with // (and Python's round(2.5) is 2, round(3.5) is 4)"), _PADDING,
                lambda n, k, p, s, d: round(quotient(n, k, p, s, d)) + 1),
        Mistake(_("rounds the division up (math.ceil): a window that does not fit is dropped, so round down, with //"),
                _PADDING, lambda n, k, p, s, d: math.ceil(quotient(n, k, p, s, d)) + 1),
        Mistake(_("ignores the dilation: a dilated kernel spans d·(k − 1) + 1 cells of the input"), _PADDING,
                lambda n, k, p, s, d: (n + 2 * p - k) // s + 1 if d > 1 else None),
        Mistake(_("ignores the stride: with stride s the window moves s cells at a time, so divide by s"), _PADDING,
                lambda n, k, p, s, d: n + 2 * p - d * (k - 1) if s > 1 else None),
    ]
    return _run("conv_output_size", fn, cases, reference, _compare_int, mistakes)


_hints("same_padding",
       _("the output keeps n cells when the padding on both sides together equals the cells the window spans beyond "
         "its first one."),
       _("a dilated kernel spans d·(k − 1) + 1 cells, so 2p = d·(k − 1)."),
       _("p = d·(k − 1) / 2, as an int: d * (k - 1) // 2."))


def same_padding(fn) -> CheckResult:
    """Check ``fn(k, d=1)``: the padding that keeps the size at stride 1 (odd effective kernels).

    The answer is d(k - 1) / 2.

    Example:
        >>> same_padding(lambda k, d=1: d * (k - 1) // 2).passed
        True
    """
    cases = _cases((1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (5, 3), (11, 1), (3, 4), keys=("k", "d"))

    def reference(k, d):
        p = d * (k - 1) // 2
        assert _conv.conv_output_size(20, k, padding=p, dilation=d) == 20
        return p

    mistakes = [
        Mistake(_("ignores the dilation: a dilated kernel spans d·(k − 1) + 1 cells, so 2p = d·(k − 1)"), _PADDING,
                lambda k, d: (k - 1) // 2 if d > 1 else None),
        Mistake(_("gives the padding of both sides together: p cells go on each side, so 2p = d·(k − 1)"), _PADDING,
                lambda k, d: d * (k - 1) if k > 1 else None),
        Mistake(_("halves d·k: the kernel spans d·(k − 1) + 1 cells, and the padding covers the d·(k − 1) beyond "
                  "the first one"), _PADDING, lambda k, d: d * k // 2),
    ]
    return _run("same_padding", fn, cases, reference, _compare_int, mistakes)


def _autograd_gradient(X, K, Y):
    K = K.clone().requires_grad_(True)
    ((_xcorr(X, K) - Y) ** 2).mean().backward()
    return K.grad.detach()


_hints("kernel_gradient",
       _("the answer has K's shape: one partial derivative per weight of the kernel."),
       _("let autograd do it: a copy of K that requires grad, the loss computed with it, loss.backward(); the copy's "
         ".grad is the answer."),
       _("K2 = K.clone().requires_grad_(); loss = ((corr2d(X, K2) - Y) ** 2).mean(); loss.backward(); return K2.grad "
         "(copying K leaves the caller's kernel alone)."))


def kernel_gradient(fn) -> CheckResult:
    """Check ``fn(X, K, Y)``: the gradient of L = mean((corr2d(X, K) − Y)²) with respect to the kernel K.

    Shapes: X: H×W, K: kh×kw, Y: (H−kh+1)×(W−kw+1) -> kh×kw (the shape of K).
    The reference is autograd on ``torch.nn.functional.conv2d``; by hand, the
    gradient is itself a cross-correlation: corr2d(X, 2·(Ŷ − Y)/N), with N
    the number of outputs. Hidden cases: square and rectangular inputs and
    kernels, a 1×1 kernel, a target equal to the output (gradient 0).
    ``fn`` must leave its arguments as they were (work on a copy of K).

    Example:
        >>> def my_gradient(X, K, Y):
        ...     K = K.clone().requires_grad_()
        ...     loss = ((F.conv2d(X[None, None], K[None, None])[0, 0] - Y) ** 2).mean()
        ...     loss.backward()
        ...     return K.grad
        >>> kernel_gradient(my_gradient).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(x, k):
        X, K = torch.randn(*x, generator=g), torch.randn(*k, generator=g)
        out = (x[0] - k[0] + 1, x[1] - k[1] + 1)
        return {"X": X, "K": K, "Y": torch.randn(*out, generator=g)}

    cases = [{"X": torch.arange(9.0).reshape(3, 3), "K": torch.tensor([[0.0, 1.0], [2.0, 3.0]]),
              "Y": torch.tensor([[20.0, 24.0], [37.0, 40.0]])},
             case((5, 5), (3, 3)), case((4, 6), (2, 3)), case((6, 4), (1, 1)), case((8, 7), (3, 2))]
    X_same, K_same = torch.randn(5, 5, generator=g), torch.randn(2, 2, generator=g)
    cases.append({"X": X_same, "K": K_same, "Y": _xcorr(X_same, K_same)})

    def wrt_input(X, K, Y):
        X = X.clone().requires_grad_(True)
        ((_xcorr(X, K) - Y) ** 2).mean().backward()
        return X.grad.detach()

    mistakes = [
        Mistake(_("gives the gradient of the sum of squared errors, not of their mean: divide by the number of "
                  "outputs"), _AUTOGRAD, lambda X, K, Y: _autograd_gradient(X, K, Y) * Y.numel()),
        Mistake(_("gives half the gradient: the derivative of e² is 2e"), _AUTOGRAD,
                lambda X, K, Y: _autograd_gradient(X, K, Y) / 2),
        Mistake(_("gives minus the gradient: the error is Ŷ − Y, the prediction minus the target"), _AUTOGRAD,
                lambda X, K, Y: -_autograd_gradient(X, K, Y)),
        Mistake(_("gives the gradient with respect to the input X, not to the kernel K: the answer has K's shape"),
                _AUTOGRAD, wrt_input),
    ]
    return _run("kernel_gradient", fn, cases, _autograd_gradient, _compare_tensor, mistakes)


def _coverage(n, k, p, s):
    """For each of the n real cells, how many windows (k wide, stride s, on the input padded by p) cover it."""
    padded = torch.zeros(n + 2 * p, dtype=torch.long)
    for start in range(0, n + 2 * p - k + 1, s):
        padded[start : start + k] += 1
    return padded[p : p + n], padded


_hints("window_coverage",
       _("the windows start at cells 0, s, 2s, … of the padded input (n + 2p cells) while they fit; each adds 1 to "
         "every cell it covers."),
       _("count on the padded input, then keep the n real cells: padded cells p to p + n − 1."),
       _("counts = torch.zeros(n + 2 * p, dtype=torch.long); for start in range(0, n + 2 * p - k + 1, s): "
         "counts[start:start + k] += 1; the answer is counts[p:p + n]."))


def window_coverage(fn) -> CheckResult:
    """Check ``fn(n, k, p=0, s=1)``: how many windows of a 1-D convolution cover each of the n input cells.

    A k-wide window slides with stride s over the input padded by p cells on each
    side; the answer has one count per *real* cell (the padding is not
    counted), a tensor (or list) of n integers. Without padding the cells at the
    ends are covered by fewer windows than those in the middle; with stride > 1
    some cells may be covered by none.

    Shapes: -> n counts.

    Example:
        >>> def my_coverage(n, k, p=0, s=1):
        ...     counts = torch.zeros(n + 2 * p, dtype=torch.long)
        ...     for start in range(0, n + 2 * p - k + 1, s):
        ...         counts[start:start + k] += 1
        ...     return counts[p:p + n]
        >>> window_coverage(my_coverage).passed
        True
    """
    keys = ("n", "k", "p", "s")
    cases = _cases((6, 3, 0, 1), (8, 5, 0, 1), (8, 5, 2, 1), (10, 3, 1, 1), (8, 3, 0, 2), (9, 3, 1, 3), (5, 1, 0, 1),
                   (32, 5, 0, 1), (7, 4, 3, 1), (10, 3, 0, 3), keys=keys)

    def reference(n, k, p, s):
        return _coverage(n, k, p, s)[0]

    mistakes = [
        Mistake(_("gives the counts of the padded input: keep the n real cells only, cells p to p + n − 1"), _PADDING,
                lambda n, k, p, s: _coverage(n, k, p, s)[1] if p else None),
        Mistake(_("ignores the padding: windows that overlap the padding also cover the cells near the ends"),
                _PADDING, lambda n, k, p, s: _coverage(n, k, 0, s)[0] if p else None),
        Mistake(_("ignores the stride: the windows start every s cells"), _PADDING,
                lambda n, k, p, s: _coverage(n, k, p, 1)[0] if s > 1 else None),
        Mistake(_("drops the last window: a window starting at cell n + 2p − k still fits (an off-by-one, < where "
                  "<= is meant)"), _PADDING,
                _short_of_last),
    ]
    return _run("window_coverage", fn, cases, reference, _compare_counts, mistakes)


def _short_of_last(n, k, p, s):
    """The coverage when the windows' loop stops one start early (range(0, n + 2p - k, s))."""
    padded = torch.zeros(n + 2 * p, dtype=torch.long)
    for start in range(0, n + 2 * p - k, s):
        padded[start : start + k] += 1
    return padded[p : p + n]


def _pairs(X, K):
    return torch.stack([torch.stack([_xcorr(X[c], K[o, c]) for c in range(K.shape[1])]) for o in range(K.shape[0])])


_hints("corr2d_multi_in_out",
       _("the output has one map per output channel, Cout × (H − kh + 1) × (W − kw + 1)."),
       _("output map o uses the kernels K[o, c], one for each input channel c, and adds up their cross-correlations "
         "with X[c]."),
       _("torch.stack([sum(corr2d(X[c], K[o, c]) for c in range(Cin)) for o in range(Cout)])."))


def corr2d_multi_in_out(fn) -> CheckResult:
    """Check ``fn(X, K)``: cross-correlation with several input and output channels (no padding, stride 1).

    Shapes: X: Cin×H×W, K: Cout×Cin×kh×kw -> Cout×(H−kh+1)×(W−kw+1). Output
    channel o is the sum over the input channels c of corr2d(X[c], K[o, c]);
    compared with ``torch.nn.functional.conv2d`` (without bias).

    Example:
        >>> corr2d_multi_in_out(lambda X, K: F.conv2d(X[None], K)[0]).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    shapes = [((2, 3, 3), (3, 2, 2, 2)), ((1, 5, 5), (2, 1, 3, 3)), ((3, 4, 6), (1, 3, 2, 3)), ((4, 6, 5), (5, 4, 3, 1)),
              ((2, 4, 4), (2, 2, 1, 1))]
    X0 = torch.arange(9.0).reshape(3, 3)
    K0 = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    K2 = torch.stack([K0, K0 + 1])
    cases = [{"X": torch.stack([X0, X0 + 1]), "K": torch.stack([K2, K2 + 1, K2 + 2])}]
    cases += [{"X": torch.randn(*x, generator=g), "K": torch.randn(*k, generator=g)} for x, k in shapes[1:]]

    def reference(X, K):
        return F.conv2d(X[None], K)[0]

    mistakes = [
        Mistake(_("gives one map per (output, input) pair: add the maps over the input channels"), _INPUTS, _pairs),
        Mistake(_("uses only the first input channel: every output channel sums over all of them"), _INPUTS,
                lambda X, K: _pairs(X, K)[:, 0] if K.shape[1] > 1 else None),
        Mistake(_("averages over the input channels: a convolution adds their maps up"), _INPUTS,
                lambda X, K: _pairs(X, K).mean(dim=1) if K.shape[1] > 1 else None),
        Mistake(_("flips the kernels: that is a true convolution, and a CNN's layer computes a cross-correlation"),
                _CORRELATION, lambda X, K: F.conv2d(X[None], K.flip(2, 3))[0]),
    ]
    return _run("corr2d_multi_in_out", fn, cases, reference, _compare_tensor, mistakes)


def _receptive_field(layers, *, jump=True, dilation=True, jump_first=False, width=False):
    r, j = 1, 1
    for k, s, d in layers:
        span = d * (k - 1) + 1 if dilation else k
        if jump_first:
            j *= s
        r += (span - 1 + (d if width else 0)) * (j if jump else 1)
        if not jump_first:
            j *= s
    return r


_hints("receptive_field",
       _("follow two numbers up the stack, both in input pixels: the field r and the jump j between neighbouring "
         "units; both start at 1."),
       _("a layer's window spans d·(k − 1) + 1 units of the layer below, which are j input pixels apart; after the "
         "layer, neighbouring units are j·s pixels apart."),
       _("for each (k, s, d): first r = r + d·(k − 1)·j, then j = j·s; return r."))


def receptive_field(fn) -> CheckResult:
    """Check ``fn(layers)``: the receptive field, in input pixels, of one unit of the last layer of a stack.

    ``layers`` is a list of ``(k, s, d)`` triples, from the input up: window k,
    stride s, dilation d (pooling layers have d = 1). With r and j (the jump
    between neighbouring units) both 1 at the input, each layer gives
    r ← r + d·(k − 1)·j, then j ← j·s. The answer is the final r, an int.

    Example:
        >>> def my_field(layers):
        ...     r, j = 1, 1
        ...     for k, s, d in layers:
        ...         r, j = r + d * (k - 1) * j, j * s
        ...     return r
        >>> receptive_field(my_field).passed
        True
    """
    cases = [{"layers": layers} for layers in (
        [(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1), (5, 1, 1)],  # LeNet-5: C1, S2, C3, S4, C5
        [(3, 1, 1)], [(3, 1, 2)], [(3, 2, 1), (3, 1, 2), (3, 1, 3)], [(3, 2, 1), (3, 1, 2)],
        [(2, 2, 1), (3, 1, 3), (2, 2, 1), (3, 1, 1)], [(7, 2, 1), (3, 2, 1), (3, 1, 1)], [(1, 1, 1)])]

    def variant(**how):
        def gives(layers):
            value = _receptive_field(layers, **how)
            return value if value != _receptive_field(layers) else None
        return gives

    mistakes = [
        Mistake(_("forgets the jump: a window over units j pixels apart adds d·(k − 1)·j pixels, not d·(k − 1)"),
                _FIELD, variant(jump=False)),
        Mistake(_("ignores the dilation: a dilated window spans d·(k − 1) + 1 units"), _FIELD, variant(dilation=False)),
        Mistake(_("updates the jump before the field: a layer's window spans units of the layer below, which are "
                  "j pixels apart with the old j (first r, then j = j·s)"), _FIELD, variant(jump_first=True)),
        Mistake(_("adds the window's whole width: the field grows by the units beyond the first one, d·(k − 1)·j"),
                _FIELD, variant(width=True)),
    ]
    return _run("receptive_field", fn, cases, lambda layers: _receptive_field(layers), _compare_int, mistakes)
