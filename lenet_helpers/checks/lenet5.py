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

import math

import torch
import torch.nn.functional as F

from .. import layers as _layers
from ..language import _
from ._core import (
    CheckResult,
    Mistake,
    _compare_scalar,
    _compare_tensor,
    _hints,
    _run,
    _section,
)

__all__ = ["squash", "subsample", "c3_forward", "rbf_penalties", "map_loss"]

_SQUASH = _section(4, _("The squashing function"))
_SUBSAMPLING = _section(4, _("S2 and S4: trainable subsampling"))
_C3 = _section(4, _("C3 and Table I"))
_RBF = _section(4, _("The output layer: Euclidean RBF units"))
_LOSS = _section(4, _("The loss: the MAP criterion"))

A, S = 1.7159, 2 / 3


def _map_loss_lowest() -> float:
    """The smallest value of the MAP loss with j = 0.1: the correct penalty 0, every other one very large."""
    penalties = torch.tensor([[0.0] + [1e4] * 9], dtype=torch.float64)
    return _layers.map_loss(penalties, torch.tensor([0])).item()


#: Numeric questions (``checks.answer(name, value)``), answered by the course's code.
QUESTIONS = {
    "map_loss_lowest": (_("both terms are smallest when the correct penalty is 0 and all the others are very large; "
                          "what is Σ_i e^(−y_i) then (the sum includes the correct class)? Use j = 0.1."),
                        _map_loss_lowest),
}

_hints("squash",
       _("f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3, applied to every element; keep the input's shape."),
       _("check your function on a few numbers: f(0) = 0, f(1) ≈ 1, f(−1) ≈ −1, and f approaches ±1.7159 for large "
         "|a|."),
       _("1.7159 * torch.tanh(2 / 3 * a): torch.tanh works element by element on a tensor of any shape."))


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

    mistakes = [
        Mistake(_("is the plain tanh: LeNet-5 scales it, A·tanh(S·a) with A = 1.7159 and S = 2/3"), _SQUASH,
                lambda a: torch.tanh(a)),
        Mistake(_("forgets the amplitude A = 1.7159: f saturates at ±1.7159, not ±1"), _SQUASH,
                lambda a: torch.tanh(S * a)),
        Mistake(_("forgets the slope S = 2/3 inside the tanh"), _SQUASH, lambda a: A * torch.tanh(a)),
        Mistake(_("uses S = 3/2: the slope is 2/3, so that f(1) ≈ 1"), _SQUASH, lambda a: A * torch.tanh(1.5 * a)),
        Mistake(_("is a sigmoid: LeNet-5's squashing function is a scaled tanh, symmetric about 0"), _SQUASH,
                lambda a: torch.sigmoid(a)),
        Mistake(_("is a ReLU: LeNet-5's squashing function is a scaled tanh"), _SQUASH, lambda a: torch.relu(a)),
    ]
    return _run("squash", fn, cases, lambda a: _layers.squash(a), _compare_tensor, mistakes)


_hints("subsample",
       _("each output unit adds the kernel_size × kernel_size inputs of its window (the windows do not overlap), "
         "multiplies the sum by its map's coefficient weight[c] and adds its map's bias bias[c]."),
       _("split each side into windows, x.reshape(N, C, H // k, k, W // k, k), and add each window up: "
         ".sum(dim=(3, 5))."),
       _("sums * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1): one coefficient and one bias per map, broadcast "
         "over the batch and the positions; no squashing."))


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

    def wb(weight, bias):
        return weight.view(1, -1, 1, 1), bias.view(1, -1, 1, 1)

    def reference(x, weight, bias, kernel_size):
        w, b = wb(weight, bias)
        return F.avg_pool2d(x, kernel_size) * kernel_size ** 2 * w + b

    mistakes = [
        Mistake(_("takes the mean of each window instead of its sum: the paper adds the inputs"), _SUBSAMPLING,
                lambda x, weight, bias, kernel_size: F.avg_pool2d(x, kernel_size) * wb(weight, bias)[0]
                + wb(weight, bias)[1]),
        Mistake(_("takes the largest input of each window (max pooling) instead of their sum"), _SUBSAMPLING,
                lambda x, weight, bias, kernel_size: F.max_pool2d(x, kernel_size) * wb(weight, bias)[0]
                + wb(weight, bias)[1]),
        Mistake(_("forgets the bias: each map adds its own bias[c] after the coefficient"), _SUBSAMPLING,
                lambda x, weight, bias, kernel_size: reference(x, weight, bias, kernel_size) - wb(weight, bias)[1]),
        Mistake(_("applies the squashing function: this exercise stops before it"), _SUBSAMPLING,
                lambda x, weight, bias, kernel_size: _layers.squash(reference(x, weight, bias, kernel_size))),
        Mistake(_("uses 2×2 windows whatever kernel_size says"), _SUBSAMPLING,
                lambda x, weight, bias, kernel_size: reference(x, weight, bias, 2) if kernel_size != 2 else None,
                raises=lambda error, x, weight, bias, kernel_size: kernel_size != 2),
    ]
    return _run("subsample", fn, cases, reference, _compare_tensor, mistakes)


_hints("c3_forward",
       _("output map j is a cross-correlation of only the input maps i with table[i, j] true; the kernels the table "
         "leaves out must be ignored, whatever values they hold."),
       _("the table is inputs × outputs, the transpose of the weight's first two dimensions (outputs × inputs): "
         "table.t() lines up with weight."),
       _("mask the kernels, weight * table.t()[:, :, None, None], and run one F.conv2d with the masked weight and "
         "the bias."))


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

    def masked(weight, table):
        return weight * table.t().to(weight.dtype)[:, :, None, None]

    def reference(x, weight, bias, table):
        return F.conv2d(x, masked(weight, table), bias)

    mistakes = [
        Mistake(_("ignores Table I: every output map sees every input map (mask the kernels the table leaves out)"),
                _C3, lambda x, weight, bias, table: F.conv2d(x, weight, bias) if not bool(table.all()) else None),
        Mistake(_("forgets the bias: each output map adds its bias[j]"), _C3,
                lambda x, weight, bias, table: F.conv2d(x, masked(weight, table))),
        Mistake(_("flips the kernels: that is a true convolution, and C3 computes a cross-correlation"), _C3,
                lambda x, weight, bias, table: F.conv2d(x, masked(weight, table).flip(2, 3), bias)),
        Mistake(_("applies the squashing function: this exercise stops before it"), _C3,
                lambda x, weight, bias, table: _layers.squash(reference(x, weight, bias, table))),
    ]
    return _run("c3_forward", fn, cases, reference, _compare_tensor, mistakes)


_hints("rbf_penalties",
       _("one row per input vector and one column per centre; each entry is a squared Euclidean distance."),
       _("y[n, i] = Σ_j (x[n, j] − centers[i, j])², a sum over the F features, without a square root."),
       _("x[:, None, :] - centers[None, :, :] gives every difference at once (N×K×F); square and sum over the last "
         "dimension."))


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
        return ((x[:, None, :] - centers[None, :, :]) ** 2).sum(dim=2)

    mistakes = [
        Mistake(_("gives the distances, not their squares: a penalty is Σ_j (x_j − w_ij)², without a square root"),
                _RBF, lambda x, centers: reference(x, centers).sqrt()),
        Mistake(_("averages the squared differences: the penalty adds them up"), _RBF,
                lambda x, centers: reference(x, centers) / x.shape[1]),
        Mistake(_("gives the transpose, centres × inputs: one row per input, one column per centre"), _RBF,
                lambda x, centers: reference(x, centers).t()),
        Mistake(_("gives dot products: the penalty is a squared distance, Σ_j (x_j − w_ij)²"), _RBF,
                lambda x, centers: x @ centers.t()),
    ]
    return _run("rbf_penalties", fn, cases, reference, _compare_tensor, mistakes)


_hints("map_loss",
       _("for each example, the loss is its correct class's penalty y_D plus log(e^(−j) + Σ_i e^(−y_i)); the result "
         "is the mean over the batch."),
       _("the sum runs over all classes, the correct one included; e^(−j) is the rubbish class; use the j you are "
         "given."),
       _("penalties[torch.arange(N), target] picks the y_D; torch.log(torch.exp(torch.tensor(-j)) + "
         "torch.exp(-penalties).sum(dim=1)) is the second term; add them and take .mean()."))


def _eq9(penalties, target, j, *, rubbish=True, correct_in_sum=True, reduce="mean", sign=1.0):
    n = len(target)
    correct = penalties[torch.arange(n), target]
    terms = torch.exp(-penalties)
    if not correct_in_sum:
        terms = terms * (1 - F.one_hot(target, penalties.shape[1]).to(terms.dtype))
    inside = terms.sum(dim=1) + (math.exp(-sign * j) if rubbish else 0.0)
    value = correct + torch.log(inside)
    return value.mean() if reduce == "mean" else value.sum()


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

    mistakes = [
        Mistake(_("forgets the rubbish class: the sum inside the log also holds e^(−j)"), _LOSS,
                lambda penalties, target, j: _eq9(penalties, target, j, rubbish=False)),
        Mistake(_("sums over the batch: eq. (9) here is the mean over the batch"), _LOSS,
                lambda penalties, target, j: _eq9(penalties, target, j, reduce="sum") if len(target) > 1 else None),
        Mistake(_("leaves the correct class out of the sum: Σ_i e^(−y_i) runs over every class"), _LOSS,
                lambda penalties, target, j: _eq9(penalties, target, j, correct_in_sum=False)),
        Mistake(_("uses j = 0.1 whatever j it is given: use the j you are given"), _LOSS,
                lambda penalties, target, j: _eq9(penalties, target, 0.1) if j != 0.1 else None),
        Mistake(_("adds e^(+j): the rubbish class's term is e^(−j)"), _LOSS,
                lambda penalties, target, j: _eq9(penalties, target, j, sign=-1.0)),
    ]
    return _run("map_loss", fn, cases, reference, _compare_scalar, mistakes)
