"""Chapter 4's helpers: the architecture diagram and the RBF bitmaps (its self-checks: test_checks_lenet5.py)."""

import matplotlib.text
import pytest
import torch
import torch.nn as nn

from lenet_helpers import models, plots

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
