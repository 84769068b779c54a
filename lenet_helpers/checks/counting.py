"""Self-checks for chapter 3, counting parameters and connections.

====================================  ===================================================
check                                 your function
====================================  ===================================================
:func:`conv_parameters`               ``fn(in_channels, out_channels, kernel_size) -> int``
:func:`conv_connections`              ``fn(in_channels, out_channels, kernel_size, output_size) -> int``
:func:`linear_parameters`             ``fn(in_features, out_features) -> int``
:func:`conv_connections_from_input`   ``fn(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1) -> int``
:func:`partial_conv_parameters`       ``fn(table, kernel_size) -> int``
:func:`conv_macs`                     ``fn(in_channels, out_channels, kernel_size, output_size) -> int``
:func:`basic_block_macs`              ``fn(in_channels, out_channels, input_size, stride) -> int``
====================================  ===================================================

A count may be returned as a Python ``int`` or as a 0-d integer tensor (``table.sum() * k**2 + n``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import counting as _counting
from .. import layers as _layers
from ..conv import conv_output_size as _conv_output_size
from ..language import _
from ._core import (
    CheckResult,
    Mistake,
    _cases,
    _compare_int,
    _hints,
    _run,
    _section,
)

__all__ = ["conv_parameters", "conv_connections", "linear_parameters", "conv_connections_from_input",
           "partial_conv_parameters", "conv_macs", "basic_block_macs"]

_FORMULAS = _section(3, _("The formulas, one kind of layer at a time"))
_TABLE = _section(3, _("C3's connection table"))
_MISTAKES = _section(3, _("Common mistakes when counting"))
_SIZES = _section(1, _("Padding, stride and dilation"))

_NO_BIAS = _("forgets the biases: each output map has one bias, a parameter too")
_NO_INPUTS = _("leaves out the input channels: each output map's kernel spans all in_channels input maps "
               "(in_channels · k · k weights)")

_hints("conv_parameters",
       _("each output map has its own kernel, which sees every input map, and its own bias."),
       _("one output map's kernel has in_channels · k · k weights; add its bias, then multiply by the number of "
         "output maps."),
       _("out_channels · (in_channels · k² + 1)."))


def conv_parameters(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size)``: trainable parameters of a Conv2d with biases.

    The answer is out_channels · (in_channels · k · k + 1).

    Example:
        >>> conv_parameters(lambda in_channels, out_channels, kernel_size:
        ...                 out_channels * (in_channels * kernel_size ** 2 + 1)).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size")
    cases = _cases((1, 6, 5), (6, 16, 5), (16, 120, 5), (3, 64, 3), (1, 1, 1), (64, 32, 1), (2, 3, 7), keys=keys)

    def reference(in_channels, out_channels, kernel_size):
        return sum(p.numel() for p in torch.nn.Conv2d(in_channels, out_channels, kernel_size).parameters())

    mistakes = [
        Mistake(_NO_BIAS, _FORMULAS, lambda in_channels, out_channels, kernel_size:
                out_channels * in_channels * kernel_size ** 2),
        Mistake(_NO_INPUTS, _FORMULAS, lambda in_channels, out_channels, kernel_size:
                out_channels * (kernel_size ** 2 + 1) if in_channels > 1 else None),
        Mistake(_("gives one bias per kernel: there is one per output map"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size: out_channels * in_channels * (kernel_size ** 2 + 1)
                if in_channels > 1 else None),
        Mistake(_("counts k weights per kernel: a k×k kernel has k² weights"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size + 1)
                if kernel_size > 1 else None),
    ]
    return _run("conv_parameters", fn, cases, reference, _compare_int, mistakes)


_hints("conv_connections",
       _("a connection is one input (or the bias) feeding one output unit."),
       _("there are out_channels · output_size² output units, each fed by in_channels · k · k inputs and its bias."),
       _("(in_channels · k² + 1) · out_channels · output_size²."))


def conv_connections(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, output_size)``: connections as the paper counts them.

    Every output unit is connected to in_channels · k · k inputs and to its
    bias, so connections = out_channels · (in_channels · k · k + 1) · output_size².

    Example:
        >>> conv_connections(lambda in_channels, out_channels, kernel_size, output_size:
        ...                  out_channels * (in_channels * kernel_size ** 2 + 1) * output_size ** 2).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size", "output_size")
    cases = _cases((1, 6, 5, 28), (16, 120, 5, 1), (6, 16, 5, 10), (3, 8, 3, 30), (1, 1, 1, 1), (2, 3, 3, 4),
                   keys=keys)

    def reference(in_channels, out_channels, kernel_size, output_size):
        return _counting.conv_counts(in_channels, out_channels, kernel_size, output_size).connections

    mistakes = [
        Mistake(_("forgets the biases: each output unit is also connected to its bias"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size, output_size:
                out_channels * in_channels * kernel_size ** 2 * output_size ** 2),
        Mistake(_NO_INPUTS, _FORMULAS, lambda in_channels, out_channels, kernel_size, output_size:
                out_channels * (kernel_size ** 2 + 1) * output_size ** 2 if in_channels > 1 else None),
        Mistake(_("gives the parameters: each is used at every output position, so multiply by the output map's "
                  "size"), _FORMULAS, lambda in_channels, out_channels, kernel_size, output_size:
                out_channels * (in_channels * kernel_size ** 2 + 1) if output_size > 1 else None),
        Mistake(_("multiplies by the output's side, not its area: an output map has output_size² units"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size, output_size:
                out_channels * (in_channels * kernel_size ** 2 + 1) * output_size if output_size > 1 else None),
    ]
    return _run("conv_connections", fn, cases, reference, _compare_int, mistakes)


_hints("linear_parameters",
       _("every output unit has one weight per input, and one bias."),
       _("that is in_features weights and 1 bias for each of the out_features units."),
       _("(in_features + 1) · out_features."))


def linear_parameters(fn) -> CheckResult:
    """Check ``fn(in_features, out_features)``: parameters of a fully connected layer with biases.

    Example:
        >>> linear_parameters(lambda in_features, out_features: (in_features + 1) * out_features).passed
        True
    """
    keys = ("in_features", "out_features")
    cases = _cases((120, 84), (84, 10), (400, 120), (1, 1), (7, 3), (3, 7), keys=keys)

    def reference(in_features, out_features):
        return sum(p.numel() for p in torch.nn.Linear(in_features, out_features).parameters())

    mistakes = [
        Mistake(_("forgets the biases: each output unit has one"), _FORMULAS,
                lambda in_features, out_features: in_features * out_features),
        Mistake(_("gives one bias per input: there is one per output unit"), _FORMULAS,
                lambda in_features, out_features: in_features * out_features + in_features
                if in_features != out_features else None),
        Mistake(_("gives the layer a single bias: each output unit has its own"), _FORMULAS,
                lambda in_features, out_features: in_features * out_features + 1 if out_features > 1 else None),
        Mistake(_("adds the inputs and the outputs: every input is connected to every output unit, so multiply"),
                _FORMULAS, lambda in_features, out_features: in_features + out_features),
    ]
    return _run("linear_parameters", fn, cases, reference, _compare_int, mistakes)


_hints("conv_connections_from_input",
       _("first the side of the output map, with chapter 1's formula; then count the connections from it."),
       _("side = (input_size + 2·padding − kernel_size) // stride + 1, rounded down; there are "
         "out_channels · side² output units."),
       _("each output unit is fed by in_channels · k · k inputs and its bias: (in_channels · k² + 1) · out_channels "
         "· side²."))


def conv_connections_from_input(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1)``: the connections of a
    convolution (square kernel, with biases) on a square input of side ``input_size``, as the paper counts them.

    The side of the output map comes first (chapter 1's formula,
    (input_size + 2·padding − kernel_size) // stride + 1); then each of the
    out_channels · side² output units is fed by in_channels · k · k inputs and its bias.
    Hidden cases include sides whose division by the stride leaves a remainder
    that separates the floor from ``round`` and from the ceiling.

    Example:
        >>> def from_input(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1):
        ...     side = (input_size + 2 * padding - kernel_size) // stride + 1
        ...     return (in_channels * kernel_size ** 2 + 1) * out_channels * side ** 2
        >>> conv_connections_from_input(from_input).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size", "input_size", "padding", "stride")
    cases = _cases((1, 6, 5, 32, 0, 1), (16, 120, 5, 5, 0, 1), (1, 6, 5, 28, 2, 1), (3, 8, 5, 32, 1, 2),
                   (6, 16, 5, 14, 0, 1), (2, 4, 3, 9, 0, 2), (1, 2, 1, 5, 0, 1), (2, 4, 3, 10, 0, 2),
                   (1, 2, 3, 11, 0, 3), (3, 2, 3, 12, 0, 3), keys=keys)

    def count(side, in_channels, out_channels, kernel_size, bias=True, channels=True):
        return (kernel_size ** 2 * (in_channels if channels else 1) + bias) * out_channels * side * side

    def side(input_size, kernel_size, padding, stride, rounding=math.floor, one_side=False):
        return rounding((input_size + (1 if one_side else 2) * padding - kernel_size) / stride) + 1

    def reference(in_channels, out_channels, kernel_size, input_size, padding, stride):
        n = _conv_output_size(input_size, kernel_size, padding=padding, stride=stride)
        return _counting.conv_counts(in_channels, out_channels, kernel_size, n).connections

    def with_side(**how):
        def gives(in_channels, out_channels, kernel_size, input_size, padding, stride):
            return count(side(input_size, kernel_size, padding, stride, **how), in_channels, out_channels,
                         kernel_size)
        return gives

    mistakes = [
        Mistake(_("gives the parameters: each is used at every output position, so multiply by the output map's "
                  "size"), _FORMULAS, lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                (in_channels * kernel_size ** 2 + 1) * out_channels),
        Mistake(_("uses the input's side instead of the output map's: a 5×5 kernel without padding takes 4 pixels "
                  "off the side"), _SIZES, lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                count(input_size, in_channels, out_channels, kernel_size)),
        Mistake(_("rounds the output side to the nearest integer (round): a window that does not fit is dropped, so "
                  "round down, with // (and Python's round(2.5) is 2, round(3.5) is 4)"), _SIZES,
                with_side(rounding=round)),
        Mistake(_("rounds the output side up (math.ceil): a window that does not fit is dropped, so round down, "
                  "with //"), _SIZES, with_side(rounding=math.ceil)),
        Mistake(_("computes an output side that ignores the padding: padding adds cells on both sides"), _SIZES,
                lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                count(side(input_size, kernel_size, 0, stride), in_channels, out_channels, kernel_size)
                if padding else None),
        Mistake(_("pads one side only: padding adds cells on both sides"), _SIZES, with_side(one_side=True)),
        Mistake(_("computes an output side that ignores the stride: the window moves stride cells at a time"), _SIZES,
                lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                count(input_size + 2 * padding - kernel_size + 1, in_channels, out_channels, kernel_size)
                if stride > 1 else None),
        Mistake(_("forgets the biases: each output unit is also connected to its bias"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                count(side(input_size, kernel_size, padding, stride), in_channels, out_channels, kernel_size,
                      bias=False)),
        Mistake(_NO_INPUTS, _FORMULAS, lambda in_channels, out_channels, kernel_size, input_size, padding, stride:
                count(side(input_size, kernel_size, padding, stride), in_channels, out_channels, kernel_size,
                      channels=False) if in_channels > 1 else None),
    ]
    return _run("conv_connections_from_input", fn, cases, reference, _compare_int, mistakes)


_hints("partial_conv_parameters",
       _("the table has one row per input map and one column per output map; each true entry is one k×k kernel."),
       _("count the kernels (the true entries) and add one bias per output map (per column)."),
       _("int(table.sum()) · k² + table.shape[1]."))


def partial_conv_parameters(fn) -> CheckResult:
    """Check ``fn(table, kernel_size)``: the trainable parameters of a partially connected convolution (C3).

    ``table`` is an in_channels×out_channels boolean tensor (like Table I,
    ``models.C3_TABLE``): output map j sees input map i where ``table[i, j]`` is
    true. Each output map has one k×k kernel per input map it sees, and one bias.

    Shapes: table: Cin×Cout booleans, kernel_size: an int -> an int (or a 0-d integer tensor).

    Example:
        >>> partial_conv_parameters(lambda table, kernel_size:
        ...                         table.sum() * kernel_size ** 2 + table.shape[1]).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    small = torch.tensor([[True, False, True], [True, True, False]])
    random = torch.rand(4, 7, generator=g) < 0.5
    random[0] = True  # every output map sees at least one input map
    cases = [{"table": _layers.C3_TABLE.clone(), "kernel_size": 5}, {"table": small, "kernel_size": 3},
             {"table": torch.ones(3, 2, dtype=torch.bool), "kernel_size": 5}, {"table": random, "kernel_size": 2},
             {"table": _layers.C3_TABLE.clone(), "kernel_size": 3}, {"table": torch.eye(5, dtype=torch.bool), "kernel_size": 1}]

    def reference(table, kernel_size):
        return _counting.count_parameters(_layers.PartialConv2d(table, kernel_size))

    def kernels(table):
        return int(table.sum())

    mistakes = [
        Mistake(_("counts a dense convolution, every output map seeing every input map: count the table's true "
                  "entries instead"), _TABLE, lambda table, kernel_size:
                (table.shape[0] * kernel_size ** 2 + 1) * table.shape[1] if not bool(table.all()) else None),
        Mistake(_("forgets the biases: one per output map"), _TABLE,
                lambda table, kernel_size: kernels(table) * kernel_size ** 2),
        Mistake(_("gives one bias per kernel: there is one per output map"), _TABLE,
                lambda table, kernel_size: kernels(table) * (kernel_size ** 2 + 1)),
        Mistake(_("gives one bias per input map (a row of the table): there is one per output map, a column"), _TABLE,
                lambda table, kernel_size: kernels(table) * kernel_size ** 2 + table.shape[0]
                if table.shape[0] != table.shape[1] else None),
    ]
    return _run("partial_conv_parameters", fn, cases, reference, _compare_int, mistakes)


_hints("conv_macs",
       _("a multiply–accumulate (MAC) is one multiplication of an input by a weight, added to a sum; the bias is "
         "only added."),
       _("each of the out_channels · output_size² output units needs one MAC per input it sees: in_channels · k · k "
         "of them."),
       _("in_channels · k² · out_channels · output_size²: the connections without the biases."))


def conv_macs(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, output_size)``: the multiply–accumulates of a convolution
    (square kernel) for one image, with a square output map of side ``output_size``.

    Each output unit multiplies in_channels · k · k inputs by weights and adds
    them up; its bias is an addition, not a multiply–accumulate. So MACs =
    in_channels · k · k · out_channels · output_size²: the connections without the biases.

    Example:
        >>> conv_macs(lambda in_channels, out_channels, kernel_size, output_size:
        ...           in_channels * kernel_size ** 2 * out_channels * output_size ** 2).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size", "output_size")
    cases = _cases((1, 6, 5, 28), (6, 16, 5, 10), (16, 120, 5, 1), (3, 8, 3, 30), (2, 1, 1, 4), keys=keys)

    def reference(in_channels, out_channels, kernel_size, output_size):
        return _counting.conv_counts(in_channels, out_channels, kernel_size, output_size, bias=False).connections

    mistakes = [
        Mistake(_("counts the biases too (that is the connections): a bias is added, not multiplied"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size, output_size:
                _counting.conv_counts(in_channels, out_channels, kernel_size, output_size).connections),
        Mistake(_("gives FLOPs, two per MAC: a MAC is one multiplication and one addition together"), _FORMULAS,
                lambda in_channels, out_channels, kernel_size, output_size:
                2 * reference(in_channels, out_channels, kernel_size, output_size)),
        Mistake(_NO_INPUTS, _FORMULAS, lambda in_channels, out_channels, kernel_size, output_size:
                kernel_size ** 2 * out_channels * output_size ** 2 if in_channels > 1 else None),
        Mistake(_("counts the weights without the output positions: each weight is used at every position"),
                _FORMULAS, lambda in_channels, out_channels, kernel_size, output_size:
                in_channels * kernel_size ** 2 * out_channels if output_size > 1 else None),
    ]
    return _run("conv_macs", fn, cases, reference, _compare_int, mistakes)


_BLOCK = _section(3, _("ResNet-18, one block by hand"))

_hints("basic_block_macs",
       _("the block is two 3×3 convolutions, and a 1×1 convolution on the shortcut when the block changes the size "
         "or the number of maps; batch normalisation, ReLU and the addition need no MACs."),
       _("the first 3×3 convolution (that stride, padding 1) gives maps of side (input_size − 1) // stride + 1; each "
         "of its out_channels · side² outputs needs in_channels · 3 · 3 MACs. The second runs on those smaller maps, "
         "out_channels → out_channels."),
       _("(9 · in_channels · out_channels + 9 · out_channels² + shortcut) · side², where the shortcut is "
         "in_channels · out_channels if stride ≠ 1 or in_channels ≠ out_channels, else 0."))


class _BasicBlock(nn.Module):
    """ResNet-18's block (torchvision's ``BasicBlock``): two 3×3 convolutions without biases, each followed by
    batch normalisation, the input added back, and a 1×1 convolution on that shortcut when the block changes
    the size of the maps or their number."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


def _block_parts(in_channels, out_channels, input_size, stride):
    """The MACs of the block's first and second convolutions and of its shortcut, and the side of its output."""
    side = _conv_output_size(input_size, 3, padding=1, stride=stride)
    conv1, conv2 = 9 * in_channels * out_channels * side**2, 9 * out_channels**2 * side**2
    shortcut = in_channels * out_channels * side**2 if stride != 1 or in_channels != out_channels else 0
    return conv1, conv2, shortcut, side


def basic_block_macs(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, input_size, stride)``: the multiply–accumulates of one image through
    ResNet-18's basic block, on square input maps of side ``input_size``.

    The block: a 3×3 convolution from in_channels to out_channels maps with
    that stride and padding 1, then a 3×3 convolution from out_channels to
    out_channels maps (stride 1, padding 1), neither with biases; when the
    stride is not 1 or the number of maps changes, the shortcut is a 1×1
    convolution with the same stride. Batch normalisation (folded into the
    convolutions), ReLU and the addition need no MACs. The answer may be an
    int or a 0-d integer tensor.

    Example:
        >>> def block(in_channels, out_channels, input_size, stride):
        ...     side = (input_size - 1) // stride + 1
        ...     shortcut = in_channels * out_channels if stride != 1 or in_channels != out_channels else 0
        ...     return (9 * in_channels * out_channels + 9 * out_channels ** 2 + shortcut) * side ** 2
        >>> basic_block_macs(block).passed
        True
    """
    keys = ("in_channels", "out_channels", "input_size", "stride")
    cases = _cases((64, 64, 56, 1), (64, 128, 56, 2), (128, 256, 28, 2), (256, 512, 14, 2), (16, 32, 9, 1),
                   (8, 8, 7, 2), (3, 5, 5, 1), keys=keys)

    def reference(in_channels, out_channels, input_size, stride):
        with torch.device("meta"):
            block = _BasicBlock(in_channels, out_channels, stride)
        return _counting.count_macs(block, (in_channels, input_size, input_size))

    def with_batch_norm(in_channels, out_channels, input_size, stride):
        conv1, conv2, shortcut, side = _block_parts(in_channels, out_channels, input_size, stride)
        return conv1 + conv2 + shortcut + out_channels * side**2 * (2 + (shortcut > 0))

    def no_stride(in_channels, out_channels, input_size, stride):
        if stride == 1:
            return None
        conv1, conv2, shortcut, side = _block_parts(in_channels, out_channels, input_size, stride)
        return (conv1 + conv2 + shortcut) // side**2 * input_size**2

    def second_on_input(in_channels, out_channels, input_size, stride):
        if stride == 1:
            return None
        conv1, _conv2, shortcut, _side = _block_parts(in_channels, out_channels, input_size, stride)
        return conv1 + 9 * out_channels**2 * input_size**2 + shortcut

    def second_from_input(in_channels, out_channels, input_size, stride):
        if in_channels == out_channels:
            return None
        conv1, _conv2, shortcut, _side = _block_parts(in_channels, out_channels, input_size, stride)
        return 2 * conv1 + shortcut

    def one_conv(in_channels, out_channels, input_size, stride):
        conv1, _conv2, shortcut, _side = _block_parts(in_channels, out_channels, input_size, stride)
        return conv1 + shortcut

    def no_shortcut(in_channels, out_channels, input_size, stride):
        conv1, conv2, shortcut, _side = _block_parts(in_channels, out_channels, input_size, stride)
        return conv1 + conv2 if shortcut else None

    mistakes = [
        Mistake(_("gives FLOPs, two per MAC: a MAC is one multiplication and one addition together"), _BLOCK,
                lambda **case: 2 * reference(**case)),
        Mistake(_("counts batch normalisation, one MAC per value: in evaluation mode it folds into the convolution "
                  "before it"), _BLOCK, with_batch_norm),
        Mistake(_("ignores the stride: the first convolution, and the shortcut, move stride cells at a time, so the "
                  "maps shrink"), _BLOCK, no_stride),
        Mistake(_("runs the second convolution on the input's size: it runs on the first convolution's smaller "
                  "output"), _BLOCK, second_on_input),
        Mistake(_("takes the second convolution from in_channels maps: it reads the first one's out_channels maps"),
                _BLOCK, second_from_input),
        Mistake(_("counts one 3×3 convolution only: the block has two"), _BLOCK, one_conv),
        Mistake(_("forgets the shortcut's 1×1 convolution: a block that changes the size or the number of maps "
                  "needs it to add the input back"), _BLOCK, no_shortcut),
    ]
    return _run("basic_block_macs", fn, cases, reference, _compare_int, mistakes)
