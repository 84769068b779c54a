"""The paper's training method: stochastic diagonal Levenberg–Marquardt (Sec. II-B, Appendix C).

Plain gradient descent uses one step size for every weight. LeCun et al. (1998)
give each weight w_k its own step ε_k

    ε_k = η / (μ + h_kk),        μ = 0.02,

where h_kk estimates the second derivative ∂²E/∂w_k² of the loss: a weight on
which the loss curves sharply takes small steps, a weight on which it is flat
takes large ones, and μ keeps the step finite where h_kk is near zero. The
h_kk are re-estimated on 500 training samples before each pass and held fixed
during the pass; the global learning rate η follows a fixed schedule (:func:`paper_eta`).

What this module offers:

* :func:`gauss_newton_diagonal` — the h_kk of every parameter of a chain of
  layers (``nn.Sequential``, e.g. :class:`~lenet_helpers.models.LeNet5`).
* :class:`SDLM` — a ``torch.optim.Optimizer`` that steps p ← p − η/(μ + h)·∂E/∂p.
* :func:`paper_eta`, :func:`paper_schedule` — the paper's η for each pass.

The names are the paper's (Appendix C): η is the global learning rate, ε_k the step of parameter k.

How h is computed, and what is approximated
-------------------------------------------

Second derivatives are back-propagated like gradients, one number per unit,
with *squared* weights and *squared* activation derivatives (the paper's
Appendix C). For a unit a_i = Σ_j w_ij x_j + b_i with s_i ≈ ∂²E/∂a_i²:

* weights: ∂²E/∂w_ij² ≈ s_i·x_j², summed over every connection that shares
  the weight (all positions of a convolution kernel); biases: s_i;
* backward through the weights: s_xj = Σ_i w_ij² s_i;
* backward through x = f(a): s_a = f'(a)²·s_x.

For a trainable subsampling unit a = c·(sum of a 2×2 window) + b the
coefficient c multiplies the window sum, so its term is s·(window sum)².
For the partially connected C3 only the kernels of Table I exist; the missing
kernels are zeros and pass nothing back.

Seeds (s at the top of the network), per sample:

* MAP loss with the Euclidean RBF output (LeNet-5, eq. 9):
  E = y_D + log(e^(−j) + Σ_i e^(−y_i)), y_i = Σ_j (x_j − w_ij)² with fixed
  centres w. With p_i = e^(−y_i)/(e^(−j) + Σ_k e^(−y_k)),
  ∂E/∂y_i = δ_iD − p_i and ∂²E/∂y_i² = p_i(1 − p_i), and for each F6 output x_j
  s_xj = Σ_i [ 2·∂E/∂y_i + p_i(1 − p_i)·(2(x_j − w_ij))² ].
* cross-entropy on logits z (a final ``nn.Linear``): s_z = p(1 − p), p = softmax(z).
* ``loss="mse"``, E = ½ Σ_k (y_k − t_k)²: s_y = 1 for every output.

What is exact and what is dropped:

* Exact: the output terms ∂²E/∂y_i² = p_i(1 − p_i) (MAP, cross-entropy) and
  1 (mse) are the exact diagonal of the loss's Hessian w.r.t. the outputs, and
  the RBF's own curvature 2·∂E/∂y_i is kept exactly (y_i is quadratic in x,
  nothing to drop). For a unit that feeds a single path, squared weights and
  squared slopes give exactly its Gauss–Newton second derivative. For a single
  linear layer, or one hidden linear layer, under ``loss="mse"``, h is exactly
  the diagonal of the Hessian (the tests check this against autograd).
* Dropped (1), Gauss–Newton: the f''(a)·∂E/∂x terms. They can be negative;
  without them h ≥ 0, so μ + h > 0 and −η/(μ + h)·∂E/∂w is a descent direction.
* Dropped (2), diagonal: every off-diagonal term, i.e. ∂²E/∂a_i∂a_k between
  different units (such as −p_i p_k of the softmax and of the MAP loss, so the
  seed for an F6 output x_j is not its exact ∂²E/∂x_j²), and the cross terms
  between different connections that share a weight (the positions of a
  convolution kernel). The subsampling coefficient is the exception: it is
  treated as one weight on the window sum, which is exact for that unit.
* Averaging: h is the average over the given samples of the per-sample
  diagonal, i.e. the curvature of the loss of *one* pattern, matching the
  paper's per-pattern updates. (The paper keeps a running average over 500
  patterns; averaging 500 samples at once gives the same kind of estimate.)
* ``nn.Dropout`` is treated as the identity (its evaluation-mode behaviour).
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_choice, check_int, check_module, check_positive, check_tensor
from .layers import SQUASH_A, SQUASH_S, EuclideanRBF, PartialConv2d, Squash, Subsampling
from . import _unchecked

__all__ = [
    "PAPER_MU",
    "PAPER_SAMPLES",
    "PAPER_ETAS",
    "LOSSES",
    "REDUCTIONS",
    "gauss_newton_diagonal",
    "SDLM",
    "paper_eta",
    "paper_schedule",
]

PAPER_MU = 0.02  #: μ of ε_k = η/(μ + h_kk) (Appendix C)
PAPER_SAMPLES = 500  #: samples on which h is re-estimated before each pass
#: The paper's global learning rate η (Sec. III-B): (last pass it applies to, η); after pass 12, 0.00001.
PAPER_ETAS = ((2, 0.0005), (5, 0.0002), (8, 0.0001), (12, 0.00005), (None, 0.00001))
#: The losses :func:`gauss_newton_diagonal` knows ("auto" picks "map" for an RBF output, else "cross_entropy"):
#: "map" is eq. (9), "ml" eq. (8) (E = y_D alone, for an RBF output), "cross_entropy" on logits, "mse" ½ Σ (y − t)².
LOSSES = ("auto", "map", "ml", "cross_entropy", "mse")
#: How the per-sample diagonals are combined: "mean" (the curvature of one pattern's loss) or "sum".
REDUCTIONS = ("mean", "sum")


# ---------------------------------------------------------------------------
# The η schedule
# ---------------------------------------------------------------------------


def paper_eta(pass_number: int) -> float:
    """The paper's global learning rate η for a pass through the training set (1-based).

    0.0005 for passes 1–2, 0.0002 for 3–5, 0.0001 for 6–8, 0.00005 for 9–12,
    0.00001 after.

    Example:
        >>> paper_eta(1), paper_eta(3), paper_eta(13)
        (0.0005, 0.0002, 1e-05)
    """
    pass_number = check_int(pass_number, "pass_number", minimum=1)
    for last, eta in PAPER_ETAS:
        if last is None or pass_number <= last:
            return eta
    raise AssertionError("unreachable")  # pragma: no cover


def paper_schedule(passes: int = 20) -> list:
    """η for passes 1, 2, …, ``passes`` (the paper trains for 20).

    Shapes:
        passes: n -> a list of n floats.

    Example:
        >>> paper_schedule(6)
        [0.0005, 0.0005, 0.0002, 0.0002, 0.0002, 0.0001]
    """
    passes = check_int(passes, "passes", minimum=1)
    return [paper_eta(k) for k in range(1, passes + 1)]


# ---------------------------------------------------------------------------
# Back-propagating diagonal second derivatives
# ---------------------------------------------------------------------------

_WEIGHTED = (nn.Linear, nn.Conv2d, PartialConv2d, Subsampling)
_ACTIVATIONS = (Squash, nn.Tanh, nn.Sigmoid, nn.ReLU)
_PASS_THROUGH = (nn.Flatten, nn.Identity, nn.Dropout)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
_SUPPORTED = _WEIGHTED + _ACTIVATIONS + _PASS_THROUGH + _POOLS + (EuclideanRBF,)
_SUPPORTED_NAMES = ", ".join(t.__name__ for t in _SUPPORTED)


def _layers(model: nn.Sequential) -> list:
    """The chain of layers of ``model``, nested ``nn.Sequential`` flattened: [(name, module), …]."""
    layers = []

    def walk(seq: nn.Module, prefix: str) -> None:
        for name, child in seq.named_children():
            if isinstance(child, nn.Sequential):
                walk(child, f"{prefix}{name}.")
            else:
                layers.append((f"{prefix}{name}", child))

    walk(model, "")
    return layers


def _check_layers(layers: list) -> None:
    if not layers:
        raise ValueError("model must have at least one layer, got an empty nn.Sequential")
    for index, (name, module) in enumerate(layers):
        if not isinstance(module, _SUPPORTED):
            raise TypeError(
                f"gauss_newton_diagonal does not support layer {name!r} ({type(module).__name__}); "
                f"supported layers: {_SUPPORTED_NAMES}"
            )
        if isinstance(module, EuclideanRBF) and index != len(layers) - 1:
            raise TypeError(f"layer {name!r} (EuclideanRBF) must be the last layer of the model")
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            raise TypeError(f"layer {name!r}: only padding_mode='zeros' is supported, got {module.padding_mode!r}")
        if isinstance(module, nn.MaxPool2d) and module.return_indices:
            raise TypeError(f"layer {name!r}: MaxPool2d with return_indices=True is not supported")


def _slope(module: nn.Module, a: torch.Tensor) -> torch.Tensor:
    """f'(a) for the activation layer ``module``."""
    if isinstance(module, Squash):
        return SQUASH_A * SQUASH_S * (1 - torch.tanh(SQUASH_S * a) ** 2)
    if isinstance(module, nn.Tanh):
        return 1 - torch.tanh(a) ** 2
    if isinstance(module, nn.Sigmoid):
        sigma = torch.sigmoid(a)
        return sigma * (1 - sigma)
    return (a > 0).to(a.dtype)  # ReLU


def _window_sum(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(x, k, divisor_override=1)  # divisor 1: a sum, as in Subsampling.forward


def _squared_linear_map(module: nn.Module):
    """(x², V) -> the layer's weighted sum with weights V, for Linear, Conv2d and PartialConv2d."""
    if isinstance(module, nn.Linear):
        return lambda u, v: F.linear(u, v)
    if isinstance(module, nn.Conv2d):
        return lambda u, v: F.conv2d(u, v, None, module.stride, module.padding, module.dilation, module.groups)
    return lambda u, v: F.conv2d(u, v)  # PartialConv2d with its dense (masked) kernel


def _through_layer(module, x, s, need_input, add):
    """Back-propagate s = ∂²E/∂(output)² through one layer whose input was x.

    ``add(param, h)`` accumulates the curvature of a parameter. Returns s for the
    layer's input (None when ``need_input`` is False).
    """
    if isinstance(module, _ACTIVATIONS):
        return s * _slope(module, x) ** 2
    if isinstance(module, _PASS_THROUGH):
        return s.reshape(x.shape)
    if isinstance(module, (nn.Linear, nn.Conv2d, PartialConv2d)):
        channel_dims = [d for d in range(s.ndim) if d != (s.ndim - 1 if isinstance(module, nn.Linear) else 1)]
        if module.bias is not None:
            add(module.bias, s.sum(dim=channel_dims))
        weight = module.dense_weight() if isinstance(module, PartialConv2d) else module.weight
        # The surrogate layer: input x², weights V = W². Its output is linear in V with coefficient x²,
        # so ∂<s, out>/∂V = Σ s·x² (every connection sharing a weight adds its term), and linear in x²
        # with coefficient V, so ∂<s, out>/∂(x²) = Σ_i w_ij² s_i, the s of the layer's input.
        with torch.enable_grad():
            u = (x * x).requires_grad_(need_input)
            v = (weight.detach() ** 2).requires_grad_()
            out = _squared_linear_map(module)(u, v)
            grads = torch.autograd.grad(out, [v, u] if need_input else [v], s)
        h = grads[0]
        if isinstance(module, PartialConv2d):
            h = h[module.out_index, module.in_index]  # only the kernels of Table I are parameters
        add(module.weight, h)
        return grads[1] if need_input else None
    if isinstance(module, Subsampling):
        k = module.kernel_size
        # a = c·(window sum) + b: the coefficient's input is the window sum.
        add(module.weight, (s * _window_sum(x, k) ** 2).sum(dim=(0, 2, 3)))
        add(module.bias, s.sum(dim=(0, 2, 3)))
        if not need_input:
            return None
        with torch.enable_grad():
            u = torch.zeros_like(x).requires_grad_()
            (spread,) = torch.autograd.grad(_window_sum(u, k), u, s)  # s copied to each input of its window
        return spread * module.weight.detach().view(1, -1, 1, 1) ** 2
    if isinstance(module, nn.MaxPool2d):
        # Each output copies one input (weight 1, squared 1): route s back like a gradient.
        with torch.enable_grad():
            u = x.detach().clone().requires_grad_()
            (back,) = torch.autograd.grad(module(u), u, s)
        return back
    if isinstance(module, nn.AvgPool2d):
        # Output i = (window sum)/d_i: every weight of window i is 1/d_i, so s_x = Σ_i s_i/d_i².
        with torch.enable_grad():
            u = torch.zeros_like(x).requires_grad_()
            ones = torch.ones_like(x)
            counts = F.avg_pool2d(
                ones, module.kernel_size, module.stride, module.padding, module.ceil_mode, True, 1
            ).clamp_min(1)
            weights = module(ones) / counts  # 1/d_i for each window
            (back,) = torch.autograd.grad(module(u), u, s * weights)
        return back
    raise TypeError(f"unsupported layer {type(module).__name__}")  # pragma: no cover (checked earlier)


def _seed(loss, last, inputs, output, labels, j, rbf_curvature=True):
    """s at the top of the chain, per sample, and how many layers (from the end) it already covers."""
    if loss == "ml":
        # E = y_D = Σ_j (x_j − w_Dj)²: ∂²E/∂x_j² = 2, exactly (the RBF's own curvature; nothing else)
        x = inputs[-1]
        return torch.full_like(x, 2.0 if rbf_curvature else 0.0), 1
    if loss == "map":
        x = inputs[-1]  # F6's output, N×features
        centers = last.centers.to(x.dtype)
        diff = x.unsqueeze(1) - centers  # N×classes×features: x_j − w_ij
        y = (diff**2).sum(dim=2)
        rubbish = torch.full_like(y[:, :1], -float(j))
        p = torch.softmax(torch.cat([-y, rubbish], dim=1), dim=1)[:, :-1]  # p_i = e^(−y_i)/(e^(−j) + Σ_k e^(−y_k))
        dE_dy = F.one_hot(labels.long(), y.shape[1]).to(x.dtype) - p  # δ_iD − p_i
        # Σ_i 2·∂E/∂y_i = 2(1 − Σ_i p_i) = 2e^(−j)/(e^(−j) + Σ_k e^(−y_k)) > 0: the "rubbish" class j keeps Σp < 1.
        # (Single terms −2p_i of wrong classes are negative; their sum with 2(1 − p_D) is not.)
        first = 2 * dE_dy.sum(dim=1, keepdim=True)
        # p_i(1 − p_i) ≥ 0 since 0 < p_i < 1, times a square: ≥ 0.
        second = torch.einsum("ni,nij->nj", p * (1 - p), (2 * diff) ** 2)
        if not rbf_curvature:  # Gauss–Newton through the RBF layer too: its own curvature dropped
            return second, 1
        return (first + second).clamp_min(0), 1  # clamp only guards against rounding
    if loss == "cross_entropy":
        p = torch.softmax(output, dim=1)
        return p * (1 - p), 0
    return torch.ones_like(output), 0  # mse: E = ½ Σ (y − t)², ∂²E/∂y_k² = 1


def _check_labels(loss: str, labels: torch.Tensor, output: torch.Tensor, name: str) -> None:
    """Raise a clear error unless ``labels`` fit ``loss`` and the model's ``output`` (one batch of it)."""
    if loss == "mse":
        if tuple(labels.shape[1:]) != tuple(output.shape[1:]):
            shape = "×".join(map(str, output.shape[1:]))
            raise ValueError(
                f"labels (targets for loss='mse') must be shaped like the model's output, N×{shape}, got shape {tuple(labels.shape)}"
            )
        return
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D tensor of N class indices for loss={loss!r}, got shape {tuple(labels.shape)}")
    if output.ndim != 2:
        raise ValueError(f"loss={loss!r} needs a model output of shape N×classes, layer {name!r} gives {tuple(output.shape)}")
    if labels.is_floating_point():
        raise TypeError(f"labels must hold integer class indices for loss={loss!r}, got dtype {labels.dtype}")
    classes = output.shape[1]
    if labels.numel() and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must be class indices in 0..{classes - 1}, got values from {labels.min().item()} to {labels.max().item()}")


def gauss_newton_diagonal(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 100,
    loss: str = "auto",
    j: float = 0.1,
    reduction: str = "mean",
    rbf_curvature: bool = True,
) -> Dict[str, torch.Tensor]:
    """The Gauss–Newton estimate h_kk of ∂²E/∂w_k² for every parameter of ``model``.

    Second derivatives are back-propagated with squared weights and squared
    activation slopes (the module docstring lists what is exact and what is
    dropped), one sample at a time in effect, and averaged over the samples.

    Args:
        model: an ``nn.Sequential`` chain (nested ones are flattened) of Conv2d,
            Linear, Subsampling, PartialConv2d, Squash, Tanh, Sigmoid, ReLU,
            MaxPool2d, AvgPool2d, Flatten, Dropout (as identity), Identity, and
            optionally a last EuclideanRBF: e.g. ``LeNet5()``, ``LeNet5Modern()``.
        images: N×… inputs (N×1×32×32 for LeNet-5); the paper uses 500 samples.
        labels: N class indices, or for ``loss="mse"`` targets shaped like the output.
        batch_size: samples processed at once (memory only; the result is the same).
        loss: ``"map"`` (eq. 9, needs the EuclideanRBF output), ``"ml"`` (eq. 8,
            E = y_D alone, for an EuclideanRBF output: its curvature is 2 for every
            F6 output, the MAP term's left out), ``"cross_entropy"`` (logits),
            ``"mse"`` (½ Σ (y − t)²), or ``"auto"``: "map" when the last layer is an
            EuclideanRBF, else "cross_entropy".
        j: the constant of the MAP loss (as :func:`~lenet_helpers.models.map_loss`).
        reduction: ``"mean"`` (default): h of one pattern's loss, averaged over the
            samples; ``"sum"``: summed over them (N times larger).
        rbf_curvature: for an EuclideanRBF output, keep the RBF layer's own curvature
            (y_i is quadratic in F6's output: the term 2·∂E/∂y_i), as the exact
            diagonal does (default). ``False`` drops it: Gauss–Newton through the RBF
            layer too. (Options to measure what each part of h does; the paper's
            method is the default.)

    Returns:
        {parameter name: h}, each h ≥ 0 shaped like its parameter, in the order of
        ``model.named_parameters()``.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 1))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.copy_(torch.tensor([[0.5, -1.0]])), net[0].bias.zero_()
        >>> x, t = torch.tensor([[1.0, 2.0], [3.0, 0.0]]), torch.zeros(2, 1)
        >>> h = gauss_newton_diagonal(net, x, t, loss="mse")
        >>> h["0.weight"]   # s = 1 at the output, so h = mean of x²: (1 + 9)/2, (4 + 0)/2
        tensor([[5., 2.]])
        >>> h["0.bias"]
        tensor([1.])

        LeNet-5 with its MAP loss:

        >>> from lenet_helpers.models import LeNet5
        >>> _ = torch.manual_seed(0)
        >>> h = gauss_newton_diagonal(LeNet5(), torch.randn(4, 1, 32, 32), torch.tensor([0, 1, 2, 3]))
        >>> tuple(h["C3.conv.weight"].shape), all(bool((t >= 0).all()) for t in h.values())
        ((60, 5, 5), True)
    """
    check_module(model)
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model must be an nn.Sequential chain of layers (such as LeNet5()), got {type(model).__name__}"
        )
    images = check_tensor(images, "images", ndim=(2, 3, 4), layout="N×… inputs, batch first")
    labels = check_tensor(labels, "labels", ndim=(1, 2, 3, 4), layout="N labels")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating-point, got dtype {images.dtype}")
    if len(images) == 0:
        raise ValueError("images must hold at least one sample, got none")
    if len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_choice(loss, "loss", LOSSES)
    check_choice(reduction, "reduction", REDUCTIONS)
    if not isinstance(rbf_curvature, bool):
        raise TypeError(f"rbf_curvature must be True or False, got {rbf_curvature!r}")
    check_positive(j, "j")

    layers = _layers(model)
    _check_layers(layers)
    last_name, last = layers[-1]
    rbf_output = isinstance(last, EuclideanRBF)
    if loss == "auto":
        loss = "map" if rbf_output else "cross_entropy"
    elif loss in ("map", "ml") and not rbf_output:
        raise ValueError(f"loss={loss!r} needs an EuclideanRBF last layer, got {type(last).__name__} ({last_name!r})")
    elif loss not in ("map", "ml") and rbf_output:
        raise ValueError(f"an EuclideanRBF output is trained with loss='map' (eq. 9) or 'ml' (eq. 8), got loss={loss!r}")

    named = list(model.named_parameters())
    names = {id(p): name for name, p in named}
    h = {name: torch.zeros_like(p, memory_format=torch.contiguous_format).detach() for name, p in named}

    def add(param: torch.Tensor, value: torch.Tensor) -> None:
        h[names[id(param)]] += value.to(h[names[id(param)]].dtype)

    # Layers below the lowest one with parameters need no s: stop there.
    weighted = [i for i, (_, m) in enumerate(layers) if isinstance(m, _WEIGHTED)]
    lowest = weighted[0] if weighted else len(layers)

    dev = _unchecked.device_of(model)  # checked at the entry
    dtype = next((p.dtype for _, p in named), images.dtype)
    images = images.to(dev, dtype)
    labels = labels.to(dev)
    with torch.no_grad():
        model(images[:1])  # the model's own check of the input shape, with its hints
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        target = labels[start : start + batch_size]
        inputs = []
        with torch.no_grad():
            for _, module in layers:
                inputs.append(x)
                x = x if isinstance(module, nn.Dropout) else module(x)
        if start == 0:
            _check_labels(loss, labels, x, last_name)
        s, covered = _seed(loss, last, inputs, x, target, j, rbf_curvature)
        for index in reversed(range(len(layers) - covered)):
            if index < lowest:
                break
            s = _through_layer(layers[index][1], inputs[index], s, index > lowest, add)
    divisor = len(images) if reduction == "mean" else 1
    return {name: value / divisor for name, value in h.items()}


# ---------------------------------------------------------------------------
# The optimizer
# ---------------------------------------------------------------------------


class SDLM(torch.optim.Optimizer):
    """Stochastic diagonal Levenberg–Marquardt: p ← p − η/(μ + h)·∂E/∂p, one step size ε_k per parameter.

    Build it with names, so that the curvature of each parameter can be found:
    ``SDLM(model.named_parameters())`` or ``SDLM.from_model(model)``. Before
    each pass, estimate h on a few hundred samples (:meth:`estimate`, or
    :meth:`set_curvature` with the dict of :func:`gauss_newton_diagonal`); set
    η for the pass with :func:`paper_eta`. ``lr`` is the paper's global learning rate η.

    Args:
        params: (name, parameter) pairs, or parameter groups (dicts) whose
            ``"params"`` are such pairs (a group may set its own ``lr``, ``mu``).
        lr: the global learning rate η (0.0005 in the paper's first two passes).
        mu: μ, which keeps steps finite where h ≈ 0 (0.02 in the paper).

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 1))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(1.0), net[0].bias.zero_()
        >>> x, t = torch.tensor([[1.0, 2.0]]), torch.zeros(1, 1)
        >>> opt = SDLM.from_model(net, lr=0.1, mu=0.02)
        >>> _ = opt.estimate(net, x, t, loss="mse")   # h = x² = [1, 4] for the weights, 1 for the bias
        >>> opt.step_sizes()["0.weight"]              # 0.1/(0.02 + [1, 4])
        tensor([[0.0980, 0.0249]])
        >>> loss = 0.5 * ((net(x) - t) ** 2).sum()
        >>> loss.backward(); opt.step()
        >>> net[0].weight.detach()   # 1 − ε_k·∂E/∂w with ∂E/∂w = y·x = 3·[1, 2]
        tensor([[0.7059, 0.8507]])

        A pass of the paper's schedule:

        >>> for group in opt.param_groups:
        ...     group["lr"] = paper_eta(3)
    """

    def __init__(self, params, lr: float = paper_eta(1), mu: float = PAPER_MU):
        lr = check_positive(lr, "lr")
        mu = check_positive(mu, "mu")
        if isinstance(params, nn.Module):
            raise TypeError("params must be model.named_parameters(), not the model: use SDLM.from_model(model)")
        if isinstance(params, (torch.Tensor, dict)):
            raise TypeError(
                f"params must be an iterable of (name, parameter) pairs such as model.named_parameters(), got {type(params).__name__}"
            )
        super().__init__(params, dict(lr=lr, mu=mu))

    @classmethod
    def from_model(cls, model: nn.Module, lr: float = paper_eta(1), mu: float = PAPER_MU) -> "SDLM":
        """An SDLM over all trainable parameters of ``model``, with their names.

        Example:
            >>> from lenet_helpers.models import LeNet5
            >>> len(SDLM.from_model(LeNet5()).param_groups[0]["params"])
            12
        """
        check_module(model)
        return cls([(n, p) for n, p in model.named_parameters() if p.requires_grad], lr=lr, mu=mu)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of (name, parameter) pairs (see ``torch.optim.Optimizer.add_param_group``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry of (name, parameter) pairs")
        items = param_group["params"]
        if isinstance(items, (torch.Tensor, set, dict, str)):
            raise TypeError(
                f"params must be a list of (name, parameter) pairs such as model.named_parameters(), got {type(items).__name__}"
            )
        items = list(items)
        if not items:
            raise ValueError("params must hold at least one (name, parameter) pair, got none")
        names, tensors = [], []
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], torch.Tensor)):
                raise TypeError(
                    "SDLM needs each parameter's name to find its curvature: give (name, parameter) pairs, "
                    f"e.g. SDLM(model.named_parameters()) or SDLM.from_model(model); got an item of type {type(item).__name__}"
                )
            names.append(item[0])
            tensors.append(item[1])
        for key in ("lr", "mu"):
            if key in param_group:
                check_positive(param_group[key], key)
        super().add_param_group({**param_group, "params": tensors, "param_names": names})

    def _named(self):
        for group in self.param_groups:
            for name, p in zip(group["param_names"], group["params"]):
                yield group, name, p

    def set_curvature(self, h: Dict[str, torch.Tensor]) -> None:
        """Store h (``{name: tensor}`` from :func:`gauss_newton_diagonal`) for the next steps.

        Every parameter of the optimizer needs an entry of its shape, ≥ 0 and
        finite; entries for other parameters are ignored.
        """
        if not isinstance(h, dict):
            raise TypeError(f"h must be a dict {{parameter name: tensor}}, as gauss_newton_diagonal returns, got {type(h).__name__}")
        checked = {}
        for _, name, p in self._named():
            if name not in h:
                raise ValueError(f"h has no entry for parameter {name!r}")
            value = h[name]
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"h[{name!r}] must be a tensor, got {type(value).__name__}")
            if value.shape != p.shape:
                raise ValueError(f"h[{name!r}] must have the shape of the parameter, {tuple(p.shape)}, got {tuple(value.shape)}")
            if not torch.isfinite(value).all() or (value < 0).any():
                raise ValueError(f"h[{name!r}] must be finite and non-negative (a Gauss–Newton estimate)")
            checked[name] = value
        for _, name, p in self._named():
            self.state[p]["curvature"] = checked[name].detach().to(p.device, p.dtype).clone()

    def estimate(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        """Estimate h with :func:`gauss_newton_diagonal` (same arguments), store it, and return it.

        The paper does this on 500 samples before every pass.
        """
        h = gauss_newton_diagonal(model, images, labels, **kwargs)
        self.set_curvature(h)
        return h

    def _curvature(self, p: torch.Tensor, name: str) -> torch.Tensor:
        state = self.state.get(p, {})
        if "curvature" not in state:
            raise RuntimeError(
                f"SDLM has no curvature for parameter {name!r} yet: call optimizer.estimate(model, images, labels) "
                "or optimizer.set_curvature(h) before step()"
            )
        return state["curvature"]

    def step_sizes(self) -> Dict[str, torch.Tensor]:
        """The step of each parameter, ε_k = lr/(mu + h_kk) with lr the global η: ``{name: tensor shaped like the parameter}``."""
        return {name: group["lr"] / (group["mu"] + self._curvature(p, name)) for group, name, p in self._named()}

    @torch.no_grad()
    def step(self, closure=None):
        """One update p ← p − lr/(mu + h)·p.grad for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group, name, p in self._named():
            h = self._curvature(p, name)
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"SDLM does not support sparse gradients (parameter {name!r})")
            p.add_(p.grad / (group["mu"] + h), alpha=-group["lr"])
        return loss
