"""Self-checks for the exercises: call one on your own answer and see at once whether it is right.

Each check runs your function on cases you have not seen, compares it with the
course's reference implementation, and returns a :class:`CheckResult`. In a
notebook the result shows itself (put the call on the last line of a cell); in a
script, ``print`` it. A check never raises because of *your* code: if your
function raises, returns the wrong type or the wrong value, the result says so
and names the first case that failed, with a hint. A function that still raises
``NotImplementedError`` is reported as not done yet.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`corr2d`                  ``fn(X, K) -> tensor``
:func:`conv_output_size`        ``fn(n, k, p=0, s=1, d=1) -> int``
:func:`same_padding`            ``fn(k, d=1) -> int``
:func:`pool2d`                  ``fn(X, pool_size, mode) -> tensor``
:func:`pool_output_size`        ``fn(n, k, s, p=0) -> int``
:func:`conv_parameters`         ``fn(in_channels, out_channels, kernel_size) -> int``
:func:`conv_connections`        ``fn(in_channels, out_channels, kernel_size, output_size) -> int``
:func:`linear_parameters`       ``fn(in_features, out_features) -> int``
:func:`squash`                  ``fn(a) -> tensor`` (A·tanh(S·a))
:func:`c3_forward`              ``fn(x, weight, bias, table) -> tensor``
:func:`rbf_penalties`           ``fn(x, centers) -> tensor``
:func:`map_loss`                ``fn(penalties, target, j=0.1) -> tensor``
:func:`paper_normalization`     ``fn(images) -> tensor`` (N×28×28 in [0, 1] -> N×32×32, −0.1/1.175)
:func:`error_rate`              ``fn(scores, labels) -> number`` (fraction wrong)
:func:`confusion_matrix`        ``fn(y_true, y_pred, num_classes) -> tensor``
:func:`batch_norm`              ``fn(x) -> tensor``
:func:`cross_entropy`           ``fn(logits, target) -> tensor``
:func:`sgd_momentum_step`       ``fn(param, grad, buf, lr, momentum) -> (param, buf)``
:func:`answer`                  a number: ``answer("c3_parameters", 1516)``
==============================  ===================================================

Example:
    >>> def my_output_size(n, k, p=0, s=1, d=1):
    ...     return (n + 2 * p - d * (k - 1) - 1) // s + 1
    >>> result = conv_output_size(my_output_size)
    >>> result.passed
    True
    >>> print(conv_output_size(lambda n, k, p=0, s=1, d=1: n - k + 1))
    ✗ conv_output_size: 3 of 12 cases pass. First failure: fn(n=28, k=5, p=2, s=1, d=1) returned 24, expected 28.
      Hint: padding adds p cells on *each* side, so the padded input has n + 2p cells.
"""

from __future__ import annotations

import html
import numbers
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from . import conv as _conv
from . import counting as _counting
from . import models as _models
from . import pool as _pool

__all__ = [
    "CheckResult",
    "corr2d",
    "conv_output_size",
    "same_padding",
    "pool2d",
    "pool_output_size",
    "conv_parameters",
    "conv_connections",
    "linear_parameters",
    "squash",
    "c3_forward",
    "rbf_penalties",
    "map_loss",
    "batch_norm",
    "cross_entropy",
    "sgd_momentum_step",
    "paper_normalization",
    "error_rate",
    "confusion_matrix",
    "answer",
    "QUESTIONS",
]


class CheckResult(NamedTuple):
    """The outcome of a self-check: ``passed`` and a message for the learner.

    ``bool(result)`` is ``result.passed``. It displays as a green or red box in
    a notebook and as one or two lines of text elsewhere.
    """

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour, background = ("#1a7f37", "#dafbe1") if self.passed else ("#cf222e", "#ffebe9")
        lines = "<br>".join(html.escape(line) for line in self.message.splitlines())
        return (
            f'<div class="lenet-check" data-passed="{str(self.passed).lower()}" '
            f'style="border-left:4px solid {colour};background:{background};color:#1f2328;'
            f'padding:0.5em 0.8em;margin:0.3em 0;font-family:var(--pst-font-family-monospace,monospace);'
            f'font-size:0.9em">{lines}</div>'
        )


# ---------------------------------------------------------------------------
# The machinery shared by every check
# ---------------------------------------------------------------------------


def _check_callable(fn, name: str = "fn") -> Callable:
    if not callable(fn):
        raise TypeError(
            f"{name} must be your function (a callable), got {type(fn).__name__}; "
            "pass the function itself, without calling it: check(my_fn), not check(my_fn(...))"
        )
    return fn


def _call(args: dict) -> str:
    return "fn(" + ", ".join(f"{k}={_short(v)}" for k, v in args.items()) + ")"


def _short(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 12:
            return "tensor(" + str(value.tolist()) + ")"
        return f"<{'×'.join(map(str, value.shape))} tensor>"
    return repr(value)


def _not_done(name: str) -> CheckResult:
    return CheckResult(name, False, f"… {name}: not done yet. Your function still raises NotImplementedError: "
                       "replace its body with your code and run this cell again.")


def _run(name: str, fn, cases, reference, compare, hint: Callable[[dict], str]) -> CheckResult:
    """Run ``fn(**args)`` on every case; report the first that differs from ``reference(**args)``."""
    fn = _check_callable(fn)
    failure = None
    passed = 0
    for args in cases:
        expected = reference(**args)
        try:
            got = fn(**{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in args.items()})
        except NotImplementedError:
            return _not_done(name)
        except Exception as error:  # the learner's code may fail in any way; report it, don't raise
            if failure is None:
                failure = (f"{_call(args)} raised {type(error).__name__}: {error}", hint(args))
            continue
        problem = compare(got, expected)
        if problem is None:
            passed += 1
        elif failure is None:
            failure = (f"{_call(args)} {problem}", hint(args))
    total = len(cases)
    if failure is None:
        return CheckResult(name, True, f"✓ {name}: all {total} hidden cases pass. Well done!")
    text, tip = failure
    message = f"✗ {name}: {passed} of {total} cases pass. First failure: {text}."
    if tip:
        message += f"\n  Hint: {tip}"
    return CheckResult(name, False, message)


def _compare_int(got, expected):
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        if isinstance(got, numbers.Real) and float(got).is_integer() and int(got) == expected:
            return f"returned {got!r}, a {type(got).__name__}; return an int (use // for floor division)"
        return f"returned {got!r}, expected the int {expected}"
    if int(got) != expected:
        return f"returned {int(got)}, expected {expected}"
    return None


def _compare_tensor(got, expected):
    if not isinstance(got, torch.Tensor):
        return f"returned a {type(got).__name__}, expected a tensor of shape {tuple(expected.shape)}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.detach().to(expected.dtype), expected, rtol=1e-4, atol=1e-4):
        where = (got.detach().to(expected.dtype) - expected).abs().flatten().argmax().item()
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(where), expected.shape))
        return (f"returned {got.detach().flatten()[where].item():g} at index {index}, "
                f"expected {expected.flatten()[where].item():g}")
    return None


def _compare_scalar(got, expected):
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            return f"returned a tensor of shape {tuple(got.shape)}, expected one number (the mean over the batch)"
        got = got.detach().double().item()
    elif isinstance(got, bool) or not isinstance(got, numbers.Real):
        return f"returned a {type(got).__name__}, expected a number (a 0-d tensor)"
    expected = float(expected)
    if not (abs(float(got) - expected) <= 1e-4 + 1e-4 * abs(expected)):
        return f"returned {float(got):.6g}, expected {expected:.6g}"
    return None


def _cases(*rows, keys):
    return [dict(zip(keys, row)) for row in rows]


# ---------------------------------------------------------------------------
# Chapter 1: convolution
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Chapter 2: pooling
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Chapter 3: counting
# ---------------------------------------------------------------------------


def conv_parameters(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size)``: trainable parameters of a Conv2d with biases.

    The answer is out_channels · (in_channels · k · k + 1).

    Example:
        >>> conv_parameters(lambda in_channels, out_channels, kernel_size:
        ...                 out_channels * (in_channels * kernel_size ** 2 + 1)).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size")
    cases = _cases((1, 6, 5), (6, 16, 5), (16, 120, 5), (3, 64, 3), (1, 1, 1), (64, 32, 1), (2, 3, 7), keys=keys)

    def reference(in_channels, out_channels, kernel_size):
        return sum(p.numel() for p in torch.nn.Conv2d(in_channels, out_channels, kernel_size).parameters())

    def hint(args):
        return ("each output map has its own kernel, which sees every input map (in_channels · k · k weights), "
                "plus one bias.")

    return _run("conv_parameters", fn, cases, reference, _compare_int, hint)


def conv_connections(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, output_size)``: connections as the paper counts them.

    Every output unit is connected to in_channels · k · k inputs and to its
    bias, so connections = out_channels · (in_channels · k · k + 1) · output_size².

    Example:
        >>> conv_connections(lambda in_channels, out_channels, kernel_size, output_size:
        ...                  out_channels * (in_channels * kernel_size ** 2 + 1) * output_size ** 2).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size", "output_size")
    cases = _cases((1, 6, 5, 28), (16, 120, 5, 1), (6, 16, 5, 10), (3, 8, 3, 30), (1, 1, 1, 1), keys=keys)

    def reference(in_channels, out_channels, kernel_size, output_size):
        return _counting.conv_counts(in_channels, out_channels, kernel_size, output_size).connections

    def hint(args):
        return ("a connection is one input (or the bias) feeding one output unit: there are out_channels · "
                "output_size² output units, each fed by in_channels · k · k inputs and one bias.")

    return _run("conv_connections", fn, cases, reference, _compare_int, hint)


def linear_parameters(fn) -> CheckResult:
    """Check ``fn(in_features, out_features)``: parameters of a fully connected layer with biases.

    Example:
        >>> linear_parameters(lambda in_features, out_features: (in_features + 1) * out_features).passed
        True
    """
    keys = ("in_features", "out_features")
    cases = _cases((120, 84), (84, 10), (400, 120), (1, 1), (7, 3), keys=keys)

    def reference(in_features, out_features):
        return sum(p.numel() for p in torch.nn.Linear(in_features, out_features).parameters())

    def hint(args):
        return "every output has one weight per input, and one bias."

    return _run("linear_parameters", fn, cases, reference, _compare_int, hint)


# ---------------------------------------------------------------------------
# Chapter 4: building LeNet-5
# ---------------------------------------------------------------------------

# (chapter 4 checks go here)


def squash(fn) -> CheckResult:
    """Check ``fn(a)``: LeNet-5's squashing function f(a) = A·tanh(S·a), A = 1.7159, S = 2/3, element by element.

    Shapes: a: a float tensor of any shape -> a tensor of the same shape.
    Checked on hidden tensors (a vector holding 0 and ±1, a 4-D batch of
    feature maps, large inputs where f saturates at ±A).

    Example:
        >>> squash(lambda a: 1.7159 * torch.tanh(2 / 3 * a)).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    cases = [{"a": torch.tensor([0.0, 1.0, -1.0, 2.0])}, {"a": torch.linspace(-4.0, 4.0, 9)},
             {"a": torch.randn(2, 6, 5, 5, generator=g) * 2}, {"a": torch.randn(3, 84, generator=g)},
             {"a": torch.tensor([[40.0, -40.0], [0.5, -0.5]])}]

    def reference(a):
        return _models.squash(a)

    def hint(args):
        return ("f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3, applied to every element: f(0) = 0, f(1) = 1, "
                "f(-1) = -1, and f approaches ±1.7159 for large |a|. Keep the input's shape.")

    return _run("squash", fn, cases, reference, _compare_tensor, hint)


def c3_forward(fn) -> CheckResult:
    """Check ``fn(x, weight, bias, table)``: a convolution in which output map j sees only the input
    maps i with ``table[i, j]`` true (C3 and Table I), stride 1, no padding.

    Shapes: x: N×Cin×H×W, weight: Cout×Cin×k×k (a full kernel; entries the
    table leaves out must be ignored, they are not zero), bias: Cout, table:
    Cin×Cout booleans -> N×Cout×(H-k+1)×(W-k+1). Hidden cases: Table I on S2-sized
    maps, a small table, a table connecting everything.

    Example:
        >>> def masked(x, weight, bias, table):
        ...     return F.conv2d(x, weight * table.t()[:, :, None, None], bias)
        >>> c3_forward(masked).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    small = torch.tensor([[True, False, True, False], [True, True, False, False], [False, True, True, True]])

    def case(n, table, side, k):
        cin, cout = table.shape
        return {"x": torch.randn(n, cin, *side, generator=g), "weight": torch.randn(cout, cin, k, k, generator=g),
                "bias": torch.randn(cout, generator=g), "table": table.clone()}

    cases = [case(1, _models.C3_TABLE, (14, 14), 5), case(2, _models.C3_TABLE, (10, 12), 5),
             case(2, small, (6, 5), 3), case(1, torch.ones(2, 3, dtype=torch.bool), (4, 4), 3),
             case(3, small, (3, 3), 3)]

    def reference(x, weight, bias, table):
        return F.conv2d(x, weight * table.t().to(weight.dtype)[:, :, None, None], bias)

    def hint(args):
        return ("output map j is the sum, over the input maps i with table[i, j] true only, of the cross-correlation "
                "of x[:, i] with weight[j, i], plus bias[j]; the table is inputs × outputs, the transpose of the "
                "weight's first two dimensions.")

    return _run("c3_forward", fn, cases, reference, _compare_tensor, hint)


def rbf_penalties(fn) -> CheckResult:
    """Check ``fn(x, centers)``: the Euclidean RBF outputs y[n, i] = Σ_j (x[n, j] − centers[i, j])².

    Shapes: x: N×F, centers: K×F -> N×K (squared distances, no square root).
    Hidden cases: F6-like vectors against the ten 84-value digit codes, and
    small random ones.

    Example:
        >>> rbf_penalties(lambda x, centers: torch.cdist(x, centers) ** 2).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    codes = _models.rbf_codes()
    cases = [{"x": codes[[3, 8]].clone(), "centers": codes},
             {"x": 1.7159 * torch.tanh(torch.randn(5, 84, generator=g)), "centers": codes},
             {"x": torch.randn(1, 3, generator=g), "centers": torch.randn(2, 3, generator=g)},
             {"x": torch.randn(4, 2, generator=g), "centers": torch.randn(3, 2, generator=g)}]

    def reference(x, centers):
        return _models.EuclideanRBF(centers)(x)

    def hint(args):
        n, k = args["x"].shape[0], args["centers"].shape[0]
        return (f"one row per input and one column per centre ({n}×{k}); each entry is the *squared* distance "
                "Σ_j (x_j − w_ij)², without a square root. Broadcasting x[:, None, :] - centers[None, :, :] "
                "gives every difference at once.")

    return _run("rbf_penalties", fn, cases, reference, _compare_tensor, hint)


def map_loss(fn) -> CheckResult:
    """Check ``fn(penalties, target, j=0.1)``: the MAP criterion of the paper's eq. (9),
    the mean over the batch of y_D + log(e^(−j) + Σ_i e^(−y_i)).

    Shapes: penalties: N×K RBF outputs (≥ 0), target: N class indices (int64)
    -> a single number (a 0-dimensional tensor). Hidden cases with several
    values of j, one with every class right by a wide margin.

    Example:
        >>> def eq9(penalties, target, j=0.1):
        ...     correct = penalties[torch.arange(len(target)), target]
        ...     return (correct + torch.log(torch.exp(torch.tensor(-j)) + torch.exp(-penalties).sum(1))).mean()
        >>> map_loss(eq9).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(n, k, j, scale=10.0):
        return {"penalties": torch.rand(n, k, generator=g) * scale, "target": torch.randint(0, k, (n,), generator=g),
                "j": j}

    cases = [case(4, 10, 0.1), case(1, 10, 0.1), case(6, 10, 1.0, scale=3.0), case(3, 4, 0.5, scale=2.0),
             {"penalties": torch.tensor([[0.0, 60.0, 60.0], [60.0, 0.0, 60.0]]), "target": torch.tensor([0, 1]),
              "j": 0.1}, case(5, 10, 2.0, scale=1.0)]

    def reference(penalties, target, j):
        return _models.map_loss(penalties, target, j=j)

    def hint(args):
        return ("for each example, add its correct class's penalty y_D and log(exp(-j) + Σ_i exp(-y_i)), the sum "
                "running over all classes, the correct one included; then take the mean over the batch. "
                "Use the j you are given.")

    return _run("map_loss", fn, cases, reference, _compare_scalar, hint)


# ---------------------------------------------------------------------------
# Chapter 5: training
# ---------------------------------------------------------------------------


def paper_normalization(fn) -> CheckResult:
    """Check ``fn(images)``: MNIST digits prepared as in the paper (Sec. II-B), from pixels in [0, 1].

    Pad each 28×28 digit with 2 pixels of background on every side (32×32),
    then map the background (0) to −0.1 and the ink (1) to 1.175:
    x ↦ −0.1 + 1.275·x, padding included. Hidden cases: random and binary
    digits, a blank one and one that is all ink.

    Shapes: images: N×28×28 float in [0, 1] -> N×32×32.

    Example:
        >>> paper_normalization(lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1).passed
        True
    """
    from . import data as _data

    g = torch.Generator().manual_seed(1998)
    low, high = _data.PAPER_BACKGROUND, _data.PAPER_FOREGROUND
    cases = [torch.rand(2, 28, 28, generator=g), (torch.rand(3, 28, 28, generator=g) > 0.8).float(),
             torch.zeros(1, 28, 28), torch.ones(1, 28, 28), torch.rand(5, 28, 28, generator=g) ** 4]
    cases = [{"images": x} for x in cases]

    def reference(images):
        padded = F.pad(images, (2, 2, 2, 2), value=0.0)
        value = low + (high - low) * padded
        standard = (padded - _data.MNIST_MEAN) / _data.MNIST_STD
        mistakes = {
            "padding with 0 after scaling (the padding is background: −0.1 once scaled)":
                F.pad(low + (high - low) * images, (2, 2, 2, 2), value=0.0),
            "MNIST's mean/std standardisation (this exercise asks for the paper's −0.1 and 1.175)": standard,
            "x ↦ −0.1 + 1.175·x, which sends the ink to 1.075 (the scale is 1.175 − (−0.1) = 1.275)":
                low + high * padded,
        }
        return _Expected(value, mistakes)

    def hint(args):
        n = args["images"].shape[0]
        return (f"pad 2 pixels on each side (28 + 2 + 2 = 32, so {n}×32×32), with the background's value, and map "
                "0 to −0.1 and 1 to 1.175: x ↦ −0.1 + 1.275·x. F.pad(images, (2, 2, 2, 2)) pads the last two dims.")

    return _run("paper_normalization", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


def error_rate(fn) -> CheckResult:
    """Check ``fn(scores, labels)``: the fraction of examples whose highest score is not their label.

    The predicted class of a row is the column with the largest score
    (``argmax``); the error rate is the fraction of rows where it differs from
    the label, a number between 0 and 1 (a float or a 0-d tensor). Hidden
    cases: all right, all wrong, and random scores. For ``LeNet5`` the scores are
    minus the RBF penalties (``model.scores``).

    Shapes: scores: N×classes float, labels: N class indices (int64) -> a number in [0, 1].

    Example:
        >>> error_rate(lambda scores, labels: (scores.argmax(dim=1) != labels).float().mean()).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(n, k):
        return {"scores": torch.randn(n, k, generator=g), "labels": torch.randint(0, k, (n,), generator=g)}

    eye = torch.eye(4) * 5
    cases = [case(8, 10), {"scores": eye, "labels": torch.arange(4)}, {"scores": eye, "labels": torch.tensor([1, 2, 3, 0])},
             case(7, 3), case(50, 10), case(1, 10)]

    def reference(scores, labels):
        wrong = (scores.argmax(dim=1) != labels).double()
        value = wrong.mean().item()
        mistakes = {"the accuracy (the fraction right); the error is 1 − accuracy": 1 - value,
                    "a percentage (return a fraction between 0 and 1)": 100 * value,
                    "the number of mistakes (divide by the number of examples)": wrong.sum().item(),
                    "argmin (these are scores: higher is better; argmin is for penalties)":
                        (scores.argmin(dim=1) != labels).double().mean().item()}
        return _Expected(value, mistakes)

    def hint(args):
        n = len(args["labels"])
        return (f"the predicted class of each of the {n} rows is scores.argmax(dim=1); the error rate is the fraction "
                "of rows where it differs from the label: (predicted != labels).float().mean().")

    return _run("error_rate", fn, cases, reference, _compare_with_mistakes(_compare_scalar), hint)


def confusion_matrix(fn) -> CheckResult:
    """Check ``fn(y_true, y_pred, num_classes)``: the confusion matrix, entry [i, j] = examples of class i predicted as j.

    Rows are the true classes, columns the predicted ones; the diagonal
    counts the right answers. Hidden cases: a small hand-made one, a class
    never predicted, a class that never occurs (the matrix is always
    num_classes × num_classes), and random labels.

    Shapes: y_true, y_pred: N class indices (int64), num_classes: int -> num_classes×num_classes counts.

    Example:
        >>> def counts(y_true, y_pred, num_classes):
        ...     return torch.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).view(num_classes, -1)
        >>> confusion_matrix(counts).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    keys = ("y_true", "y_pred", "num_classes")
    cases = _cases((torch.tensor([0, 1, 1, 2, 2, 2]), torch.tensor([0, 1, 0, 2, 1, 2]), 3),
                   (torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 1, 1]), 2),
                   (torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), 5),
                   (torch.randint(0, 10, (60,), generator=g), torch.randint(0, 10, (60,), generator=g), 10),
                   (torch.randint(0, 4, (9,), generator=g), torch.randint(0, 4, (9,), generator=g), 4), keys=keys)

    def reference(y_true, y_pred, num_classes):
        k = num_classes
        value = torch.bincount(y_true * k + y_pred, minlength=k * k).view(k, k).double()
        mistakes = {"the transpose (rows are the true classes, columns the predicted ones)": value.t()}
        return _Expected(value, mistakes)

    def hint(args):
        k = args["num_classes"]
        return (f"start from a {k}×{k} tensor of zeros (num_classes, even if some class never occurs) and add 1 at "
                "[true, predicted] for every example: rows are the true classes, columns the predicted ones.")

    return _run("confusion_matrix", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


# ---------------------------------------------------------------------------
# Chapter 6: what changed since 1998
# ---------------------------------------------------------------------------

# (chapter 6 checks go here)


class _Expected(NamedTuple):
    """What a chapter 6 reference returns: the right value, and the values of common mistakes."""

    value: object
    mistakes: dict  # explanation -> the value that mistake gives


def _compare_with_mistakes(compare):
    """A comparison that, when the answer is wrong, says which common mistake it matches (if any)."""

    def compare_expected(got, expected: _Expected):
        problem = compare(got, expected.value)
        if problem is None:
            return None
        for explanation, wrong in expected.mistakes.items():
            if compare(got, wrong) is None:
                return f"{problem}; it matches {explanation}"
        return problem

    return compare_expected


def batch_norm(fn) -> CheckResult:
    """Check ``fn(x)``: batch normalisation of an N×C×H×W batch, as ``nn.BatchNorm2d`` in training mode, without affine.

    Each channel c is normalised with the mean and the biased variance of all its
    N·H·W values: y = (x − mean_c) / sqrt(var_c + eps), eps = 1e-5. Compared with
    ``torch.nn.functional.batch_norm(x, None, None, training=True)`` on hidden
    batches (channels with large offsets, one image, 1×1 maps, a constant channel).

    Shapes: x: N×C×H×W -> N×C×H×W.

    Example:
        >>> def my_batch_norm(x):
        ...     mean = x.mean(dim=(0, 2, 3), keepdim=True)
        ...     var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        ...     return (x - mean) / torch.sqrt(var + 1e-5)
        >>> batch_norm(my_batch_norm).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    offsets = torch.tensor([5.0, -3.0, 0.0]).view(1, 3, 1, 1)
    cases = [torch.randn(4, 3, 5, 5, generator=g) * 3 + offsets, torch.randn(2, 1, 4, 4, generator=g),
             torch.randn(8, 6, 3, 3, generator=g) * 0.1, torch.randn(1, 2, 6, 6, generator=g) + 1,
             torch.randn(5, 4, 1, 1, generator=g), torch.randn(3, 2, 2, 3, generator=g) * 10]
    constant = torch.randn(3, 2, 4, 4, generator=g)
    constant[:, 1] = 7.0  # a channel with no variation: only eps keeps the division finite
    cases = [{"x": x} for x in cases + [constant]]
    eps = 1e-5

    def normalise(x, dims, unbiased=False):
        mean = x.mean(dim=dims, keepdim=True)
        return (x - mean) / torch.sqrt(x.var(dim=dims, unbiased=unbiased, keepdim=True) + eps)

    def reference(x):
        value = F.batch_norm(x, None, None, training=True, eps=eps)
        mistakes = {"statistics of the whole batch (normalise each channel on its own)": normalise(x, (0, 1, 2, 3)),
                    "statistics per image (that is layer normalisation; BatchNorm averages over the batch)":
                        normalise(x, (1, 2, 3)),
                    "statistics per channel *and position* (BatchNorm2d shares them over H and W)": normalise(x, (0,)),
                    "a missing eps, or eps outside the square root (add 1e-5 to the variance, then take the root)":
                        (x - x.mean(dim=(0, 2, 3), keepdim=True))
                        / (x.var(dim=(0, 2, 3), unbiased=False, keepdim=True).sqrt() + eps)}
        if x.numel() // x.shape[1] > 1:
            mistakes["the unbiased variance (BatchNorm normalises with the biased one, dividing by N·H·W)"] = (
                normalise(x, (0, 2, 3), unbiased=True))
        return _Expected(value, mistakes)

    def hint(args):
        n, c, h, w = args["x"].shape
        return (f"for each of the {c} channels, take the mean and the variance of its N·H·W = {n * h * w} values "
                "(dims 0, 2 and 3, keepdim=True; the variance with unbiased=False), then (x − mean) / sqrt(var + 1e-5).")

    return _run("batch_norm", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


def cross_entropy(fn) -> CheckResult:
    """Check ``fn(logits, target)``: softmax cross-entropy, averaged over the batch, as ``F.cross_entropy``.

    For each row, −log softmax(logits)[target] = logsumexp(logits) − logits[target];
    the result is the mean over the rows. Hidden cases include logits in the
    hundreds, where computing ``exp`` first overflows.

    Shapes: logits: N×classes float, target: N class indices (int64) -> a number (0-d tensor).

    Example:
        >>> cross_entropy(lambda logits, target: F.cross_entropy(logits, target)).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    cases = [{"logits": torch.tensor([[2.0, 0.0, -1.0]]), "target": torch.tensor([0])},
             {"logits": torch.randn(4, 10, generator=g), "target": torch.tensor([3, 0, 9, 3])},
             {"logits": torch.randn(8, 3, generator=g) * 5, "target": torch.randint(0, 3, (8,), generator=g)},
             {"logits": torch.zeros(2, 10), "target": torch.tensor([1, 7])},
             {"logits": torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 800.0, 1.0]]), "target": torch.tensor([0, 2])},
             {"logits": torch.randn(5, 10, generator=g) * 100, "target": torch.randint(0, 10, (5,), generator=g)}]

    def reference(logits, target):
        value = F.cross_entropy(logits, target).item()
        mistakes = {"the sum over the batch (take the mean)": F.cross_entropy(logits, target, reduction="sum").item(),
                    "+log softmax (the loss is minus the log-probability)": -value}
        return _Expected(value, mistakes)

    def hint(args):
        tip = ("the loss of one row is logsumexp(logits) − logits[target], i.e. −log of the softmax probability of "
               "the right class; average it over the rows.")
        if args["logits"].abs().max() > 80:
            tip += (" For large logits, exp overflows to inf: subtract each row's maximum first, or use "
                    "torch.logsumexp.")
        return tip

    return _run("cross_entropy", fn, cases, reference, _compare_with_mistakes(_compare_scalar), hint)


def _compare_step(got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"returned a {type(got).__name__}, expected a pair (new_param, new_buf)"
    for name, got_one, expected_one in zip(("new_param", "new_buf"), got, expected):
        problem = _compare_tensor(got_one, expected_one)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def sgd_momentum_step(fn) -> CheckResult:
    """Check ``fn(param, grad, buf, lr, momentum)``: one step of ``torch.optim.SGD`` with momentum.

    PyTorch's rule (no dampening, no weight decay): ``new_buf = momentum·buf + grad``,
    then ``new_param = param − lr·new_buf``. On the first step ``buf`` is zeros
    (PyTorch starts the buffer at the first gradient, the same thing). The
    reference is ``torch.optim.SGD`` itself, run on the same tensors.

    Shapes: param, grad, buf: the same shape; lr, momentum: floats -> (new_param, new_buf).

    Example:
        >>> def my_step(param, grad, buf, lr, momentum):
        ...     new_buf = momentum * buf + grad
        ...     return param - lr * new_buf, new_buf
        >>> sgd_momentum_step(my_step).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    keys = ("param", "grad", "buf", "lr", "momentum")
    cases = _cases((torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5]), torch.zeros(2), 0.1, 0.9),
                   (torch.tensor([1.0, -2.0]), torch.tensor([0.5, -1.0]), torch.tensor([0.5, 0.5]), 0.1, 0.9),
                   (torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g),
                    0.01, 0.9),
                   (torch.randn(5, generator=g), torch.randn(5, generator=g), torch.randn(5, generator=g), 0.5, 0.0),
                   (torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g),
                    0.05, 0.5), keys=keys)

    def reference(param, grad, buf, lr, momentum):
        p = param.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([p], lr=lr, momentum=momentum)
        if momentum:
            optimizer.state[p]["momentum_buffer"] = buf.clone()
        p.grad = grad.clone()
        optimizer.step()
        new_buf = optimizer.state[p]["momentum_buffer"] if momentum else grad.clone()
        value = (p.detach(), new_buf.detach())
        mistakes = {}
        if lr != 1:
            lr_buf = momentum * buf + lr * grad
            mistakes["a buffer that includes the learning rate (PyTorch's buffer does not)"] = (param - lr_buf, lr_buf)
        if momentum:
            damped = momentum * buf + (1 - momentum) * grad
            mistakes["a buffer damped by (1 − momentum) (PyTorch's default has no dampening)"] = (
                param - lr * damped, damped)
            fresh = momentum * buf + grad
            mistakes["a step with the old buffer (update the buffer first, then step with it)"] = (
                param - lr * buf, fresh)
        return _Expected(value, mistakes)

    def hint(args):
        return ("first the buffer: new_buf = momentum·buf + grad; then the step: new_param = param − lr·new_buf. "
                "Return both, as a pair.")

    return _run("sgd_momentum_step", fn, cases, reference, _compare_with_mistakes(_compare_step), hint)


# ---------------------------------------------------------------------------
# Numeric answers
# ---------------------------------------------------------------------------


def _receptive_fields() -> dict[str, int]:
    """Side of the input square one unit of each LeNet-5 layer sees (32×32 input)."""
    sizes, r, jump = {}, 1, 1
    for name, k, s in (("c1", 5, 1), ("s2", 2, 2), ("c3", 5, 1), ("s4", 2, 2), ("c5", 5, 1)):
        r, jump = r + (k - 1) * jump, jump * s
        sizes[f"receptive_field_{name}"] = r
    return sizes


def _answers() -> dict[str, int]:
    table = _counting.lenet5_table()
    rows = {row.layer.lower(): row for row in table}
    found = {}
    for layer in ("c1", "s2", "c3", "s4", "c5"):
        found[f"{layer}_parameters"] = rows[layer].parameters
        found[f"{layer}_connections"] = rows[layer].connections
    found["f6_parameters"] = rows["f6"].parameters
    found["lenet5_parameters"] = table.footer.parameters
    found["lenet5_connections"] = table.footer.connections
    found["c3_output_size"] = rows["c3"].output_shape[-1]
    found.update(_receptive_fields())
    found["modern_parameters"] = _counting.count_parameters(_models.LeNet5Modern())
    return found


#: The questions :func:`answer` knows, with a hint for each (the answers are computed, not stored).
QUESTIONS = {
    "c1_parameters": "C1: 6 kernels of 5×5 on one input map, and a bias each.",
    "c1_connections": "C1: every one of the 6·28·28 units is fed by 25 inputs and a bias.",
    "s2_parameters": "S2: each map has one trainable coefficient and one trainable bias.",
    "s2_connections": "S2: every one of the 6·14·14 units is fed by a 2×2 window and a bias.",
    "c3_parameters": "C3: add up, over the 16 maps, (number of S2 maps it sees · 25 + 1) — see Table I.",
    "c3_connections": "C3: every unit of a 10×10 map uses all of its map's parameters.",
    "s4_parameters": "S4: one coefficient and one bias per map, 16 maps.",
    "s4_connections": "S4: every one of the 16·5·5 units is fed by a 2×2 window and a bias.",
    "c5_parameters": "C5: 120 kernels, each 16×5×5, and a bias each.",
    "c5_connections": "C5's maps are 1×1, so each parameter is used exactly once.",
    "f6_parameters": "F6: 84 units fully connected to C5's 120, with biases.",
    "lenet5_parameters": "add up the trainable parameters of all layers (the RBF centres are fixed).",
    "lenet5_connections": "add up the connections of all layers, the output's 84·10 included.",
    "c3_output_size": "C3 is a 5×5 convolution without padding on S2's 14×14 maps.",
    "receptive_field_c1": "one C1 unit sees one 5×5 window of the input.",
    "receptive_field_s2": "an S2 unit pools 2×2 neighbouring C1 units, which are one input pixel apart.",
    "receptive_field_c3": "a C3 unit sees 5×5 S2 units, which are 2 input pixels apart.",
    "receptive_field_s4": "an S4 unit pools 2×2 C3 units, which are 2 input pixels apart.",
    "receptive_field_c5": "a C5 unit sees 5×5 S4 units, which are 4 input pixels apart.",
    "modern_parameters": "count the modern variant's layers one by one (biases included, no RBF).",
}


def answer(question: str, value) -> CheckResult:
    """Check a numeric answer to one of the :data:`QUESTIONS` (computed from the course's code).

    ``value`` is your number; ``None`` (a placeholder not filled in yet) is reported as not done yet.

    Example:
        >>> answer("c3_parameters", 1516).passed
        True
        >>> print(answer("s2_parameters", 0))
        ✗ s2_parameters: 0 is not right.
          Hint: S2: each map has one trainable coefficient and one trainable bias.
    """
    if not isinstance(question, str) or question not in QUESTIONS:
        known = ", ".join(repr(q) for q in QUESTIONS)
        raise ValueError(f"question must be one of {known}; got {question!r}")
    if value is None or value is Ellipsis:
        return CheckResult(question, False, f"… {question}: not done yet. Replace None with your answer "
                           "and run this cell again.")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be a number (your answer), got {value!r} ({type(value).__name__})")
    expected = _answers()[question]
    if value == expected:
        return CheckResult(question, True, f"✓ {question}: {value} is right.")
    return CheckResult(question, False, f"✗ {question}: {value} is not right.\n  Hint: {QUESTIONS[question]}")
