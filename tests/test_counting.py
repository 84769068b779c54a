import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import counting
from lenet_helpers.models import LeNet5, LeNet5Modern, LeNetD2L, PartialConv2d, Subsampling

# The paper's figures (Sec. II.B), to check the formulas against: (parameters, connections) per layer.
PAPER = {
    "C1": (156, 122_304),
    "S2": (12, 5_880),
    "C3": (1_516, 151_600),
    "S4": (32, 2_000),
    "C5": (48_120, 48_120),
    "F6": (10_164, 10_164),
    "output": (0, 840),
}
PAPER_SHAPES = {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10), "S4": (16, 5, 5), "C5": (120, 1, 1), "F6": (84,), "output": (10,)}


def test_lenet5_table_reproduces_the_paper():
    table = counting.lenet5_table()
    assert [row.layer for row in table] == list(PAPER)
    assert {row.layer: (row.parameters, row.connections) for row in table} == PAPER
    assert {row.layer: row.output_shape for row in table} == PAPER_SHAPES
    assert (table.footer.parameters, table.footer.connections) == (60_000, 340_908)
    # the six layers below the output account for 340,068 connections, the RBF's 840 make the total
    assert sum(row.connections for row in table[:-1]) == 340_068


def test_lenet5_table_prints():
    text = str(counting.lenet5_table())
    assert "122,304" in text and "340,908" in text and "60,000" in text
    assert "<table" in counting.lenet5_table()._repr_html_() and "340,908" in counting.lenet5_table()._repr_html_()


def test_measured_counts_of_the_faithful_model_match_the_paper():
    model = LeNet5()
    assert counting.count_parameters(model) == 60_000
    assert counting.count_connections(model, (1, 32, 32)) == 340_908
    assert counting.count_connections(model, (1, 1, 32, 32)) == 340_908
    measured = counting.count_table(model, (1, 32, 32))
    assert {row.layer: (row.parameters, row.connections) for row in measured} == PAPER
    assert {row.layer: row.output_shape for row in measured} == PAPER_SHAPES


def test_counts_of_the_variants():
    # Dense C3 (6·16·25 + 16 = 2,416) and a 10-way linear output (84·10 + 10 = 850) instead of the RBF.
    for model, size in ((LeNet5Modern(), (1, 32, 32)), (LeNetD2L(), (1, 28, 28))):
        table = counting.count_table(model, size)
        rows = {row.layer: row for row in table}
        assert rows["C3"].parameters == 2_416
        assert rows["output"].parameters == 850
        assert counting.count_parameters(model) == 156 + 2_416 + 48_120 + 10_164 + 850
        # plain pooling: no parameters, one connection per window input
        assert rows["S2"].parameters == 0 and rows["S2"].connections == 6 * 14 * 14 * 4


def test_functional_calls_in_forward_are_counted():
    class Net(nn.Module):  # the PyTorch tutorial's style: pooling as function calls
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 6, 5)
            self.fc = nn.Linear(6 * 14 * 14, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            return self.fc(torch.flatten(x, 1))

    table = counting.count_table(Net(), (1, 32, 32))
    rows = {row.layer: row for row in table}
    assert rows["(forward)"].connections == 6 * 14 * 14 * 4
    assert counting.count_connections(Net(), (1, 32, 32)) == 122_304 + 6 * 14 * 14 * 4 + 10 * (6 * 14 * 14 + 1)


def test_formulas():
    assert counting.conv_counts(1, 6, 5, 28) == (156, 122_304)
    assert counting.conv_counts(3, 2, (3, 3), (4, 4), bias=False) == (54, 864)
    assert counting.partial_conv_counts([3, 4], 5, 10) == (76 + 101, (76 + 101) * 100)
    assert counting.subsampling_counts(16, 2, 5) == (32, 2_000)
    assert counting.pool_counts(6, 2, 14) == (0, 4_704)
    assert counting.linear_counts(84, 10) == (850, 850)
    assert counting.linear_counts(84, 10, bias=False) == (840, 840)
    assert counting.rbf_counts(84, 10) == (0, 840)


def test_the_course_layers_count_themselves():
    assert counting.count_connections(Subsampling(6), (6, 28, 28)) == 5_880
    assert counting.count_connections(PartialConv2d(torch.ones(2, 3, dtype=torch.bool), 3), (2, 5, 5)) == 3 * (2 * 9 + 1) * 9


def test_frozen_parameters_are_not_trainable():
    model = nn.Linear(4, 3)
    model.bias.requires_grad_(False)
    assert counting.count_parameters(model) == 12


class MatMul(nn.Module):
    def forward(self, x):
        return x.flatten(1) @ torch.ones(16, 3)


class Functional(nn.Module):
    """A model whose forward calls one function on the input maps."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("fn, name", [
    (lambda x: torch.cdist(x.flatten(1), torch.ones(3, 16)), "cdist"),
    (lambda x: torch.inner(x.flatten(1), torch.ones(3, 16)), "inner"),
    (lambda x: x.mean(dim=(2, 3)), "mean"),  # global average pooling connects every unit of a map
    (lambda x: x.sum(dim=(2, 3)), "sum"),
    (lambda x: F.adaptive_avg_pool2d(x, 1), "adaptive_avg_pool2d"),
    (lambda x: F.softmax(x.flatten(1), dim=1) @ torch.ones(16, 2), "softmax"),
])
def test_an_operation_not_known_to_make_no_connections_is_refused(fn, name):
    """An unknown operation raises: it is never silently counted as 0 connections."""
    with pytest.raises(TypeError, match=f"'{name}'"):
        counting.count_connections(Functional(fn), (1, 4, 4))


def test_element_wise_work_and_reshaping_make_no_connections():
    def forward(x):
        y = F.gelu(x) * 2 + torch.tanh(x) - x.abs()
        return F.dropout(y.view(1, -1).unsqueeze(0), 0.5).flatten(1)

    assert counting.count_connections(Functional(forward), (1, 4, 4)) == 0
    assert {"relu", "tanh", "mul", "add", "flatten", "dropout"} <= counting.NO_CONNECTIONS


class Distances(nn.Module):
    """A layer of one's own that count_connections cannot read operation by operation (cdist is refused)."""

    def __init__(self, classes=10):
        super().__init__()
        self.register_buffer("centers", torch.ones(classes, 16))

    def forward(self, x):
        return torch.cdist(x.flatten(1), self.centers) ** 2


def rbf_formula(layer, output):
    return layer.centers.numel()  # every input feeds every unit


def test_formulas_count_layers_of_ones_own_and_nothing_inside_them_twice():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), Distances())  # 16 weights·inputs + 16 biases, then 10·16
    with pytest.raises(TypeError, match="'cdist'"):
        counting.count_connections(model, (1, 4, 4))
    assert counting.count_connections(model, (1, 4, 4), formulas={Distances: rbf_formula}) == 16 * 2 + 160
    rows = {row.layer: row.connections for row in counting.count_table(model, (1, 4, 4), formulas={Distances: rbf_formula})}
    assert rows == {"0": 32, "1": 160}


def test_a_formula_is_given_the_layer_and_its_output_and_applies_to_subclasses():
    seen = []

    class Wider(Distances):
        pass

    def formula(layer, output):
        seen.append((type(layer).__name__, tuple(output.shape)))
        return torch.tensor(layer.centers.numel())  # an integer tensor is accepted too

    assert counting.count_connections(Wider(3), (1, 4, 4), formulas={Distances: formula}) == 48
    assert seen == [("Wider", (1, 3))]


def test_a_formula_replaces_the_courses_own_and_the_defaults_stay():
    assert counting.count_connections(Subsampling(6), (6, 28, 28), formulas={Subsampling: lambda layer, output: 0}) == 0
    assert counting.count_connections(LeNet5(), (1, 32, 32), formulas={}) == 340_908
    assert counting.count_connections(LeNet5(), (1, 32, 32), formulas={Distances: rbf_formula}) == 340_908


@pytest.mark.parametrize(
    "formulas, words",
    [
        ([rbf_formula], ["formulas must be a dict", "list"]),
        ({"Distances": rbf_formula}, ["formulas must be a dict", "'Distances' is not such a class"]),
        ({int: rbf_formula}, ["is not such a class"]),
        ({Distances: 160}, ["the value for Distances is a int, not a function"]),
        ({Distances: lambda layer, output: -1}, ["formula for Distances returned -1", "an int >= 0"]),
        ({Distances: lambda layer, output: 1.5}, ["formula for Distances returned 1.5"]),
        ({Distances: lambda layer, output: True}, ["formula for Distances returned True"]),
        ({Distances: lambda layer, output: layer.no_such_thing}, ["formula for Distances raised AttributeError"]),
    ],
)
def test_bad_formulas_are_clear_errors(formulas, words):
    with pytest.raises(TypeError) as info:
        counting.count_connections(nn.Sequential(Distances()), (1, 4, 4), formulas=formulas)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: counting.count_parameters("LeNet5"), TypeError, ["model", "nn.Module"]),
        (lambda: counting.count_connections(LeNet5(), 32), TypeError, ["input_size", "(channels, height, width)"]),
        (lambda: counting.count_connections(LeNet5(), (32, 32)), ValueError, ["input_size"]),
        (lambda: counting.count_connections(LeNet5(), (2, 1, 32, 32)), ValueError, ["input_size", "one image"]),
        (lambda: counting.count_connections(LeNet5(), (1, 0, 32)), ValueError, ["input_size[1]", "positive"]),
        (lambda: counting.count_connections(LeNet5(), (1, 28, 28)), ValueError, ["input_size", "does not fit"]),
        (lambda: counting.count_connections(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), (1, 8, 8)), TypeError, ["batch_norm"]),
        (lambda: counting.count_connections(MatMul(), (1, 4, 4)), TypeError, ["matmul"]),
        (lambda: counting.conv_counts(1, 6, 5, 0), ValueError, ["output_size", "positive"]),
        (lambda: counting.conv_counts(1.5, 6, 5, 28), TypeError, ["in_channels", "integer"]),
        (lambda: counting.partial_conv_counts(3, 5, 10), TypeError, ["inputs_per_map", "sequence"]),
        (lambda: counting.partial_conv_counts([], 5, 10), ValueError, ["inputs_per_map"]),
        (lambda: counting.partial_conv_counts([3, 0], 5, 10), ValueError, ["inputs_per_map[1]"]),
        (lambda: counting.linear_counts(0, 10), ValueError, ["in_features"]),
        (lambda: counting.subsampling_counts(6, -2, 14), ValueError, ["pool_size"]),
    ],
)
def test_counting_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
