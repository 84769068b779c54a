import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchinfo
import torchvision

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
    assert [row.layer for row in table] == ["conv", "relu", "max_pool2d", "flatten", "fc"]
    assert table[2].connections == 6 * 14 * 14 * 4 and table[2].kind == "max pool 2×2 (function)"
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
    (lambda x: F.softmax(x.flatten(1), dim=1) @ torch.ones(16, 2), "matmul"),
    (lambda x: F.layer_norm(x, (4, 4)), "layer_norm"),
    (lambda x: F.interpolate(x, scale_factor=2), "interpolate"),
    (lambda x: F.conv_transpose2d(x, torch.ones(1, 1, 2, 2)), "conv_transpose2d"),
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
        (lambda: counting.count_connections(nn.Sequential(nn.Conv2d(1, 2, 3), nn.LayerNorm(6)), (1, 8, 8)), TypeError, ["layer_norm"]),
        (lambda: counting.count_macs(MatMul(), (1, 4, 4)), TypeError, ["multiply–accumulates of 'matmul'"]),
        (lambda: counting.count_macs(LeNet5(), (1, 28, 28)), ValueError, ["input_size", "does not fit"]),
        (lambda: counting.count_macs("LeNet5", (1, 32, 32)), TypeError, ["model", "nn.Module"]),
        (lambda: counting.count_macs(LeNet5(), (1, 32)), ValueError, ["input_size"]),
        (lambda: counting.count_macs(LeNet5(), (1, 32, 32), formulas=[rbf_formula]), TypeError, ["formulas must be a dict", "multiply–accumulates"]),
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


# ---------------------------------------------------------------------------
# The operations real networks use, each on a small case counted by hand: (connections, MACs)
# ---------------------------------------------------------------------------


def counts(model, size):
    return counting.count_connections(model, size), counting.count_macs(model, size)


def test_batch_normalisation_makes_no_connections_and_folds_into_the_convolution():
    # conv 3×3, 1 -> 2 maps on 5×5: 2·3·3 = 18 units, each reading 9 inputs and a bias
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert counts(model, (1, 5, 5)) == (18 * 10, 18 * 9)
    assert counting.count_parameters(model) == 2 * 10 + 2 * 2  # γ and β, one of each per map
    assert counts(nn.BatchNorm2d(3), (3, 4, 4)) == (0, 0)
    assert counts(Functional(lambda x: F.batch_norm(x, torch.zeros(1), torch.ones(1))), (1, 4, 4)) == (0, 0)


def test_adaptive_pooling_reads_overlapping_windows():
    # 5 -> 3 along a side: output i reads floor(5i/3) .. ceil(5(i+1)/3) - 1, rows 0-1, 1-3 and 3-4
    windows = [range(0, 2), range(1, 4), range(3, 5)]
    per_map = sum(len(r) * len(c) for r in windows for c in windows)
    assert per_map == 7 * 7
    assert counts(nn.AdaptiveAvgPool2d(3), (2, 5, 5)) == (2 * per_map, 2 * per_map)  # a sum times 1/size
    assert counts(nn.AdaptiveMaxPool2d(3), (2, 5, 5)) == (2 * per_map, 0)            # a maximum multiplies nothing
    assert counts(nn.AdaptiveMaxPool2d(3, return_indices=True), (2, 5, 5)) == (2 * per_map, 0)
    # global average pooling: every output reads its whole map; (None, 1) keeps the height
    assert counts(Functional(lambda x: F.adaptive_avg_pool2d(x, 1)), (3, 4, 4)) == (3 * 16, 3 * 16)
    assert counts(nn.AdaptiveAvgPool2d((None, 1)), (1, 2, 3)) == (2 * 3, 2 * 3)
    # 4 -> 2 divides: plain 2×2 windows, as average pooling counts them
    assert counts(nn.AdaptiveAvgPool2d(2), (1, 4, 4)) == counts(nn.AvgPool2d(2), (1, 4, 4)) == (16, 16)


def test_grouped_and_depthwise_convolutions_read_their_group_only():
    # 4 -> 6 maps in 2 groups: each output map reads 2 input maps; 6·3·3 = 54 units of 2·9 inputs and a bias
    assert counts(nn.Conv2d(4, 6, 3, groups=2), (4, 5, 5)) == (54 * 19, 54 * 18)
    assert counting.count_parameters(nn.Conv2d(4, 6, 3, groups=2)) == 6 * (2 * 9 + 1)
    # depthwise (MobileNet's): one 3×3 kernel per map, 3·2·2 units of 9 inputs
    assert counts(nn.Conv2d(3, 3, 3, groups=3, bias=False), (3, 4, 4)) == (3 * 4 * 9, 3 * 4 * 9)


def test_stride_and_dilation_change_only_the_number_of_units():
    assert counts(nn.Conv2d(1, 1, 3, stride=2), (1, 7, 7)) == (9 * 10, 9 * 9)       # 3×3 outputs
    assert counts(nn.Conv2d(1, 1, 3, dilation=2), (1, 7, 7)) == (9 * 10, 9 * 9)     # a 5×5 reach: 3×3 outputs
    assert counts(nn.Conv2d(1, 1, 3, padding=1), (1, 4, 4)) == (16 * 10, 16 * 9)    # padded cells count
    assert counts(nn.MaxPool2d(3, stride=2), (2, 7, 7)) == (2 * 9 * 9, 0)           # 3×3 windows at 3×3 places
    assert counts(nn.MaxPool2d(2, dilation=2), (1, 5, 5)) == (4 * 4, 0)            # a 3×3 reach, stride 2: 2×2 outputs
    assert counts(nn.AvgPool2d(3, stride=1, padding=1), (1, 3, 3)) == (9 * 9, 9 * 9)


def test_softmax_connects_every_output_of_a_row_to_every_input_of_it():
    # 4 values in a row: each of the 4 outputs reads all 4 (its numerator and the shared denominator)
    assert counts(Functional(lambda x: F.softmax(x.flatten(1), dim=1)), (1, 2, 2)) == (16, 0)
    assert counts(nn.LogSoftmax(dim=1), (3, 2, 2)) == (12 * 3, 0)  # across the 3 maps, at each of 4 places
    assert counts(Functional(lambda x: x.flatten(1).log_softmax(-1)), (2, 1, 3)) == (6 * 6, 0)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        assert counts(nn.Sequential(nn.Flatten(), nn.Softmax()), (5, 1, 1)) == (25, 0)  # the old implicit dim


def test_dropout_flatten_and_reshapes_make_none():
    for layer in (nn.Dropout(0.5), nn.Flatten(), nn.Unflatten(1, (2, 2, 1)), nn.Identity()):
        assert counts(nn.Sequential(nn.Flatten(), layer), (4, 1, 1)) == (0, 0), layer
    assert counts(nn.Dropout2d(0.5), (4, 2, 2)) == (0, 0)
    reshapes = Functional(lambda x: F.dropout(x.view(1, -1).reshape(1, 2, 2).permute(0, 2, 1).transpose(1, 2), 0.5))
    assert counts(reshapes, (1, 2, 2)) == (0, 0)


class TwoBranches(nn.Module):
    """An Inception-like join: two convolutions side by side, concatenated; then a residual addition."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 1, 1)   # 1 map of 4×4 units, each reading 2 inputs and a bias
        self.b = nn.Conv2d(2, 1, 3, padding=1, bias=False)  # 1 map of 4×4 units, each reading 2·9 inputs

    def forward(self, x):
        joined = torch.cat([self.a(x), self.b(x)], dim=1)
        return F.relu(joined + x)    # the shortcut: x added back, value by value


def test_concatenation_and_residual_addition_make_none():
    assert counts(TwoBranches(), (2, 4, 4)) == (16 * 3 + 16 * 18, 16 * 2 + 16 * 18)
    steps = [(row.layer, row.kind, row.connections) for row in counting.count_table(TwoBranches(), (2, 4, 4))]
    assert steps == [("a", "conv 1×1, 2→1", 48), ("b", "conv 3×3, 2→1, padding 1", 288), ("cat", "concatenation (function)", 0),
                     ("add", "addition (function)", 0), ("relu", "ReLU (function)", 0)]


@pytest.mark.parametrize("activation", [nn.ReLU6(), nn.Hardswish(), nn.SiLU(), nn.GELU(), nn.GELU("tanh"),
                                        nn.Hardsigmoid(), nn.Mish(), nn.LeakyReLU(), nn.ELU(), nn.Softplus()],
                         ids=lambda m: type(m).__name__)
def test_modern_activations_are_element_wise(activation):
    # 3 units reading 4 inputs and a bias: the activation adds nothing
    assert counts(nn.Sequential(nn.Flatten(), nn.Linear(4, 3), activation), (4, 1, 1)) == (15, 12)
    assert counts(Functional(lambda x: F.relu6(F.hardswish(F.silu(F.gelu(x))))), (1, 2, 2)) == (0, 0)


def test_the_error_for_an_unknown_operation_shows_how_to_pass_a_formula():
    with pytest.raises(TypeError) as info:
        counting.count_macs(nn.Sequential(nn.Conv2d(1, 1, 1), Distances()), (1, 4, 4))
    message = str(info.value)
    assert "multiply–accumulates of 'cdist' (run by Distances)" in message
    assert "formulas={Distances: lambda layer, output: ...}" in message
    with pytest.raises(TypeError) as info:  # in the model's own forward: put it in a layer of its own
        counting.count_connections(TwoBranchesThenCdist(), (2, 4, 4))
    assert "'cdist' runs in TwoBranchesThenCdist.forward itself" in str(info.value)
    assert "formulas={MyLayer: lambda layer, output: ...}" in str(info.value)


class TwoBranchesThenCdist(TwoBranches):
    def forward(self, x):
        return torch.cdist(super().forward(x).flatten(1), torch.ones(3, 32))


# ---------------------------------------------------------------------------
# Multiply–accumulates of whole networks
# ---------------------------------------------------------------------------


def test_the_macs_of_lenet5_are_its_connections_less_its_biases():
    table = counting.lenet5_table()
    biases = sum(math.prod(row.output_shape) for row in table if row.layer != "output")  # one per unit; RBF: none
    assert counting.count_macs(LeNet5(), (1, 32, 32)) == table.footer.connections - biases == 332_824
    # the modern variant: convolutions and linear layers only (max pooling multiplies nothing)
    assert counting.count_macs(LeNet5Modern(), (1, 32, 32)) == (
        1 * 25 * 6 * 28 * 28 + 6 * 25 * 16 * 10 * 10 + 16 * 25 * 120 + 120 * 84 + 84 * 10)
    # LeNetD2L's average pooling is a sum times 1/4: one MAC per input of the window, as S2's
    assert counting.count_macs(LeNetD2L(), (1, 28, 28)) == counting.count_macs(LeNet5Modern(), (1, 32, 32)) + (
        6 * 14 * 14 * 4 + 16 * 5 * 5 * 4)


def test_formulas_count_multiply_accumulates_too():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), Distances())
    assert counting.count_macs(model, (1, 4, 4), formulas={Distances: rbf_formula}) == 16 + 160
    with pytest.raises(TypeError, match="multiply–accumulate formula for Distances returned -1"):
        counting.count_macs(model, (1, 4, 4), formulas={Distances: lambda layer, output: -1})


def meta_model(name):
    with torch.device("meta"):
        return getattr(torchvision.models, name)()


TORCHVISION = ["alexnet", "vgg11", "resnet18", "mobilenet_v2"]


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_models_match_their_published_figures(name):
    """torchvision publishes each model's size and operations (meta["_ops"], "GFLOPS" that are giga-MACs)."""
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    model = meta_model(name)
    assert counting.count_parameters(model) == meta["num_params"]
    macs = counting.count_macs(model, (3, 224, 224))
    assert abs(macs / (meta["_ops"] * 1e9) - 1) < 0.01
    assert round(macs / 1e9, 3) == meta["_ops"]  # in fact to the three decimals published


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchinfo_counts_biases_and_batch_norm_parameters_but_not_pooling(name):
    """The three conventions the docstring of count_macs describes, and by how much they differ."""
    model = meta_model(name)
    summary = torchinfo.summary(model, input_size=(1, 3, 224, 224), device="meta", verbose=0)
    macs = counting.count_macs(model, (3, 224, 224))
    outputs = {}  # the output of each convolution and linear layer, for one image
    handles = [m.register_forward_hook(lambda m, i, o: outputs.update({m: o.shape[1:].numel()}))
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    table = counting.count_table(model, (3, 224, 224))
    for handle in handles:
        handle.remove()
    bias_adds = sum(outputs[m] for m in outputs if m.bias is not None)   # one addition per output value
    bn_parameters = sum(counting.count_parameters(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    pooling = sum(row.connections for row in table if "avg" in row.kind.lower())  # one MAC per input read here
    assert pooling == 512 * 7 * 7 if name == "resnet18" else pooling > 0
    assert summary.total_mult_adds == macs - pooling + bias_adds + bn_parameters
    assert abs(summary.total_mult_adds / macs - 1) < 0.001
    assert round(100 * pooling / macs, 2) <= 0.02


def test_unfolded_batch_normalisation_would_cost_one_mac_per_value():
    """What count_macs's docstring says batch norm would add, counted as one MAC per value with a formula."""
    for name, added in (("resnet18", 0.14), ("mobilenet_v2", 2.2)):
        model = meta_model(name)
        folded = counting.count_macs(model, (3, 224, 224))
        unfolded = counting.count_macs(model, (3, 224, 224), formulas={nn.BatchNorm2d: lambda layer, output: output.numel()})
        assert round(100 * (unfolded / folded - 1), 2 if added < 1 else 1) == added


def test_counting_on_the_meta_device_gives_the_same_numbers():
    for model, size in ((LeNet5Modern(), (1, 32, 32)), (TwoBranches(), (2, 4, 4))):
        on_cpu = (counting.count_connections(model, size), counting.count_macs(model, size))
        assert (counting.count_connections(model.to("meta"), size), counting.count_macs(model, size)) == on_cpu


# ---------------------------------------------------------------------------
# A network in pytorch/examples' style (mnist/main.py): layers as modules, the rest as functions in forward
# ---------------------------------------------------------------------------


class ExamplesNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def test_a_network_in_pytorch_examples_style_is_counted_step_by_step():
    table = counting.count_table(ExamplesNet(), (1, 28, 28))
    assert [tuple(row) for row in table] == [
        ("conv1", "conv 3×3, 1→32", (32, 26, 26), 32 * (9 + 1), 32 * 26 * 26 * (9 + 1)),
        ("relu", "ReLU (function)", (32, 26, 26), 0, 0),
        ("conv2", "conv 3×3, 32→64", (64, 24, 24), 64 * (32 * 9 + 1), 64 * 24 * 24 * (32 * 9 + 1)),
        ("relu", "ReLU (function)", (64, 24, 24), 0, 0),
        ("max_pool2d", "max pool 2×2 (function)", (64, 12, 12), 0, 64 * 12 * 12 * 4),
        ("dropout1", "dropout", (64, 12, 12), 0, 0),
        ("flatten", "flatten (function)", (9216,), 0, 0),
        ("fc1", "linear 9216→128", (128,), 128 * 9217, 128 * 9217),
        ("relu", "ReLU (function)", (128,), 0, 0),
        ("dropout2", "dropout", (128,), 0, 0),
        ("fc2", "linear 128→10", (10,), 10 * 129, 10 * 129),
        ("log_softmax", "log-softmax (function)", (10,), 0, 10 * 10),
    ]
    assert table.footer.parameters == counting.count_parameters(ExamplesNet()) == 1_199_882
    assert table.footer.connections == counting.count_connections(ExamplesNet(), (1, 28, 28))
    assert counting.count_macs(ExamplesNet(), (1, 28, 28)) == (
        32 * 26 * 26 * 9 + 64 * 24 * 24 * 32 * 9 + 128 * 9216 + 10 * 128)


def test_a_layer_called_twice_has_a_row_per_call_and_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)
            self.unused = nn.Linear(2, 2)
            self.scale = nn.Parameter(torch.ones(1))
            self.blocks = nn.ModuleList([nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)])

        def forward(self, x):
            x = self.conv(self.conv(x)) * self.scale
            for block in self.blocks:
                x = block(x)
            return x

    table = counting.count_table(Twice(), (1, 2, 2))
    assert [(r.layer, r.parameters, r.connections) for r in table] == [
        ("conv", 10, 40), ("conv", 0, 40), ("mul", 1, 0), ("blocks.0", 2, 8), ("blocks.1", 2, 8), ("unused", 6, 0)]
    assert table.footer.parameters == counting.count_parameters(Twice())
    assert table[-1].output_shape is None


def test_a_model_with_parameters_of_its_own_unused_in_forward():
    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3, 4))
            self.spare = nn.Parameter(torch.ones(5))

        def forward(self, x):
            return F.linear(x.flatten(1), self.weight)

    table = counting.count_table(Own(), (4, 1, 1))
    assert [(r.layer, r.parameters, r.connections) for r in table] == [
        ("flatten", 0, 0), ("linear", 12, 12), ("(forward)", 5, 0)]
    assert [tuple(r) for r in counting.count_table(nn.Conv2d(2, 3, 1), (2, 1, 1))] == [
        ("conv2d", "conv2d (function)", (3, 1, 1), 9, 9)]  # a single layer: the function it calls, its parameters
