"""Self-checks for the page "Backpropagation by hand".

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`conv_backward_input`     ``fn(grad_out, weight) -> tensor`` (N×Cout×Ho×Wo, Cout×Cin×k×k -> N×Cin×H×W)
:func:`conv_backward_params`    ``fn(x, grad_out) -> (grad_weight, grad_bias)`` (Cout×Cin×k×k, Cout)
:func:`subsampling_backward`    ``fn(x, weight, grad_out) -> (grad_x, grad_weight, grad_bias)`` (S2 and S4)
:func:`rbf_map_backward`        ``fn(x, centers, target) -> tensor`` (∂ MAP loss / ∂ F6's output, N×84)
==============================  ===================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import backprop as _backprop
from ..language import Message, _
from ._core import CheckResult, Mistake, _compare_tensor, _hints, _run, _section

__all__ = ["conv_backward_input", "conv_backward_params", "subsampling_backward", "rbf_map_backward"]

_PAGE = "backprop_by_hand"
_CONV_INPUT = _section(_PAGE, _("Convolution: the gradient of the input"))
_CONV_KERNEL = _section(_PAGE, _("Convolution: the gradient of the kernel and the bias"))
_SUBSAMPLING = _section(_PAGE, _("Trainable subsampling"))
_OUTPUT = _section(_PAGE, _("The output: RBF units and the MAP loss"))


def _compare_parts(names):
    """Several results returned together, e.g. (grad_x, grad_weight, grad_bias)."""

    def compare(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            return _("returned a {kind}, where {n} results ({names}) are expected").format(
                kind=type(got).__name__, n=len(names), names=", ".join(names))
        for name, mine, right in zip(names, got, expected):
            if mine is None:
                return _("{name}: returned None, where a tensor of shape {shape} is expected").format(
                    name=name, shape=tuple(right.shape))
            problem = _compare_tensor(mine, right)
            if problem is not None:
                return Message(f"{name}: ", problem)
        return None

    return compare


def _randn(generator, *shape):
    return torch.randn(*shape, generator=generator)


# ---------------------------------------------------------------------------
# Convolution: the input's gradient
# ---------------------------------------------------------------------------

_hints("conv_backward_input",
       _("input pixel x[i, j] was multiplied by K[u, v] into output Y[i − u, j − v], for every (u, v) that keeps "
         "the output inside its map: add up grad_out[i − u, j − v]·K[u, v]."),
       _("that sum is a correlation of grad_out with the kernel turned by 180°: pad grad_out by k − 1 on every "
         "side (a \"full\" correlation, so that the result has the input's size) and flip the kernel in both "
         "directions (.flip(2, 3))."),
       _("with several maps, input map c collects from every output map o through K[o, c]: the kernel's Cout and "
         "Cin axes swap places (.transpose(0, 1)) before F.conv2d."))


def _full(grad_out, weight):
    k_h, k_w = weight.shape[2:]
    return F.pad(grad_out, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))


def conv_backward_input(fn) -> CheckResult:
    """Check ``fn(grad_out, weight)``: the gradient of a cross-correlation (stride 1, no padding) with respect to its
    input, as in ``backprop.conv_backward_input``.

    Shapes: grad_out: N×Cout×Ho×Wo, weight: Cout×Cin×kh×kw -> N×Cin×(Ho+kh−1)×(Wo+kw−1). The hidden cases include
    non-square kernels, one and several channels, and batches of several images.

    Example:
        >>> def full_flipped(g, w):
        ...     kh, kw = w.shape[2:]
        ...     return F.conv2d(F.pad(g, (kw - 1, kw - 1, kh - 1, kh - 1)), w.flip(2, 3).transpose(0, 1))
        >>> conv_backward_input(full_flipped).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    settings = [(1, 1, 1, 4, 3), (2, 1, 6, 6, 3), (2, 3, 2, 5, 5), (3, 2, 2, 4, 3), (1, 4, 3, 3, (2, 3)),
                (2, 6, 16, 10, 5)]
    cases = []
    for n, cout, cin, size, k in settings:
        kh, kw = (k, k) if isinstance(k, int) else k
        cases.append({"grad_out": _randn(g, n, cout, size, size), "weight": _randn(g, cout, cin, kh, kw)})

    def reference(grad_out, weight):
        return _backprop.conv_backward_input(grad_out, weight)

    mistakes = [
        Mistake(_("does not flip the kernel: the input's gradient is a correlation of grad_out with the kernel "
                  "turned by 180° (.flip(2, 3)), since x[i, j] reached Y[i − u, j − v] through K[u, v]"), _CONV_INPUT,
                lambda grad_out, weight: F.conv2d(_full(grad_out, weight), weight.transpose(0, 1))),
        Mistake(_("flips the kernel in one direction only: turn it by 180°, flipping both its rows and its columns "
                  "(.flip(2, 3))"), _CONV_INPUT,
                lambda grad_out, weight: F.conv2d(_full(grad_out, weight), weight.flip(3).transpose(0, 1))),
        Mistake(_("does not pad grad_out: the input's gradient has the input's size, so the correlation is a "
                  "\"full\" one, with grad_out padded by k − 1 on every side"), _CONV_INPUT,
                lambda grad_out, weight: F.conv2d(grad_out, weight.flip(2, 3).transpose(0, 1))
                if grad_out.shape[2] >= weight.shape[2] and grad_out.shape[3] >= weight.shape[3] else None),
        Mistake(_("uses the kernel's channels as they are: input map c collects from every output map o through "
                  "K[o, c], so swap the kernel's first two axes (.transpose(0, 1))"), _CONV_INPUT,
                lambda grad_out, weight: F.conv2d(_full(grad_out, weight), weight.flip(2, 3))
                if weight.shape[0] == weight.shape[1] else None),
        Mistake(_("adds up the gradient over the batch: every image has its own input, and its own gradient"),
                _CONV_INPUT, lambda grad_out, weight: reference(grad_out, weight).sum(dim=0, keepdim=True)
                if grad_out.shape[0] > 1 else None),
    ]
    return _run("conv_backward_input", fn, cases, reference, _compare_tensor, mistakes)


# ---------------------------------------------------------------------------
# Convolution: the kernel's and the bias's gradients
# ---------------------------------------------------------------------------

_hints("conv_backward_params",
       _("one weight K[o, c, u, v] is used at every output position of every image: its gradient adds up what it "
         "contributed everywhere, grad_out[n, o, i, j]·x[n, c, i + u, j + v]."),
       _("for one image and one pair of maps, that sum over (i, j) is a correlation of x[n, c] with grad_out[n, o] "
         "(chapter 1's corr2d); then add over the images n. The bias was added at every position of every image."),
       _("grad_bias = grad_out.sum(dim=(0, 2, 3)); for the kernel, loop over n, o, c with corr2d, or lay out the "
         "patches with F.unfold and multiply."))


def _weight_per_image(x, grad_out):
    return torch.stack([_backprop.conv_backward_weight(x[i:i + 1], grad_out[i:i + 1]) for i in range(len(x))])


def conv_backward_params(fn) -> CheckResult:
    """Check ``fn(x, grad_out)``: the gradients of a cross-correlation's kernel and bias (stride 1, no padding), as
    ``backprop.conv_backward_weight`` and ``backprop.conv_backward_bias``.

    Shapes: x: N×Cin×H×W, grad_out: N×Cout×Ho×Wo -> (grad_weight: Cout×Cin×(H−Ho+1)×(W−Wo+1), grad_bias: Cout).

    Example:
        >>> conv_backward_params(lambda x, g: (F.conv2d(x.transpose(0, 1), g.transpose(0, 1)).transpose(0, 1),
        ...                                    g.sum(dim=(0, 2, 3)))).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    settings = [(1, 1, 1, 4, 2), (3, 1, 2, 6, 4), (2, 3, 2, 5, 3), (4, 2, 3, 7, 5), (2, 6, 4, 8, 6)]
    cases = [{"x": _randn(g, n, cin, size, size), "grad_out": _randn(g, n, cout, out, out)}
             for n, cin, cout, size, out in settings]

    def reference(x, grad_out):
        return (_backprop.conv_backward_weight(x, grad_out), _backprop.conv_backward_bias(grad_out))

    def with_bias(bias):
        return lambda x, grad_out: (_backprop.conv_backward_weight(x, grad_out), bias(grad_out))

    mistakes = [
        Mistake(_("forgets the bias's gradient: each bias was added at every position of every image, so its "
                  "gradient is grad_out summed over the batch and the positions, not 0"), _CONV_KERNEL,
                with_bias(lambda grad_out: torch.zeros(grad_out.shape[1]))),
        Mistake(_("returns None for the bias's gradient: the bias is trained too; its gradient is grad_out summed "
                  "over the batch and the positions"), _CONV_KERNEL, with_bias(lambda grad_out: None)),
        Mistake(_("leaves out the sum over the batch: a weight is shared by every image of the batch, so its "
                  "gradient adds up the gradients of all the images"), _CONV_KERNEL,
                lambda x, grad_out: reference(x[:1], grad_out[:1]) if len(x) > 1 else None),
        Mistake(_("averages over the batch: the loss already is a mean over the batch (grad_out carries the 1/N), "
                  "so the gradients of the images add up"), _CONV_KERNEL,
                lambda x, grad_out: tuple(part / len(x) for part in reference(x, grad_out)) if len(x) > 1 else None),
        Mistake(_("returns one kernel gradient per image: the kernel is shared by every image, so add them up "
                  "over the batch"), _CONV_KERNEL,
                lambda x, grad_out: (_weight_per_image(x, grad_out), grad_out.sum(dim=(0, 2, 3)))),
        Mistake(_("leaves out the sum over the positions for the bias: it was added at every position of the map, "
                  "so add grad_out over dimensions 2 and 3 too"), _CONV_KERNEL,
                with_bias(lambda grad_out: grad_out.sum(dim=0))),
        Mistake(_("flips the kernel's gradient: the flip belongs to the input's gradient; the kernel's is a plain "
                  "correlation of the input with grad_out"), _CONV_KERNEL,
                lambda x, grad_out: (_backprop.conv_backward_weight(x, grad_out).flip(2, 3),
                                     grad_out.sum(dim=(0, 2, 3)))),
    ]
    return _run("conv_backward_params", fn, cases, reference, _compare_parts(("grad_weight", "grad_bias")), mistakes)


# ---------------------------------------------------------------------------
# Trainable subsampling
# ---------------------------------------------------------------------------

_hints("subsampling_backward",
       _("s = w_c · (x₁ + x₂ + x₃ + x₄) + b_c for each 2×2 window: differentiate with respect to each x, to w_c and "
         "to b_c."),
       _("each of the four inputs of a window gets w_c · grad_out of its window; w_c gets grad_out · (the window's "
         "sum), b_c gets grad_out, both added up over the batch and every position of map c."),
       _("the window sums are F.avg_pool2d(x, 2, divisor_override=1); spreading a value over its 2×2 window is "
         ".repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)."))


def _spread(values):
    return values.repeat_interleave(2, 2).repeat_interleave(2, 3)


def subsampling_backward(fn) -> CheckResult:
    """Check ``fn(x, weight, grad_out)``: the gradients of LeNet-5's subsampling s = w_c·(sum of a 2×2 window) + b_c
    with respect to its input, its coefficients and its biases, as ``backprop.subsampling_backward``.

    Shapes: x: N×C×H×W (H and W even), weight: C, grad_out: N×C×(H/2)×(W/2) -> (grad_x: N×C×H×W, grad_weight: C,
    grad_bias: C).

    Example:
        >>> subsampling_backward(lambda x, w, g: (
        ...     (g * w.view(1, -1, 1, 1)).repeat_interleave(2, 2).repeat_interleave(2, 3),
        ...     (g * 4 * F.avg_pool2d(x, 2)).sum(dim=(0, 2, 3)), g.sum(dim=(0, 2, 3)))).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    settings = [(1, 1, 4), (2, 6, 28), (3, 16, 10), (2, 2, 6), (4, 3, 8)]
    cases = [{"x": _randn(g, n, c, size, size), "weight": _randn(g, c) + 0.5,
              "grad_out": _randn(g, n, c, size // 2, size // 2)} for n, c, size in settings]

    def reference(x, weight, grad_out):
        return tuple(_backprop.subsampling_backward(x, weight, grad_out))

    def sums(x):
        return F.avg_pool2d(x, 2, divisor_override=1)

    def replace(position, value):
        def gives(x, weight, grad_out):
            parts = list(reference(x, weight, grad_out))
            parts[position] = value(x, weight, grad_out)
            return tuple(parts)
        return gives

    mistakes = [
        Mistake(_("ignores the coefficient in the input's gradient: each input of a window was multiplied by w_c, "
                  "so it gets w_c · grad_out, not grad_out alone"), _SUBSAMPLING,
                replace(0, lambda x, weight, grad_out: _spread(grad_out))),
        Mistake(_("divides the input's gradient by 4, as for average pooling: S2 adds its four inputs, then "
                  "multiplies by w_c, so each input gets w_c · grad_out"), _SUBSAMPLING,
                replace(0, lambda x, weight, grad_out: _spread(grad_out * weight.view(1, -1, 1, 1)) / 4)),
        Mistake(_("forgets the bias's gradient: b_c was added to every output of map c, so its gradient is "
                  "grad_out summed over the batch and the positions, not 0"), _SUBSAMPLING,
                replace(2, lambda x, weight, grad_out: torch.zeros_like(weight))),
        Mistake(_("returns None for the bias's gradient: b_c is trained too; its gradient is grad_out summed over "
                  "the batch and the positions"), _SUBSAMPLING, replace(2, lambda x, weight, grad_out: None)),
        Mistake(_("leaves out the sum over the batch: w_c and b_c are shared by every image, so add the images' "
                  "gradients up"), _SUBSAMPLING,
                lambda x, weight, grad_out: (reference(x, weight, grad_out)[0],) + reference(x[:1], weight,
                                                                                             grad_out[:1])[1:]
                if len(x) > 1 else None),
        Mistake(_("multiplies grad_out by the window's mean for the coefficient: s adds the window's four inputs, "
                  "so w_c's gradient is grad_out · (the window's sum)"), _SUBSAMPLING,
                replace(1, lambda x, weight, grad_out: (grad_out * sums(x) / 4).sum(dim=(0, 2, 3)))),
        Mistake(_("gives the coefficient the bias's gradient: w_c multiplied the window's sum, so its gradient is "
                  "grad_out · (the window's sum), added up"), _SUBSAMPLING,
                replace(1, lambda x, weight, grad_out: grad_out.sum(dim=(0, 2, 3)))),
    ]
    names = ("grad_x", "grad_weight", "grad_bias")
    return _run("subsampling_backward", fn, cases, reference, _compare_parts(names), mistakes)


# ---------------------------------------------------------------------------
# The output: RBF units and the MAP loss
# ---------------------------------------------------------------------------

_hints("rbf_map_backward",
       _("two steps of the chain rule: the MAP loss's gradient with respect to the penalties y, then the RBF's, "
         "y_i = Σ_j (x_j − w_ij)², with respect to x."),
       _("∂E/∂y_i = (1[i = D] − e^(−y_i) / (e^(−j) + Σ_k e^(−y_k))) / N (the loss is a mean over the batch), and "
         "∂y_i/∂x_j = 2(x_j − w_ij)."),
       _("the shares e^(−y_i) / (e^(−j) + Σ_k e^(−y_k)) are a softmax of −y with the rubbish class's −j as an "
         "eleventh column; then grad_x = 2 · Σ_i g_i · (x − w_i), a sum over the classes."))


def _penalties(x, centers):
    return ((x.unsqueeze(1) - centers) ** 2).sum(dim=2)


def _map_grad(penalties, target, rubbish=True, mean=True):
    logits = -penalties
    if rubbish:
        logits = torch.cat([logits, torch.full_like(penalties[:, :1], -0.1)], dim=1)
    shares = torch.softmax(logits, dim=1)[:, :penalties.shape[1]]
    grad = -shares
    grad[torch.arange(len(target)), target] += 1.0
    return grad / len(target) if mean else grad


def _rbf_grad(x, centers, g, factor=2.0, sign=1.0):
    return factor * sign * (g.sum(dim=1, keepdim=True) * x - g @ centers)


def rbf_map_backward(fn) -> CheckResult:
    """Check ``fn(x, centers, target)``: the gradient of the MAP loss (eq. 9, j = 0.1, a mean over the batch) of the
    RBF penalties y_i = Σ_j (x_j − w_ij)² with respect to F6's output x, as ``backprop.rbf_backward`` after
    ``backprop.map_loss_backward``.

    Shapes: x: N×features, centers: classes×features, target: N class indices -> N×features.

    Example:
        >>> from lenet_helpers import backprop as bp
        >>> rbf_map_backward(lambda x, c, t: bp.rbf_backward(x, c, bp.map_loss_backward(
        ...     ((x[:, None] - c) ** 2).sum(2), t))).passed
        True
    """
    from ..layers import rbf_codes

    g = torch.Generator().manual_seed(1998)
    codes = rbf_codes()
    cases = []
    for n in (1, 4, 7):
        target = torch.randint(0, 10, (n,), generator=g)
        x = codes[target] * 0.3 + 0.7 * torch.rand(n, 84, generator=g) * 2 - 0.7
        cases.append({"x": x, "centers": codes.clone(), "target": target})
    for n in (2, 5):                                        # three classes of four features, close together
        target = torch.randint(0, 3, (n,), generator=g)
        cases.append({"x": torch.randn(n, 4, generator=g) * 0.5, "centers": torch.randn(3, 4, generator=g) * 0.5,
                      "target": target})

    def reference(x, centers, target):
        return _backprop.rbf_backward(x, centers, _backprop.map_loss_backward(_penalties(x, centers), target))

    mistakes = [
        Mistake(_("forgets the competition term: the loss's log(e^(−j) + Σ_i e^(−y_i)) pushes every class's "
                  "penalty up by its share, not only the correct class's down"), _OUTPUT,
                lambda x, centers, target: _rbf_grad(x, centers, F.one_hot(target, centers.shape[0]).to(x.dtype)
                                                     / len(target))),
        Mistake(_("leaves out the rubbish class: e^(−j) is part of the denominator, so the shares are a softmax of "
                  "−y with −j as an extra column"), _OUTPUT,
                lambda x, centers, target: _rbf_grad(x, centers, _map_grad(_penalties(x, centers), target,
                                                                           rubbish=False))),
        Mistake(_("leaves out the 1/N: the MAP loss is a mean over the batch, so every image's gradient is divided "
                  "by the batch size"), _OUTPUT,
                lambda x, centers, target: _rbf_grad(x, centers, _map_grad(_penalties(x, centers), target,
                                                                           mean=False)) if len(target) > 1 else None),
        Mistake(_("forgets the 2 of the square: ∂(x_j − w_ij)²/∂x_j = 2(x_j − w_ij)"), _OUTPUT,
                lambda x, centers, target: reference(x, centers, target) / 2),
        Mistake(_("has the sign of (x − w) the wrong way round: ∂(x_j − w_ij)²/∂x_j = 2(x_j − w_ij), positive when x_j "
                  "is above the centre"), _OUTPUT, lambda x, centers, target: -reference(x, centers, target)),
    ]
    return _run("rbf_map_backward", fn, cases, reference, _compare_tensor, mistakes)
