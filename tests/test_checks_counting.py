"""The self-checks of chapter 3 (counting): the right answers and the typical wrong ones that test_checks.py runs."""

import pytest
import torch

from lenet_helpers import checks


def from_input(in_channels, out_channels, kernel_size, input_size, padding=0, stride=1):
    side = (input_size + 2 * padding - kernel_size) // stride + 1
    return (in_channels * kernel_size**2 + 1) * out_channels * side**2


def partial_by_columns(table, kernel_size):
    """Column by column, as chapter 3 counts C3: one kernel per input map the output map sees, one bias."""
    return sum(int(table[:, j].sum()) * kernel_size**2 + 1 for j in range(table.shape[1]))


RIGHT = {
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size**2 + 1),
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * (in_channels * kernel_size**2 + 1) * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: (in_features + 1) * out_features,
    checks.conv_connections_from_input: from_input,
    checks.partial_conv_parameters: partial_by_columns,
    checks.conv_macs: lambda in_channels, out_channels, kernel_size, output_size: (
        in_channels * kernel_size**2 * out_channels * output_size**2),
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
