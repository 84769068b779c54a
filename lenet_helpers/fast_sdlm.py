"""The paper's SDLM one pattern at a time, fast enough to run the paper's 20 passes.

LeCun et al. (1998) update the weights after every single training pattern
(Sec. III-B, Appendix C)::

    w_k ← w_k − ε_k · ∂E_p/∂w_k,   ε_k = η/(μ + h_kk)        (E_p: the MAP loss of pattern p)

with h_kk re-estimated on 500 patterns before each pass and held fixed during it.
:class:`~lenet_helpers.sdlm.SDLM` does exactly this with autograd, but for one
pattern PyTorch spends far more time organising its ~100 small operations than
computing them: milliseconds per pattern, over an hour for 20 passes on one
core. :class:`PatternSDLM` takes the same step for the faithful
:class:`~lenet_helpers.models.LeNet5` with a hand-written forward and backward
pass over preallocated buffers, an order of magnitude faster (``make bench``
times both, ``benchmarks/sdlm_experiments.py --timing`` alone):

* the convolutions C1 and C3 are an im2col copy plus one matrix product, C5 and
  F6 one matrix-vector product each; the positions of C1 and C3 are stored so
  that the 2×2 windows of S2 and S4 are four contiguous slices;
* all 60,000 parameters live in one flat buffer θ, their gradients in another,
  and the update is one fused operation, θ ← θ − ε ⊙ g (ε: every parameter's step ε_k);
* every constant factor of the backward pass (the 2 of the squared distance, the
  A and S of the squashing function f(a) = A·tanh(S·a)) is folded into the step
  sizes ε once per pass, so the backward pass multiplies nothing by constants;
* C1 and C3 use tanh(u) = 2σ(2u) − 1 (a sigmoid is several times cheaper than a tanh).

It is the same arithmetic as ``SDLM``: the tests check the weights after many
steps to 1e-5 in double precision.

What is where:

* :class:`PatternSDLM` — the trainer: ``estimate`` h, set ``eta``, ``step``
  one pattern or ``train_pass`` over a data set, ``copy_to`` a model.
* :func:`train_per_pattern` — the paper's protocol: 20 passes, h re-estimated
  on 500 patterns before each pass, the η schedule, errors after every pass
  (training error also on the fly, as the paper's Figure 5 measures it); and the
  departures that can be measured against it (``eta_scale``,
  ``hold_curvature_after``, ``curvature_floor``, ``mu``, ``j``).
* :func:`eblearn_init` — the initialisation of EBLearn (the C++ library of
  LeCun's group): weights uniform in ±1/√F_i, biases 0, subsampling
  coefficients 1/√(window area) = 0.5.

Speed: ``PatternSDLM(model, compile=True)`` wraps the step in ``torch.compile``
(a minute to compile, then faster again; it falls back to the plain step with a
warning when compiling fails, e.g. without a C++ compiler). On a GPU the same
code runs (every buffer lives on the model's device and the step reads no
number back to the host), but one pattern at a time it is bound by kernel
launches: ``compile={"mode": "reduce-overhead"}`` asks ``torch.compile`` for
CUDA graphs, which replay the whole step as one launch. They need the tensors
the step updates in place at fixed addresses, marked as such: the trainer's
buffers are (the tests check that Inductor then finds no reason to skip CUDA
graphs, and ``tools/gpu_check.sh`` that a GPU replays them).
:meth:`PatternSDLM.step_function` returns the plain step, a function of three
tensors, for capturing by hand.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from typing import Callable, Dict, NamedTuple

import torch
import torch.nn as nn

from . import evaluation
from ._validate import check_int, check_positive, check_tensor
from .layers import SQUASH_A, SQUASH_S, EuclideanRBF, PartialConv2d, Subsampling
from .models import LeNet5
from .sdlm import PAPER_MU, PAPER_SAMPLES, gauss_newton_diagonal, paper_eta

__all__ = ["PatternSDLM", "PassRecord", "train_per_pattern", "eblearn_init", "error_rate"]

_A, _S = SQUASH_A, SQUASH_S
_AS = SQUASH_A * SQUASH_S


# ---------------------------------------------------------------------------
# The layout of the flat parameter buffer
# ---------------------------------------------------------------------------

# (model parameter, rows × columns in θ): C3's weight is stored dense, 16 maps × (6 inputs · 25),
# with zeros where Table I has no connection (their step size is 0, so they stay 0).
_LAYOUT = (
    ("C1.conv.weight", (6, 25)),
    ("C1.conv.bias", (6,)),
    ("S2.subsample.weight", (6,)),
    ("S2.subsample.bias", (6,)),
    ("C3.conv.weight", (16, 150)),
    ("C3.conv.bias", (16,)),
    ("S4.subsample.weight", (16,)),
    ("S4.subsample.bias", (16,)),
    ("C5.conv.weight", (120, 400)),
    ("C5.conv.bias", (120,)),
    ("F6.linear.weight", (84, 120)),
    ("F6.linear.bias", (84,)),
)

# The backward pass computes ĝ = ∂E/∂θ / κ; κ collects every constant factor (see _build_step):
# 2·A from the RBF's squared distance ‖A·t6 − c‖² (2 from the square, A as the step works with c/A), A·S for each squashing layer passed on the way down
# (f'(a) = A·S·(1 − t²)), 4 for each of C1 and C3 (their 1 − t² = 4·r·(1 − r) is computed from
# r = σ(2S·a), which is cheaper than tanh), and A for a weight whose input is a squashed unit A·t
# (C1's input is the image, unscaled). For the weighted sums a_l: ∂E/∂a_l = κ_l·ĝ_l with
_KAPPA_SUM = {name: 2 * _A * _AS**depth * four for name, depth, four in
              (("F6", 1, 1), ("C5", 2, 1), ("S4", 3, 1), ("C3", 4, 4), ("S2", 5, 4), ("C1", 6, 16))}
_KAPPA = {
    "C1.conv.weight": _KAPPA_SUM["C1"],
    "C1.conv.bias": _KAPPA_SUM["C1"],
    "S2.subsample.weight": _KAPPA_SUM["S2"] * _A,
    "S2.subsample.bias": _KAPPA_SUM["S2"],
    "C3.conv.weight": _KAPPA_SUM["C3"] * _A,
    "C3.conv.bias": _KAPPA_SUM["C3"],
    "S4.subsample.weight": _KAPPA_SUM["S4"] * _A,
    "S4.subsample.bias": _KAPPA_SUM["S4"],
    "C5.conv.weight": _KAPPA_SUM["C5"] * _A,
    "C5.conv.bias": _KAPPA_SUM["C5"],
    "F6.linear.weight": _KAPPA_SUM["F6"] * _A,
    "F6.linear.bias": _KAPPA_SUM["F6"],
}


def _check_lenet5(model) -> None:
    if not isinstance(model, LeNet5):
        raise TypeError(f"model must be the faithful LeNet5 (lenet_helpers.models.LeNet5), got {type(model).__name__}")
    c3 = model.C3.conv
    checks = [
        (model.C1.conv.weight.shape == (6, 1, 5, 5) and model.C1.conv.bias is not None, "C1: 6 kernels 1×5×5 with biases"),
        (isinstance(model.S2.subsample, Subsampling) and model.S2.subsample.kernel_size == 2, "S2: 2×2 Subsampling"),
        (isinstance(c3, PartialConv2d) and (c3.in_channels, c3.out_channels, c3.kernel_size) == (6, 16, 5), "C3: PartialConv2d 6→16, 5×5"),
        (isinstance(model.S4.subsample, Subsampling) and model.S4.subsample.kernel_size == 2, "S4: 2×2 Subsampling"),
        (model.C5.conv.weight.shape == (120, 16, 5, 5) and model.C5.conv.bias is not None, "C5: 120 kernels 16×5×5 with biases"),
        (model.F6.linear.weight.shape == (84, 120) and model.F6.linear.bias is not None, "F6: Linear(120, 84)"),
        (isinstance(model.output, EuclideanRBF) and tuple(model.output.centers.shape) == (10, 84), "output: EuclideanRBF 10×84"),
    ]
    for ok, what in checks:
        if not ok:
            raise ValueError(f"model must have the layers of the faithful LeNet5; expected {what}")


def _check_images(images, labels, name: str = "images"):
    images = check_tensor(images, name, ndim=4, layout="N×1×32×32")
    if tuple(images.shape[1:]) != (1, 32, 32):
        raise ValueError(f"{name} must have shape N×1×32×32 (MNIST padded to 32×32), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be floating-point, got dtype {images.dtype}")
    labels = check_tensor(labels, "labels", ndim=1, layout="N class indices")
    if labels.is_floating_point():
        raise TypeError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    if len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
    if len(images) == 0:
        raise ValueError(f"{name} must hold at least one image, got none")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels must be class indices in 0..9, got values from {labels.min().item()} to {labels.max().item()}")
    return images, labels


# ---------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------


class PatternSDLM:
    """Stochastic diagonal Levenberg–Marquardt for the faithful LeNet-5, one pattern per step.

    Each :meth:`step` takes one pattern (x, D) and applies the paper's update
    w ← w − η/(μ + h)·∂E/∂w, E the MAP loss (eq. 9) of that pattern, with a
    hand-written forward and backward pass. The parameters live in a flat buffer
    (:attr:`theta`) while training; :meth:`copy_to` writes them into a model.

    Args:
        model: a :class:`~lenet_helpers.models.LeNet5`; its parameters are copied
            (the model itself is not changed until :meth:`copy_to`). The trainer
            works in the model's dtype and on its device.
        mu: μ of the step η/(μ + h) (0.02 in the paper).
        j: the constant of the MAP loss, eq. (9) (the paper gives no value; 0.1 is usual).
        compile: ``True`` wraps the step in ``torch.compile`` (a dict: its options, e.g.
            ``{"mode": "reduce-overhead"}`` for CUDA graphs on a GPU); if compiling fails
            on the first step, a warning says so and the plain step runs instead.

    Shapes:
        one pattern: an image 1×32×32 (or 32×32) and a class index;
        :attr:`theta`: 60,900 numbers (C3's 60 kernels stored as a dense 16×6×5×5
        block whose 900 unconnected entries stay 0).

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> _ = torch.manual_seed(0)
        >>> model = LeNet5()
        >>> images, labels = torch.randn(20, 1, 32, 32), torch.randint(0, 10, (20,))
        >>> trainer = PatternSDLM(model)
        >>> _ = trainer.estimate(images, labels)      # h on these patterns (the paper uses 500)
        >>> trainer.eta = paper_eta(1)                # 0.0005
        >>> trainer.step(images[0], int(labels[0])) in range(10)   # one update; the class predicted before it
        True
        >>> running_error = trainer.train_pass(images, labels)     # every pattern once, in the given order
        >>> trainer.copy_to(model)                    # the model now holds the trained weights
        >>> model(images[:2]).shape
        torch.Size([2, 10])
    """

    def __init__(self, model: LeNet5, *, mu: float = PAPER_MU, j: float = 0.1, compile: bool | dict = False):
        _check_lenet5(model)
        if not isinstance(compile, (bool, dict)):
            raise TypeError(f"compile must be True, False or a dict of torch.compile options, got {type(compile).__name__}")
        self.mu = check_positive(mu, "mu")
        self.j = check_positive(j, "j")
        self.model = model
        weight = model.C1.conv.weight
        self.device, self.dtype = weight.device, weight.dtype
        if not self.dtype.is_floating_point:
            raise TypeError(f"model parameters must be floating-point, got {self.dtype}")
        sizes = [math.prod(shape) for _, shape in _LAYOUT]
        self._offsets = dict(zip((name for name, _ in _LAYOUT), zip([0] + list(torch.tensor(sizes).cumsum(0)[:-1].tolist()), sizes)))
        factory = dict(device=self.device, dtype=self.dtype)
        self.theta = torch.zeros(sum(sizes), **factory)  #: the flat parameters, in the order of _LAYOUT
        self._grad = torch.zeros_like(self.theta)
        self._steps = torch.zeros_like(self.theta)  # η·κ/(μ + h): the step per entry of the scaled gradient
        self._curvature = None  # h, flat (dense C3, 0 where unconnected)
        self._eta = paper_eta(1)
        c3 = model.C3.conv
        # Where C3's 60 kernels sit in the dense 16×(6·25) block.
        kernel = torch.arange(25, device=self.device)
        self._c3_index = ((c3.out_index.to(self.device) * 150 + c3.in_index.to(self.device) * 25).unsqueeze(1) + kernel).reshape(-1)
        self._c3_mask = torch.zeros(16 * 150, dtype=torch.bool, device=self.device)
        self._c3_mask[self._c3_index] = True
        self._kappa = torch.cat([torch.full((n,), _KAPPA[name], **factory) for (name, _), n in zip(_LAYOUT, sizes)])
        self._centers = model.output.centers.detach().to(**factory)
        #: What the raw step (:meth:`step_function`) takes for a pattern of class D: ``targets[D]`` = c_D/A (10×84).
        self.targets = self._centers / _A
        self.load_from(model)
        self._eager_step = self._build_step()
        self._step = self._eager_step
        if compile is not False:
            self._step = self._compiled({"dynamic": False} | (compile if isinstance(compile, dict) else {}))

    # -- parameters in and out ------------------------------------------------

    def _view(self, buffer: torch.Tensor, name: str) -> torch.Tensor:
        start, size = self._offsets[name]
        shape = dict(_LAYOUT)[name]
        return buffer[start : start + size].view(shape)

    def _flat(self, values: Dict[str, torch.Tensor], name: str = "parameters") -> torch.Tensor:
        """{model parameter name: tensor} -> a flat buffer in θ's layout (C3 scattered to dense)."""
        flat = torch.zeros_like(self.theta)
        for key, _ in _LAYOUT:
            value = values[key].detach().to(self.device, self.dtype)
            if key == "C3.conv.weight":
                self._view(flat, key).view(-1)[self._c3_index] = value.reshape(-1)
            else:
                self._view(flat, key).copy_(value.reshape(dict(_LAYOUT)[key]))
        return flat

    def load_from(self, model: LeNet5) -> None:
        """Copy ``model``'s parameters into :attr:`theta`."""
        _check_lenet5(model)
        self.theta.copy_(self._flat(dict(model.named_parameters())))

    def parameters(self) -> Dict[str, torch.Tensor]:
        """θ as ``{model parameter name: tensor shaped like the model's}`` (copies)."""
        out = {}
        for name, p in self.model.named_parameters():
            view = self._view(self.theta, name)
            value = view.reshape(-1)[self._c3_index] if name == "C3.conv.weight" else view
            out[name] = value.reshape(p.shape).clone()
        return out

    @torch.no_grad()
    def copy_to(self, model: LeNet5 | None = None) -> None:
        """Write :attr:`theta` into ``model``'s parameters (default: the model given at construction)."""
        model = self.model if model is None else model
        _check_lenet5(model)
        values = self.parameters()
        for name, p in model.named_parameters():
            p.copy_(values[name])

    # -- step sizes -------------------------------------------------------------

    @property
    def eta(self) -> float:
        """The global learning rate η of the paper's update (see :func:`~lenet_helpers.sdlm.paper_eta`)."""
        return self._eta

    @eta.setter
    def eta(self, value: float) -> None:
        self._eta = check_positive(value, "eta")
        self._refresh_steps()

    def _refresh_steps(self) -> None:
        if self._curvature is None:
            return
        torch.div(self._kappa * self._eta, self._curvature + self.mu, out=self._steps)
        self._view(self._steps, "C3.conv.weight").view(-1).masked_fill_(~self._c3_mask, 0.0)

    def set_curvature(self, h: Dict[str, torch.Tensor]) -> None:
        """Use ``h`` (``{parameter name: tensor}``, as :func:`~lenet_helpers.sdlm.gauss_newton_diagonal`
        returns) for the next steps: ε_k = η/(μ + h_kk) per parameter."""
        if not isinstance(h, dict):
            raise TypeError(f"h must be a dict {{parameter name: tensor}}, as gauss_newton_diagonal returns, got {type(h).__name__}")
        for name, p in self.model.named_parameters():
            if name not in h:
                raise ValueError(f"h has no entry for parameter {name!r}")
            value = h[name]
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"h[{name!r}] must be a tensor, got {type(value).__name__}")
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"h[{name!r}] must have the shape of the parameter, {tuple(p.shape)}, got {tuple(value.shape)}")
            if not torch.isfinite(value).all() or (value < 0).any():
                raise ValueError(f"h[{name!r}] must be finite and non-negative (a Gauss–Newton estimate)")
        self._curvature = self._flat(h)
        self._refresh_steps()

    def curvature(self) -> Dict[str, torch.Tensor]:
        """The h in use, as ``{parameter name: tensor}``."""
        self._need_curvature()
        out = {}
        for name, p in self.model.named_parameters():
            view = self._view(self._curvature, name)
            value = view.reshape(-1)[self._c3_index] if name == "C3.conv.weight" else view
            out[name] = value.reshape(p.shape).clone()
        return out

    def estimate(self, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> Dict[str, torch.Tensor]:
        """Estimate h on ``images`` (N×1×32×32) with :func:`~lenet_helpers.sdlm.gauss_newton_diagonal` at
        the current θ, use it, and return it. The paper uses 500 patterns before each pass."""
        images, labels = _check_images(images, labels)
        self.copy_to()
        h = gauss_newton_diagonal(self.model, images, labels, j=self.j, **kwargs)
        self.set_curvature(h)
        return h

    def step_sizes(self) -> Dict[str, torch.Tensor]:
        """The step of each parameter, ε_k = η/(μ + h_kk): ``{name: tensor shaped like the parameter}``."""
        return {name: self._eta / (self.mu + h) for name, h in self.curvature().items()}

    def _need_curvature(self) -> None:
        if self._curvature is None:
            raise RuntimeError("PatternSDLM has no curvature yet: call trainer.estimate(images, labels) or trainer.set_curvature(h) first")

    # -- the step ---------------------------------------------------------------

    def _build_step(self) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]:
        """The update for one pattern as a closure over preallocated views (see the module docstring).

        Notation: a_l is a layer's weighted sum, t_l = tanh(S·a_l), so its output is f(a_l) = A·t_l and
        f'(a_l) = A·S·(1 − t_l²). C1 and C3 compute r_l = σ(2S·a_l) instead (t_l = 2r_l − 1,
        1 − t_l² = 4·r_l(1 − r_l)), which is four times cheaper than tanh. Every tensor below is for ONE
        pattern; shapes are maps × positions.
        """
        A, S = _A, _S
        factory = dict(device=self.device, dtype=self.dtype)
        theta, grad, steps = self.theta, self._grad, self._steps
        # rbf: the ten centres c_i/A, then F6's t6 (written there by F6's tanh), so that one product
        # rbfᵀ·p = Σ_i p_i c_i/A + p_j·t6 gives ∂E/∂x6 (below).
        rbf = torch.cat([self._centers / A, torch.zeros(1, 84, **factory)])
        minus_norms = -(self._centers * self._centers).sum(dim=1)  # −‖c_i‖²
        logits = torch.full((11,), -self.j, **factory)  # −y_0 … −y_9, then −j
        one, minus_four, s_ = (torch.full((), value, **factory) for value in (1.0, -4.0, S))
        ones = {n: torch.ones(n, **factory) for n in (784, 196, 100, 25)}  # row sums as matrix-vector products
        # C3's im2col as a gather from S2's 6×14×14 maps: row (map, ki, kj), column (di, dj, a, b); the same
        # index sends C3's input gradients back (scatter-add).
        c, ki, kj, di, dj, a, b = torch.meshgrid(*(torch.arange(n, device=self.device) for n in (6, 5, 5, 2, 2, 5, 5)), indexing="ij")
        gather3 = (c * 196 + (2 * a + di + ki) * 14 + 2 * b + dj + kj).reshape(-1)
        #: Every tensor the step keeps between patterns (for torch.compile: their addresses never change).
        self._buffers = [theta, grad, steps, rbf, minus_norms, logits, one, minus_four, s_, gather3, *ones.values()]

        def views(theta, grad, rbf, logits):
            """The views of θ, of its gradient, of the RBF's rows and of the logits that the step works on."""
            weights = [self._view(theta, name) for name, _ in _LAYOUT]
            W1, b1, c2, b2, W3, b3, c4, b4, W5, b5, W6, b6 = weights
            columns = b1.view(6, 1), c2.view(6, 1), b2.view(6, 1), b3.view(16, 1), c4.view(16, 1), b4.view(16, 1)
            return (*weights, *(self._view(grad, name) for name, _ in _LAYOUT), *columns, W5.t(), W6.t(), W3.t(),
                    rbf.t(), logits[:10])

        def update(x, target, prediction, W1, b1, c2, b2, W3, b3, c4, b4, W5, b5, W6, b6,
                   gW1, gb1, gc2, gb2, gW3, gb3, gc4, gb4, gW5, gb5, gW6, gb6,
                   b1c, c2c, b2c, b3c, c4c, b4c, W5t, W6t, W3t, rbf_t, minus_y) -> None:
            """x: 32×32 image (contiguous); target: c_D/A, the RBF centre of its class over A (84);
            prediction: a 0-d int64 tensor that receives the class predicted before the update."""
            # Positions of C1 and C3 are ordered (di, dj, a, b) for the pixel (2a + di, 2b + dj): each
            # 2×2 window of the next subsampling layer is then 4 slices of one contiguous block.
            # ---- forward ----
            cols1 = x.as_strided((5, 5, 2, 2, 14, 14), (32, 1, 32, 1, 64, 2)).reshape(25, 784)  # im2col
            r1 = torch.sigmoid(torch.addmm(b1c, W1, cols1, beta=2 * S, alpha=2 * S))  # C1: 6 maps × 784 positions
            w1 = torch.add(minus_four, r1.view(6, 4, 196).sum(dim=1), alpha=2)  # S2's window sums of t1 = 2r1 − 1
            t2 = torch.addcmul(b2c, w1, c2c, value=A).mul_(s_).tanh_()  # S2: 6 × (14·14); output A·t2
            cols3 = torch.index_select(t2.view(-1), 0, gather3).view(150, 100)  # im2col; W3 is 0 off Table I
            r3 = torch.sigmoid(torch.addmm(b3c, W3, cols3, beta=2 * S, alpha=2 * S * A))  # C3: 16 × 100
            w3 = torch.add(minus_four, r3.view(16, 4, 25).sum(dim=1), alpha=2)
            t4 = torch.addcmul(b4c, w3, c4c, value=A).mul_(s_).tanh_()  # S4: 16 × (5·5)
            t4f = t4.view(400)
            t5 = torch.addmv(b5, W5, t4f, beta=S, alpha=S * A).tanh_()  # C5: 120
            t6 = torch.tanh(torch.addmv(b6, W6, t5, beta=S, alpha=S * A), out=rbf[10])  # F6: 84, output x6 = A·t6
            # RBF: −y_i = −‖A·t6 − c_i‖² = 2A²·(c_i/A)·t6 − ‖c_i‖² − A²‖t6‖²; MAP: softmax over (−y, −j).
            torch.addmv(minus_norms, rbf[:10], t6, alpha=2 * A * A, out=minus_y)
            minus_y.sub_(torch.dot(t6, t6), alpha=A * A)
            torch.argmax(minus_y, dim=0, out=prediction)  # the smallest penalty y_i wins
            p = torch.softmax(logits, dim=0)  # p_0 … p_9, p_j
            # ---- backward (ĝ = gradient / κ; the κ are folded into the steps) ----
            # ∂E/∂x6 = Σ_i (δ_iD − p_i)·2(x6 − c_i) = 2A·(p_j·t6 + Σ_i p_i c_i/A − c_D/A) = 2A·(rbfᵀp − target)
            v = torch.addmv(target, rbf_t, p, beta=-1)
            torch.mul(v, torch.addcmul(one, t6, t6, value=-1), out=gb6)  # F6: ĝ6 = v·(1 − t6²)
            torch.outer(gb6, t5, out=gW6)
            torch.mul(torch.mv(W6t, gb6), torch.addcmul(one, t5, t5, value=-1), out=gb5)  # C5
            torch.outer(gb5, t4f, out=gW5)
            g4 = torch.mv(W5t, gb5).view(16, 25).mul_(torch.addcmul(one, t4, t4, value=-1))  # S4
            torch.mv(g4, ones[25], out=gb4)
            torch.mv(g4 * w3, ones[25], out=gc4)
            g3 = (g4 * c4c).view(16, 1, 25) * torch.addcmul(r3, r3, r3, value=-1).view(16, 4, 25)  # C3
            g3 = g3.view(16, 100)
            torch.mv(g3, ones[100], out=gb3)
            torch.mm(g3, cols3.t(), out=gW3)
            back = torch.zeros_like(t2).view(-1).scatter_add_(0, gather3, torch.mm(W3t, g3).view(-1))  # col2im
            g2 = back.view(6, 196).mul_(torch.addcmul(one, t2, t2, value=-1))  # S2
            torch.mv(g2, ones[196], out=gb2)
            torch.mv(g2 * w1, ones[196], out=gc2)
            g1 = (g2 * c2c).view(6, 1, 196) * torch.addcmul(r1, r1, r1, value=-1).view(6, 4, 196)  # C1
            g1 = g1.view(6, 784)
            torch.mv(g1, ones[784], out=gb1)
            torch.mm(g1, cols1.t(), out=gW1)
            # ---- the update, all 60,000 parameters at once ----
            theta.addcmul_(steps, grad, value=-1)

        fixed = views(theta, grad, rbf, logits)  # made once: the eager step spends no time on them

        def step(x: torch.Tensor, target: torch.Tensor, prediction: torch.Tensor) -> None:
            update(x, target, prediction, *fixed)

        def step_for_compile(x: torch.Tensor, target: torch.Tensor, prediction: torch.Tensor) -> None:
            # The views are made inside: torch.compile then sees θ, its gradient, the RBF's rows and the logits
            # once each, not as tensors that alias one another (which it handles through copies it may not
            # capture in a CUDA graph).
            update(x, target, prediction, *views(theta, grad, rbf, logits))

        self._step_for_compile = step_for_compile
        return step

    def _compiled(self, options: dict) -> Callable:
        """The step compiled by ``torch.compile(**options)``; if compiling fails on the first call (no C++
        compiler, say), a warning, and the eager step from then on.

        CUDA graphs (``mode="reduce-overhead"``) replay a step that updates tensors in place only if their
        addresses never change and are marked so; otherwise ``torch.compile`` skips them ("mutated inputs").
        Every buffer the step keeps (θ, the gradients, the step sizes, the RBF's rows) lives as long as the
        trainer: they are marked static, the compiled step sees each once (not through views that alias one
        another), and the prediction goes into one more such buffer, from which it is copied where the caller
        wants it.
        """
        import torch._dynamo

        mark_static = getattr(torch._dynamo, "mark_static_address", lambda tensor: None)  # (PyTorch ≥ 2.1)
        new_step = getattr(torch.compiler, "cudagraph_mark_step_begin", lambda: None)
        predicted = torch.zeros((), dtype=torch.long, device=self.device)
        for tensor in [*self._buffers, predicted]:
            mark_static(tensor)
        compiled = torch.compile(self._step_for_compile, **options)

        def run(x, target, prediction):
            new_step()  # one replay per pattern: nothing of the previous one is still in use
            compiled(x, target, predicted)
            prediction.copy_(predicted)

        state = {"step": None}

        def step(x, target, prediction):
            if state["step"] is not None:
                return state["step"](x, target, prediction)
            try:
                run(x, target, prediction)  # compiles before it runs: a failure leaves θ untouched
                state["step"] = run
            except Exception as error:  # noqa: BLE001 (any backend failure: fall back)
                warnings.warn(f"torch.compile failed ({type(error).__name__}: {error}); running the eager step instead")
                state["step"] = self._eager_step
                self._eager_step(x, target, prediction)

        return step

    def step_function(self) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]:
        """The raw step ``f(x, target, prediction)``, uncompiled.

        ``x``: a contiguous 32×32 image; ``target = trainer.targets[label]`` (84 numbers);
        ``prediction``: a 0-d int64 tensor that receives the class the network predicts for ``x``
        before the update. It updates :attr:`theta` in place and reads nothing back to the host,
        so it can be wrapped (``torch.compile(f)``) or captured in a CUDA graph with static
        buffers. No argument checks: use :meth:`step`.
        """
        return self._eager_step

    @torch.no_grad()
    def step(self, image: torch.Tensor, label) -> int:
        """One pattern, one update; returns the class the network predicted for it before the update.

        ``image``: 1×32×32 or 32×32; ``label``: a class index 0–9.
        """
        self._need_curvature()
        image = check_tensor(image, "image", ndim=(2, 3), layout="1×32×32 or 32×32")
        if tuple(image.shape[-2:]) != (32, 32) or (image.ndim == 3 and image.shape[0] != 1):
            raise ValueError(f"image must have shape 1×32×32 or 32×32, got {tuple(image.shape)}")
        if isinstance(label, torch.Tensor):
            if label.numel() != 1 or label.is_floating_point():
                raise ValueError(f"label must be one integer class index, got a tensor of shape {tuple(label.shape)} and dtype {label.dtype}")
            label = int(label.item())
        label = check_int(label, "label", minimum=0)
        if label > 9:
            raise ValueError(f"label must be a class index in 0..9, got {label}")
        x = image.reshape(32, 32).to(self.device, self.dtype).contiguous()
        prediction = torch.zeros((), dtype=torch.long, device=self.device)
        self._step(x, self.targets[label], prediction)
        return int(prediction)

    @torch.no_grad()
    def train_pass(self, images: torch.Tensor, labels: torch.Tensor, order: torch.Tensor | None = None) -> float:
        """One update per pattern, in ``order`` (a permutation of indices; default 0, 1, …, N−1).

        Returns the training error measured on the fly, as the paper's Figure 5 does: the fraction
        of the patterns that the network misclassified just before its update on them.

        Shapes:
            images: N×1×32×32, labels: N, order: M indices into 0..N−1 (M ≤ N patterns are used).
        """
        self._need_curvature()
        images, labels = _check_images(images, labels)
        images = images.to(self.device, self.dtype).reshape(-1, 32, 32).contiguous()
        targets = self.targets[labels.to(self.device).long()]  # N×84: each pattern's c_D/A
        if order is None:
            indices = range(len(images))
        else:
            order = check_tensor(order, "order", ndim=1, layout="pattern indices")
            if order.is_floating_point():
                raise TypeError(f"order must hold integer indices, got dtype {order.dtype}")
            if len(order) and (order.min() < 0 or order.max() >= len(images)):
                raise ValueError(f"order must hold indices in 0..{len(images) - 1}")
            indices = order.tolist()
        labels = labels.to(self.device).long()
        predictions = torch.full_like(labels, -1)
        step = self._step
        for i in indices:
            step(images[i], targets[i], predictions[i])
        seen = predictions >= 0
        return float((predictions[seen] != labels[seen]).float().mean()) if seen.any() else 0.0


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------


@torch.no_grad()
def eblearn_init(model: LeNet5, generator: torch.Generator | None = None) -> LeNet5:
    """Re-initialise ``model`` as EBLearn's LeNet-5 demos do; return it.

    EBLearn is the C++ library of LeCun's group (Sermanet, Kavukcuoglu and LeCun, 2009). Its MNIST demo
    (``demos/mnist/src/train.cpp``) initialises the network with ``forget_param_linear(1, 0.5)``: a weight
    uniform in ±value/F_i^exponent (``linear_module::forget``, ``core/libeblearn/include/ebl_basic.hpp``) and a
    subsampling coefficient value/(window area)^exponent (``subsampling_module::forget``, ``ebl_pooling.hpp``):

    * weights of C1, C3, C5, F6 uniform in ±1/√F_i, F_i the fan-in of the unit
      (for C3, 25 × the number of S2 maps that feed the map, Table I);
    * every bias 0;
    * subsampling coefficients 1/√(window area) = 1/√4 = 0.5 (S2 and S4).

    The paper's own init is uniform in ±2.4/F_i (what ``LeNet5()`` does). The numbers are drawn on the
    CPU (from ``generator``, or PyTorch's global generator) and copied to the model's device, so a
    seed gives the same weights on a GPU as on the CPU.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> model = eblearn_init(LeNet5(), torch.Generator().manual_seed(0))
        >>> model.S2.subsample.weight.tolist(), bool((model.C5.conv.bias == 0).all())
        ([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], True)
        >>> bool(model.C5.conv.weight.abs().max() <= 1 / 400 ** 0.5)
        True
    """
    _check_lenet5(model)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")

    def uniform_(tensor, bound):  # drawn and scaled on the generator's device, then copied to the model's
        noise = torch.rand(tensor.shape, generator=generator, dtype=torch.float64, device=where)
        tensor.copy_((2 * noise - 1) * bound)

    where = generator.device if generator is not None else torch.device("cpu")
    c3 = model.C3.conv
    uniform_(model.C1.conv.weight, 1 / math.sqrt(25))
    uniform_(c3.weight, (1 / c3.fan_in().to(where, torch.float64).sqrt())[c3.out_index.to(where)].view(-1, 1, 1))
    uniform_(model.C5.conv.weight, 1 / math.sqrt(400))
    uniform_(model.F6.linear.weight, 1 / math.sqrt(120))
    for sub in (model.S2.subsample, model.S4.subsample):
        sub.weight.fill_(1 / math.sqrt(sub.kernel_size**2))
    for bias in (model.C1.conv.bias, model.S2.subsample.bias, c3.bias, model.S4.subsample.bias, model.C5.conv.bias, model.F6.linear.bias):
        bias.zero_()
    return model


# ---------------------------------------------------------------------------
# The paper's protocol
# ---------------------------------------------------------------------------


def error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of ``images`` whose predicted class (the smallest RBF penalty) is not the label.

    :func:`lenet_helpers.evaluation.error_rate` on the pair ``(images, labels)``.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> error_rate(LeNet5(), torch.zeros(4, 1, 32, 32), torch.tensor([0, 1, 2, 3])) >= 0.75
        True
    """
    return evaluation.error_rate(model, (images, labels), batch_size=batch_size)


class PassRecord(NamedTuple):
    """What :func:`train_per_pattern` measures after each pass (errors are fractions)."""

    pass_number: int
    eta: float  #: the global learning rate η of the pass
    train_error: float | None  #: on the training patterns, after the pass (None if not measured)
    running_train_error: float  #: on the fly during the pass, each pattern just before its update (the paper's Fig. 5)
    errors: dict  #: {name: error} for each evaluation set, after the pass
    seconds: float  #: time of the pass's updates (curvature estimate and evaluation excluded)
    step_min: float  #: the smallest step ε_k = η/(μ + h_kk) of the pass (connected weights)
    step_max: float  #: the largest step of the pass


def train_per_pattern(
    model: LeNet5,
    train_data,
    *,
    passes: int = 20,
    eval_data: dict | None = None,
    etas=None,
    eta_scale: float = 1.0,
    mu: float = PAPER_MU,
    j: float = 0.1,
    samples: int = PAPER_SAMPLES,
    hold_curvature_after: int | None = None,
    curvature_floor: float = 0.0,
    curvature_scale: float = 1.0,
    curvature_options: dict | None = None,
    seed: int = 0,
    compile: bool | dict = False,
    train_error: bool = True,
    log: Callable[[str], None] | None = None,
) -> list:
    """Train ``model`` as the paper does: per-pattern SDLM, h re-estimated on ``samples`` patterns before each pass.

    Before pass k: pick ``samples`` random training patterns and estimate h on
    them (unless ``hold_curvature_after`` says to keep an earlier h), set
    η = ``eta_scale`` × ``etas[k-1]`` (the paper's schedule by default),
    then update once per pattern in a fresh random order. After the pass, measure
    the error on the training patterns and on every set of ``eval_data``.

    Args:
        model: a :class:`~lenet_helpers.models.LeNet5` (initialised as you wish, e.g.
            :func:`eblearn_init`); it holds the trained weights at the end.
        train_data: (images N×1×32×32, labels N).
        eval_data: {name: (images, labels)}, e.g. ``{"validation": …, "test": …}``.
        etas: the global learning rate η for each pass (default :func:`~lenet_helpers.sdlm.paper_schedule`).
        eta_scale: a factor on every η (1 = the paper).
        mu, j: μ of the step and j of the MAP loss.
        samples: patterns h is estimated on (500 in the paper).
        hold_curvature_after: estimate h before passes 1…k only, and keep the h of
            pass k afterwards (None = re-estimate every pass, as the paper).
        curvature_floor: use max(h, floor) (0 = the paper).
        curvature_scale: use h × scale (1 = the paper).
        curvature_options: more arguments for :func:`~lenet_helpers.sdlm.gauss_newton_diagonal`
            (``loss="ml"``, ``reduction="sum"``, ``rbf_curvature=False``), to measure how each part of
            the estimate matters (None = the paper's estimate).
        seed: seeds the patterns picked for h and the order of each pass.
        compile: compile the step with ``torch.compile`` (see :class:`PatternSDLM`).
        train_error: measure the error on all training patterns after each pass (False: leave
            ``PassRecord.train_error`` None and keep only the error measured on the fly).
        log: called with one line per pass (e.g. ``print``).

    Returns:
        A list of :class:`PassRecord`, one per pass.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(30, 1, 32, 32), torch.randint(0, 10, (30,))
        >>> history = train_per_pattern(LeNet5(), (x, y), passes=2, samples=10, eval_data={"val": (x[:10], y[:10])})
        >>> [r.pass_number for r in history], sorted(history[0].errors)
        ([1, 2], ['val'])
    """
    _check_lenet5(model)
    passes = check_int(passes, "passes", minimum=1)
    if not isinstance(train_data, (tuple, list)) or len(train_data) != 2:
        raise TypeError("train_data must be a pair (images N×1×32×32, labels N)")
    images, labels = _check_images(*train_data)
    eval_data = {} if eval_data is None else eval_data
    if not isinstance(eval_data, dict):
        raise TypeError(f"eval_data must be a dict {{name: (images, labels)}}, got {type(eval_data).__name__}")
    for name, pair in eval_data.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"eval_data[{name!r}] must be a pair (images, labels)")
        _check_images(*pair, name=f"eval_data[{name!r}] images")
    if etas is None:
        etas = [paper_eta(k) for k in range(1, passes + 1)]
    etas = [check_positive(e, "etas[]") for e in etas]
    if len(etas) < passes:
        raise ValueError(f"etas must give one η per pass: {len(etas)} for {passes} passes")
    eta_scale = check_positive(eta_scale, "eta_scale")
    samples = check_int(samples, "samples", minimum=1)
    if hold_curvature_after is not None:
        hold_curvature_after = check_int(hold_curvature_after, "hold_curvature_after", minimum=1)
    if isinstance(curvature_floor, bool) or not isinstance(curvature_floor, numbers.Real) or not curvature_floor >= 0:
        raise ValueError(f"curvature_floor must be a number ≥ 0, got {curvature_floor!r}")
    curvature_scale = check_positive(curvature_scale, "curvature_scale")
    if curvature_options is not None and not isinstance(curvature_options, dict):
        raise TypeError(f"curvature_options must be a dict of gauss_newton_diagonal arguments, got {type(curvature_options).__name__}")
    seed = check_int(seed, "seed", minimum=0)

    dev = next(model.parameters()).device
    images, labels = images.to(dev), labels.to(dev)
    trainer = PatternSDLM(model, mu=mu, j=j, compile=compile)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for k in range(1, passes + 1):
        pick = torch.randperm(len(images), generator=generator)[:samples].to(dev)
        order = torch.randperm(len(images), generator=generator)
        if hold_curvature_after is None or k <= hold_curvature_after:
            h = trainer.estimate(images[pick], labels[pick], **(curvature_options or {}))
            if curvature_floor > 0 or curvature_scale != 1:
                h = {name: (curvature_scale * value).clamp_min(curvature_floor) for name, value in h.items()}
                trainer.set_curvature(h)
        trainer.eta = eta_scale * etas[k - 1]
        steps = torch.cat([s.reshape(-1) for s in trainer.step_sizes().values()])
        start = time.perf_counter()
        running = trainer.train_pass(images, labels, order)
        seconds = time.perf_counter() - start
        trainer.copy_to(model)
        if not torch.isfinite(trainer.theta).all():
            error = FloatingPointError(f"the weights became infinite or NaN in pass {k}")
            error.history = history  # the passes measured before
            raise error
        record = PassRecord(
            k,
            trainer.eta,
            error_rate(model, images, labels) if train_error else None,
            running,
            {name: error_rate(model, *pair) for name, pair in eval_data.items()},
            seconds,
            float(steps.min()),
            float(steps.max()),
        )
        history.append(record)
        if log is not None:
            shown = ", ".join(f"{name} {100 * e:.2f}%" for name, e in record.errors.items())
            after = f"{100 * record.train_error:.2f}%" if train_error else "not measured"
            log(f"pass {k:2d}: η {record.eta:.2e}, train {after} "
                f"(on the fly {100 * running:.2f}%){', ' + shown if shown else ''}, "
                f"{seconds:.0f} s, steps {record.step_min:.1e}–{record.step_max:.1e}")
    return history
