"""Chapter 4's helpers: the architecture diagram, the RBF bitmaps, and the self-checks of its exercises."""

import math

import matplotlib.text
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import checks, models, plots

# ---------------------------------------------------------------------------
# plots.draw_architecture and plots.show_rbf_codes
# ---------------------------------------------------------------------------


def texts_of(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize(
    "model, input_size, shapes",
    [
        (models.LeNet5(), (1, 32, 32), ["1×32×32", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "120×1×1", "84", "10"]),
        (models.LeNet5Modern(), (1, 32, 32), ["1×32×32", "6×28×28", "16×5×5", "120×1×1", "84", "10"]),
        (models.LeNetD2L(), (1, 28, 28), ["1×28×28", "6×28×28", "16×5×5", "120", "84", "10"]),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None,
)
def test_draw_architecture_labels_every_layer_with_its_name_and_output_shape(model, input_size, shapes):
    fig = plots.draw_architecture(model, input_size, title="a title")
    assert isinstance(fig, plots.Figure) and len(fig.axes) == 1
    texts = texts_of(fig)
    for name, _ in model.named_children():
        assert name in texts
    assert "input" in texts
    for shape in shapes:
        assert shape in texts
    assert fig.axes[0].get_title() == "a title"
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert fig.get_figwidth() <= 8


def test_draw_architecture_draws_one_block_per_layer_and_says_what_each_layer_does():
    model = models.LeNet5()
    fig = plots.draw_architecture(model)  # the model's own input size
    ax = fig.axes[0]
    trace = model.trace()
    assert len(ax.patches) >= len(trace)  # stacks of sheets for the maps, one bar per vector
    assert len([t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]) == len(trace) - 1  # the arrows
    labels = "\n".join(t.get_text() for t in ax.texts)
    assert "Table I" in labels and "scaled tanh" in labels and "subsampling" in labels and "RBF" in labels
    assert "flatten" not in labels  # reshaping is not drawn as a step


def test_draw_architecture_blocks_grow_with_the_maps():
    fig = plots.draw_architecture(models.LeNet5Modern())
    ax = fig.axes[0]
    widths = sorted({round(p.get_width(), 3) for p in ax.patches})
    assert len(widths) >= 4  # 32, 28, 14, 10 and 5 pixel maps, and the bars, are not all one size


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: plots.draw_architecture("LeNet5", (1, 32, 32)), TypeError, ["model", "torch.nn.Module"]),
        (lambda: plots.draw_architecture(models.LeNet5(), (32, 32)), ValueError, ["input_size", "channels"]),
        (lambda: plots.draw_architecture(models.LeNet5(), (1, 28, 28)), ValueError, ["input_size", "does not fit"]),
        (lambda: plots.draw_architecture(nn.Sequential(nn.Conv2d(1, 2, 3))), ValueError, ["input_size is needed"]),
        (lambda: plots.draw_architecture(models.LeNet5(), title=3), TypeError, ["title"]),
    ],
)
def test_draw_architecture_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_show_rbf_codes_draws_the_ten_bitmaps_dark_for_plus_one():
    fig = plots.show_rbf_codes()
    assert isinstance(fig, plots.Figure) and len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(10)]
    image = fig.axes[8].images[0]
    assert image.get_array().shape == (12, 7)
    assert (torch.tensor(image.get_array()).flatten() == models.rbf_codes()[8]).all()
    assert image.get_cmap().name == "gray_r" and image.get_clim() == (-1, 1)
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_show_rbf_codes_takes_other_codes_and_shapes():
    fig = plots.show_rbf_codes(torch.ones(3, 6), shape=(2, 3))
    assert len(fig.axes) == 3 and fig.axes[0].images[0].get_array().shape == (2, 3)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: plots.show_rbf_codes(torch.ones(84)), ValueError, ["codes", "classes×features"]),
        (lambda: plots.show_rbf_codes(torch.ones(10, 80)), ValueError, ["shape 12×7", "84 cells", "80 values"]),
        (lambda: plots.show_rbf_codes(shape=(12, 0)), ValueError, ["shape[1]"]),
        (lambda: plots.show_rbf_codes(torch.ones(0, 84)), ValueError, ["at least one"]),
    ],
)
def test_show_rbf_codes_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# The self-checks
# ---------------------------------------------------------------------------


def c3_loop(x, weight, bias, table):
    """The chapter's from-scratch C3: one output map at a time, on its own input maps only."""
    maps = []
    for j in range(table.shape[1]):
        inputs = table[:, j].nonzero().flatten()
        maps.append(F.conv2d(x[:, inputs], weight[j:j + 1, inputs], bias[j:j + 1]))
    return torch.cat(maps, dim=1)


def rbf_loop(x, centers):
    y = torch.zeros(x.shape[0], centers.shape[0])
    for n in range(x.shape[0]):
        for i in range(centers.shape[0]):
            y[n, i] = ((x[n] - centers[i]) ** 2).sum()
    return y


def map_loss_by_hand(penalties, target, j=0.1):
    total = 0.0
    for y, d in zip(penalties.tolist(), target.tolist()):
        total += y[d] + math.log(math.exp(-j) + sum(math.exp(-v) for v in y))
    return total / len(penalties)


def subsample_by_reshape(x, weight, bias, kernel_size=2):
    """The exercise's answer: window sums by a reshape, then the coefficient and the bias of each map."""
    n, c, h, w = x.shape
    k = kernel_size
    sums = x.reshape(n, c, h // k, k, w // k, k).sum(dim=(3, 5))
    return sums * weight.view(1, c, 1, 1) + bias.view(1, c, 1, 1)


RIGHT = {
    checks.squash: lambda a: 1.7159 * torch.tanh(2 / 3 * a),
    checks.subsample: subsample_by_reshape,
    checks.c3_forward: c3_loop,
    checks.rbf_penalties: rbf_loop,
    checks.map_loss: map_loss_by_hand,  # a float is accepted as well as a 0-d tensor
}

WRONG = {
    checks.squash: lambda a: torch.tanh(2 / 3 * a),  # forgot the amplitude A
    checks.subsample: (lambda x, weight, bias, kernel_size=2: (  # the mean of the window, not its sum
        F.avg_pool2d(x, kernel_size) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)),
        "it matches the mean of each window instead of its sum"),
    checks.c3_forward: lambda x, weight, bias, table: F.conv2d(x, weight, bias),  # ignores Table I
    checks.rbf_penalties: lambda x, centers: torch.cdist(x, centers),  # the distance, not its square
    checks.map_loss: lambda penalties, target, j=0.1: (  # forgot the rubbish class e^(-j)
        penalties.gather(1, target[:, None]).squeeze(1) + torch.logsumexp(-penalties, dim=1)).mean(),
}


def test_the_references_are_the_courses_own_layers():
    torch.manual_seed(0)
    c3 = models.PartialConv2d(models.C3_TABLE)
    x = torch.randn(2, 6, 14, 14)
    assert torch.allclose(c3_loop(x, c3.dense_weight(), c3.bias, models.C3_TABLE), c3(x), atol=1e-5)
    assert checks.c3_forward(lambda x, weight, bias, table: c3_loop(x, weight, bias, table)).passed
    assert checks.squash(models.squash).passed and checks.squash(models.Squash()).passed
    assert checks.rbf_penalties(lambda x, centers: models.EuclideanRBF(centers)(x)).passed
    assert checks.map_loss(models.map_loss).passed


def test_wrong_shapes_and_types_are_explained():
    transposed = checks.rbf_penalties(lambda x, centers: rbf_loop(x, centers).t())
    assert not transposed.passed and "returned shape" in transposed.message
    summed = checks.map_loss(lambda penalties, target, j=0.1: models.map_loss(penalties, target, j) * len(target))
    assert not summed.passed and "mean over the batch" in summed.message
    per_example = checks.map_loss(lambda penalties, target, j=0.1: torch.full((len(target),), 1.0))
    assert not per_example.passed and "expected one number" in per_example.message
    as_list = checks.map_loss(lambda penalties, target, j=0.1: [0.0])
    assert not as_list.passed and "returned a list" in as_list.message
    ignores_j = checks.map_loss(lambda penalties, target, j=0.1: models.map_loss(penalties, target))
    assert not ignores_j.passed and "Use the j you are given" in ignores_j.message
    no_shape = checks.squash(lambda a: (1.7159 * torch.tanh(2 / 3 * a)).flatten())
    assert not no_shape.passed and "returned shape" in no_shape.message


def test_the_learners_inputs_cannot_spoil_the_reference():
    def in_place(x, weight, bias, table):
        y = c3_loop(x, weight, bias, table)
        weight.zero_()
        table.zero_()
        return y

    assert checks.c3_forward(in_place).passed


def test_passing_something_that_is_not_a_function_is_a_clear_error():
    for check in RIGHT:
        with pytest.raises(TypeError, match="fn must be your function"):
            check(torch.zeros(3))


@pytest.mark.parametrize("wrong, words", [
    (lambda x, weight, bias, kernel_size=2: F.max_pool2d(x, kernel_size) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1),
     "max pooling"),
    (lambda x, weight, bias, kernel_size=2: subsample_by_reshape(x, weight, torch.zeros_like(bias), kernel_size),
     "without the bias"),
    (lambda x, weight, bias, kernel_size=2: models.squash(subsample_by_reshape(x, weight, bias, kernel_size)),
     "followed by the squashing function"),
    (lambda x, weight, bias, kernel_size=2: subsample_by_reshape(x, weight, bias, 2), "raised"),  # the window size ignored
])
def test_subsample_names_each_typical_mistake(wrong, words):
    result = checks.subsample(wrong)
    assert not result.passed and words in result.message and "Hint:" in result.message, result.message


def test_subsample_is_the_courses_layer():
    layer = models.Subsampling(6)
    assert checks.subsample(lambda x, weight, bias, kernel_size=2: (
        F.avg_pool2d(x, kernel_size, divisor_override=1) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1))).passed
    x = torch.randn(2, 6, 28, 28)
    with torch.no_grad():
        assert torch.allclose(subsample_by_reshape(x, layer.weight, layer.bias), layer(x), atol=1e-6)


def test_the_lowest_map_loss_is_computed_and_wrong_values_get_the_hint():
    lowest = math.log(1 + math.exp(-0.1))
    assert checks.answer("map_loss_lowest", lowest).passed
    assert checks.answer("map_loss_lowest", round(lowest, 4)).passed  # 0.6444, to 0.1%
    for wrong in (0.0, math.log(2), math.exp(-0.1), 0.1):  # zero, j = 0, forgetting the log, j itself
        result = checks.answer("map_loss_lowest", wrong)
        assert not result.passed and "correct penalty is 0" in result.message
    assert checks.answer("map_loss_lowest", None).message.startswith("… map_loss_lowest: not done yet")
