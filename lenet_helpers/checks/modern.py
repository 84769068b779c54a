"""Self-checks for chapter 6, what changed since 1998.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`batch_norm`              ``fn(x) -> tensor``
:func:`cross_entropy`           ``fn(logits, target) -> tensor``
:func:`sgd_momentum_step`       ``fn(param, grad, buf, lr, momentum) -> (param, buf)``
==============================  ===================================================
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

__all__ = ["batch_norm", "cross_entropy", "sgd_momentum_step"]


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
