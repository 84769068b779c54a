import math

import pytest
import torch
import torch.nn as nn

from lenet_helpers import models
from lenet_helpers.models import (
    C3_TABLE,
    EuclideanRBF,
    LeNet5,
    LeNet5Modern,
    LeNetD2L,
    PartialConv2d,
    Subsampling,
    map_loss,
    rbf_codes,
    squash,
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


def test_faithful_lenet5():
    model = LeNet5()
    assert sum(p.numel() for p in model.parameters()) == 60_000
    assert [name for name, _ in model.named_children()] == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]
    shapes = [row.output_shape for row in model.trace()]
    assert shapes == [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]
    out = model(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 10)
    assert (out >= 0).all()  # squared distances
    assert torch.equal(model.predict(torch.zeros(2, 1, 32, 32)), model(torch.zeros(2, 1, 32, 32)).argmin(1))
    # RBF centres are fixed: a buffer, not a parameter
    assert "output.centers" in dict(model.named_buffers())
    assert not any(name.startswith("output") for name, _ in model.named_parameters())


def test_faithful_initialisation_is_uniform_in_2_4_over_fan_in():
    torch.manual_seed(0)
    model = LeNet5()
    checks = [
        (model.C1.conv.weight, 25),
        (model.S2.subsample.weight, 4),
        (model.C5.conv.weight, 400),
        (model.F6.linear.weight, 120),
    ]
    for weight, fan_in in checks:
        assert weight.abs().max() <= 2.4 / fan_in
        if weight.numel() >= 100:
            assert weight.abs().max() > 0.9 * 2.4 / fan_in  # spread over the whole range
    c3 = model.C3.conv
    fan_in = c3.fan_in()  # 75 for 3-input maps, 100 for 4, 150 for the last
    assert fan_in.tolist() == [75] * 6 + [100] * 9 + [150]
    bound = (2.4 / fan_in)[c3.out_index]
    assert (c3.weight.abs().amax(dim=(1, 2)) <= bound).all()


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


def test_map_loss_trains_the_faithful_model():
    torch.manual_seed(0)
    model = LeNet5()
    x, y = torch.randn(16, 1, 32, 32), torch.arange(16) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    first = model.loss(model(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        loss = model.loss(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_variants():
    modern, d2l = LeNet5Modern(), LeNetD2L()
    assert [r.output_shape for r in modern.trace()][-1] == (10,)
    assert [r.output_shape for r in d2l.trace()] == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    assert modern(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    assert d2l(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(modern.S2, nn.MaxPool2d) and isinstance(d2l.S2, nn.AvgPool2d)
    assert isinstance(modern.C1.relu, nn.ReLU) and isinstance(d2l.C1.sigmoid, nn.Sigmoid)
    logits = torch.randn(4, 10)
    target = torch.tensor([1, 2, 3, 4])
    assert modern.loss(logits, target) == nn.functional.cross_entropy(logits, target)


def test_activations_and_trace_work_on_any_module():
    model = LeNet5()
    acts = model.activations(torch.zeros(2, 1, 32, 32))
    assert list(acts) == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]
    assert acts["C3"].shape == (2, 16, 10, 10)
    assert not acts["C1"].requires_grad
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    assert [r.output_shape for r in models.trace_shapes(plain, (1, 5, 5))] == [(1, 5, 5), (2, 3, 3), (18,)]


def test_trace_leaves_the_mode_alone():
    model = LeNet5().train()
    model.trace()
    assert model.training


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: LeNet5().trace((1, 28, 28)), ValueError, ["input_size", "does not fit"]),
        (lambda: LeNet5().trace((28, 28)), ValueError, ["input_size"]),
        (lambda: models.trace_shapes("model", (1, 32, 32)), TypeError, ["model", "nn.Module"]),
        (lambda: LeNet5().activations(torch.zeros(1, 32, 32)), ValueError, ["x", "N×C×H×W"]),
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
        (lambda: LeNet5()(torch.zeros(2, 1, 28, 28)), ValueError, ["LeNet5", "N×1×32×32", "pad them to 32×32"]),
        (lambda: LeNetD2L()(torch.zeros(2, 1, 32, 32)), ValueError, ["LeNetD2L", "N×1×28×28"]),
        (lambda: LeNet5Modern()(torch.zeros(1, 32, 32)), ValueError, ["LeNet5Modern", "(1, 32, 32)"]),
        (lambda: squash([1.0]), TypeError, ["a", "tensor"]),
    ],
)
def test_models_reject_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
