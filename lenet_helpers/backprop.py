"""Backpropagation through LeNet-5 by hand: every layer's backward pass, without autograd.

Each function takes what the layer's forward pass saw (its input, its parameters) and ``grad_out``, the
gradient of the loss with respect to the layer's output, and returns the gradients with respect to the
layer's input and parameters: one step of the chain rule. Chained from the loss back to the image they
give every gradient that ``loss.backward()`` gives, and the tests hold them equal to autograd's in float64.

* :func:`squash_backward` — f(a) = A·tanh(S·a): f'(a) = A·S·(1 − tanh²(S·a));
* :func:`conv_backward_input`, :func:`conv_backward_weight`, :func:`conv_backward_bias` — a
  cross-correlation (C1, C5): the input's gradient is a *full* correlation of ``grad_out`` with the kernel
  flipped; the kernel's is a correlation of the input with ``grad_out``, summed over the batch;
* :func:`subsampling_backward` — S2 and S4: coefficient, bias and input;
* :func:`partial_conv_backward` — C3: the gradient flows only along Table I's connections;
* :func:`linear_backward` — F6;
* :func:`rbf_backward` — the Euclidean RBF output (its centres are fixed: only the input gets a gradient);
* :func:`map_loss_backward` — the MAP criterion of eq. (9);
* :func:`lenet5_gradients` — all of them chained: the loss and the gradient of every parameter of a
  :class:`~lenet_helpers.models.LeNet5`, named as in ``model.named_parameters()``;
* :func:`numerical_gradient`, :func:`relative_error`, :func:`gradient_check` — gradient checking done
  right: central differences in float64 and a relative-error rule.

The convolutions run as ``F.conv2d`` (the cross-correlation of chapter 1, in PyTorch's fast form), so
that a whole epoch can be trained with these functions; nothing here records a graph.

Example:
    >>> x, w = torch.randn(2, 1, 6, 6, dtype=torch.float64), torch.randn(3, 1, 3, 3, dtype=torch.float64)
    >>> grad_out = torch.ones(2, 3, 4, 4, dtype=torch.float64)
    >>> conv_backward_input(grad_out, w).shape, conv_backward_weight(x, grad_out).shape
    (torch.Size([2, 1, 6, 6]), torch.Size([3, 1, 3, 3]))
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple

import torch
import torch.nn.functional as F

from ._validate import check_int, check_positive, check_tensor, shape_of
from .layers import SQUASH_A, SQUASH_S

__all__ = [
    "squash_backward",
    "conv_backward_input",
    "conv_backward_weight",
    "conv_backward_bias",
    "subsampling_backward",
    "partial_conv_backward",
    "linear_backward",
    "rbf_backward",
    "map_loss_backward",
    "lenet5_gradients",
    "numerical_gradient",
    "relative_error",
    "GradientCheck",
    "gradient_check",
]


# ---------------------------------------------------------------------------
# Argument checks (once, at each public entry; the private functions after them, which lenet5_gradients and
# gradient_check chain, trust their callers)
# ---------------------------------------------------------------------------


def _real(x, name: str, ndim, layout: str) -> torch.Tensor:
    t = check_tensor(x, name, ndim=ndim, layout=layout)
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    return t


def _same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the shape of {name_a}, {tuple(a.shape)}; got {tuple(b.shape)}")


def _check_targets(target, rows: int, classes: int) -> torch.Tensor:
    target = check_tensor(target, "target", ndim=1, layout="N class indices")
    if target.is_floating_point():
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    if target.shape[0] != rows:
        raise ValueError(f"target must have one label per row of penalties: {target.shape[0]} labels, {rows} rows")
    return target.long()


def _check_j(j) -> float:
    return check_positive(j, "j")


def _check_function(f) -> None:
    if not callable(f):
        raise TypeError(f"f must be a function of one tensor returning a number, got {type(f).__name__}")


# ---------------------------------------------------------------------------
# The squashing function
# ---------------------------------------------------------------------------


def squash_backward(a: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """The gradient through f(a) = A·tanh(S·a): ``grad_out`` · A·S·(1 − tanh²(S·a)), element by element.

    Shapes: a (the pre-activation the forward pass squashed): any; grad_out: the same -> the same.

    Example:
        >>> squash_backward(torch.tensor([0.0]), torch.tensor([1.0]))   # A·S at the origin
        tensor([1.1439])
    """
    a = _real(a, "a", range(0, 9), "any shape")
    grad_out = _real(grad_out, "grad_out", range(0, 9), "the shape of a")
    _same_shape(a, grad_out, "a", "grad_out")
    return _squash_backward(a, grad_out)


def _squash_backward(a, grad_out):
    return grad_out * (SQUASH_A * SQUASH_S) * (1 - torch.tanh(SQUASH_S * a) ** 2)


# ---------------------------------------------------------------------------
# Cross-correlation (C1, C5): input, kernel, bias
# ---------------------------------------------------------------------------


def conv_backward_input(grad_out: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The gradient of a cross-correlation (stride 1, no padding) with respect to its input.

    Each input pixel x[i, j] fed every output Y[i − u, j − v] through the kernel's K[u, v], so its gradient
    is Σ_u,v grad_out[i − u, j − v]·K[u, v]: a **full** correlation (``grad_out`` padded by k − 1 on every
    side) with the kernel **flipped** in both directions, and the kernel's two channel axes swapped.

    Shapes: grad_out: N×Cout×Ho×Wo, weight: Cout×Cin×kh×kw -> N×Cin×(Ho+kh−1)×(Wo+kw−1).

    Example:
        >>> g = torch.zeros(1, 1, 2, 2); g[0, 0, 0, 0] = 1.0          # the first output only
        >>> w = torch.arange(4.0).view(1, 1, 2, 2)
        >>> conv_backward_input(g, w)[0, 0]                            # it read the top-left 2×2 with w
        tensor([[0., 1., 0.],
                [2., 3., 0.],
                [0., 0., 0.]])
    """
    grad_out = _real(grad_out, "grad_out", 4, "N×Cout×Ho×Wo")
    weight = _real(weight, "weight", 4, "Cout×Cin×kh×kw")
    if weight.shape[0] != grad_out.shape[1]:
        raise ValueError(f"weight must have one kernel per channel of grad_out ({grad_out.shape[1]}), "
                         f"got weight of shape {tuple(weight.shape)}")
    return _conv_backward_input(grad_out, weight)


def _conv_backward_input(grad_out, weight):
    kh, kw = weight.shape[2:]
    padded = F.pad(grad_out, (kw - 1, kw - 1, kh - 1, kh - 1))      # full: every position the kernel touched
    return F.conv2d(padded, weight.flip(2, 3).transpose(0, 1))      # flipped, Cout and Cin swapped


def conv_backward_weight(x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """The gradient of a cross-correlation (stride 1, no padding) with respect to its kernel.

    K[o, c, u, v] multiplied x[n, c, i + u, j + v] into Y[n, o, i, j] for **every** position (i, j) and
    every image n, so its gradient sums over both: Σ_n Σ_i,j grad_out[n, o, i, j]·x[n, c, i + u, j + v], a
    correlation of the input with ``grad_out``. ``F.unfold`` lays out, for every position, the k×k patch of
    the input a weight saw there; one product with ``grad_out`` then sums over the images and the positions.

    Shapes: x: N×Cin×H×W, grad_out: N×Cout×Ho×Wo -> Cout×Cin×(H−Ho+1)×(W−Wo+1).

    Example:
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)
        >>> conv_backward_weight(x, torch.ones(1, 1, 2, 2))[0, 0]      # each weight: the sum of what it saw
        tensor([[ 8., 12.],
                [20., 24.]])
    """
    x = _real(x, "x", 4, "N×Cin×H×W")
    grad_out = _real(grad_out, "grad_out", 4, "N×Cout×Ho×Wo")
    if x.shape[0] != grad_out.shape[0] or x.shape[2] < grad_out.shape[2] or x.shape[3] < grad_out.shape[3]:
        raise ValueError(f"x and grad_out must be the same batch, grad_out no larger than x: x {tuple(x.shape)}, "
                         f"grad_out {tuple(grad_out.shape)}")
    return _conv_backward_weight(x, grad_out)


def _conv_backward_weight(x, grad_out):
    n, cin = x.shape[:2]
    cout, ho, wo = grad_out.shape[1:]
    kh, kw = x.shape[2] - ho + 1, x.shape[3] - wo + 1
    patches = F.unfold(x, (kh, kw))                                  # N×(Cin·kh·kw)×(Ho·Wo): what each weight saw
    per_image = torch.bmm(grad_out.reshape(n, cout, ho * wo), patches.transpose(1, 2))   # Σ over positions
    return per_image.sum(dim=0).reshape(cout, cin, kh, kw)                               # Σ over images


def conv_backward_bias(grad_out: torch.Tensor) -> torch.Tensor:
    """The gradient of a convolution's biases: each bias was added at every position of every image.

    Shapes: grad_out: N×Cout×Ho×Wo -> Cout.

    Example:
        >>> conv_backward_bias(torch.ones(2, 3, 4, 4))
        tensor([32., 32., 32.])
    """
    return _conv_backward_bias(_real(grad_out, "grad_out", 4, "N×Cout×Ho×Wo"))


def _conv_backward_bias(grad_out):
    return grad_out.sum(dim=(0, 2, 3))


# ---------------------------------------------------------------------------
# S2 and S4: trainable subsampling
# ---------------------------------------------------------------------------


class _Subsampling(NamedTuple):
    x: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor


def subsampling_backward(x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor, kernel_size: int = 2):
    """The gradients of LeNet-5's subsampling, s = w_c · (sum of a k×k window) + b_c (``layers.Subsampling``).

    * input: every pixel of a window gets w_c · grad_out of its window (the rows and columns the windows
      left out get 0);
    * coefficient w_c: Σ over the batch and the positions of grad_out · (the window's sum);
    * bias b_c: Σ over the batch and the positions of grad_out.

    Shapes: x: N×C×H×W, weight: C, grad_out: N×C×(H//k)×(W//k) -> (N×C×H×W, C, C), as a named triple
    ``(x, weight, bias)``.

    Example:
        >>> x = torch.ones(1, 1, 4, 4)
        >>> dx, dw, db = subsampling_backward(x, torch.tensor([0.5]), torch.ones(1, 1, 2, 2))
        >>> dx[0, 0, 0].tolist(), dw.tolist(), db.tolist()
        ([0.5, 0.5, 0.5, 0.5], [16.0], [4.0])
    """
    x = _real(x, "x", 4, "N×C×H×W")
    weight = _real(weight, "weight", 1, "one coefficient per map")
    grad_out = _real(grad_out, "grad_out", 4, "N×C×(H//k)×(W//k)")
    k = check_int(kernel_size, "kernel_size", minimum=1)
    n, c, h, w = x.shape
    expected = (n, c, h // k, w // k)
    if weight.shape[0] != c or tuple(grad_out.shape) != expected:
        raise ValueError(f"for x of shape {tuple(x.shape)}, weight must have {c} values and grad_out the shape "
                         f"{expected}; got weight {shape_of(weight)}, grad_out {shape_of(grad_out)}")
    return _subsampling_backward(x, weight, grad_out, k)


def _subsampling_backward(x, weight, grad_out, k=2):
    h, w = x.shape[2:]
    sums = F.avg_pool2d(x, k, divisor_override=1)                       # the window sums of the forward pass
    grad_weight = (grad_out * sums).sum(dim=(0, 2, 3))
    grad_bias = grad_out.sum(dim=(0, 2, 3))
    spread = (grad_out * weight.view(1, -1, 1, 1)).repeat_interleave(k, 2).repeat_interleave(k, 3)
    grad_x = F.pad(spread, (0, w - spread.shape[3], 0, h - spread.shape[2]))   # the left-over edge: 0
    return _Subsampling(grad_x, grad_weight, grad_bias)


# ---------------------------------------------------------------------------
# C3: a partially connected convolution (Table I)
# ---------------------------------------------------------------------------


class _Layer(NamedTuple):
    x: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor


def partial_conv_backward(x: torch.Tensor, weight: torch.Tensor, table, grad_out: torch.Tensor):
    """The gradients of a partially connected convolution (C3, ``layers.PartialConv2d``).

    ``weight`` holds one kernel per connection of ``table``, in ``PartialConv2d``'s order (by output map,
    then input map). The backward pass is the dense one with a kernel that is 0 where the table has no X:
    an input map gets gradient only from the output maps it feeds, and only connected kernels get one.

    Shapes: x: N×Cin×H×W, weight: connections×k×k, table: Cin×Cout booleans, grad_out: N×Cout×Ho×Wo ->
    ``(x, weight, bias)``: N×Cin×H×W, connections×k×k, Cout.

    Example:
        >>> from lenet_helpers.layers import C3_TABLE
        >>> dx, dw, db = partial_conv_backward(torch.randn(1, 6, 14, 14), torch.randn(60, 5, 5), C3_TABLE,
        ...                                    torch.randn(1, 16, 10, 10))
        >>> dx.shape, dw.shape, db.shape
        (torch.Size([1, 6, 14, 14]), torch.Size([60, 5, 5]), torch.Size([16]))
    """
    x = _real(x, "x", 4, "N×Cin×H×W")
    weight = _real(weight, "weight", 3, "connections×k×k")
    table = torch.as_tensor(table)
    if table.ndim != 2:
        raise ValueError(f"table must be a 2-D in_channels×out_channels table, got shape {tuple(table.shape)}")
    table = table.bool().to(x.device)
    out_index, in_index = table.t().nonzero(as_tuple=True)               # PartialConv2d's order
    grad_out = _real(grad_out, "grad_out", 4, "N×Cout×Ho×Wo")
    cin, cout = table.shape
    if x.shape[1] != cin or grad_out.shape[1] != cout or weight.shape[0] != len(in_index):
        raise ValueError(f"table {tuple(table.shape)} needs x with {cin} maps, grad_out with {cout} and weight with "
                         f"{len(in_index)} kernels; got x {tuple(x.shape)}, grad_out {tuple(grad_out.shape)}, "
                         f"weight {tuple(weight.shape)}")
    return _partial_conv_backward(x, weight, table, grad_out)


def _partial_conv_backward(x, weight, table, grad_out):
    """:func:`partial_conv_backward` with ``table`` a boolean Cin×Cout tensor on ``x``'s device."""
    out_index, in_index = table.t().nonzero(as_tuple=True)               # PartialConv2d's order
    cin, cout = table.shape
    dense = weight.new_zeros(cout, cin, *weight.shape[1:])
    dense[out_index, in_index] = weight                                  # 0 where Table I has no X
    grad_x = _conv_backward_input(grad_out, dense)
    grad_weight = _conv_backward_weight(x, grad_out)[out_index, in_index]  # the connected kernels only
    return _Layer(grad_x, grad_weight, _conv_backward_bias(grad_out))


# ---------------------------------------------------------------------------
# F6: fully connected
# ---------------------------------------------------------------------------


def linear_backward(x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor):
    """The gradients of a fully connected layer, y = x·Wᵀ + b (``nn.Linear``).

    Shapes: x: N×in, weight: out×in, grad_out: N×out -> ``(x, weight, bias)``: N×in, out×in, out.

    Example:
        >>> dx, dw, db = linear_backward(torch.ones(2, 3), torch.ones(4, 3), torch.ones(2, 4))
        >>> dx.tolist(), dw.shape, db.tolist()
        ([[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]], torch.Size([4, 3]), [2.0, 2.0, 2.0, 2.0])
    """
    x = _real(x, "x", 2, "N×in")
    weight = _real(weight, "weight", 2, "out×in")
    grad_out = _real(grad_out, "grad_out", 2, "N×out")
    if weight.shape[1] != x.shape[1] or grad_out.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(f"x {tuple(x.shape)}, weight {tuple(weight.shape)} and grad_out {tuple(grad_out.shape)} "
                         "do not fit: x is N×in, weight out×in, grad_out N×out")
    return _linear_backward(x, weight, grad_out)


def _linear_backward(x, weight, grad_out):
    return _Layer(grad_out @ weight, grad_out.t() @ x, grad_out.sum(dim=0))


# ---------------------------------------------------------------------------
# The output: Euclidean RBF units and the MAP loss of eq. (9)
# ---------------------------------------------------------------------------


def rbf_backward(x: torch.Tensor, centers: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """The gradient of y_i = Σ_j (x_j − w_ij)² with respect to x: Σ_i grad_out_i · 2(x_j − w_ij).

    The centres are fixed (the RBF codes), so they get no gradient.

    Shapes: x: N×features, centers: classes×features, grad_out: N×classes -> N×features.

    Example:
        >>> rbf_backward(torch.zeros(1, 2), torch.tensor([[1.0, -1.0]]), torch.ones(1, 1))
        tensor([[-2.,  2.]])
    """
    x = _real(x, "x", 2, "N×features")
    centers = _real(centers, "centers", 2, "classes×features")
    grad_out = _real(grad_out, "grad_out", 2, "N×classes")
    if centers.shape[1] != x.shape[1] or grad_out.shape != (x.shape[0], centers.shape[0]):
        raise ValueError(f"x {tuple(x.shape)}, centers {tuple(centers.shape)} and grad_out "
                         f"{tuple(grad_out.shape)} do not fit: x is N×features, centers classes×features, "
                         "grad_out N×classes")
    return _rbf_backward(x, centers, grad_out)


def _rbf_backward(x, centers, grad_out):
    return 2 * (grad_out.sum(dim=1, keepdim=True) * x - grad_out @ centers)


def map_loss_backward(penalties: torch.Tensor, target, j: float = 0.1) -> torch.Tensor:
    """The gradient of the MAP loss (eq. 9, ``layers.map_loss``) with respect to the RBF penalties.

    E = mean over the batch of y_D + log(e^(−j) + Σ_i e^(−y_i)), so
    ∂E/∂y_i = (1[i = D] − e^(−y_i) / (e^(−j) + Σ_k e^(−y_k))) / N: the correct class is pushed down, every
    class up by its share of the competition, the rubbish class keeping a share of its own.

    Shapes: penalties: N×classes, target: N class indices -> N×classes.

    Example:
        >>> map_loss_backward(torch.tensor([[0.0, 2.0]]), torch.tensor([0]))   # right, but not by far
        tensor([[ 0.5098, -0.0663]])
    """
    penalties = _real(penalties, "penalties", 2, "N×classes")
    target = _check_targets(target, penalties.shape[0], penalties.shape[1])
    return _map_loss_backward(penalties, target, _check_j(j))


def _map_loss_backward(penalties, target, j):
    rubbish = torch.full_like(penalties[:, :1], -j)
    shares = torch.softmax(torch.cat([-penalties, rubbish], dim=1), dim=1)[:, :-1]   # e^(−y_i) / (e^(−j) + Σ e^(−y_k))
    grad = -shares
    grad[torch.arange(len(target), device=grad.device), target] += 1.0
    return grad / penalties.shape[0]


# ---------------------------------------------------------------------------
# The whole network
# ---------------------------------------------------------------------------


def _squash(a: torch.Tensor) -> torch.Tensor:
    return SQUASH_A * torch.tanh(SQUASH_S * a)


def _subsample(x, weight, bias):
    return F.avg_pool2d(x, 2, divisor_override=1) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


def lenet5_gradients(model, images: torch.Tensor, target, j: float = 0.1):
    """The MAP loss of a faithful LeNet-5 on a batch, and every parameter's gradient, forward and backward by hand.

    No graph is recorded (it runs under ``torch.no_grad()``): each layer's input is kept on the way forward,
    and the functions of this module take the gradient back from the loss to C1, layer by layer.

    Shapes: images: N×1×32×32, target: N class indices -> ``(loss, gradients)``: a 0-d tensor and a dict
    {parameter name: gradient}, the names and shapes of ``model.named_parameters()``.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> model = LeNet5()
        >>> loss, grads = lenet5_gradients(model, torch.zeros(2, 1, 32, 32), torch.tensor([3, 5]))
        >>> sorted(grads) == sorted(name for name, _ in model.named_parameters())
        True
    """
    from .layers import EuclideanRBF, PartialConv2d, Subsampling

    names = dict(model.named_children()) if isinstance(model, torch.nn.Module) else {}
    try:
        c1, s2, c3 = model.C1.conv, model.S2.subsample, model.C3.conv
        s4, c5, f6, rbf = model.S4.subsample, model.C5.conv, model.F6.linear, model.output
    except AttributeError:
        raise TypeError(f"model must be a faithful LeNet-5 (models.LeNet5), got {type(model).__name__} "
                        f"with layers {list(names)}") from None
    if not (isinstance(s2, Subsampling) and isinstance(c3, PartialConv2d) and isinstance(rbf, EuclideanRBF)):
        raise TypeError(f"model must be a faithful LeNet-5 (models.LeNet5), got {type(model).__name__}")
    images = _real(images, "images", 4, "N×1×32×32")
    if tuple(images.shape[1:]) != (1, 32, 32):
        raise ValueError(f"images must be a batch of N×1×32×32 images, got shape {tuple(images.shape)}")
    target = _check_targets(target, images.shape[0], 10)
    j = _check_j(j)
    with torch.no_grad():
        # forward, keeping what the backward pass needs
        a1 = F.conv2d(images, c1.weight, c1.bias)
        x1 = _squash(a1)
        a2 = _subsample(x1, s2.weight, s2.bias)
        x2 = _squash(a2)
        a3 = F.conv2d(x2, c3.dense_weight(), c3.bias)
        x3 = _squash(a3)
        a4 = _subsample(x3, s4.weight, s4.bias)
        x4 = _squash(a4)
        a5 = F.conv2d(x4, c5.weight, c5.bias)
        x5 = _squash(a5).flatten(1)
        a6 = x5 @ f6.weight.t() + f6.bias
        x6 = _squash(a6)
        penalties = ((x6.unsqueeze(1) - rbf.centers) ** 2).sum(dim=2)
        rubbish = torch.full_like(penalties[:, :1], -j)
        loss = (penalties.gather(1, target.unsqueeze(1)).squeeze(1)
                + torch.logsumexp(torch.cat([-penalties, rubbish], dim=1), dim=1)).mean()
        # backward, from the loss to C1
        g = _rbf_backward(x6, rbf.centers, _map_loss_backward(penalties, target, j))
        g = _squash_backward(a6, g)
        g, gw6, gb6 = _linear_backward(x5, f6.weight, g)
        g = _squash_backward(a5, g.view_as(a5))
        gw5, gb5 = _conv_backward_weight(x4, g), _conv_backward_bias(g)
        g = _squash_backward(a4, _conv_backward_input(g, c5.weight))
        g, gw4, gb4 = _subsampling_backward(x3, s4.weight, g)
        g = _squash_backward(a3, g)
        g, gw3, gb3 = _partial_conv_backward(x2, c3.weight, c3.table.bool().to(x2.device), g)
        g = _squash_backward(a2, g)
        g, gw2, gb2 = _subsampling_backward(x1, s2.weight, g)
        g = _squash_backward(a1, g)
        gw1, gb1 = _conv_backward_weight(images, g), _conv_backward_bias(g)
    grads = {"C1.conv.weight": gw1, "C1.conv.bias": gb1, "S2.subsample.weight": gw2, "S2.subsample.bias": gb2,
             "C3.conv.weight": gw3, "C3.conv.bias": gb3, "S4.subsample.weight": gw4, "S4.subsample.bias": gb4,
             "C5.conv.weight": gw5, "C5.conv.bias": gb5, "F6.linear.weight": gw6, "F6.linear.bias": gb6}
    return loss, grads


# ---------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The gradient of the scalar ``f(x)`` by central differences, (f(x + ε) − f(x − ε)) / 2ε, one entry at a time.

    It computes in ``x``'s dtype: give it float64. In float32 a difference of two nearly equal losses keeps
    only a few significant digits, and the estimate is mostly rounding noise (:func:`gradient_check`
    converts to float64 for that reason).

    Shapes: x: any -> the shape of x.

    Example:
        >>> g = numerical_gradient(lambda t: (t ** 2).sum(), torch.tensor([1.0, -2.0], dtype=torch.float64))
        >>> [round(v, 6) for v in g.tolist()]
        [2.0, -4.0]
    """
    _check_function(f)
    x = _real(x, "x", range(0, 9), "any shape")
    return _numerical_gradient(f, x, check_positive(eps, "eps"))


def _numerical_gradient(f, x, eps):
    x = x.detach().clone()
    grad = torch.zeros_like(x)
    flat, flat_grad = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        kept = flat[i].clone()
        flat[i] = kept + eps
        up = torch.as_tensor(f(x))
        flat[i] = kept - eps
        down = torch.as_tensor(f(x))
        flat[i] = kept
        flat_grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(computed: torch.Tensor, reference: torch.Tensor) -> float:
    """‖computed − reference‖ / (‖computed‖ + ‖reference‖): 0 for equal tensors, 1 for opposite ones.

    Relative, so that it means the same for large and small gradients; 0 when both are 0.

    Shapes: computed and reference: the same shape -> a float.

    Example:
        >>> relative_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))
        0.0
    """
    computed = _real(computed, "computed", range(0, 9), "any shape")
    reference = _real(reference, "reference", range(0, 9), "the shape of computed")
    _same_shape(computed, reference, "computed", "reference")
    return _relative_error(computed, reference)


def _relative_error(computed, reference):
    a, b = computed.detach().double(), reference.detach().double().to(computed.device)
    scale = (a.norm() + b.norm()).item()
    return 0.0 if scale == 0 else ((a - b).norm().item() / scale)


class GradientCheck(NamedTuple):
    """What :func:`gradient_check` found: the ``relative_error``, the ``tolerance`` and whether it ``passed``."""

    relative_error: float
    tolerance: float
    passed: bool


def gradient_check(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, gradient: torch.Tensor, *,
                   eps: float = 1e-6, tolerance: float = 1e-6) -> GradientCheck:
    """Check ``gradient``, a hand-computed ∂f/∂x, against central differences in float64.

    ``x`` is converted to float64 (so ``f`` must work in float64), the numerical gradient taken with step
    ``eps``, and the check passes when their :func:`relative_error` is below ``tolerance``. In float64 a
    right gradient gives about 1e-9 or less; a wrong one 1e-2 or more.

    Shapes: x and gradient: the same shape -> a :class:`GradientCheck`.

    Example:
        >>> x = torch.tensor([0.5, -1.0])
        >>> gradient_check(lambda t: (t ** 3).sum(), x, 3 * x ** 2).passed
        True
        >>> gradient_check(lambda t: (t ** 3).sum(), x, 2 * x).passed
        False
    """
    _check_function(f)
    x = _real(x, "x", range(0, 9), "any shape")
    gradient = _real(gradient, "gradient", range(0, 9), "the shape of x")
    _same_shape(x, gradient, "x", "gradient")
    eps = check_positive(eps, "eps")
    tolerance = check_positive(tolerance, "tolerance")
    numeric = _numerical_gradient(f, x.detach().double(), eps)
    error = _relative_error(gradient.detach().double(), numeric)
    return GradientCheck(error, float(tolerance), error < tolerance)
