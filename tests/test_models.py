
import pytest
import torch
import torch.nn as nn
from fake_device import fake_device

from lenet_helpers import models
from lenet_helpers.models import (
    LeNet5,
    LeNet5Modern,
    LeNetD2L,
)


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

def test_layer_outputs_and_predict_move_the_input_to_the_models_device():
    """Issue 29, item 7: trace_shapes made its input on the model's device, layer_outputs used x where it was."""
    torch.manual_seed(0)
    model, x = LeNet5(), torch.randn(3, 1, 32, 32)
    expected, predicted = models.layer_outputs(model, x), model.predict(x)
    with fake_device() as dev:
        model.to(dev)
        got = models.layer_outputs(model, x)  # x on the CPU, the model on the (fake) device
        assert all(t.device == dev for t in got.values()) and model.activations(x)["C1"].device == dev
        assert all(torch.allclose(got[name].cpu(), value, atol=1e-6) for name, value in expected.items())
        assert torch.equal(model.predict(x).cpu(), predicted)


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
        (lambda: LeNet5()(torch.zeros(2, 1, 28, 28)), ValueError, ["LeNet5", "N×1×32×32", "pad them to 32×32"]),
        (lambda: LeNetD2L()(torch.zeros(2, 1, 32, 32)), ValueError, ["LeNetD2L", "N×1×28×28"]),
        (lambda: LeNet5Modern()(torch.zeros(1, 32, 32)), ValueError, ["LeNet5Modern", "(1, 32, 32)"]),
    ],
)
def test_models_reject_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_trace_lists_layers_and_functions_in_the_order_they_run():
    from test_counting import ExamplesNet

    trace = models.trace_shapes(ExamplesNet(), (1, 28, 28))
    assert [tuple(row) for row in trace] == [
        ("input", "", (1, 28, 28)),
        ("conv1", "conv 3×3, 1→32", (32, 26, 26)),
        ("relu", "ReLU (function)", (32, 26, 26)),
        ("conv2", "conv 3×3, 32→64", (64, 24, 24)),
        ("relu", "ReLU (function)", (64, 24, 24)),
        ("max_pool2d", "max pool 2×2 (function)", (64, 12, 12)),   # between conv2 and dropout1, where it runs
        ("dropout1", "dropout", (64, 12, 12)),
        ("flatten", "flatten (function)", (9216,)),
        ("fc1", "linear 9216→128", (128,)),
        ("relu", "ReLU (function)", (128,)),
        ("dropout2", "dropout", (128,)),
        ("fc2", "linear 128→10", (10,)),
        ("log_softmax", "log-softmax (function)", (10,)),
    ]


def test_trace_works_on_operations_that_cannot_be_counted_and_on_the_meta_device():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cdist(x.flatten(1), torch.ones(3, 4, device=x.device)).sqrt()

    assert [tuple(row)[::2] for row in models.trace_shapes(Odd(), (1, 2, 2))] == [
        ("input", (1, 2, 2)), ("flatten", (4,)), ("cdist", (3,)), ("sqrt", (3,))]
    with torch.device("meta"):
        big = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.AdaptiveAvgPool2d(1))
    assert [row.output_shape for row in models.trace_shapes(big, (3, 224, 224))] == [(3, 224, 224), (64, 112, 112), (64, 1, 1)]
