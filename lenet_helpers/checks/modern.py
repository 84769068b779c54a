"""Self-checks for chapter 6, what changed since 1998.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`squash_slope`            ``fn(y) -> tensor``, the slope of f where f(a) = y
:func:`shift_image`             ``fn(image, dx, dy, fill) -> tensor``
:func:`batch_norm`              ``fn(x) -> tensor``
:func:`sgd_momentum_step`       ``fn(param, grad, buf, lr, momentum) -> (param, buf)``
:func:`rmsprop_step`            ``fn(param, grad, square_avg, lr, alpha, eps) -> (param, square_avg)``
:func:`cross_entropy`           ``fn(logits, target) -> tensor``
==============================  ===================================================

Numeric questions for :func:`answer`: ``mlp_parameters`` (the fully connected baseline
``models.MLP()``) and ``batch_norm_extra_parameters`` (what ``lenet_variant(batch_norm=True)``
adds to ``lenet_variant()``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..language import _
from ._core import (
    CheckResult,
    Mistake,
    _cases,
    _compare_pair,
    _compare_scalar,
    _compare_tensor,
    _hints,
    _run,
    _same,
    _section,
)

__all__ = ["squash_slope", "shift_image", "batch_norm", "sgd_momentum_step", "rmsprop_step", "cross_entropy"]

_ACTIVATION = _section(6, _("Experiment 1: the activation"))
_SHIFTED = _section(6, _("Why convolutions: shifted digits"))
_BATCH_NORM = _section(6, _("Experiment 3: batch normalisation"))
_OPTIMISER = _section(6, _("Experiment 4: the optimiser"))
_SOFTMAX = _section(6, _("The output layer: from RBF units to a softmax"))


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _mlp_parameters() -> int:
    from ..models import MLP

    return _count(MLP())


def _batch_norm_extra_parameters() -> int:
    from ..models import lenet_variant

    return _count(lenet_variant(batch_norm=True)) - _count(lenet_variant())


#: Numeric questions of chapter 6 for ``checks.answer`` (the answers are computed from the course's code).
QUESTIONS = {
    "mlp_parameters": (_("a linear layer from n inputs to m units has n·m weights and m biases: 1024→57, 57→48, "
                         "48→10."), _mlp_parameters),
    "batch_norm_extra_parameters": (_("batch normalisation adds γ and β for each channel of C1, C3, C5 and each unit "
                                      "of F6, and those layers drop their biases."), _batch_norm_extra_parameters),
}

_hints("squash_slope",
       _("differentiate f(a) = A·tanh(S·a) with the chain rule, then write the result with y = f(a) only."),
       _("f'(a) = A·S·(1 − tanh²(S·a)), and tanh(S·a) = y/A."),
       _("A·S·(1 − (y/A)²), which is (S/A)·(A² − y²); at y = 0 the slope is A·S ≈ 1.1439."))


def squash_slope(fn) -> CheckResult:
    """Check ``fn(y)``: the slope f'(a) of the paper's squashing function, from its output y = f(a).

    f(a) = A·tanh(S·a), A = 1.7159, S = 2/3 (Sec. II-B, eq. 6), so f'(a) = A·S·(1 − tanh²(S·a)),
    and since tanh(S·a) = y/A: f'(a) = A·S·(1 − (y/A)²) = (S/A)·(A² − y²). Back-propagation
    can then use the outputs it kept from the forward pass. Hidden cases: y = 0, y = ±1,
    outputs near ±A, a batch of random outputs.

    Shapes: y: any shape, values in (−A, A) -> the same shape.

    Example:
        >>> from lenet_helpers.layers import SQUASH_A, SQUASH_S
        >>> squash_slope(lambda y: SQUASH_S / SQUASH_A * (SQUASH_A ** 2 - y ** 2)).passed
        True
    """
    from ..layers import SQUASH_A as A, SQUASH_S as S

    g = torch.Generator().manual_seed(1998)
    cases = [{"y": y} for y in (torch.tensor([0.0]), torch.tensor([1.0, -1.0]), torch.tensor([1.7, -1.7, 0.5]),
                                (torch.rand(4, 6, generator=g) * 2 - 1) * 1.7, torch.linspace(-1.71, 1.71, 11))]

    mistakes = [
        Mistake(_("gives A·S·(1 − y²): inside, use tanh(S·a) = y/A, not y"), _ACTIVATION,
                lambda y: A * S * (1 - y ** 2)),
        Mistake(_("gives the slope of the plain tanh, 1 − y²: f is A·tanh(S·a), so divide y by A and multiply by "
                  "A·S"), _ACTIVATION, lambda y: 1 - y ** 2),
        Mistake(_("forgets the factor A: f'(a) = A·S·(1 − tanh²(S·a))"), _ACTIVATION,
                lambda y: S * (1 - (y / A) ** 2)),
        Mistake(_("forgets the factor S: the chain rule brings it out of tanh(S·a)"), _ACTIVATION,
                lambda y: A * (1 - (y / A) ** 2)),
    ]
    return _run("squash_slope", fn, cases, lambda y: S / A * (A ** 2 - y ** 2), _compare_tensor, mistakes)


_hints("shift_image",
       _("start from an image full of the background, fill, and copy in the part of the image that stays inside; "
         "nothing wraps around."),
       _("output[i, j] = image[i − dy, j − dx] wherever both indices are inside the image: dx moves along a row "
         "(the columns), dy along a column (the rows); positive is right and down."),
       _("out = torch.full_like(image, fill); copy a slice of the image into a slice of out, their bounds computed "
         "from dx and dy with max(0, …) and min(H, …)."))


def shift_image(fn) -> CheckResult:
    """Check ``fn(image, dx, dy, fill)``: an H×W image moved dx pixels right and dy pixels down.

    Negative shifts move it left or up. What moves past the border is lost and the
    uncovered pixels get ``fill`` (the background): nothing wraps around. The
    reference is :func:`lenet_helpers.experiments.shift`. Hidden cases: shifts in
    every direction, zero, a shift by the whole width, a non-square image.

    Shapes: image: H×W; dx, dy: ints; fill: a number -> H×W.

    Example:
        >>> from lenet_helpers.experiments import shift
        >>> shift_image(lambda image, dx, dy, fill: shift(image[None, None], dx, dy, fill=fill)[0, 0]).passed
        True
    """
    from ..experiments import shift

    g = torch.Generator().manual_seed(1998)
    keys = ("image", "dx", "dy", "fill")
    small = torch.arange(1.0, 13.0).view(3, 4)
    cases = _cases((small, 1, 0, 0.0), (small, 0, 1, -0.1), (small, -2, 0, 0.0), (small, 0, -1, -0.1),
                   (small, 2, -1, 0.5), (torch.rand(6, 5, generator=g), -1, 2, -0.1), (small, 0, 0, 0.0),
                   (small, 4, 0, -0.1), (torch.rand(8, 8, generator=g), 3, 3, -0.1), keys=keys)

    def moved(image, dx, dy, fill):
        return shift(image[None, None], dx, dy, fill=fill)[0, 0]

    mistakes = [
        Mistake(_("moves the image the other way: dx > 0 moves it right, dy > 0 down"), _SHIFTED,
                lambda image, dx, dy, fill: moved(image, -dx, -dy, fill) if dx or dy else None),
        Mistake(_("swaps dx and dy: dx moves along a row, so it changes the column"), _SHIFTED,
                lambda image, dx, dy, fill: moved(image, dy, dx, fill) if dx != dy else None),
        Mistake(_("wraps around, as torch.roll does: what leaves on one side must not come back on the other"),
                _SHIFTED, lambda image, dx, dy, fill: torch.roll(image, shifts=(dy, dx), dims=(0, 1))
                if dx or dy else None),
        Mistake(_("fills the uncovered pixels with zeros: fill them with fill, the background"), _SHIFTED,
                lambda image, dx, dy, fill: moved(image, dx, dy, 0.0) if (dx or dy) and fill != 0 else None),
    ]
    return _run("shift_image", fn, cases, moved, _compare_tensor, mistakes)


_hints("batch_norm",
       _("each channel is normalised on its own, with the mean and the variance of all its N·H·W values."),
       _("take the mean and the variance over dims 0, 2 and 3, keepdim=True; the variance is the biased one "
         "(unbiased=False), as BatchNorm uses."),
       _("(x − mean) / torch.sqrt(var + 1e-5): eps goes inside the square root."))


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

    mistakes = [
        Mistake(_("uses the statistics of the whole batch: normalise each channel on its own"), _BATCH_NORM,
                lambda x: normalise(x, (0, 1, 2, 3)) if x.shape[1] > 1 else None),
        Mistake(_("uses statistics per image: that is layer normalisation; BatchNorm averages over the batch"),
                _BATCH_NORM, lambda x: normalise(x, (1, 2, 3)) if x.shape[0] > 1 else None),
        Mistake(_("uses statistics per channel and position: BatchNorm2d shares them over H and W"), _BATCH_NORM,
                lambda x: normalise(x, (0,)) if x.shape[2] * x.shape[3] > 1 and x.shape[0] > 1 else None),
        Mistake(_("leaves eps out or puts it outside the square root: add 1e-5 to the variance, then take the root"),
                _BATCH_NORM, lambda x: (x - x.mean(dim=(0, 2, 3), keepdim=True))
                / (x.var(dim=(0, 2, 3), unbiased=False, keepdim=True).sqrt() + eps)),
        Mistake(_("uses the unbiased variance: BatchNorm normalises with the biased one, dividing by N·H·W"),
                _BATCH_NORM, lambda x: normalise(x, (0, 2, 3), unbiased=True) if x.numel() // x.shape[1] > 1
                else None),
    ]
    return _run("batch_norm", fn, cases, lambda x: F.batch_norm(x, None, None, training=True, eps=eps),
                _compare_tensor, mistakes)


_hints("cross_entropy",
       _("the loss of one row is −log of the softmax probability of its target class; the result is the mean over "
         "the rows."),
       _("−log softmax(logits)[target] = logsumexp(logits) − logits[target]: no exp of a large logit is needed."),
       _("torch.logsumexp(logits, dim=1) − logits[torch.arange(N), target], then .mean(); or subtract each row's "
         "maximum before exp."))


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
        return F.cross_entropy(logits, target).item()

    def naive(logits, target):
        probabilities = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
        value = -torch.log(probabilities[torch.arange(len(target)), target]).mean()
        return value if not torch.isfinite(value) else None

    def overflowed(got, expected):
        return isinstance(got, torch.Tensor) and got.numel() == 1 and not bool(torch.isfinite(got.detach().cpu()))

    mistakes = [
        Mistake(_("sums over the batch: take the mean over the rows"), _SOFTMAX,
                lambda logits, target: F.cross_entropy(logits, target, reduction="sum").item()
                if len(target) > 1 else None),
        Mistake(_("gives +log softmax: the loss is minus the log-probability"), _SOFTMAX,
                lambda logits, target: -reference(logits, target)),
        Mistake(_("computes exp of the logits first, which overflows to inf for logits in the hundreds: use "
                  "torch.logsumexp, or subtract each row's maximum before exp"), _SOFTMAX, naive),
        Mistake(_("gives the loss of every row: average them into one number"), _SOFTMAX,
                lambda logits, target: F.cross_entropy(logits, target, reduction="none") if len(target) > 1 else None),
    ]

    def same(got, wrong):
        if isinstance(wrong, torch.Tensor) and wrong.numel() == 1 and not bool(torch.isfinite(wrong)):
            return overflowed(got, wrong)
        return _same(got, wrong)

    return _run("cross_entropy", fn, cases, reference, _compare_scalar, mistakes, same=same)


_hints("sgd_momentum_step",
       _("two updates, in order: first the buffer, then the parameter, which steps with the new buffer."),
       _("PyTorch's buffer has no learning rate and no dampening: new_buf = momentum·buf + grad."),
       _("new_param = param − lr·new_buf; return the pair (new_param, new_buf)."))


def sgd_momentum_step(fn) -> CheckResult:
    """Check ``fn(param, grad, buf, lr, momentum)``: one step of ``torch.optim.SGD`` with momentum.

    PyTorch's rule (no dampening, no weight decay): ``new_buf = momentum·buf + grad``,
    then ``new_param = param − lr·new_buf``. On the first step ``buf`` is zeros
    (PyTorch starts the buffer at the first gradient, the same thing). The
    reference is ``torch.optim.SGD`` itself, run on the same tensors. ``fn`` returns
    new tensors and leaves its arguments as they were.

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
        return p.detach(), new_buf.detach()

    def buffered(param, lr, new_buf):
        return param - lr * new_buf, new_buf

    mistakes = [
        Mistake(_("puts the learning rate in the buffer: PyTorch's buffer is momentum·buf + grad"), _OPTIMISER,
                lambda param, grad, buf, lr, momentum: buffered(param, 1.0, momentum * buf + lr * grad)
                if lr != 1 else None),
        Mistake(_("damps the buffer by (1 − momentum): PyTorch's default has no dampening"), _OPTIMISER,
                lambda param, grad, buf, lr, momentum: buffered(param, lr, momentum * buf + (1 - momentum) * grad)
                if momentum else None),
        Mistake(_("steps with the old buffer: update the buffer first, then step with it"), _OPTIMISER,
                lambda param, grad, buf, lr, momentum: (param - lr * buf, momentum * buf + grad)),
        Mistake(_("adds the step: the parameter moves against the gradient, param − lr·new_buf"), _OPTIMISER,
                lambda param, grad, buf, lr, momentum: (param + lr * (momentum * buf + grad), momentum * buf + grad)),
    ]
    return _run("sgd_momentum_step", fn, cases, reference, _compare_pair(("new_param", "new_buf")), mistakes)


_hints("rmsprop_step",
       _("two updates, in order: first the running average of the squared gradient, then the step, which uses the "
         "new average."),
       _("new_avg = alpha·square_avg + (1 − alpha)·grad²: alpha keeps the old average."),
       _("new_param = param − lr·grad / (sqrt(new_avg) + eps): eps is added after the square root; return the pair."))


def rmsprop_step(fn) -> CheckResult:
    """Check ``fn(param, grad, square_avg, lr, alpha, eps)``: one step of ``torch.optim.RMSprop``.

    PyTorch's rule (no momentum, not centred, no weight decay): first the running
    average of the squared gradient, ``new_avg = alpha·square_avg + (1 − alpha)·grad²``,
    then ``new_param = param − lr·grad / (sqrt(new_avg) + eps)``. The reference is
    ``torch.optim.RMSprop`` itself, run on the same tensors. Some hidden cases use a
    large eps, where adding it inside or outside the square root differs.

    Shapes: param, grad, square_avg: the same shape; lr, alpha, eps: floats -> (new_param, new_avg).

    Example:
        >>> def my_step(param, grad, square_avg, lr, alpha, eps):
        ...     new_avg = alpha * square_avg + (1 - alpha) * grad ** 2
        ...     return param - lr * grad / (new_avg.sqrt() + eps), new_avg
        >>> rmsprop_step(my_step).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    keys = ("param", "grad", "square_avg", "lr", "alpha", "eps")

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    cases = _cases((torch.tensor([1.0, -2.0]), torch.tensor([0.5, -0.1]), torch.zeros(2), 0.01, 0.99, 1e-8),
                   (torch.tensor([1.0, -2.0]), torch.tensor([0.5, -0.1]), torch.tensor([0.04, 0.09]), 0.01, 0.9, 1e-8),
                   (torch.tensor([1.0]), torch.tensor([0.1]), torch.tensor([0.0]), 0.1, 0.5, 0.1),
                   (rand(3, 4), rand(3, 4), rand(3, 4).abs(), 0.001, 0.99, 1e-8),
                   (rand(5), rand(5, scale=0.01), rand(5, scale=0.01).abs(), 0.1, 0.5, 0.1),
                   (rand(2, 3), rand(2, 3), rand(2, 3).abs(), 0.05, 0.0, 1e-2), keys=keys)

    def reference(param, grad, square_avg, lr, alpha, eps):
        p = param.clone().requires_grad_(True)
        optimizer = torch.optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps)
        optimizer.state[p]["step"] = torch.tensor(0.0)
        optimizer.state[p]["square_avg"] = square_avg.clone()
        p.grad = grad.clone()
        optimizer.step()
        return p.detach(), optimizer.state[p]["square_avg"].detach().clone()

    def new(square_avg, grad, alpha):
        return alpha * square_avg + (1 - alpha) * grad ** 2

    mistakes = [
        Mistake(_("puts eps inside the square root: PyTorch adds it to sqrt(new_avg)"), _OPTIMISER,
                lambda param, grad, square_avg, lr, alpha, eps: (
                    param - lr * grad / torch.sqrt(new(square_avg, grad, alpha) + eps), new(square_avg, grad, alpha))),
        Mistake(_("steps with the old average: update square_avg first, then step with it"), _OPTIMISER,
                lambda param, grad, square_avg, lr, alpha, eps: (
                    param - lr * grad / (torch.sqrt(square_avg) + eps), new(square_avg, grad, alpha))),
        Mistake(_("divides by the average itself: divide by its square root"), _OPTIMISER,
                lambda param, grad, square_avg, lr, alpha, eps: (
                    param - lr * grad / (new(square_avg, grad, alpha) + eps), new(square_avg, grad, alpha))),
        Mistake(_("puts alpha on the wrong term: alpha keeps the old average, alpha·square_avg + (1 − alpha)·grad²"),
                _OPTIMISER, lambda param, grad, square_avg, lr, alpha, eps: (
                    param - lr * grad / (torch.sqrt(new(square_avg, grad, 1 - alpha)) + eps),
                    new(square_avg, grad, 1 - alpha)) if alpha != 0.5 else None),
        Mistake(_("forgets the (1 − alpha) before grad²"), _OPTIMISER,
                lambda param, grad, square_avg, lr, alpha, eps: (
                    param - lr * grad / (torch.sqrt(alpha * square_avg + grad ** 2) + eps),
                    alpha * square_avg + grad ** 2) if alpha != 0 else None),
    ]
    return _run("rmsprop_step", fn, cases, reference, _compare_pair(("new_param", "new_avg")), mistakes)
