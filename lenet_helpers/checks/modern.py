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

from ._core import (
    CheckResult,
    _cases,
    _compare_scalar,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["squash_slope", "shift_image", "batch_norm", "sgd_momentum_step", "rmsprop_step", "cross_entropy"]


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
    "mlp_parameters": ("a linear layer from n inputs to m units has n·m weights and m biases: 1024→57, 57→48, "
                       "48→10.", _mlp_parameters),
    "batch_norm_extra_parameters": ("batch normalisation adds γ and β for each channel of C1, C3, C5 and each unit "
                                    "of F6, and those layers drop their biases.", _batch_norm_extra_parameters),
}


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

    def reference(y):
        value = S / A * (A ** 2 - y ** 2)
        return _Expected(value, {
            "A·S·(1 − y²) (inside, use tanh(S·a) = y/A, not y)": A * S * (1 - y ** 2),
            "the slope of the plain tanh, 1 − y² (f is A·tanh(S·a): divide y by A and multiply by A·S)": 1 - y ** 2,
            "a missing factor A (f'(a) = A·S·(1 − tanh²(S·a)))": S * (1 - (y / A) ** 2),
            "a missing factor S (the chain rule: the derivative of tanh(S·a) brings out S)": A * (1 - (y / A) ** 2),
        })

    def hint(args):
        return (f"f'(a) = A·S·(1 − tanh²(S·a)) with A = {A}, S = 2/3, and tanh(S·a) = y/A: write it with y only. "
                "At y = 0 the slope is A·S ≈ 1.1439.")

    return _run("squash_slope", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


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

    def reference(image, dx, dy, fill):
        value = moved(image, dx, dy, fill)
        mistakes = {"the other direction (dx > 0 moves the image right, dy > 0 down)": moved(image, -dx, -dy, fill),
                    "dx and dy swapped (dx moves along a row, i.e. changes the column)": moved(image, dy, dx, fill)}
        if dx or dy:
            mistakes["torch.roll's wrap-around (what leaves on one side must not come back on the other)"] = (
                torch.roll(image, shifts=(dy, dx), dims=(0, 1)))
            if fill != 0:
                mistakes["zeros where the image was uncovered (fill them with `fill`, the background)"] = (
                    moved(image, dx, dy, 0.0))
        return _Expected(value, mistakes)

    def hint(args):
        return ("start from torch.full_like(image, fill), then copy the part of the image that stays inside: "
                "output[i, j] = image[i - dy, j - dx] wherever both indices are within the image.")

    return _run("shift_image", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


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
        new_avg = optimizer.state[p]["square_avg"].detach().clone()
        value = (p.detach(), new_avg)
        mistakes = {}
        mistakes["eps inside the square root (PyTorch adds it to sqrt(new_avg))"] = (
            param - lr * grad / torch.sqrt(new_avg + eps), new_avg)
        mistakes["a step with the old average (update square_avg first, then step with it)"] = (
            param - lr * grad / (torch.sqrt(square_avg) + eps), new_avg)
        mistakes["a step divided by the average itself (divide by its square root)"] = (
            param - lr * grad / (new_avg + eps), new_avg)
        if alpha != 0.5:
            swapped = (1 - alpha) * square_avg + alpha * grad ** 2
            mistakes["alpha on the wrong term (alpha keeps the old average: alpha·square_avg + (1 − alpha)·grad²)"] = (
                param - lr * grad / (torch.sqrt(swapped) + eps), swapped)
        if alpha != 0:
            plain = alpha * square_avg + grad ** 2
            mistakes["a missing (1 − alpha) before grad²"] = (param - lr * grad / (torch.sqrt(plain) + eps), plain)
        return _Expected(value, mistakes)

    def hint(args):
        return ("first the average: new_avg = alpha·square_avg + (1 − alpha)·grad²; then the step: "
                "new_param = param − lr·grad / (sqrt(new_avg) + eps). Return both, as a pair.")

    return _run("rmsprop_step", fn, cases, reference, _compare_with_mistakes(_compare_step), hint)
