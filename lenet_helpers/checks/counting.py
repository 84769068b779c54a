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
"""

from __future__ import annotations

import torch
from torch import nn

from .. import counting as _counting
from .. import layers as _layers
from ..conv import conv_output_size as _conv_output_size
from ._core import (
    CheckResult,
    _cases,
    _compare_count,
    _compare_int,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["conv_parameters", "conv_connections", "linear_parameters", "conv_connections_from_input",
           "partial_conv_parameters", "conv_macs", "basic_block_macs"]


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

    def hint(args):
        return ("each output map has its own kernel, which sees every input map (in_channels · k · k weights), "
                "plus one bias.")

    return _run("conv_parameters", fn, cases, reference, _compare_int, hint)


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
    cases = _cases((1, 6, 5, 28), (16, 120, 5, 1), (6, 16, 5, 10), (3, 8, 3, 30), (1, 1, 1, 1), keys=keys)

    def reference(in_channels, out_channels, kernel_size, output_size):
        return _counting.conv_counts(in_channels, out_channels, kernel_size, output_size).connections

    def hint(args):
        return ("a connection is one input (or the bias) feeding one output unit: there are out_channels · "
                "output_size² output units, each fed by in_channels · k · k inputs and one bias.")

    return _run("conv_connections", fn, cases, reference, _compare_int, hint)


def linear_parameters(fn) -> CheckResult:
    """Check ``fn(in_features, out_features)``: parameters of a fully connected layer with biases.

    Example:
        >>> linear_parameters(lambda in_features, out_features: (in_features + 1) * out_features).passed
        True
    """
    keys = ("in_features", "out_features")
    cases = _cases((120, 84), (84, 10), (400, 120), (1, 1), (7, 3), keys=keys)

    def reference(in_features, out_features):
        return sum(p.numel() for p in torch.nn.Linear(in_features, out_features).parameters())

    def hint(args):
        return "every output has one weight per input, and one bias."

    return _run("linear_parameters", fn, cases, reference, _compare_int, hint)


def conv_connections_from_input(fn) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1)``: the connections of a
    convolution (square kernel, with biases) on a square input of side ``input_size``, as the paper counts them.

    The side of the output map comes first (chapter 1's formula,
    (input_size + 2·padding − kernel_size) // stride + 1); then each of the
    out_channels · side² output units is fed by in_channels · k · k inputs and its bias.

    Example:
        >>> def from_input(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1):
        ...     side = (input_size + 2 * padding - kernel_size) // stride + 1
        ...     return (in_channels * kernel_size ** 2 + 1) * out_channels * side ** 2
        >>> conv_connections_from_input(from_input).passed
        True
    """
    keys = ("in_channels", "out_channels", "kernel_size", "input_size", "padding", "stride")
    cases = _cases((1, 6, 5, 32, 0, 1), (16, 120, 5, 5, 0, 1), (1, 6, 5, 28, 2, 1), (3, 8, 5, 32, 1, 2),
                   (6, 16, 5, 14, 0, 1), (2, 4, 3, 9, 0, 2), (1, 2, 1, 5, 0, 1), keys=keys)

    def reference(in_channels, out_channels, kernel_size, input_size, padding, stride):
        def count(side, per_unit):
            return per_unit * out_channels * side * side

        side = _conv_output_size(input_size, kernel_size, padding=padding, stride=stride)
        weights = in_channels * kernel_size * kernel_size
        value = _counting.conv_counts(in_channels, out_channels, kernel_size, side).connections
        mistakes = {
            "the parameters (each is used at every output position: multiply by the output map's size)":
                (weights + 1) * out_channels,
            "the input's side instead of the output map's (a 5×5 kernel without padding removes 4 pixels)":
                count(input_size, weights + 1),
            "an output side that ignores the padding (it adds cells on both sides)":
                count((input_size - kernel_size) // stride + 1, weights + 1),
            "an output side that ignores the stride (the window moves stride cells at a time)":
                count(input_size + 2 * padding - kernel_size + 1, weights + 1),
            "forgetting the biases (each output unit has one more connection, to its bias)": count(side, weights),
            "forgetting the input channels (each kernel spans all in_channels input maps)":
                count(side, kernel_size * kernel_size + 1),
        }
        return _Expected(value, mistakes)

    def hint(args):
        return ("first the output side, (input_size + 2·padding − kernel_size) // stride + 1; then every one of the "
                "out_channels · side² output units is fed by in_channels · k · k inputs and one bias.")

    return _run("conv_connections_from_input", fn, cases, reference, _compare_with_mistakes(_compare_int), hint)


def partial_conv_parameters(fn) -> CheckResult:
    """Check ``fn(table, kernel_size)``: the trainable parameters of a partially connected convolution (C3).

    ``table`` is an in_channels×out_channels boolean tensor (like Table I,
    ``models.C3_TABLE``): output map j sees input map i where ``table[i, j]`` is
    true. Each output map has one k×k kernel per input map it sees, and one bias.

    Shapes: table: Cin×Cout booleans, kernel_size: an int -> an int.

    Example:
        >>> partial_conv_parameters(lambda table, kernel_size:
        ...                         int(table.sum()) * kernel_size ** 2 + table.shape[1]).passed
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
        value = _counting.count_parameters(_layers.PartialConv2d(table, kernel_size))
        kernels, (cin, cout), area = int(table.sum()), table.shape, kernel_size * kernel_size
        mistakes = {
            "a dense convolution: every output map seeing every input map (use the table)": (cin * area + 1) * cout,
            "forgetting the biases (one per output map)": kernels * area,
            "one bias per kernel (there is one per output map)": kernels * (area + 1),
            "one bias per input map (there is one per output map, a column of the table)": kernels * area + cin,
        }
        return _Expected(value, mistakes)

    def hint(args):
        cin, cout = args["table"].shape
        return (f"the table has {cin} rows (input maps) and {cout} columns (output maps); each true entry is one "
                "k×k kernel, and each output map (column) has one bias.")

    return _run("partial_conv_parameters", fn, cases, reference, _compare_with_mistakes(_compare_int), hint)


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
        value = _counting.conv_counts(in_channels, out_channels, kernel_size, output_size, bias=False).connections
        mistakes = {
            "the connections: counting the biases too (a bias is added, not multiplied)":
                _counting.conv_counts(in_channels, out_channels, kernel_size, output_size).connections,
            "FLOPs, two per MAC (a MAC is one multiplication and one addition together)": 2 * value,
            "forgetting the input channels (each kernel spans all in_channels input maps)":
                kernel_size ** 2 * out_channels * output_size ** 2,
            "the weights without the output positions (each weight is used at every position)":
                in_channels * kernel_size ** 2 * out_channels,
        }
        return _Expected(value, mistakes)

    def hint(args):
        return ("each of the out_channels · output_size² output units needs one multiply–accumulate per input it "
                "sees, in_channels · k · k of them; the bias is only added.")

    return _run("conv_macs", fn, cases, reference, _compare_with_mistakes(_compare_int), hint)


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
        value = _counting.count_macs(block, (in_channels, input_size, input_size))
        side = _conv_output_size(input_size, 3, padding=1, stride=stride)
        conv1, conv2 = 9 * in_channels * out_channels * side**2, 9 * out_channels**2 * side**2
        shortcut = value - conv1 - conv2
        values = out_channels * side**2  # per batch normalisation
        mistakes = {
            "FLOPs, two per MAC (a MAC is one multiplication and one addition together)": 2 * value,
            "counting batch normalisation, one MAC per value (in evaluation mode it folds into the convolution "
            "before it)": value + values * (2 + (shortcut > 0)),
            "ignoring the stride (the first convolution, and the shortcut, move stride cells at a time, so the "
            "maps shrink)": (conv1 + conv2 + shortcut) // side**2 * input_size**2,
            "the second convolution on the input's size (it runs on the first convolution's smaller output)":
                conv1 + 9 * out_channels**2 * input_size**2 + shortcut,
            "the second convolution from in_channels maps (it reads the first one's out_channels maps)":
                2 * conv1 + shortcut,
            "one 3×3 convolution only (the block has two)": conv1 + shortcut,
        }
        if shortcut:
            mistakes["forgetting the shortcut's 1×1 convolution (a block that changes the size or the number of "
                     "maps needs it to add the input back)"] = conv1 + conv2
        return _Expected(value, {k: v for k, v in mistakes.items() if v != value})

    def hint(args):
        return ("the first 3×3 convolution (stride, padding 1) gives maps of side (input_size − 1) // stride + 1; "
                "each of its out_channels · side² outputs needs in_channels · 3 · 3 MACs. The second 3×3 convolution "
                "runs on those maps, out_channels → out_channels. If stride ≠ 1 or in_channels ≠ out_channels, add "
                "the shortcut's 1×1 convolution. Batch norm, ReLU and the addition need none.")

    return _run("basic_block_macs", fn, cases, reference, _compare_with_mistakes(_compare_count), hint)
