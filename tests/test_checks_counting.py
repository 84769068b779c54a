"""The self-checks of chapter 3 (counting): the right answers and the typical wrong ones that test_checks.py runs."""

import re

import pytest
import torch

from lenet_helpers import checks
from lenet_helpers.conv import conv_output_size


def from_input(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1):
    side = (input_size + 2 * padding - kernel_size) // stride + 1
    return (in_channels * kernel_size**2 + 1) * out_channels * side**2


def partial_by_columns(table, kernel_size):
    """Column by column, as chapter 3 counts C3: one kernel per input map the output map sees, one bias."""
    return sum(int(table[:, j].sum()) * kernel_size**2 + 1 for j in range(table.shape[1]))


def block_by_layers(in_channels, out_channels, input_size, stride):
    """ResNet-18's block written another way: layer by layer, with chapter 1's formula, as a 0-d integer tensor."""
    side = conv_output_size(input_size, 3, padding=1, stride=stride)
    layers = [(in_channels, out_channels, 3), (out_channels, out_channels, 3)]
    if stride != 1 or in_channels != out_channels:
        layers.append((in_channels, out_channels, 1))
    return torch.tensor(sum(c_in * k * k * c_out * side * side for c_in, c_out, k in layers))


def block_plain(in_channels, out_channels, input_size, stride):
    side = (input_size - 1) // stride + 1
    shortcut = in_channels * out_channels if (stride, in_channels) != (1, out_channels) else 0
    return (9 * in_channels * out_channels + 9 * out_channels**2 + shortcut) * side**2


RIGHT = {
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size**2 + 1),
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * (in_channels * kernel_size**2 + 1) * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: (in_features + 1) * out_features,
    checks.conv_connections_from_input: from_input,
    checks.partial_conv_parameters: partial_by_columns,
    checks.conv_macs: lambda in_channels, out_channels, kernel_size, output_size: (
        in_channels * kernel_size**2 * out_channels * output_size**2),
    checks.basic_block_macs: block_by_layers,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * in_channels * kernel_size**2,
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * in_channels * kernel_size**2 * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: in_features * out_features,
    checks.conv_connections_from_input: (
        lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: (
            (in_channels * kernel_size**2 + 1) * out_channels * input_size**2),
        "it matches the input's side instead of the output map's"),
    checks.partial_conv_parameters: (
        lambda table, kernel_size: (table.shape[0] * kernel_size**2 + 1) * table.shape[1],
        "it matches a dense convolution"),
    checks.conv_macs: (
        lambda in_channels, out_channels, kernel_size, output_size: (
            (in_channels * kernel_size**2 + 1) * out_channels * output_size**2),
        "it matches the connections: counting the biases too"),
    checks.basic_block_macs: (
        lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, 1),
        "it matches ignoring the stride"),
}

# More typical mistakes, each recognised by name.
MISTAKES = [
    (checks.conv_connections_from_input,
     lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
         in_channels, out_channels, kernel_size, input_size, 0, stride), "ignores the padding"),
    (checks.conv_connections_from_input,
     lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
         in_channels, out_channels, kernel_size, input_size, padding, 1), "ignores the stride"),
    (checks.conv_connections_from_input,
     lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
         in_channels, out_channels, kernel_size, input_size, padding, stride) // (in_channels * kernel_size**2 + 1)
     * in_channels * kernel_size**2, "forgetting the biases"),
    (checks.conv_connections_from_input,
     lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: (
         in_channels * kernel_size**2 + 1) * out_channels, "the parameters"),
    (checks.conv_connections_from_input,
     lambda in_channels, out_channels, kernel_size, input_size, padding=0, stride=1: from_input(
         1, out_channels, kernel_size, input_size, padding, stride), "forgetting the input channels"),
    (checks.partial_conv_parameters, lambda table, kernel_size: int(table.sum()) * kernel_size**2,
     "forgetting the biases"),
    (checks.partial_conv_parameters, lambda table, kernel_size: int(table.sum()) * (kernel_size**2 + 1),
     "one bias per kernel"),
    (checks.partial_conv_parameters, lambda table, kernel_size: int(table.sum()) * kernel_size**2 + table.shape[0],
     "one bias per input map"),
    (checks.conv_macs, lambda in_channels, out_channels, kernel_size, output_size: (
        2 * in_channels * kernel_size**2 * out_channels * output_size**2), "FLOPs"),
    (checks.conv_macs, lambda in_channels, out_channels, kernel_size, output_size: (
        kernel_size**2 * out_channels * output_size**2), "forgetting the input channels"),
    (checks.conv_macs, lambda in_channels, out_channels, kernel_size, output_size: (
        in_channels * kernel_size**2 * out_channels), "without the output positions"),
]

# ResNet-18's block: the mistakes learners make on it, each named, the answer never shown.
BLOCK_MISTAKES = [
    (lambda in_channels, out_channels, input_size, stride: (
        9 * in_channels * out_channels + 9 * out_channels**2) * ((input_size - 1) // stride + 1) ** 2,
     "forgetting the shortcut's 1×1 convolution"),
    (lambda in_channels, out_channels, input_size, stride: 2 * block_plain(in_channels, out_channels, input_size, stride),
     "FLOPs, two per MAC"),
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
     + out_channels * ((input_size - 1) // stride + 1) ** 2 * (2 + (stride != 1 or in_channels != out_channels)),
     "counting batch normalisation"),
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
     + 9 * out_channels**2 * (input_size**2 - ((input_size - 1) // stride + 1) ** 2),
     "the second convolution on the input's size"),
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
     + 9 * (in_channels - out_channels) * out_channels * ((input_size - 1) // stride + 1) ** 2,
     "the second convolution from in_channels maps"),
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride)
     - 9 * out_channels**2 * ((input_size - 1) // stride + 1) ** 2, "one 3×3 convolution only"),
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, 1),
     "ignoring the stride"),
]
MISTAKES += [(checks.basic_block_macs, wrong, words) for wrong, words in BLOCK_MISTAKES]


def answer_for(message):
    """The right answer for the case a failure message names: fn(in_channels=…, …)."""
    args = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", message.split("First failure: ")[1].split(")")[0])}
    return block_plain(**args)


@pytest.mark.parametrize("wrong, words", BLOCK_MISTAKES + [
    (lambda in_channels, out_channels, input_size, stride: block_plain(in_channels, out_channels, input_size, stride) + 1,
     "not the right count"),
    (lambda in_channels, out_channels, input_size, stride: float(block_plain(in_channels, out_channels, input_size, stride)),
     "return an int"),
    (lambda in_channels, out_channels, input_size, stride: torch.tensor(
        float(block_plain(in_channels, out_channels, input_size, stride))), "return an int"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_the_block_check_never_shows_the_answer(wrong, words):
    result = checks.basic_block_macs(wrong)
    assert not result.passed and words in result.message, result.message
    right = answer_for(result.message)
    assert str(right) not in result.message and f"{right:,}" not in result.message


def test_the_block_check_accepts_an_int_or_a_0d_integer_tensor_and_nothing_else():
    assert checks.basic_block_macs(block_plain).passed
    assert checks.basic_block_macs(block_by_layers).passed  # a 0-d integer tensor
    as_vector = checks.basic_block_macs(lambda **args: block_by_layers(**args).reshape(1))
    assert not as_vector.passed and "a tensor of shape (1,)" in as_vector.message
    as_text = checks.basic_block_macs(lambda **args: str(block_plain(**args)))
    assert not as_text.passed and "returned a str" in as_text.message


@pytest.mark.parametrize("check, wrong, words", MISTAKES, ids=lambda v: getattr(v, "__name__", None))
def test_each_typical_mistake_is_named(check, wrong, words):
    result = check(wrong)
    assert not result.passed and "it matches" in result.message and words in result.message, result.message


def test_a_float_or_a_tensor_is_explained():
    as_float = checks.conv_macs(lambda in_channels, out_channels, kernel_size, output_size: float(
        in_channels * kernel_size**2 * out_channels * output_size**2))
    assert not as_float.passed and "return an int" in as_float.message
    as_tensor = checks.partial_conv_parameters(lambda table, kernel_size: table.sum() * kernel_size**2 + table.shape[1])
    assert not as_tensor.passed and "expected the int" in as_tensor.message


def test_the_learners_table_cannot_spoil_the_reference():
    def in_place(table, kernel_size):
        n = partial_by_columns(table, kernel_size)
        table.fill_(False)
        return n

    assert checks.partial_conv_parameters(in_place).passed
    from lenet_helpers import models
    assert int(models.C3_TABLE.sum()) == 60  # the course's Table I is untouched
