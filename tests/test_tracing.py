"""The tracer both trace_shapes and the counting functions read: every layer and function of forward, in order."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import tracing
from lenet_helpers.models import LeNet5


class Mixed(nn.Module):
    """Layers, functions, a ModuleList, a layer called twice, a parameter of its own, and a layer never called."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Identity(), nn.ReLU()])
        self.scale = nn.Parameter(torch.ones(1))
        self.spare = nn.Linear(3, 3)

    def forward(self, x):
        x = F.max_pool2d(self.conv(x), 2)
        x = self.conv(x.sum(dim=1, keepdim=True)) * self.scale
        for block in self.blocks:
            x = block(x)
        return torch.flatten(x, 1).log_softmax(dim=1)


def test_steps_are_layers_and_functions_in_the_order_they_run():
    result = tracing.trace(Mixed(), (1, 4, 4))
    assert [(s.name, s.output_shape) for s in result.steps] == [
        ("conv", (2, 4, 4)), ("max_pool2d", (2, 2, 2)), ("sum", (1, 2, 2)), ("conv", (2, 2, 2)), ("mul", (2, 2, 2)),
        ("blocks.0", (2, 2, 2)), ("blocks.1", (2, 2, 2)), ("flatten", (8,)), ("log_softmax", (8,))]
    assert [s.module is not None for s in result.steps] == [True, False, False, True, False, True, True, False, False]
    assert [s.parameters for s in result.steps] == [20, 0, 0, 0, 1, 0, 0, 0, 0]  # a layer's on its first call
    assert [name for name, _ in result.unused] == ["spare"] and result.own_unused == 0
    assert result.unknown is None  # nothing was measured


def test_measure_values_every_operation_and_the_unknown_ones_are_reported_not_raised():
    def measure(name, args, kwargs, out):
        if name == "sum":
            raise tracing.Unknown(name)
        return 1

    result = tracing.trace(Mixed(), (1, 4, 4), measure=measure)
    assert result.unknown[0] == "sum" and isinstance(result.unknown[1], Mixed)
    assert [s.name for s in result.steps][:3] == ["conv", "max_pool2d", "sum"]
    assert result.steps[0].value >= 1  # the operations inside conv: conv2d (and reading its properties)


def test_a_formula_values_a_layer_as_a_whole_and_nothing_inside_it_again():
    seen = []

    def formula(layer, output):
        seen.append(tuple(output.shape))
        return 100

    result = tracing.trace(LeNet5(), (1, 32, 32), measure=lambda *args: 0, formulas={nn.Linear: formula})
    assert {s.name: s.value for s in result.steps}["F6"] == 100 and seen == [(1, 84)]
    root = tracing.trace(nn.Conv2d(3, 2, 1), (3, 1, 1), measure=lambda *args: 1, formulas={nn.Conv2d: formula})
    assert [(s.name, s.value, s.parameters) for s in root.steps] == [("Conv2d", 100, 8)]  # the model itself


def test_the_trace_runs_in_evaluation_mode_and_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm2d(1)).train()
    hooks = (len(model._forward_hooks), len(model[0]._forward_pre_hooks))
    tracing.trace(model, (1, 2, 2))
    assert model.training and model[1].running_mean.item() == 0  # no statistics updated
    assert (len(model._forward_hooks), len(model[0]._forward_pre_hooks)) == hooks


def test_operation_names():
    assert tracing.operation_name(torch.Tensor.__add__) == "add"
    assert tracing.operation_name(torch.Tensor.__radd__) == "add"
    assert tracing.operation_name(torch.Tensor.__iadd__) == "add_"
    assert tracing.operation_name(torch.Tensor.__truediv__) == "div"
    assert tracing.operation_name(torch.Tensor.__matmul__) == "matmul"
    assert tracing.operation_name(torch.Tensor.__getitem__) == "__getitem__"
    assert tracing.operation_name(F.adaptive_max_pool2d) == "adaptive_max_pool2d"


@pytest.mark.parametrize("call, error, words", [
    (lambda: tracing.trace("model", (1, 4, 4)), TypeError, ["model", "nn.Module"]),
    (lambda: tracing.trace(Mixed(), (4, 4)), ValueError, ["input_size"]),
    (lambda: tracing.trace(Mixed(), (2, 4, 4)), ValueError, ["input_size (2, 4, 4) does not fit this model"]),
])
def test_bad_input_is_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
