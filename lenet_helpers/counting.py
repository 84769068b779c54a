"""Counting trainable parameters and connections, the way the 1998 paper does.

A *trainable parameter* is a number that learning changes (a weight or a bias).
A *connection* is one input multiplied into one output unit (a bias counts as a
connection too). Because a convolution uses the same kernel at every output
position (weight sharing), a layer can have few parameters and many connections:
C1 has 156 parameters but 122,304 connections.

The formulas are functions here; :func:`lenet5_table` applies them to the
architecture of Sec. II-B and gets the paper's figures. :func:`count_parameters`
and :func:`count_connections` measure a real ``nn.Module`` instead, by running
one image through it.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, Sequence

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ._table import Table
from ._validate import check_input_size, check_int, check_module, check_pair
from .conv import conv_output_size
from .layers import C3_TABLE, EuclideanRBF, PartialConv2d, Subsampling
from .modules import describe, device_of, evaluating
from .pool import pool_output_size

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
        "total", "", None, sum(r.parameters for r in rows), sum(r.connections for r in rows)
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
    rows = [
        LayerCount("C1", "convolution", (6, c1, c1), *conv_counts(1, 6, k, c1)),
        LayerCount("S2", "subsampling", (6, s2, s2), *subsampling_counts(6, window, s2)),
        LayerCount("C3", "convolution, Table I", (16, c3, c3), *partial_conv_counts(c3_inputs, k, c3)),
        LayerCount("S4", "subsampling", (16, s4, s4), *subsampling_counts(16, window, s4)),
        LayerCount("C5", "convolution", (120, c5, c5), *conv_counts(16, 120, k, c5)),
        LayerCount("F6", "full connection", (84,), *linear_counts(120, 84)),
        LayerCount("output", "Euclidean RBF", (10,), *rbf_counts(84, 10)),
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


# Operations known to make no connections: element-wise work (activations, arithmetic with a number or a
# tensor of the same shape), reshaping, dropout, and reading a tensor's properties. Every other operation
# is refused: an unknown one (torch.cdist, torch.inner, x.mean(dim=(2, 3)), …) raises instead of being
# silently counted as 0.
NO_CONNECTIONS = frozenset({
    # activations and other element-wise functions
    "relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardtanh",
    "hardswish", "hardsigmoid", "softplus", "softsign", "tanh", "tanh_", "sigmoid", "sigmoid_", "logsigmoid",
    "tanhshrink", "threshold", "exp", "log", "abs", "neg", "sqrt", "square", "clamp", "clip", "sign",
    # arithmetic, element by element (with a number, or with a tensor of the same or a broadcast shape)
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__", "__isub__",
    "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__", "__rtruediv__",
    "__itruediv__", "pow", "__pow__", "__rpow__", "__neg__",
    # reshaping and copying: the same numbers, rearranged
    "flatten", "view", "reshape", "squeeze", "unsqueeze", "permute", "transpose", "contiguous", "clone",
    "detach", "to", "float", "double", "__getitem__", "expand", "expand_as", "view_as", "reshape_as",
    # dropout (the identity in evaluation mode, where counting runs)
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    # making new tensors (constants, not connections)
    "ones", "zeros", "full", "empty", "arange", "tensor", "as_tensor", "ones_like", "zeros_like", "full_like",
    "empty_like",
    # reading properties
    "__get__", "dim", "size", "numel", "tolist", "item", "__len__", "__format__", "__repr__",
})


class _Uncountable(Exception):
    """Raised inside the forward pass; turned into a TypeError outside it (PyTorch turns a TypeError
    raised inside an operator such as ``@`` into NotImplemented, which would hide the message)."""


def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _op_connections(func, args, kwargs, out) -> int:
    """Connections of one PyTorch operation, for a batch of one image."""
    name = getattr(func, "__name__", "")
    if name == "conv2d":
        weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
        return out.numel() * (weight[0].numel() + (bias is not None))
    if name == "linear":
        weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
        return out.numel() * (weight.shape[1] + (bias is not None))
    if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
        kh, kw = check_pair(_arg(args, kwargs, 1, "kernel_size"), "kernel_size", minimum=1)
        first = out[0] if isinstance(out, tuple) else out
        return first.numel() * kh * kw
    if name in NO_CONNECTIONS:
        return 0
    raise _Uncountable(
        f"count_connections does not know how to count the connections of {name!r}: "
        "expected a model built from 2-D convolutions, max or average pooling, the paper's subsampling, "
        "partial convolution and RBF layers, linear layers, and element-wise functions (see counting.NO_CONNECTIONS)"
    )


def _subsampling_connections(layer: Subsampling, output: torch.Tensor) -> int:
    return subsampling_counts(layer.channels, layer.kernel_size, tuple(output.shape[-2:])).connections


def _partial_conv_connections(layer: PartialConv2d, output: torch.Tensor) -> int:
    inputs = layer.table.sum(dim=0).tolist()
    return partial_conv_counts(inputs, layer.kernel_size, tuple(output.shape[-2:])).connections


def _rbf_connections(layer: EuclideanRBF, output: torch.Tensor) -> int:
    classes, features = layer.centers.shape
    return rbf_counts(features, classes).connections


# The course's own layers are not one PyTorch operation each: they are counted with the formulas above
# (chapter 3's), given the layer and its output, and the operations inside them are not counted again.
_FORMULAS = {Subsampling: _subsampling_connections, PartialConv2d: _partial_conv_connections,
             EuclideanRBF: _rbf_connections}


class _BadFormula(Exception):
    """A formula given to count_connections failed or returned something that is not a count."""


def _check_formulas(formulas) -> dict:
    """The built-in formulas, extended (and overridden) by ``formulas``: {layer class: formula(layer, output)}."""
    if formulas is None:
        return dict(_FORMULAS)
    expected = ("formulas must be a dict mapping layer classes (subclasses of torch.nn.Module) to functions "
                "formula(layer, output) -> number of connections")
    if not isinstance(formulas, dict):
        raise TypeError(f"{expected}, got {type(formulas).__name__}")
    for kind, formula in formulas.items():
        if not (isinstance(kind, type) and issubclass(kind, nn.Module)):
            raise TypeError(f"{expected}; the key {kind!r} is not such a class")
        if not callable(formula):
            raise TypeError(f"{expected}; the value for {kind.__name__} is a {type(formula).__name__}, not a function")
    return {**_FORMULAS, **formulas}


def _formula_for(module: nn.Module, formulas: dict):
    """The formula for ``module``: that of its own class if given, else of the nearest class it derives from."""
    for kind in type(module).__mro__:
        if kind in formulas:
            return formulas[kind]
    return None


def _apply(formula, module: nn.Module, output) -> int:
    name = type(module).__name__
    try:
        n = formula(module, output)
    except Exception as e:  # noqa: BLE001  (any failure of the caller's formula is reported with its layer)
        raise _BadFormula(f"the connection formula for {name} raised {type(e).__name__}: {e}") from None
    if isinstance(n, torch.Tensor) and n.numel() == 1 and not n.is_floating_point():
        n = n.item()
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise _BadFormula(f"the connection formula for {name} returned {n!r}; expected a number of connections, "
                          "an int >= 0")
    return int(n)


class _ConnectionCounter(TorchFunctionMode):
    """Adds up connections of every operation run under it, per top-level layer of the model."""

    def __init__(self):
        super().__init__()
        self.layer = "(forward)"  # connections made outside any named layer
        self.by_layer: dict[str, int] = {}
        self.depth = 0  # > 0 while inside one of the course's layers, which count themselves

    def add(self, n: int) -> None:
        self.by_layer[self.layer] = self.by_layer.get(self.layer, 0) + n

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            self.add(_op_connections(func, args, kwargs, out))
        return out


def _measure(model: nn.Module, input_size, formulas=None):
    """Run one zero image through ``model``; return connections per top-level layer, and output shapes."""
    check_module(model)
    size = check_input_size(input_size)
    formulas = _check_formulas(formulas)
    counter = _ConnectionCounter()
    shapes: dict[str, tuple] = {}
    handles = []

    def enter(module, inputs):
        counter.depth += 1

    def leave(module, inputs, output, formula):
        if counter.depth == 1:  # still > 0 here, so the counter ignores the arithmetic of the formula itself
            counter.add(_apply(formula, module, output))
        counter.depth -= 1

    for module in model.modules():
        formula = _formula_for(module, formulas)
        if formula is not None:
            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(
                lambda module, inputs, output, formula=formula: leave(module, inputs, output, formula)))

    def set_layer(name):
        def pre(module, inputs):
            counter.layer = name

        def post(module, inputs, output):
            counter.layer = "(forward)"
            shapes[name] = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None

        return pre, post

    for name, child in model.named_children():
        pre, post = set_layer(name)
        handles.append(child.register_forward_pre_hook(pre))
        handles.append(child.register_forward_hook(post))

    x = torch.zeros(1, *size, device=device_of(model))
    try:
        with evaluating(model), torch.no_grad(), counter:
            model(x)
    except (_Uncountable, _BadFormula) as e:
        raise TypeError(str(e)) from None
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"input_size {size} does not fit this model: {e}") from None
    finally:
        for h in handles:
            h.remove()
    return counter.by_layer, shapes


def count_connections(model: nn.Module, input_size, formulas=None) -> int:
    """Number of connections of ``model`` for one input image of size ``input_size``.

    Works on any model built from 2-D convolutions, max/average pooling,
    LeNet-5's subsampling and partial convolution, linear layers and the RBF
    output, whether they are modules or functional calls in ``forward``;
    any other operation (batch norm, matmul, ``torch.cdist``, a mean over the
    maps, …) raises a ``TypeError`` rather than being silently counted as 0:
    only the operations in :data:`NO_CONNECTIONS` (element-wise functions,
    reshaping, dropout) count as making none.

    The course's own layers (``Subsampling``, ``PartialConv2d``,
    ``EuclideanRBF``) are counted with chapter 3's formulas. ``formulas`` adds
    formulas for layers of your own, ``{LayerClass: formula}``, where
    ``formula(layer, output)`` returns the connections of one call of the layer
    (``output`` is its output for one image); the operations inside such a layer
    are then not counted again.

    Shapes:
        input_size: (C, H, W), e.g. (1, 32, 32) for LeNet-5.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> count_connections(LeNet5(), (1, 32, 32))
        340908
        >>> class Distances(nn.Module):   # every one of 84 inputs feeds each of 10 units
        ...     def forward(self, x):
        ...         return torch.cdist(x.flatten(1), torch.ones(10, 84))
        >>> count_connections(Distances(), (84, 1, 1), formulas={Distances: lambda layer, output: 84 * 10})
        840
    """
    by_layer, _ = _measure(model, input_size, formulas)
    return sum(by_layer.values())


def count_table(model: nn.Module, input_size, formulas=None) -> Table:
    """Per-layer parameters and connections of ``model``, measured; same columns as :func:`lenet5_table`.

    One row per top-level layer (``model.named_children()``), plus a
    ``(forward)`` row for connections made by functional calls outside them.
    ``formulas``: as for :func:`count_connections`.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> [row.connections for row in count_table(LeNet5(), (1, 32, 32))]
        [122304, 5880, 151600, 2000, 48120, 10164, 840]
    """
    by_layer, shapes = _measure(model, input_size, formulas)
    rows = [
        LayerCount(name, describe(child), shapes.get(name), count_parameters(child), by_layer.get(name, 0))
        for name, child in model.named_children()
    ]
    own = sum(p.numel() for p in model.parameters(recurse=False) if p.requires_grad)
    if by_layer.get("(forward)", 0) or own:
        rows.append(LayerCount("(forward)", "calls in forward()", None, own, by_layer.get("(forward)", 0)))
    return _with_totals(rows)
