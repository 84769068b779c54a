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
