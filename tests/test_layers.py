"""The paper's own layers: squash, trainable subsampling, Table I and C3, the RBF output, the MAP loss."""

import math

import pytest
import torch
import torch.nn as nn

from lenet_helpers import layers, models
from lenet_helpers.layers import (
    C3_TABLE,
    EuclideanRBF,
    PartialConv2d,
    Subsampling,
    map_loss,
    rbf_codes,
    squash,
    uniform_fan_in_,
)


def test_squash_constants():
    assert squash(torch.tensor(1.0)).item() == pytest.approx(1.0, abs=1e-4)
    assert squash(torch.tensor(-1.0)).item() == pytest.approx(-1.0, abs=1e-4)
    assert models.SQUASH_A == 1.7159 and models.SQUASH_S == pytest.approx(2 / 3)
    assert squash(torch.tensor(100.0)).item() == pytest.approx(1.7159)

def test_table_i():
    assert C3_TABLE.shape == (6, 16)
    inputs = C3_TABLE.sum(dim=0).tolist()
    assert inputs == [3] * 6 + [4] * 9 + [6]
    # maps 0-5 take three contiguous S2 maps (cyclically), 6-11 four contiguous, 12-14 four non-contiguous
    def contiguous(rows):
        return any(sorted((start + i) % 6 for i in range(len(rows))) == rows for start in range(6))

    rows = [sorted(C3_TABLE[:, j].nonzero().flatten().tolist()) for j in range(16)]
    assert all(contiguous(r) for r in rows[:12])
    assert not any(contiguous(r) for r in rows[12:15])
    assert rows[0] == [0, 1, 2] and rows[4] == [0, 4, 5] and rows[12] == [0, 1, 3, 4] and rows[15] == list(range(6))

def test_rbf_codes_are_distinct_pm1_bitmaps():
    codes = rbf_codes()
    assert codes.shape == (10, 84)
    assert set(codes.unique().tolist()) == {-1.0, 1.0}
    differences = (codes[:, None, :] != codes[None, :, :]).sum(-1)
    off_diagonal = differences[~torch.eye(10, dtype=torch.bool)]
    assert off_diagonal.min() >= 8  # every two codes differ in at least 8 of the 84 pixels
    # glyphs in the top ten rows, the last two rows blank, as in Fig. 3
    images = codes.view(10, 12, 7)
    assert (images[:, 10:] == -1).all()
    assert ((images[:, :10] == 1).sum(dim=(1, 2)) > 10).all()

def test_partial_conv_matches_a_masked_dense_convolution():
    torch.manual_seed(0)
    c3 = PartialConv2d(C3_TABLE, 5)
    assert c3.weight.numel() + c3.bias.numel() == 1_516
    x = torch.randn(2, 6, 14, 14)
    dense = c3.dense_weight()
    mask = C3_TABLE.t()[:, :, None, None]
    assert (dense[~mask.expand_as(dense)] == 0).all()
    expected = nn.functional.conv2d(x, dense * mask, c3.bias)
    torch.testing.assert_close(c3(x), expected)
    # a C3 map ignores the S2 maps Table I does not connect to it: map 0 sees S2 maps 0, 1, 2 only
    x2 = x.clone()
    x2[:, 3:] = torch.randn(2, 3, 14, 14)
    torch.testing.assert_close(c3(x2)[:, 0], c3(x)[:, 0])
    # gradients reach only the connected kernels
    c3(x).sum().backward()
    assert c3.weight.grad.shape == (60, 5, 5)

def test_subsampling_is_sum_times_coefficient_plus_bias():
    s = Subsampling(2)
    with torch.no_grad():
        s.weight.copy_(torch.tensor([0.5, -1.0]))
        s.bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.arange(32.0).view(1, 2, 4, 4)
    out = s(x)
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 0, 0, 0].item() == 0.5 * (0 + 1 + 4 + 5) + 1.0
    assert out[0, 1, 1, 1].item() == -1.0 * (26 + 27 + 30 + 31)

def test_rbf_layer_is_squared_euclidean_distance():
    rbf = EuclideanRBF(rbf_codes())
    x = torch.randn(4, 84)
    expected = torch.cdist(x, rbf_codes()) ** 2
    torch.testing.assert_close(rbf(x), expected, rtol=1e-4, atol=1e-4)
    assert rbf(rbf_codes()).argmin(dim=1).tolist() == list(range(10))

def test_map_loss_is_equation_9():
    y = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.1, 4.0]])
    target = torch.tensor([2, 0])
    j = 0.1
    expected = sum(
        y[p, target[p]].item() + math.log(math.exp(-j) + sum(math.exp(-v) for v in y[p].tolist())) for p in range(2)
    ) / 2
    assert map_loss(y, target, j=j).item() == pytest.approx(expected, rel=1e-6)
    # lowering the correct penalty or raising a wrong one lowers the loss
    assert map_loss(torch.tensor([[0.0, 5.0]]), torch.tensor([0])) < map_loss(torch.tensor([[1.0, 5.0]]), torch.tensor([0]))
    assert map_loss(torch.tensor([[0.0, 9.0]]), torch.tensor([0])) < map_loss(torch.tensor([[0.0, 5.0]]), torch.tensor([0]))
    # it stays finite for huge penalties
    assert torch.isfinite(map_loss(torch.tensor([[1e4, 2e4]]), torch.tensor([1])))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: map_loss(torch.zeros(2, 10), torch.tensor([1])), ValueError, ["target", "one label per row"]),
        (lambda: map_loss(torch.zeros(2, 10), torch.tensor([1.0, 2.0])), TypeError, ["target", "integer"]),
        (lambda: map_loss(torch.zeros(10), torch.tensor([1])), ValueError, ["penalties", "N×classes"]),
        (lambda: map_loss(torch.zeros(1, 10), torch.tensor([1]), j=0), ValueError, ["j", "positive"]),
        (lambda: Subsampling(0), ValueError, ["channels", "positive"]),
        (lambda: Subsampling(6, kernel_size=2.0), TypeError, ["kernel_size", "integer"]),
        (lambda: PartialConv2d(torch.ones(6, dtype=torch.bool)), ValueError, ["table", "2-D"]),
        (lambda: PartialConv2d(torch.zeros(2, 3, dtype=torch.bool)), ValueError, ["table", "at least one"]),
        (lambda: EuclideanRBF(torch.ones(84)), ValueError, ["centers", "classes×features"]),
        (lambda: EuclideanRBF(rbf_codes())(torch.zeros(2, 80)), ValueError, ["EuclideanRBF", "N×84"]),
        (lambda: Subsampling(6)(torch.zeros(1, 5, 4, 4)), ValueError, ["Subsampling", "N×6×H×W"]),
        (lambda: PartialConv2d(C3_TABLE)(torch.zeros(1, 16, 14, 14)), ValueError, ["PartialConv2d", "N×6×H×W"]),
        (lambda: squash([1.0]), TypeError, ["a", "tensor"]),
    ],
)
def test_layers_reject_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_layers_and_models_are_the_same_objects():
    """models re-exports the paper's layers: models.X is layers.X."""
    for name in layers.__all__:
        assert getattr(models, name) is getattr(layers, name), name


def test_uniform_fan_in_is_the_papers_bound():
    w = torch.empty(1000)
    uniform_fan_in_(w, 25)
    assert w.abs().max() <= 2.4 / 25 and w.abs().max() > 0.9 * 2.4 / 25
    per_unit = torch.empty(3, 100)
    uniform_fan_in_(per_unit, torch.tensor([[1.0], [10.0], [100.0]]))
    assert [bool(row.abs().max() <= 2.4 / f) for row, f in zip(per_unit, (1, 10, 100))] == [True] * 3
    with pytest.raises(TypeError, match="tensor must be a tensor"):
        uniform_fan_in_([0.0], 1)
