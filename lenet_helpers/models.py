"""LeNet-5 as the 1998 paper built it, and the two variants tutorials usually show.

* :class:`LeNet5` is faithful to LeCun, Bottou, Bengio and Haffner (1998), Sec. II-B
  and Appendix A: 32×32 input, the scaled tanh f(a) = 1.7159·tanh(2a/3) after
  every layer up to F6, trainable subsampling in S2 and S4, C3 connected to S2
  through Table I, an 84-unit F6 and ten Euclidean RBF output units whose fixed
  ±1 parameters are 7×12 bitmaps of the digits. It is trained with the MAP
  criterion of eq. (9), :func:`map_loss`.
* :class:`LeNet5Modern` is how LeNet-5 is usually rebuilt today: ReLU, max
  pooling, a dense C3 and a linear 10-way output trained with cross-entropy.
* :class:`LeNetD2L` is the sigmoid + average-pooling network of many tutorials
  (including *Dive into Deep Learning*): 28×28 input with padding 2.
* :class:`MLP` is a fully connected network of about the same number of parameters,
  the kind of network Sec. II-A argues against (chapter 6 measures the argument).

The paper's own layers (the squash, trainable subsampling, C3 with Table I, the RBF
output, the MAP loss) are in :mod:`lenet_helpers.layers`; this module re-exports them.

Every model is an ``nn.Sequential`` of named layers (C1, S2, …), so
``model.C3`` is the C3 layer, and has ``trace()`` (the output shape of each
layer), ``activations(x)`` (the output of each layer), ``loss(output, target)``,
``scores(output)`` (higher means more likely) and ``predict(x)``.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._table import Table
from ._validate import check_choice, check_input_size, check_module, check_tensor, shape_of
from .layers import (  # noqa: F401  (re-exported: models.Squash is layers.Squash)
    C3_TABLE,
    RBF_BITMAPS,
    SQUASH_A,
    SQUASH_S,
    TABLE_I,
    EuclideanRBF,
    PartialConv2d,
    Squash,
    Subsampling,
    map_loss,
    rbf_codes,
    squash,
    uniform_fan_in_,
)
from .language import _
from . import _unchecked
from .modules import describe, device_of, evaluating  # noqa: F401  (describe re-exported)
from .tracing import trace

__all__ = [
    "SQUASH_A",
    "SQUASH_S",
    "TABLE_I",
    "C3_TABLE",
    "RBF_BITMAPS",
    "rbf_codes",
    "squash",
    "Squash",
    "Subsampling",
    "PartialConv2d",
    "EuclideanRBF",
    "map_loss",
    "uniform_fan_in_",
    "LeNet5",
    "LeNet5Modern",
    "LeNetD2L",
    "VARIANT_ACTIVATIONS",
    "VARIANT_POOLINGS",
    "LeNetVariant",
    "lenet_variant",
    "MLP",
    "trace_shapes",
    "layer_calls",
    "layer_outputs",
    "describe",
]

# ---------------------------------------------------------------------------
# Tracing: the output of each layer
# ---------------------------------------------------------------------------


class LayerShape(NamedTuple):
    layer: str
    kind: str
    output_shape: tuple


def layer_calls(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Run ``model`` on ``x`` (moved to the model's device) and return (name, layer, output) for each call of a
    top-level layer, in the order of the calls; gradients as the caller has them.

    Shapes:
        x: N×C×H×W -> [(name, layer, its output N×…), …].

    Example:
        >>> [(name, tuple(out.shape)) for name, _layer, out in layer_calls(LeNet5(), torch.zeros(1, 1, 32, 32))][:2]
        [('C1', (1, 6, 28, 28)), ('S2', (1, 6, 14, 14))]
    """
    check_module(model)
    x = check_tensor(x, "x", ndim=4, layout="N×C×H×W")
    return _unchecked.layer_calls(model, x.to(_unchecked.device_of(model)))


def trace_shapes(model: nn.Module, input_size) -> Table:
    """The output shape of each step of ``model``'s ``forward`` for one input image, in the order they run.

    A step is a call of a top-level layer, named by its attribute (``conv1``),
    or a function that the model's own ``forward`` calls, named by the function
    (``max_pool2d`` for ``F.max_pool2d``, ``flatten`` for ``torch.flatten``),
    its kind ending in "(function)" (see :mod:`lenet_helpers.tracing`). A model
    built on the ``meta`` device is traced without computing anything.

    Shapes:
        input_size: (C, H, W). Returns a table with one row for the input and one
        per step: (layer, kind, output_shape), shapes without the batch dimension.

    Example:
        >>> [row.output_shape for row in trace_shapes(LeNet5(), (1, 32, 32))]
        [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = nn.Conv2d(1, 2, 3)
        ...     def forward(self, x):
        ...         return F.max_pool2d(self.conv(x), 2)
        >>> [tuple(row) for row in trace_shapes(Net(), (1, 6, 6))][1:]
        [('conv', 'conv 3×3, 1→2', (2, 4, 4)), ('max_pool2d', 'max pool 2×2 (function)', (2, 2, 2))]
    """
    steps = trace(model, input_size).steps
    table = Table([LayerShape(_("input").phrase(), "", check_input_size(input_size))])
    table += [LayerShape(step.name, step.kind, step.output_shape) for step in steps]
    table.code_columns = ("layer",)  # the names of the model's layers and of the functions it calls
    return table


def layer_outputs(model: nn.Module, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
    """The output of every top-level layer of ``model`` for the batch ``x`` (detached).

    ``x`` is moved to the model's device (as :func:`trace_shapes` does); the outputs stay there.

    Shapes:
        x: N×C×H×W -> {layer name: its output, N×…}.

    Example:
        >>> outs = layer_outputs(LeNet5(), torch.zeros(1, 1, 32, 32))
        >>> {name: tuple(t.shape) for name, t in outs.items()}["S4"]
        (1, 16, 5, 5)
    """
    with torch.no_grad():
        calls = layer_calls(model, x)
    return OrderedDict((name, out.detach()) for name, _, out in calls)


# ---------------------------------------------------------------------------
# The three models
# ---------------------------------------------------------------------------


class _LeNet(nn.Sequential):
    """What the course's models share: named layers, tracing, a loss and a decision rule."""

    input_size = (1, 32, 32)  # C×H×W of one input image

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.input_size
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != self.input_size:
            message = _("{model} expects a batch of images of shape {expected}, got {got}.").format(
                model=type(self).__name__, expected=f"N×{c}×{h}×{w}", got=shape_of(x))
            if isinstance(x, torch.Tensor) and x.ndim == 4 and tuple(x.shape[2:]) == (28, 28) and h == 32:
                message = message + " " + _("MNIST digits are 28×28: pad them to 32×32, e.g. {call}.").format(
                    call="data.mnist_tensors(size=32)")
            raise ValueError(str(message))
        return super().forward(x)

    def trace(self, input_size=None) -> Table:
        """The output shape of each layer (see :func:`trace_shapes`); defaults to the model's input size."""
        return trace_shapes(self, self.input_size if input_size is None else input_size)

    def activations(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        """The output of each layer for the batch ``x`` (see :func:`layer_outputs`)."""
        return layer_outputs(self, x)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training criterion for this model's output: cross-entropy on the logits."""
        return F.cross_entropy(output, target)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Class scores from the model's output, higher = more likely (here the logits themselves)."""
        return output

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class for each image of ``x`` (N×C×H×W -> N, on the model's device, where ``x`` is moved)."""
        if isinstance(x, torch.Tensor):
            x = x.to(device_of(self))
        with torch.no_grad():
            return self.scores(self(x)).argmax(dim=1)


class LeNet5(_LeNet):
    """LeNet-5 as in the 1998 paper (Sec. II-B). Input 1×32×32; output: ten RBF penalties.

    ========  ==================================================  ==========
    layer     what                                                output
    ========  ==================================================  ==========
    C1        conv 5×5, 1→6, then squash                          6×28×28
    S2        trainable subsampling 2×2, then squash              6×14×14
    C3        conv 5×5, 6→16 through Table I, then squash         16×10×10
    S4        trainable subsampling 2×2, then squash              16×5×5
    C5        conv 5×5, 16→120, then squash                       120×1×1
    F6        fully connected 120→84, then squash                 84
    output    Euclidean RBF with fixed 7×12 bitmaps               10
    ========  ==================================================  ==========

    The output is a penalty per class (small = good): predict with ``argmin``
    (or ``model.predict(x)``), train with :func:`map_loss` (``model.loss``).
    Weights start uniform in ±2.4/F_i, F_i the fan-in of the unit (Appendix A).

    Example:
        >>> model = LeNet5()
        >>> model(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in model.parameters())
        60000
    """

    def __init__(self):
        super().__init__(
            OrderedDict(
                C1=nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 6, 5), squash=Squash())),
                S2=nn.Sequential(OrderedDict(subsample=Subsampling(6), squash=Squash())),
                C3=nn.Sequential(OrderedDict(conv=PartialConv2d(C3_TABLE, 5), squash=Squash())),
                S4=nn.Sequential(OrderedDict(subsample=Subsampling(16), squash=Squash())),
                C5=nn.Sequential(OrderedDict(conv=nn.Conv2d(16, 120, 5), squash=Squash())),
                F6=nn.Sequential(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(120, 84), squash=Squash())),
                output=EuclideanRBF(rbf_codes()),
            )
        )
        for conv in (self.C1.conv, self.C5.conv):
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            uniform_fan_in_(conv.weight, fan_in)
            uniform_fan_in_(conv.bias, fan_in)
        uniform_fan_in_(self.F6.linear.weight, self.F6.linear.in_features)
        uniform_fan_in_(self.F6.linear.bias, self.F6.linear.in_features)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The MAP criterion, eq. (9) (:func:`map_loss`, j = 0.1)."""
        return map_loss(output, target)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Minus the RBF penalties: the best-matching class gets the highest score."""
        return -output


class LeNet5Modern(_LeNet):
    """LeNet-5 as it is usually rebuilt today: ReLU, max pooling, a dense C3, a linear output.

    Input 1×32×32 (MNIST padded by 2); output: 10 logits for cross-entropy.
    Same layer sizes as :class:`LeNet5`, PyTorch's default initialisation.

    Example:
        >>> LeNet5Modern()(torch.zeros(1, 1, 32, 32)).shape
        torch.Size([1, 10])
    """

    def __init__(self):
        super().__init__(
            OrderedDict(
                C1=nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 6, 5), relu=nn.ReLU())),
                S2=nn.MaxPool2d(2),
                C3=nn.Sequential(OrderedDict(conv=nn.Conv2d(6, 16, 5), relu=nn.ReLU())),
                S4=nn.MaxPool2d(2),
                C5=nn.Sequential(OrderedDict(conv=nn.Conv2d(16, 120, 5), relu=nn.ReLU())),
                F6=nn.Sequential(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(120, 84), relu=nn.ReLU())),
                output=nn.Linear(84, 10),
            )
        )


class LeNetD2L(_LeNet):
    """The "LeNet" of many tutorials (e.g. *Dive into Deep Learning*): sigmoid and average pooling.

    Input 1×28×28: C1 pads by 2 so that its output is 28×28, as LeNet-5's C1 on
    a 32×32 input. S2 and S4 are plain average pooling (no coefficient, no bias),
    C3 is dense, and C5 is written as a fully connected layer (F5) on the
    flattened 16×5×5 maps. Output: 10 logits for cross-entropy.

    Example:
        >>> LeNetD2L()(torch.zeros(1, 1, 28, 28)).shape
        torch.Size([1, 10])
    """

    input_size = (1, 28, 28)

    def __init__(self):
        super().__init__(
            OrderedDict(
                C1=nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 6, 5, padding=2), sigmoid=nn.Sigmoid())),
                S2=nn.AvgPool2d(2, stride=2),
                C3=nn.Sequential(OrderedDict(conv=nn.Conv2d(6, 16, 5), sigmoid=nn.Sigmoid())),
                S4=nn.AvgPool2d(2, stride=2),
                F5=nn.Sequential(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(16 * 5 * 5, 120), sigmoid=nn.Sigmoid())),
                F6=nn.Sequential(OrderedDict(linear=nn.Linear(120, 84), sigmoid=nn.Sigmoid())),
                output=nn.Linear(84, 10),
            )
        )


# ---------------------------------------------------------------------------
# Chapter 6: LeNet-5's layer sizes with each part chosen (what changed since 1998)
# ---------------------------------------------------------------------------

#: The activations :func:`lenet_variant` knows: the paper's scaled tanh ("squash"), plain tanh, the logistic sigmoid, ReLU.
VARIANT_ACTIVATIONS = ("relu", "tanh", "squash", "sigmoid")
#: The subsampling layers it knows: max pooling, average pooling, the paper's trainable subsampling.
VARIANT_POOLINGS = ("max", "avg", "trainable")


def _activation_layer(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "squash": Squash, "sigmoid": nn.Sigmoid}[name]()


class LeNetVariant(_LeNet):
    """LeNet-5's layer sizes with the activation, the pooling, batch normalisation and dropout chosen.

    Built by :func:`lenet_variant`, which documents the arguments. Input
    1×32×32, output 10 logits for cross-entropy; C3 is dense (no Table I) and
    there is no RBF layer. ``model.config`` holds the choices.

    ========  ========================================================  ==========
    layer     what                                                      output
    ========  ========================================================  ==========
    C1        conv 5×5, 1→6 [+ BatchNorm2d] + activation                6×28×28
    S2        max or avg pool 2×2, or Subsampling + activation          6×14×14
    C3        conv 5×5, 6→16 [+ BatchNorm2d] + activation               16×10×10
    S4        as S2                                                     16×5×5
    C5        conv 5×5, 16→120 [+ BatchNorm2d] + activation             120×1×1
    F6        flatten [+ dropout], linear 120→84 [+ BatchNorm1d]        84
              + activation [+ dropout]
    output    linear 84→10                                              10
    ========  ========================================================  ==========

    Example:
        >>> model = LeNetVariant(activation="squash", pooling="trainable")
        >>> model(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 10])
        >>> model.config
        {'activation': 'squash', 'pooling': 'trainable', 'batch_norm': False, 'dropout': 0.0}
    """

    def __init__(self, activation: str = "relu", pooling: str = "max", batch_norm: bool = False, dropout: float = 0.0):
        check_choice(activation, "activation", VARIANT_ACTIVATIONS)
        check_choice(pooling, "pooling", VARIANT_POOLINGS)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"batch_norm must be True or False, got {batch_norm!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        dropout = float(dropout)

        def conv(in_channels, out_channels):
            # With batch normalisation the bias is redundant: BatchNorm's own shift (beta) takes its place.
            layers = OrderedDict(conv=nn.Conv2d(in_channels, out_channels, 5, bias=not batch_norm))
            if batch_norm:
                layers["batch_norm"] = nn.BatchNorm2d(out_channels)
            layers[activation] = _activation_layer(activation)
            return nn.Sequential(layers)

        def pool(channels):
            if pooling == "max":
                return nn.MaxPool2d(2)
            if pooling == "avg":
                return nn.AvgPool2d(2)
            # The paper's S2/S4: sum × coefficient + bias, then the layer's nonlinearity (Appendix A).
            return nn.Sequential(OrderedDict([("subsample", Subsampling(channels)), (activation, _activation_layer(activation))]))

        f6 = OrderedDict(flatten=nn.Flatten())
        if dropout:
            f6["dropout_in"] = nn.Dropout(dropout)
        f6["linear"] = nn.Linear(120, 84, bias=not batch_norm)
        if batch_norm:
            f6["batch_norm"] = nn.BatchNorm1d(84)
        f6[activation] = _activation_layer(activation)
        if dropout:
            f6["dropout_out"] = nn.Dropout(dropout)
        super().__init__(
            OrderedDict(
                C1=conv(1, 6),
                S2=pool(6),
                C3=conv(6, 16),
                S4=pool(16),
                C5=conv(16, 120),
                F6=nn.Sequential(f6),
                output=nn.Linear(84, 10),
            )
        )
        self.config = {"activation": activation, "pooling": pooling, "batch_norm": batch_norm, "dropout": dropout}


def lenet_variant(activation: str = "relu", pooling: str = "max", batch_norm: bool = False, dropout: float = 0.0) -> LeNetVariant:
    """LeNet-5's layer sizes (Sec. II-B) with each part chosen, to measure what each change is worth.

    Args:
        activation: after every convolution and after F6: ``"relu"``, ``"tanh"``,
            ``"squash"`` (the paper's 1.7159·tanh(2a/3)) or ``"sigmoid"`` (logistic).
        pooling: S2 and S4: ``"max"`` or ``"avg"`` (2×2, stride 2, no parameters), or
            ``"trainable"``, the paper's subsampling (:class:`Subsampling`: window sum ×
            coefficient + bias, 2 parameters per map) followed by the activation.
        batch_norm: add ``BatchNorm2d`` after C1, C3, C5 and ``BatchNorm1d`` after F6's
            linear layer, each before the activation; those layers then have no bias.
        dropout: probability of zeroing an input of F6 and of the output layer while
            training (0 means no dropout layers).

    The output is 10 logits for cross-entropy (``model.loss``); C3 is dense.
    Layers use PyTorch's default initialisation (the trainable subsampling keeps
    the paper's). ``lenet_variant()`` has the same layers and parameter count as
    :class:`LeNet5Modern`.

    Shapes:
        input: N×1×32×32 -> output: N×10.

    Example:
        >>> model = lenet_variant(activation="sigmoid", pooling="avg", batch_norm=True, dropout=0.5)
        >>> model(torch.zeros(4, 1, 32, 32)).shape
        torch.Size([4, 10])
        >>> [sum(p.numel() for p in lenet_variant(pooling=p).parameters()) for p in ("max", "trainable")]
        [61706, 61750]
    """
    return LeNetVariant(activation=activation, pooling=pooling, batch_norm=batch_norm, dropout=dropout)


# ---------------------------------------------------------------------------
# Chapter 6: the fully connected baseline of Sec. II-A
# ---------------------------------------------------------------------------


class MLP(_LeNet):
    """A fully connected network (a multilayer perceptron) on the 32×32 input: the baseline of Sec. II-A.

    Every unit of the first layer is connected to every pixel, with weights of its
    own: nothing is shared and nothing is local. The paper argues (Sec. II-A) that
    such a network ignores the topology of the input and is not invariant to
    shifts, where a convolutional network is, nearly. ``hidden`` gives the widths
    of the hidden layers; the default (57, 48) has 61,699 parameters, 7 fewer than
    :class:`LeNet5Modern`'s 61,706, so the two can be compared at the same size.

    ========  ===================================================  ======
    layer     what                                                 output
    ========  ===================================================  ======
    F1        flatten, linear 1024→hidden[0], ReLU                 57
    F2        linear hidden[0]→hidden[1], ReLU                     48
    output    linear hidden[-1]→10                                 10
    ========  ===================================================  ======

    Shapes:
        input: N×1×32×32 -> output: N×10 logits for cross-entropy.

    Example:
        >>> model = MLP()
        >>> model(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in model.parameters())
        61699
        >>> [row.output_shape for row in MLP(hidden=(100,)).trace()]
        [(1, 32, 32), (100,), (10,)]
    """

    def __init__(self, hidden=(57, 48)):
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise TypeError(f"hidden must be a list of layer widths, e.g. (57, 48), got {hidden!r}")
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("hidden must hold at least one layer width, got none")
        widths = [int(_check_width(h, f"hidden[{i}]")) for i, h in enumerate(hidden)]
        c, h, w = self.input_size
        layers, previous = OrderedDict(), c * h * w
        for i, width in enumerate(widths, start=1):
            parts = OrderedDict(flatten=nn.Flatten()) if i == 1 else OrderedDict()
            parts["linear"] = nn.Linear(previous, width)
            parts["relu"] = nn.ReLU()
            layers[f"F{i}"] = nn.Sequential(parts)
            previous = width
        layers["output"] = nn.Linear(previous, 10)
        super().__init__(layers)
        self.hidden = tuple(widths)


def _check_width(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer (a layer width), got {value!r}")
    return int(value)
