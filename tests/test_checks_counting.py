"""The self-checks of chapter 3 (counting): a right answer with parameters named as the learner likes, and the
typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import math
import re

import pytest
import torch

from lenet_helpers import checks
from lenet_helpers.conv import conv_output_size


def from_input(cin, cout, k, side, pad=0, step=1):
    out = (side + 2 * pad - k) // step + 1
    return (cin * k**2 + 1) * cout * out**2


def from_input_with(rounding):
    def count(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1):
        side = rounding((input_size + 2 * padding - kernel_size) / stride) + 1
        return (in_channels * kernel_size**2 + 1) * out_channels * side**2
    return count


def partial_by_columns(connections, k):
    """Column by column, as chapter 3 counts C3: one kernel per input map the output map sees, one bias."""
    return sum(int(connections[:, j].sum()) * k**2 + 1 for j in range(connections.shape[1]))


def block_by_layers(in_channels, out_channels, input_size, stride):
    """ResNet-18's block written another way: layer by layer, with chapter 1's formula, as a 0-d integer tensor."""
    side = conv_output_size(input_size, 3, padding=1, stride=stride)
    layers = [(in_channels, out_channels, 3), (out_channels, out_channels, 3)]
    if stride != 1 or in_channels != out_channels:
        layers.append((in_channels, out_channels, 1))
    return torch.tensor(sum(c_in * k * k * c_out * side * side for c_in, c_out, k in layers))


def block_plain(cin, cout, size, step):
    side = (size - 1) // step + 1
    shortcut = cin * cout if (step, cin) != (1, cout) else 0
    return (9 * cin * cout + 9 * cout**2 + shortcut) * side**2


def side_of(size, step):
    return (size - 1) // step + 1


RIGHT = {
    checks.conv_parameters: lambda c_in, c_out, k: c_out * (c_in * k**2 + 1),
    checks.conv_connections: lambda c_in, c_out, k, side: c_out * (c_in * k**2 + 1) * side**2,
    checks.linear_parameters: lambda n_in, n_out: (n_in + 1) * n_out,
    checks.conv_connections_from_input: from_input,
    checks.partial_conv_parameters: partial_by_columns,
    checks.conv_macs: lambda c_in, c_out, k, side: c_in * k**2 * c_out * side**2,
    checks.basic_block_macs: block_by_layers,
}

WRONG = {
    checks.conv_parameters: [
        (lambda in_channels, out_channels, kernel_size: out_channels * in_channels * kernel_size**2,
         ["forgets the biases"]),
        (lambda in_channels, out_channels, kernel_size: out_channels * (kernel_size**2 + 1),
         ["leaves out the input channels"]),
        (lambda in_channels, out_channels, kernel_size: out_channels * in_channels * (kernel_size**2 + 1),
         ["one bias per kernel"]),
        (lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size + 1),
         ["k² weights"]),
    ],
    checks.conv_connections: [
        (lambda in_channels, out_channels, kernel_size, output_size: (
            out_channels * in_channels * kernel_size**2 * output_size**2), ["forgets the biases"]),
        (lambda in_channels, out_channels, kernel_size, output_size: (
            out_channels * (kernel_size**2 + 1) * output_size**2), ["leaves out the input channels"]),
        (lambda in_channels, out_channels, kernel_size, output_size: out_channels * (in_channels * kernel_size**2 + 1),
         ["gives the parameters"]),
        (lambda in_channels, out_channels, kernel_size, output_size: (
            out_channels * (in_channels * kernel_size**2 + 1) * output_size), ["side, not its area"]),
    ],
    checks.linear_parameters: [
        (lambda in_features, out_features: in_features * out_features, ["forgets the biases"]),
        (lambda in_features, out_features: in_features * out_features + in_features, ["one bias per input"]),
        (lambda in_features, out_features: in_features * out_features + 1, ["a single bias"]),
        (lambda in_features, out_features: in_features + out_features, ["adds the inputs and the outputs"]),
    ],
    checks.conv_connections_from_input: [
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: (
            (in_channels * kernel_size**2 + 1) * out_channels * input_size**2), ["the input's side instead"]),
        (from_input_with(round), ["nearest integer (round)", "round(2.5) is 2"]),
        (from_input_with(math.ceil), ["up (math.ceil)"]),
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
            in_channels, out_channels, kernel_size, input_size, 0, stride), ["ignores the padding"]),
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
            in_channels, out_channels, kernel_size, input_size, padding, 1), ["ignores the stride"]),
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
            in_channels, out_channels, kernel_size, input_size, padding, stride)
         // (in_channels * kernel_size**2 + 1) * in_channels * kernel_size**2, ["forgets the biases"]),
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: (
            in_channels * kernel_size**2 + 1) * out_channels, ["gives the parameters"]),
        (lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
            1, out_channels, kernel_size, input_size, padding, stride), ["leaves out the input channels"]),
    ],
    checks.partial_conv_parameters: [
        (lambda table, kernel_size: (table.shape[0] * kernel_size**2 + 1) * table.shape[1], ["dense convolution"]),
        (lambda table, kernel_size: int(table.sum()) * kernel_size**2, ["forgets the biases"]),
        (lambda table, kernel_size: int(table.sum()) * (kernel_size**2 + 1), ["one bias per kernel"]),
        (lambda table, kernel_size: int(table.sum()) * kernel_size**2 + table.shape[0], ["one bias per input map"]),
    ],
    checks.conv_macs: [
        (lambda in_channels, out_channels, kernel_size, output_size: (
            (in_channels * kernel_size**2 + 1) * out_channels * output_size**2), ["counts the biases too"]),
        (lambda in_channels, out_channels, kernel_size, output_size: (
            2 * in_channels * kernel_size**2 * out_channels * output_size**2), ["FLOPs"]),
        (lambda in_channels, out_channels, kernel_size, output_size: kernel_size**2 * out_channels * output_size**2,
         ["leaves out the input channels"]),
        (lambda in_channels, out_channels, kernel_size, output_size: in_channels * kernel_size**2 * out_channels,
         ["without the output positions"]),
    ],
    checks.basic_block_macs: [
        (lambda in_channels, out_channels, input_size, stride: (
            9 * in_channels * out_channels + 9 * out_channels**2) * side_of(input_size, stride) ** 2,
         ["forgets the shortcut's 1×1 convolution"]),
        (lambda in_channels, out_channels, input_size, stride: 2 * block_plain(in_channels, out_channels, input_size,
                                                                               stride), ["FLOPs"]),
        (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
         + out_channels * side_of(input_size, stride) ** 2 * (2 + (stride != 1 or in_channels != out_channels)),
         ["counts batch normalisation"]),
        (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
         + 9 * out_channels**2 * (input_size**2 - side_of(input_size, stride) ** 2), ["on the input's size"]),
        (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
         + 9 * (in_channels - out_channels) * out_channels * side_of(input_size, stride) ** 2,
         ["second convolution from in_channels maps"]),
        (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
         - 9 * out_channels**2 * side_of(input_size, stride) ** 2, ["one 3×3 convolution only"]),
        (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, 1),
         ["ignores the stride"]),
    ],
}


@pytest.mark.parametrize("wrong", [answers[0] for answers in WRONG[checks.basic_block_macs]] + [
    lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride) + 1,
])
def test_the_block_check_never_shows_the_answer(wrong):
    """The exercise's answer is one large number per case: a message that showed it would give it away."""
    result = checks.basic_block_macs(wrong)
    assert not result.passed
    for case in re.findall(r"\((\d+), (\d+), (\d+), (\d+)\)|in_channels=(\d+), out_channels=(\d+), "
                           r"input_size=(\d+), stride=(\d+)", result.message):
        numbers = [int(n) for n in case if n]
        right = block_plain(*numbers)
        assert str(right) not in result.message and f"{right:,}" not in result.message, result.message


def test_a_count_may_be_a_0d_integer_tensor():
    """#22: table.sum() * k**2 + n is a 0-d integer tensor, and a count."""
    assert checks.partial_conv_parameters(lambda table, kernel_size: table.sum() * kernel_size**2 + table.shape[1]).passed
    assert checks.conv_parameters(lambda i, o, k: torch.tensor(o * (i * k**2 + 1))).passed
    as_float = checks.conv_macs(lambda in_channels, out_channels, kernel_size, output_size: float(
        in_channels * kernel_size**2 * out_channels * output_size**2))
    assert not as_float.passed and "return an int" in as_float.message
    float_tensor = checks.conv_parameters(lambda i, o, k: torch.tensor(float(o * (i * k**2 + 1))))
    assert not float_tensor.passed and "return an int" in float_tensor.message


def test_the_learners_table_cannot_spoil_the_reference():
    def in_place(table, kernel_size):
        n = partial_by_columns(table, kernel_size)
        table.fill_(False)
        return n

    result = checks.partial_conv_parameters(in_place)
    assert not result.passed and "changes its argument table in place" in result.message
    from lenet_helpers import models
    assert int(models.C3_TABLE.sum()) == 60  # the course's Table I is untouched
    assert checks.partial_conv_parameters(partial_by_columns).passed
