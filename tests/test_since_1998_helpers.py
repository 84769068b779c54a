"""Chapter 6's helpers: models.lenet_variant, models.MLP and the shifts of experiments (its self-checks:
test_checks_modern.py)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import counting, data, experiments, models, train
from lenet_helpers.models import MLP, LeNetVariant, Subsampling, lenet_variant

# ---------------------------------------------------------------------------
# models.lenet_variant
# ---------------------------------------------------------------------------

SHAPES = [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]


@pytest.mark.parametrize("activation", models.VARIANT_ACTIVATIONS)
@pytest.mark.parametrize("pooling", models.VARIANT_POOLINGS)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_variant_has_lenet5s_layer_sizes_and_ten_logits(activation, pooling, batch_norm):
    model = lenet_variant(activation, pooling, batch_norm=batch_norm, dropout=0.25)
    assert isinstance(model, LeNetVariant)
    assert [name for name, _ in model.named_children()] == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]
    assert [row.output_shape for row in model.trace()] == SHAPES
    out = model(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 10)
    assert model.config == {"activation": activation, "pooling": pooling, "batch_norm": batch_norm, "dropout": 0.25}
    logits, target = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    assert model.loss(logits, target) == F.cross_entropy(logits, target)
    assert torch.equal(model.scores(logits), logits)


def test_the_default_variant_is_the_modern_lenet():
    default, modern = lenet_variant(), models.LeNet5Modern()
    assert counting.count_parameters(default) == counting.count_parameters(modern) == 61_706
    assert [(n, tuple(p.shape)) for n, p in default.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in modern.named_parameters()]
    assert [models.describe(m) for m in default] == [models.describe(m) for m in modern]


def test_parameter_counts_of_each_choice():
    base = 61_706
    count = counting.count_parameters
    # the paper's subsampling: a coefficient and a bias per map, in S2 (6 maps) and S4 (16)
    assert count(lenet_variant(pooling="trainable")) == base + 2 * (6 + 16)
    assert count(lenet_variant(pooling="avg")) == base
    # batch norm: gamma and beta per channel of C1, C3, C5 and per unit of F6; those layers lose their biases
    bn = 6 + 16 + 120 + 84
    assert count(lenet_variant(batch_norm=True)) == base + 2 * bn - bn
    for activation in models.VARIANT_ACTIVATIONS:
        assert count(lenet_variant(activation, dropout=0.5)) == base  # activations and dropout have no parameters


def test_the_chosen_layers_are_where_the_docstring_says():
    model = lenet_variant("squash", "trainable", batch_norm=True, dropout=0.5)
    assert isinstance(model.C1.squash, models.Squash) and isinstance(model.C1.batch_norm, nn.BatchNorm2d)
    assert model.C1.conv.bias is None and model.F6.linear.bias is None
    assert isinstance(model.S2.subsample, Subsampling) and model.S2.subsample.channels == 6
    assert isinstance(model.S4.squash, models.Squash) and model.S4.subsample.channels == 16
    assert isinstance(model.F6.batch_norm, nn.BatchNorm1d) and model.F6.batch_norm.num_features == 84
    assert [type(m) for m in model.F6] == [nn.Flatten, nn.Dropout, nn.Linear, nn.BatchNorm1d, models.Squash, nn.Dropout]
    assert isinstance(model.output, nn.Linear) and model.output.out_features == 10
    plain = lenet_variant("sigmoid", "avg")
    assert isinstance(plain.C3.sigmoid, nn.Sigmoid) and isinstance(plain.S2, nn.AvgPool2d)
    assert isinstance(lenet_variant().S4, nn.MaxPool2d) and isinstance(lenet_variant("tanh").C5.tanh, nn.Tanh)
    assert not any(isinstance(m, (nn.Dropout, nn.BatchNorm2d, nn.BatchNorm1d)) for m in plain.modules())


def test_dropout_and_batch_norm_act_only_in_training_mode():
    torch.manual_seed(0)
    x = torch.randn(8, 1, 32, 32)
    model = lenet_variant(batch_norm=True, dropout=0.5)
    model.eval()
    assert torch.equal(model(x), model(x))  # deterministic in evaluation mode
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout draws a new mask each call


def test_a_variant_trains():
    train.set_seed(0)
    x, y = data.mnist_tensors(train=False)
    model = lenet_variant(batch_norm=True)
    before = train.evaluate(model, (x[:500], y[:500]))
    train.train(model, (x[:1000], y[:1000]), epochs=2, batch_size=50, progress=False, device="cpu")
    assert train.evaluate(model, (x[:500], y[:500])).loss < before.loss


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: lenet_variant("gelu"), ValueError, ["activation", "'relu'", "'gelu'"]),
        (lambda: lenet_variant(pooling="min"), ValueError, ["pooling", "'trainable'", "'min'"]),
        (lambda: lenet_variant(activation=nn.ReLU), ValueError, ["activation"]),
        (lambda: lenet_variant(batch_norm=1), TypeError, ["batch_norm", "True or False"]),
        (lambda: lenet_variant(dropout=1.0), ValueError, ["dropout", "[0, 1)"]),
        (lambda: lenet_variant(dropout=-0.1), ValueError, ["dropout"]),
        (lambda: lenet_variant(dropout="0.5"), ValueError, ["dropout"]),
        (lambda: lenet_variant(dropout=True), ValueError, ["dropout"]),
        (lambda: lenet_variant()(torch.zeros(2, 1, 28, 28)), ValueError, ["LeNetVariant", "N×1×32×32", "pad them"]),
    ],
)
def test_lenet_variant_rejects_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# models.MLP: the fully connected baseline
# ---------------------------------------------------------------------------


def test_the_mlp_has_about_lenet5s_parameter_count_and_no_shared_weights():
    model = MLP()
    assert model.hidden == (57, 48)
    assert [name for name, _ in model.named_children()] == ["F1", "F2", "output"]
    assert [row.output_shape for row in model.trace()] == [(1, 32, 32), (57,), (48,), (10,)]
    n = counting.count_parameters(model)
    assert n == 1024 * 57 + 57 + 57 * 48 + 48 + 48 * 10 + 10 == 61_699
    assert abs(n - counting.count_parameters(models.LeNet5Modern())) < 10
    assert not any(isinstance(m, nn.Conv2d) for m in model.modules())
    out = model(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 10)
    logits, target = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    assert model.loss(logits, target) == F.cross_entropy(logits, target)


def test_the_mlp_takes_any_number_of_hidden_layers():
    assert [row.output_shape for row in MLP(hidden=(100,)).trace()] == [(1, 32, 32), (100,), (10,)]
    assert [row.output_shape for row in MLP(hidden=[30, 20, 10]).trace()][1:] == [(30,), (20,), (10,), (10,)]
    assert counting.count_parameters(MLP(hidden=(300,))) == 1024 * 300 + 300 + 300 * 10 + 10


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: MLP(hidden=57), TypeError, ["hidden", "list of layer widths"]),
        (lambda: MLP(hidden=()), ValueError, ["hidden", "at least one"]),
        (lambda: MLP(hidden=(57, 0)), ValueError, ["hidden[1]", "positive integer"]),
        (lambda: MLP(hidden=(57.5,)), ValueError, ["hidden[0]"]),
        (lambda: MLP()(torch.zeros(2, 1, 28, 28)), ValueError, ["MLP", "N×1×32×32", "pad them"]),
    ],
)
def test_mlp_rejects_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# experiments.shift, RandomShifts, errors_under_shift
# ---------------------------------------------------------------------------


def loop_shift(image, dx, dy, fill):
    """The definition, pixel by pixel: output[i, j] = image[i - dy, j - dx] where that exists, else fill."""
    h, w = image.shape
    out = torch.full_like(image, fill)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = image[i - dy, j - dx]
    return out


@pytest.mark.parametrize("dx, dy", [(0, 0), (1, 0), (0, 1), (-2, 0), (0, -3), (2, -1), (-1, 2), (5, 0), (9, 9)])
def test_shift_moves_the_image_and_fills_with_the_background(dx, dy):
    x = torch.rand(2, 3, 5, 6)
    out = experiments.shift(x, dx, dy, fill=-0.1)
    assert out.shape == x.shape
    for n in range(2):
        for c in range(3):
            assert torch.equal(out[n, c], loop_shift(x[n, c], dx, dy, -0.1))


def test_shift_takes_one_shift_per_image_and_defaults_to_the_papers_background():
    x = torch.rand(3, 1, 6, 6)
    dx, dy = torch.tensor([1, 0, -2]), torch.tensor([0, -1, 3])
    out = experiments.shift(x, dx, dy)
    for n in range(3):
        assert torch.equal(out[n, 0], loop_shift(x[n, 0], int(dx[n]), int(dy[n]), data.PAPER_BACKGROUND))
    assert torch.equal(experiments.shift(x, 0, 0), x)


def test_shifting_a_padded_digit_and_back_gives_it_back():
    images, _ = data.mnist_tensors(train=False)
    x = images[:50]
    back = experiments.shift(experiments.shift(x, 3, -2), -3, 2)
    assert torch.equal(back[:, :, 2:-2, 3:-3], x[:, :, 2:-2, 3:-3])
    # MNIST's digits fit in 20×20 boxes, padded to 32×32: 2 pixels never push ink out, 4 pixels under 0.5% of it
    ink = (images > data.PAPER_BACKGROUND).sum().item()
    for s in (2, -2, 4, -4):
        for moved in (experiments.shift(images, s, 0), experiments.shift(images, 0, s)):
            lost = 1 - (moved > data.PAPER_BACKGROUND).sum().item() / ink
            assert lost == 0 if abs(s) == 2 else lost < 0.005


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: experiments.shift(x[0], 1, 0), ValueError, ["images", "N×C×H×W"]),
        (lambda x: experiments.shift(x, 1.5, 0), TypeError, ["dx", "integer"]),
        (lambda x: experiments.shift(x, 0, torch.tensor([1, 2, 3])), ValueError, ["dy", "one shift per image (2)"]),
        (lambda x: experiments.shift(x, torch.tensor([0.5, 1.0]), 0), ValueError, ["dx", "integer"]),
        (lambda x: experiments.shift(x, 1, 0, fill="white"), TypeError, ["fill", "number"]),
        (lambda x: experiments.RandomShifts(x, torch.zeros(3, dtype=torch.long)), ValueError, ["same length"]),
        (lambda x: experiments.RandomShifts(x, torch.zeros(2, dtype=torch.long), max_shift=-1), ValueError,
         ["max_shift"]),
        (lambda x: experiments.RandomShifts(x, torch.zeros(2, dtype=torch.long), batch_size=0), ValueError,
         ["batch_size"]),
        (lambda x: experiments.errors_under_shift(lenet_variant(), x), TypeError, ["data", "pair of tensors"]),
        (lambda x: experiments.errors_under_shift(lenet_variant(), (x, torch.zeros(2, dtype=torch.long)), shifts=3),
         TypeError, ["shifts", "list"]),
        (lambda x: experiments.errors_under_shift(lenet_variant(), (x, torch.zeros(2, dtype=torch.long)), shifts=[]),
         ValueError, ["shifts", "at least one"]),
        (lambda x: experiments.errors_under_shift(lenet_variant(), (x, torch.zeros(2, dtype=torch.long)),
                                                  shifts=[-1]), ValueError, ["shifts[i]"]),
        (lambda x: experiments.errors_under_shift("model", (x, torch.zeros(2, dtype=torch.long))), TypeError,
         ["model"]),
    ],
)
def test_shift_helpers_reject_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call(torch.zeros(2, 1, 32, 32))
    for word in words:
        assert word in str(info.value)


def test_random_shifts_are_whole_shifts_of_every_image_new_at_every_pass():
    x = torch.rand(20, 1, 12, 12)
    x[:, :, :3], x[:, :, -3:], x[:, :, :, :3], x[:, :, :, -3:] = -0.1, -0.1, -0.1, -0.1  # a border of background
    y = torch.arange(20)
    shifts = experiments.RandomShifts(x, y, max_shift=2, batch_size=8)
    assert len(shifts) == 3 and "max_shift=2" in repr(shifts)
    seen = []
    for _ in range(2):
        moves = {}
        for xb, yb in shifts:
            for image, label in zip(xb, yb):
                found = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                         if torch.equal(image, experiments.shift(x[label:label + 1], dx, dy)[0])]
                assert found, "each image is its original, moved by at most 2 pixels each way"
                moves[int(label)] = found[0]
        assert sorted(moves) == list(range(20))  # every image once per pass
        seen.append(moves)
    assert seen[0] != seen[1]  # new shifts at every pass
    train.set_seed(0)
    first = [xb for xb, _ in shifts]
    train.set_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(first, [xb for xb, _ in shifts]))  # repeatable with the seed
    assert all(torch.equal(xb, x[yb]) for xb, yb in experiments.RandomShifts(x, y, max_shift=0, batch_size=8))


def test_random_shifts_train_a_network():
    x, y = data.mnist_tensors(train=False)
    train.set_seed(0)
    model = lenet_variant()
    history = train.train(model, experiments.RandomShifts(x[:512], y[:512], batch_size=64), epochs=2,
                          progress=False, device="cpu")
    assert len(history) == 2 and history[-1].train_loss < history[0].train_loss


def test_errors_under_shift_measures_each_shift_on_the_same_images():
    x, y = data.mnist_tensors(train=False)
    x, y = x[:200], y[:200]
    train.set_seed(0)
    model = lenet_variant()
    rows = experiments.errors_under_shift(model, (x, y), shifts=range(3))
    assert [r.shift for r in rows] == [0, 1, 2] and rows.columns == ("shift", "error")
    assert rows[0].error == train.evaluate(model, (x, y)).error
    again = experiments.errors_under_shift(model, (x, y), shifts=(2,))
    assert again[0].error == rows[2].error  # the same directions for every call with the same seed
    # by hand: each image moved 2 pixels in the direction the seed draws for it
    direction = torch.randint(0, 4, (200,), generator=torch.Generator().manual_seed(0))
    dx = torch.tensor([2, -2, 0, 0])[direction]
    dy = torch.tensor([0, 0, 2, -2])[direction]
    assert rows[2].error == train.evaluate(model, (experiments.shift(x, dx, dy), y)).error
