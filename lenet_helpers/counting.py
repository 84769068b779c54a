"""Counting trainable parameters and connections, the way the 1998 paper does.

A *trainable parameter* is a number that learning changes (a weight or a bias).
A *connection* is one input multiplied into one output unit (a bias counts as a
connection too). Because a convolution uses the same kernel at every output
position (weight sharing), a layer can have few parameters and many connections:
C1 has 156 parameters but 122,304 connections. A *multiply–accumulate* (MAC),
a ← a + w·x, is the work of one connection through a weight; a bias is only added.

The formulas are functions here; :func:`lenet5_table` applies them to the
architecture of Sec. II-B and gets the paper's figures. :func:`count_parameters`,
:func:`count_connections`, :func:`count_macs` and :func:`count_table` measure a
real ``nn.Module`` instead, any network built from PyTorch's usual operations
(torchvision's included), by running one image through it
(:mod:`lenet_helpers.tracing`); :func:`count_connections` says what a connection
is for the operations the paper never had (batch norm, softmax, …).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Sequence

import torch
import torch.nn as nn

from ._table import Table
from ._validate import check_input_size, check_int, check_module, check_pair
from .conv import conv_output_size
from .language import _, using
from .layers import C3_TABLE, EuclideanRBF, PartialConv2d, Subsampling
from .modules import describe
from .pool import pool_output_size
from .tracing import Unknown, trace

__all__ = [
    "Counts",
    "LayerCount",
    "conv_counts",
    "partial_conv_counts",
    "subsampling_counts",
    "pool_counts",
    "linear_counts",
    "rbf_counts",
    "lenet5_table",
    "count_parameters",
    "count_connections",
    "count_macs",
    "count_table",
    "NO_CONNECTIONS",
]


class Counts(NamedTuple):
    parameters: int
    connections: int


class LayerCount(NamedTuple):
    layer: str
    kind: str
    output_shape: tuple | None
    parameters: int
    connections: int


# ---------------------------------------------------------------------------
# The formulas, one per kind of layer
# ---------------------------------------------------------------------------


def _positions(output_size) -> int:
    h, w = check_pair(output_size, "output_size", minimum=1)
    return h * w


def conv_counts(in_channels: int, out_channels: int, kernel_size, output_size, bias: bool = True) -> Counts:
    """A convolution where every output map sees every input map.

    parameters  = out_channels · (in_channels · kh · kw + 1)   (the +1 is the bias)
    connections = parameters · out_h · out_w                    (each is used at every output position)

    Example:
        >>> conv_counts(1, 6, 5, 28)        # LeNet-5's C1
        Counts(parameters=156, connections=122304)
    """
    cin = check_int(in_channels, "in_channels", minimum=1)
    cout = check_int(out_channels, "out_channels", minimum=1)
    kh, kw = check_pair(kernel_size, "kernel_size", minimum=1)
    per_map = cin * kh * kw + bool(bias)
    return Counts(cout * per_map, cout * per_map * _positions(output_size))


def partial_conv_counts(inputs_per_map: Sequence[int], kernel_size, output_size, bias: bool = True) -> Counts:
    """A convolution where output map j sees only ``inputs_per_map[j]`` input maps (C3 and Table I).

    parameters  = Σ_j (inputs_j · kh · kw + 1)
    connections = parameters · out_h · out_w

    Example:
        >>> partial_conv_counts([3] * 6 + [4] * 9 + [6], 5, 10)   # LeNet-5's C3
        Counts(parameters=1516, connections=151600)
    """
    if isinstance(inputs_per_map, (str, bytes)) or not hasattr(inputs_per_map, "__iter__"):
        raise TypeError(f"inputs_per_map must be a sequence of integers, one per output map, got {inputs_per_map!r}")
    sizes = [check_int(n, f"inputs_per_map[{j}]", minimum=1) for j, n in enumerate(inputs_per_map)]
    if not sizes:
        raise ValueError("inputs_per_map must list at least one output map")
    kh, kw = check_pair(kernel_size, "kernel_size", minimum=1)
    params = sum(n * kh * kw + bool(bias) for n in sizes)
    return Counts(params, params * _positions(output_size))


def subsampling_counts(channels: int, pool_size, output_size) -> Counts:
    """LeNet-5's trainable subsampling (S2, S4): a coefficient and a bias per map.

    parameters  = 2 · channels
    connections = channels · out_h · out_w · (kh · kw + 1)   (the window's inputs, and the bias)

    Example:
        >>> subsampling_counts(6, 2, 14)     # LeNet-5's S2
        Counts(parameters=12, connections=5880)
    """
    c = check_int(channels, "channels", minimum=1)
    kh, kw = check_pair(pool_size, "pool_size", minimum=1)
    return Counts(2 * c, c * _positions(output_size) * (kh * kw + 1))


def pool_counts(channels: int, pool_size, output_size) -> Counts:
    """Max or average pooling: no parameters; each output is connected to its window.

    parameters = 0, connections = channels · out_h · out_w · kh · kw

    Example:
        >>> pool_counts(6, 2, 14)
        Counts(parameters=0, connections=4704)
    """
    c = check_int(channels, "channels", minimum=1)
    kh, kw = check_pair(pool_size, "pool_size", minimum=1)
    return Counts(0, c * _positions(output_size) * kh * kw)


def linear_counts(in_features: int, out_features: int, bias: bool = True) -> Counts:
    """A fully connected layer: no sharing, so connections = parameters = out · (in + 1).

    Example:
        >>> linear_counts(120, 84)           # LeNet-5's F6
        Counts(parameters=10164, connections=10164)
    """
    n_in = check_int(in_features, "in_features", minimum=1)
    n_out = check_int(out_features, "out_features", minimum=1)
    params = n_out * (n_in + bool(bias))
    return Counts(params, params)


def rbf_counts(in_features: int, out_features: int) -> Counts:
    """Euclidean RBF units with fixed centres: nothing to train; every unit sees every input.

    Example:
        >>> rbf_counts(84, 10)               # LeNet-5's output layer
        Counts(parameters=0, connections=840)
    """
    n_in = check_int(in_features, "in_features", minimum=1)
    n_out = check_int(out_features, "out_features", minimum=1)
    return Counts(0, n_in * n_out)


def _with_totals(rows: list[LayerCount]) -> Table:
    table = Table(rows)
    table.footer = LayerCount(
        _("total").phrase(), "", None, sum(r.parameters for r in rows), sum(r.connections for r in rows)
    )
    return table


def lenet5_table() -> Table:
    """The paper's per-layer figures (Sec. II-B), computed from the architecture with the formulas above.

    Returns a table of :class:`LayerCount` rows (layer, kind, output_shape,
    parameters, connections); ``table.footer`` holds the totals, 60,000
    parameters and 340,908 connections.

    Example:
        >>> table = lenet5_table()
        >>> [(row.layer, row.parameters, row.connections) for row in table][:2]
        [('C1', 156, 122304), ('S2', 12, 5880)]
        >>> table.footer.parameters, table.footer.connections
        (60000, 340908)
    """
    k, window = 5, 2  # kernel and subsampling window sizes (Sec. II-B)
    c1 = conv_output_size(32, k)  # 28
    s2 = pool_output_size(c1, window)  # 14
    c3 = conv_output_size(s2, k)  # 10
    s4 = pool_output_size(c3, window)  # 5
    c5 = conv_output_size(s4, k)  # 1
    c3_inputs = C3_TABLE.sum(dim=0).tolist()  # how many S2 maps feed each of the 16 C3 maps (Table I)
    convolution, subsampling = _("convolution").phrase(), _("subsampling").phrase()
    with using("en"):  # the layer's name, "output" in every language as the model's own layer is (shown translated)
        output = _("output").phrase()
    rows = [
        LayerCount("C1", convolution, (6, c1, c1), *conv_counts(1, 6, k, c1)),
        LayerCount("S2", subsampling, (6, s2, s2), *subsampling_counts(6, window, s2)),
        LayerCount("C3", _("convolution, Table I").phrase(), (16, c3, c3), *partial_conv_counts(c3_inputs, k, c3)),
        LayerCount("S4", subsampling, (16, s4, s4), *subsampling_counts(16, window, s4)),
        LayerCount("C5", convolution, (120, c5, c5), *conv_counts(16, 120, k, c5)),
        LayerCount("F6", _("full connection").phrase(), (84,), *linear_counts(120, 84)),
        LayerCount(output, _("Euclidean RBF").phrase(), (10,), *rbf_counts(84, 10)),
    ]
    return _with_totals(rows)

# ---------------------------------------------------------------------------
# Measuring a real model
# ---------------------------------------------------------------------------


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (those with ``requires_grad``) of ``model``.

    Fixed numbers (buffers, such as the RBF centres, or frozen parameters) are not counted.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> count_parameters(LeNet5())
        60000
    """
    check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# Operations that make no connections and need no multiply–accumulates: each output value is computed
# from one input value (or from the values at the same position of two tensors), so it belongs to the unit
# that computed the input, as the paper's squash does. Every other operation is refused unless it is one of
# those _operation_counts knows: an unknown one (torch.cdist, torch.inner, x.mean(dim=(2, 3)), …) raises
# instead of being silently counted as 0.
NO_CONNECTIONS = frozenset({
    # activations and other element-wise functions
    "relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardtanh",
    "hardswish", "hardsigmoid", "softplus", "softsign", "tanh", "tanh_", "sigmoid", "sigmoid_", "logsigmoid",
    "tanhshrink", "threshold", "exp", "log", "abs", "neg", "sqrt", "square", "clamp", "clip", "sign",
    # arithmetic, element by element (with a number, or with a tensor of the same or a broadcast shape):
    # a residual addition x + shortcut is one of these
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "pow",
    # batch normalisation in evaluation mode: a fixed scale and shift per map, value by value
    "batch_norm",
    # reshaping, joining and copying: the same numbers, rearranged
    "flatten", "unflatten", "view", "reshape", "squeeze", "unsqueeze", "permute", "transpose", "contiguous",
    "clone", "detach", "to", "float", "double", "__getitem__", "expand", "expand_as", "view_as", "reshape_as",
    "cat", "concat", "concatenate", "stack", "split", "chunk", "unbind", "narrow", "pad",
    # dropout (the identity in evaluation mode, where counting runs)
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    # making new tensors (constants, not connections)
    "ones", "zeros", "full", "empty", "arange", "tensor", "as_tensor", "ones_like", "zeros_like", "full_like",
    "empty_like",
    # reading properties
    "__get__", "dim", "size", "numel", "tolist", "item", "__len__", "__format__", "__repr__", "__bool__",
})


class _Cost(NamedTuple):
    connections: int
    macs: int


def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _first(output) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def _spatial(value, dims: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


def _adaptive_window_sum(size_in: int, size_out: int) -> int:
    """Inputs read by all the outputs of adaptive pooling along one dimension: output i reads
    floor(i·n/m) .. ceil((i+1)·n/m) − 1, so neighbouring windows overlap when m does not divide n."""
    return sum(-((-(i + 1) * size_in) // size_out) - (i * size_in) // size_out for i in range(size_out))


def _operation_counts(name: str, args, kwargs, out) -> _Cost:
    """Connections and multiply–accumulates of one PyTorch operation, for one image."""
    if name in ("conv1d", "conv2d", "conv3d"):
        weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
        per_unit = math.prod(weight.shape[1:])  # (in_channels / groups) · kernel: stride and dilation change only the output's size
        return _Cost(out.numel() * (per_unit + (bias is not None)), out.numel() * per_unit)
    if name == "linear":
        weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
        return _Cost(out.numel() * (weight.shape[-1] + (bias is not None)), out.numel() * weight.shape[-1])
    for kind in ("max", "avg"):
        for dims in (1, 2, 3):
            if name in (f"{kind}_pool{dims}d", f"{kind}_pool{dims}d_with_indices"):
                window = math.prod(_spatial(_arg(args, kwargs, 1, "kernel_size"), dims))
                n = _first(out).numel() * window  # every output reads its whole window, padding included
                return _Cost(n, n if kind == "avg" else 0)  # an average is a sum times 1/k²; a maximum multiplies nothing
            if name in (f"adaptive_{kind}_pool{dims}d", f"adaptive_{kind}_pool{dims}d_with_indices"):
                x, y = _arg(args, kwargs, 0, "input"), _first(out)
                sizes = zip(x.shape[-dims:], y.shape[-dims:])
                maps = y.numel() // math.prod(y.shape[-dims:])
                n = maps * math.prod(_adaptive_window_sum(i, o) for i, o in sizes)
                return _Cost(n, n if kind == "avg" else 0)
    if name in ("softmax", "log_softmax", "softmin"):
        dim = _arg(args, kwargs, 1, "dim")
        if dim is None:  # PyTorch's old implicit choice
            dim = 0 if out.dim() in (0, 1, 3) else 1
        return _Cost(out.numel() * out.shape[dim], 0)  # every output of a row reads every input of the row
    if name in NO_CONNECTIONS:
        return _Cost(0, 0)
    raise Unknown(name)


def _operation_connections(name, args, kwargs, out) -> int:
    return _operation_counts(name, args, kwargs, out).connections


def _operation_macs(name, args, kwargs, out) -> int:
    return _operation_counts(name, args, kwargs, out).macs


def _subsampling_connections(layer: Subsampling, output: torch.Tensor) -> int:
    return subsampling_counts(layer.channels, layer.kernel_size, tuple(output.shape[-2:])).connections


def _subsampling_macs(layer: Subsampling, output: torch.Tensor) -> int:
    # the window's inputs, one multiply–accumulate each (chapter 3's convention); the bias is only added
    return pool_counts(layer.channels, layer.kernel_size, tuple(output.shape[-2:])).connections


def _partial_conv_connections(layer: PartialConv2d, output: torch.Tensor, bias: bool = True) -> int:
    inputs = layer.table.sum(dim=0).tolist()
    return partial_conv_counts(inputs, layer.kernel_size, tuple(output.shape[-2:]), bias=bias).connections


def _partial_conv_macs(layer: PartialConv2d, output: torch.Tensor) -> int:
    return _partial_conv_connections(layer, output, bias=False)


def _rbf_connections(layer: EuclideanRBF, output: torch.Tensor) -> int:
    classes, features = layer.centers.shape
    return rbf_counts(features, classes).connections


# The course's own layers are not one PyTorch operation each: they are counted with the formulas above
# (chapter 3's), given the layer and its output, and the operations inside them are not counted again.
_FORMULAS = {Subsampling: _subsampling_connections, PartialConv2d: _partial_conv_connections,
             EuclideanRBF: _rbf_connections}
_MAC_FORMULAS = {Subsampling: _subsampling_macs, PartialConv2d: _partial_conv_macs, EuclideanRBF: _rbf_connections}

# What each counting function counts: (the words, the formulas for the course's layers, the operations' counts).
_QUANTITIES = {
    "count_connections": ("connections", _FORMULAS, _operation_connections),
    "count_table": ("connections", _FORMULAS, _operation_connections),
    "count_macs": ("multiply–accumulates", _MAC_FORMULAS, _operation_macs),
}


class _BadFormula(Exception):
    """A formula given to count_connections failed or returned something that is not a count."""


def _check_formulas(formulas, defaults: dict, quantity: str) -> dict:
    """The built-in formulas, extended (and overridden) by ``formulas``: {layer class: formula(layer, output)}."""
    if formulas is None:
        return dict(defaults)
    expected = ("formulas must be a dict mapping layer classes (subclasses of torch.nn.Module) to functions "
                f"formula(layer, output) -> number of {quantity}")
    if not isinstance(formulas, dict):
        raise TypeError(f"{expected}, got {type(formulas).__name__}")
    for kind, formula in formulas.items():
        if not (isinstance(kind, type) and issubclass(kind, nn.Module)):
            raise TypeError(f"{expected}; the key {kind!r} is not such a class")
        if not callable(formula):
            raise TypeError(f"{expected}; the value for {kind.__name__} is a {type(formula).__name__}, not a function")
    return {**defaults, **formulas}


def _checked(formula, quantity: str):
    """``formula``, made to report a failure or a result that is not a count as a clear error."""
    what = f"the {quantity[:-1]} formula"  # "the connection formula", "the multiply–accumulate formula"

    def apply(module: nn.Module, output) -> int:
        name = type(module).__name__
        try:
            n = formula(module, output)
        except Exception as e:  # noqa: BLE001  (any failure of the caller's formula is reported with its layer)
            raise _BadFormula(f"{what} for {name} raised {type(e).__name__}: {e}") from None
        if isinstance(n, torch.Tensor) and n.numel() == 1 and not n.is_floating_point() and n.dtype != torch.bool:
            n = n.item()
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise _BadFormula(f"{what} for {name} returned {n!r}; expected a number of "
                              f"{quantity}, an int >= 0")
        return int(n)

    return apply


def _unknown(function: str, quantity: str, operation: str, module: nn.Module, model: nn.Module) -> str:
    """The error for an operation the counters do not know, with the way to count it anyway."""
    layer = type(module).__name__
    text = (f"{function} does not know how to count the {quantity} of {operation!r} (run by {layer}). It knows "
            "convolutions (grouped, strided or dilated), linear layers, max, average and adaptive pooling, softmax "
            "and log-softmax, the course's subsampling, partial convolution and RBF layers, and the operations "
            "that make none: element-wise functions, batch normalisation, dropout, reshaping and concatenation "
            "(counting.NO_CONNECTIONS). ")
    def example(name):
        return f"{function}(model, input_size, formulas={{{name}: lambda layer, output: ...}})"

    if module is model and any(True for _ in model.children()):
        return text + (f"{operation!r} runs in {layer}.forward itself: to count it, move it into a layer of its own "
                       f"(an nn.Module, MyLayer say) and give that layer's formula, {example('MyLayer')}, the "
                       f"function returning the {quantity} of one call of the layer for one image.")
    return text + (f"To count {layer} anyway, give its formula: {example(layer)}, the function returning the "
                   f"{quantity} of one call of {layer} for one image (output: its output).")


def _measure(model: nn.Module, input_size, formulas, function: str):
    """Trace ``model`` on one image, each step valued in the quantity ``function`` counts."""
    check_module(model)
    quantity, defaults, measure = _QUANTITIES[function]
    formulas = {kind: _checked(f, quantity) for kind, f in _check_formulas(formulas, defaults, quantity).items()}
    try:
        result = trace(model, input_size, measure, formulas)
    except _BadFormula as e:
        raise TypeError(str(e)) from None
    if result.unknown is not None:
        operation, module = result.unknown
        raise TypeError(_unknown(function, quantity, operation, module, model))
    return result


def count_connections(model: nn.Module, input_size, formulas=None) -> int:
    """Number of connections of ``model`` for one input image of size ``input_size``.

    A *connection* is one value that an output unit reads: an input through a
    weight (convolution, linear layer), an input of a window (pooling, the
    paper's subsampling), an input compared with a centre (the RBF units), or a
    bias, which the paper counts as one more connection. For the operations the
    paper never had:

    * grouped and depthwise convolutions (``groups``): a unit reads only its
      group's in_channels/groups maps; stride and dilation change only the
      number of units. Every unit counts its whole kernel, padding included;
    * adaptive average or max pooling: each output reads its window
      (neighbouring windows overlap when the sizes do not divide);
    * softmax and log-softmax: no weights, but every output of a row is
      computed from every input of the row (they are all in its denominator),
      so a row of n values makes n·n connections;
    * batch normalisation (in evaluation mode, where counting runs: a fixed
      scale and shift per map), activations (ReLU6, hardswish, SiLU, GELU, …),
      dropout, flatten and reshapes, concatenation, and element-wise arithmetic
      such as a residual addition make **none**: each output value comes from one
      value (or from the values at the same position of two tensors), so it
      belongs to the unit that computed it, as the paper's squash does.

    Works on layers and on functional calls in ``forward`` alike; any other
    operation (matmul, ``torch.cdist``, a mean over the maps, …) raises a
    ``TypeError`` naming it rather than being silently counted as 0: only the
    operations above and in :data:`NO_CONNECTIONS` are known.

    The course's own layers (``Subsampling``, ``PartialConv2d``,
    ``EuclideanRBF``) are counted with chapter 3's formulas. ``formulas`` adds
    formulas for layers of your own, ``{LayerClass: formula}``, where
    ``formula(layer, output)`` returns the connections of one call of the layer
    (``output`` is its output for one image); the operations inside such a layer
    are then not counted again.

    Shapes:
        input_size: (C, H, W), e.g. (1, 32, 32) for LeNet-5. A model built on
        the ``meta`` device is counted without computing anything.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> count_connections(LeNet5(), (1, 32, 32))
        340908
        >>> count_connections(nn.Conv2d(4, 4, 3, groups=4), (4, 5, 5))   # depthwise: 4 maps · 3·3 units · (9 + 1)
        360
        >>> class Distances(nn.Module):   # every one of 84 inputs feeds each of 10 units
        ...     def forward(self, x):
        ...         return torch.cdist(x.flatten(1), torch.ones(10, 84))
        >>> count_connections(Distances(), (84, 1, 1), formulas={Distances: lambda layer, output: 84 * 10})
        840
    """
    return sum(step.value for step in _measure(model, input_size, formulas, "count_connections").steps)


def count_macs(model: nn.Module, input_size, formulas=None) -> int:
    """Multiply–accumulates of one forward pass of ``model`` on one image of size ``input_size``.

    One multiply–accumulate (MAC), a ← a + w·x, for each connection through a
    weight, none for a bias, which is only added (chapter 3's convention): a
    convolution needs (in_channels/groups)·kh·kw per output value, a linear
    layer in_features per output. The paper's subsampling, average pooling
    and adaptive average pooling count one per input of the window (a sum
    times one coefficient), the RBF units one per connection. Max pooling,
    softmax and the operations of :data:`NO_CONNECTIONS` need none: they
    compare, exponentiate or work value by value, with no weights. Batch
    normalisation counts none either: in evaluation mode its scale and shift
    fold into the convolution before it.

    With these conventions the count is torchvision's published figure
    (``weights.meta["_ops"]``, in "GFLOPS" that are in fact giga-MACs) for
    AlexNet, VGG-11, ResNet-18 and MobileNet-V2 at 224×224, to the three
    decimals published. Where the conventions differ:

    * torchvision counts no work for (adaptive) average pooling, this count one
      MAC per input of each window: 0.02% of MobileNet-V2, less for the others;
    * torchinfo's ``total_mult_adds`` counts none for pooling either, but adds one
      per bias and output value of each convolution and linear layer (the
      connections of those layers), and the number of batch normalisation
      parameters (2 per map) once per image. That puts it above this count by
      0.1% on VGG-11 and 0.07% on AlexNet, whose convolutions have biases, and
      below it by less than 0.01% on ResNet-18 and MobileNet-V2, whose
      convolutions have none;
    * counting batch normalisation as one MAC per value instead (not folded)
      would add 0.14% to ResNet-18 and 2.2% to MobileNet-V2.

    ``formulas``: as for :func:`count_connections`, each formula returning the
    multiply–accumulates of one call of its layer.

    Shapes:
        input_size: (C, H, W). Build large models on the ``meta`` device
        (``with torch.device("meta"): model = torchvision.models.vgg11()``): they
        are counted without computing anything or storing their weights.

    Example:
        >>> from lenet_helpers.models import LeNet5, LeNet5Modern
        >>> count_macs(LeNet5(), (1, 32, 32))        # the connections, 340,908, less one per bias
        332824
        >>> count_macs(nn.Conv2d(6, 16, 5), (6, 14, 14)) == 6 * 5 * 5 * 16 * 10 * 10
        True
        >>> with torch.device("meta"):
        ...     count_macs(nn.Conv2d(64, 64, 3, padding=1, bias=False), (64, 56, 56))
        115605504
    """
    return sum(step.value for step in _measure(model, input_size, formulas, "count_macs").steps)


def count_table(model: nn.Module, input_size, formulas=None) -> Table:
    """Per-step parameters and connections of ``model``, measured, in the order ``forward`` runs them.

    One row per call of a top-level layer (``model.named_children()``, and
    the layers of a ``ModuleList`` or ``ModuleDict`` child), named by its
    attribute, and one per function that the model's own ``forward`` calls
    (``F.relu``, ``F.max_pool2d``, ``torch.flatten``, …), named by the
    function; same columns as :func:`lenet5_table`. A layer's parameters are
    on the row of its first call; a function's are the model's own parameters
    it uses first. Layers that never ran close the table, without a shape.
    ``formulas``: as for :func:`count_connections`.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> [row.connections for row in count_table(LeNet5(), (1, 32, 32))]
        [122304, 5880, 151600, 2000, 48120, 10164, 840]
    """
    result = _measure(model, input_size, formulas, "count_table")
    rows = [LayerCount(s.name, s.kind, s.output_shape, s.parameters, s.value) for s in result.steps]
    rows += [LayerCount(name, describe(child), None, count_parameters(child), 0) for name, child in result.unused]
    if result.own_unused:
        rows.append(LayerCount("(forward)", _("parameters of the model itself").phrase(), None, result.own_unused, 0))
    table = _with_totals(rows)
    table.code_columns = ("layer",)  # the names of the model's layers and of the functions it calls
    return table
