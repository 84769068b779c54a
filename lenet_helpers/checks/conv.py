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

import torch
import torch.nn.functional as F

from .. import conv as _conv
from ._core import (
    CheckResult,
    _cases,
    _compare_int,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["corr2d", "conv_output_size", "same_padding", "kernel_gradient", "window_coverage", "corr2d_multi_in_out",
           "receptive_field"]


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


def kernel_gradient(fn) -> CheckResult:
    """Check ``fn(X, K, Y)``: the gradient of L = mean((corr2d(X, K) − Y)²) with respect to the kernel K.

    Shapes: X: H×W, K: kh×kw, Y: (H−kh+1)×(W−kw+1) -> kh×kw (the shape of K).
    The reference is autograd on ``torch.nn.functional.conv2d``; by hand, the
    gradient is itself a cross-correlation: corr2d(X, 2·(Ŷ − Y)/N), with N
    the number of outputs. Hidden cases: square and rectangular inputs and
    kernels, a 1×1 kernel, a target equal to the output (gradient 0).

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
    cases.append({"X": X_same, "K": K_same, "Y": F.conv2d(X_same[None, None], K_same[None, None])[0, 0]})

    def reference(X, K, Y):
        K = K.clone().requires_grad_(True)
        Y_hat = F.conv2d(X[None, None], K[None, None])[0, 0]
        ((Y_hat - Y) ** 2).mean().backward()
        value = K.grad.detach()
        n = Y.numel()
        mistakes = {"the gradient of the sum of squared errors, not of their mean (divide by the number of outputs)": value * n,
                    "half the gradient (the derivative of e² is 2e)": value / 2,
                    "minus the gradient (the error is Ŷ − Y, the prediction minus the target)": -value}
        return _Expected(value, mistakes)

    def hint(args):
        kh, kw = args["K"].shape
        return (f"the answer has K's shape, {kh}×{kw}. Make a copy of K that requires grad (K.clone().requires_grad_()), "
                "compute the loss ((prediction − Y)²).mean() with it, call loss.backward(), and return that copy's .grad.")

    return _run("kernel_gradient", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


def _coverage(n, k, p, s):
    """For each of the n real cells, how many windows (k wide, stride s, on the input padded by p) cover it."""
    padded = torch.zeros(n + 2 * p, dtype=torch.long)
    for start in range(0, n + 2 * p - k + 1, s):
        padded[start : start + k] += 1
    return padded[p : p + n], padded


def _compare_counts(got, expected):
    if isinstance(got, (list, tuple)):
        try:
            got = torch.tensor(got)
        except (TypeError, ValueError):
            return f"returned a {type(got).__name__} that is not a list of numbers; expected a tensor of counts"
    if isinstance(got, torch.Tensor) and got.is_floating_point() and torch.equal(got, got.round()):
        got = got.long()
    return _compare_tensor(got, expected.double())


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
                   (32, 5, 0, 1), (7, 4, 3, 1), keys=keys)

    def reference(n, k, p, s):
        real, padded = _coverage(n, k, p, s)
        mistakes = {}
        if p:
            mistakes["the counts over the padded input (keep the n real cells only, cells p to p + n − 1)"] = padded
            mistakes["the counts without padding (windows that overlap the padding also cover the cells near the ends)"] = (
                _coverage(n, k, 0, s)[0])
        if s > 1:
            mistakes["the counts for stride 1 (windows start every s cells)"] = _coverage(n, k, p, 1)[0]
        return _Expected(real, mistakes)

    def hint(args):
        n, k, p, s = (args[key] for key in keys)
        return (f"the windows start at cells 0, s, 2s, … of the padded input ({n} + 2·{p} = {n + 2 * p} cells) while "
                f"they fit; each adds 1 to the {k} cells it covers. Return the counts of the {n} real cells "
                f"(padded cells {p} to {p + n - 1}).")

    return _run("window_coverage", fn, cases, reference, _compare_with_mistakes(_compare_counts), hint)


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
        value = F.conv2d(X[None], K)[0]
        pairs = torch.stack([torch.stack([F.conv2d(X[c][None, None], K[o, c][None, None])[0, 0]
                                          for c in range(K.shape[1])]) for o in range(K.shape[0])])
        mistakes = {"one map per (output, input) pair: add the maps over the input channels": pairs}
        if K.shape[1] > 1:
            mistakes["only the first input channel (every output channel sums over all of them)"] = pairs[:, 0]
        return _Expected(value, mistakes)

    def hint(args):
        c_out, c_in, kh, kw = args["K"].shape
        h, w = args["X"].shape[1:]
        return (f"the output has one map per output channel: {c_out}×{h - kh + 1}×{w - kw + 1}. Map o is "
                f"the sum over the {c_in} input channels c of corr2d(X[c], K[o, c]).")

    return _run("corr2d_multi_in_out", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


def _receptive_field(layers, *, jump=True, dilation=True):
    r, j = 1, 1
    for k, s, d in layers:
        span = d * (k - 1) + 1 if dilation else k
        r += (span - 1) * (j if jump else 1)
        j *= s
    return r


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
        [(3, 1, 1)], [(3, 1, 2)], [(3, 1, 1), (3, 1, 2), (3, 1, 4)], [(3, 2, 1), (3, 1, 2)],
        [(2, 2, 1), (3, 1, 3), (2, 2, 1), (3, 1, 1)], [(7, 2, 1), (3, 2, 1), (3, 1, 1)], [(1, 1, 1)])]

    def reference(layers):
        value = _receptive_field(layers)
        mistakes = {"a field that forgets the jump (a window over units j pixels apart adds d·(k − 1)·j pixels, "
                    "not d·(k − 1))": _receptive_field(layers, jump=False),
                    "a field that ignores dilation (a dilated window spans d·(k − 1) + 1 cells)":
                        _receptive_field(layers, dilation=False)}
        mistakes = {text: wrong for text, wrong in mistakes.items() if wrong != value}
        return _Expected(value, mistakes)

    def hint(args):
        return ("start with r = j = 1; for each (k, s, d), first r = r + d·(k − 1)·j (the window spans d·(k − 1) more "
                "units, each j input pixels apart), then j = j·s.")

    return _run("receptive_field", fn, cases, reference, _compare_with_mistakes(_compare_int), hint)
