"""Self-checks for chapter 4, building LeNet-5.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`squash`                  ``fn(a) -> tensor`` (A·tanh(S·a))
:func:`subsample`               ``fn(x, weight, bias, kernel_size=2) -> tensor`` (S2, S4, before the squash)
:func:`c3_forward`              ``fn(x, weight, bias, table) -> tensor``
:func:`rbf_penalties`           ``fn(x, centers) -> tensor``
:func:`map_loss`                ``fn(penalties, target, j=0.1) -> tensor``
==============================  ===================================================

Numeric questions for :func:`~lenet_helpers.checks.answer`: ``map_loss_lowest``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import layers as _layers
from ._core import (
    CheckResult,
    _compare_scalar,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["squash", "subsample", "c3_forward", "rbf_penalties", "map_loss"]


def _map_loss_lowest() -> float:
    """The smallest value of the MAP loss with j = 0.1: the correct penalty 0, every other one very large."""
    penalties = torch.tensor([[0.0] + [1e4] * 9], dtype=torch.float64)
    return _layers.map_loss(penalties, torch.tensor([0])).item()


#: Numeric questions (``checks.answer(name, value)``), answered by the course's code.
QUESTIONS = {
    "map_loss_lowest": ("both terms are smallest when the correct penalty is 0 and all the others are very large; "
                        "what is Σ_i e^(−y_i) then (the sum includes the correct class)? Use j = 0.1.",
                        _map_loss_lowest),
}


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
        return _layers.squash(a)

    def hint(args):
        return ("f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3, applied to every element: f(0) = 0, f(1) = 1, "
                "f(-1) = -1, and f approaches ±1.7159 for large |a|. Keep the input's shape.")

    return _run("squash", fn, cases, reference, _compare_tensor, hint)


def subsample(fn) -> CheckResult:
    """Check ``fn(x, weight, bias, kernel_size=2)``: LeNet-5's trainable subsampling (S2, S4), before the squash.

    Each output unit adds the kernel_size × kernel_size inputs of its window
    (non-overlapping windows), multiplies the sum by its map's coefficient
    ``weight[c]`` and adds its map's bias ``bias[c]``.

    Shapes: x: N×C×H×W (H and W multiples of kernel_size), weight: C, bias: C
    -> N×C×(H/k)×(W/k). Hidden cases: S2- and S4-sized maps, a 3×3 window.

    Example:
        >>> def by_pooling(x, weight, bias, kernel_size=2):
        ...     sums = F.avg_pool2d(x, kernel_size) * kernel_size ** 2
        ...     return sums * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)
        >>> subsample(by_pooling).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(n, c, side, k):
        return {"x": torch.randn(n, c, side, side, generator=g), "weight": torch.randn(c, generator=g),
                "bias": torch.randn(c, generator=g), "kernel_size": k}

    cases = [case(2, 6, 28, 2), case(1, 16, 10, 2), case(3, 1, 4, 2), case(2, 3, 9, 3), case(1, 2, 6, 2)]

    def reference(x, weight, bias, kernel_size):
        layer = _layers.Subsampling(x.shape[1], kernel_size)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
            value = layer(x)
            w, b = weight.view(1, -1, 1, 1), bias.view(1, -1, 1, 1)
            mean = F.avg_pool2d(x, kernel_size)
            mistakes = {
                "the mean of each window instead of its sum (the paper adds the inputs)": mean * w + b,
                "the largest input of each window (max pooling) instead of their sum": F.max_pool2d(x, kernel_size) * w + b,
                "the window sum times the coefficient, without the bias": value - b,
                "the layer followed by the squashing function (this exercise stops before it)": _layers.squash(value),
            }
        return _Expected(value, mistakes)

    def hint(args):
        k = args["kernel_size"]
        return (f"split each side into windows of {k} (x.reshape(N, C, H // {k}, {k}, W // {k}, {k})), add the "
                f"{k * k} values of each window, then multiply by weight[c] and add bias[c], one of each per map c "
                "(weight.view(1, -1, 1, 1) broadcasts over the batch and the positions).")

    return _run("subsample", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


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

    cases = [case(1, _layers.C3_TABLE, (14, 14), 5), case(2, _layers.C3_TABLE, (10, 12), 5),
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
    codes = _layers.rbf_codes()
    cases = [{"x": codes[[3, 8]].clone(), "centers": codes},
             {"x": 1.7159 * torch.tanh(torch.randn(5, 84, generator=g)), "centers": codes},
             {"x": torch.randn(1, 3, generator=g), "centers": torch.randn(2, 3, generator=g)},
             {"x": torch.randn(4, 2, generator=g), "centers": torch.randn(3, 2, generator=g)}]

    def reference(x, centers):
        return _layers.EuclideanRBF(centers)(x)

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
        return _layers.map_loss(penalties, target, j=j)

    def hint(args):
        return ("for each example, add its correct class's penalty y_D and log(exp(-j) + Σ_i exp(-y_i)), the sum "
                "running over all classes, the correct one included; then take the mean over the batch. "
                "Use the j you are given.")

    return _run("map_loss", fn, cases, reference, _compare_scalar, hint)
