"""Self-checks for chapter 3, counting parameters and connections.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`conv_parameters`         ``fn(in_channels, out_channels, kernel_size) -> int``
:func:`conv_connections`        ``fn(in_channels, out_channels, kernel_size, output_size) -> int``
:func:`linear_parameters`       ``fn(in_features, out_features) -> int``
==============================  ===================================================
"""

from __future__ import annotations

import torch

from .. import counting as _counting
from ._core import (
    CheckResult,
    _cases,
    _compare_int,
    _run,
)

__all__ = ["conv_parameters", "conv_connections", "linear_parameters"]


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
