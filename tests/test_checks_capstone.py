"""The self-checks of chapter 7 (the capstone): the right answers and the typical wrong ones that test_checks.py runs,
and what the capstone's checks do beyond them (the target's two criteria, the layers' names)."""

import math
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from fake_device import fake_device

from lenet_helpers import checks, data, layers, models
from lenet_helpers.checks import capstone

# ---------------------------------------------------------------------------
# Networks, right and wrong
# ---------------------------------------------------------------------------


class PageLeNet5(nn.Module):
    """The capstone's solution, built from the course's layers: LeNet-5 as a plain nn.Module."""

    def __init__(self, c3=None, s2=None, output=None, c1_padding=0):
        super().__init__()
        self.C1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=c1_padding), layers.Squash())
        self.S2 = nn.Sequential(s2 or layers.Subsampling(6), layers.Squash())
        self.C3 = nn.Sequential(c3 or layers.PartialConv2d(layers.C3_TABLE, 5), layers.Squash())
        self.S4 = nn.Sequential(layers.Subsampling(16), layers.Squash())
        self.C5 = nn.Sequential(nn.Conv2d(16, 120, 5), layers.Squash())
        self.F6 = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), layers.Squash())
        self.output = output or layers.EuclideanRBF(layers.rbf_codes())

    def forward(self, x):
        for layer in (self.C1, self.S2, self.C3, self.S4, self.C5, self.F6, self.output):
            x = layer(x)
        return x


class C5AsLinear(PageLeNet5):
    """C5 written as a linear layer on the flattened S4 maps: the same 48,120 parameters, output 120."""

    def __init__(self):
        super().__init__()
        self.C5 = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), layers.Squash())
        self.F6 = nn.Sequential(nn.Linear(120, 84), layers.Squash())


def dense_c3():
    return PageLeNet5(c3=nn.Conv2d(6, 16, 5))


def max_pooling():
    return PageLeNet5(s2=nn.MaxPool2d(2))


def linear_output():
    return PageLeNet5(output=nn.Linear(84, 10))


class TrainableCentres(nn.Module):
    def __init__(self):
        super().__init__()
        self.centers = nn.Parameter(layers.rbf_codes())

    def forward(self, x):
        return ((x.unsqueeze(1) - self.centers) ** 2).sum(dim=2)


class Renamed(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = models.LeNet5()

    def forward(self, x):
        return self.body(x)


class ReturnsF6(PageLeNet5):
    def forward(self, x):
        super().forward(x)
        return self.F6(self.C5(self.S4(self.C3(self.S2(self.C1(x))))))


# ---------------------------------------------------------------------------
# Training steps, right and wrong
# ---------------------------------------------------------------------------


def good_step(model, optimizer, x, y):
    penalties = model(x)
    loss = layers.map_loss(penalties, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss  # the 0-d tensor is accepted as well as a float


def step_without_zero_grad(model, optimizer, x, y):
    loss = layers.map_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_with(loss_of):
    def step(model, optimizer, x, y):
        loss = loss_of(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def step_without_backward(model, optimizer, x, y):
    loss = layers.map_loss(model(x), y)
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_returning_nothing(model, optimizer, x, y):
    good_step(model, optimizer, x, y)


def step_with_model_loss(model, optimizer, x, y):
    loss = model.loss(model(x), y)  # the check's network is a plain nn.Sequential: no .loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Evaluation, right and wrong
# ---------------------------------------------------------------------------


def good_error(model, images, labels):
    device = next(model.parameters()).device   # the notebook's way: the stand-in networks have a parameter
    model.eval()
    with torch.no_grad():
        penalties = torch.cat([model(batch.to(device)) for batch in images.split(16)])
    return (penalties.argmin(dim=1) != labels.to(device)).float().mean().item()


def error_by_argmax(model, images, labels):
    model.eval()
    with torch.no_grad():
        return (model(images).argmax(dim=1) != labels).float().mean().item()


def error_in_training_mode(model, images, labels):
    with torch.no_grad():
        return (model(images).argmin(dim=1) != labels).float().mean().item()


# ---------------------------------------------------------------------------
# The target: stand-ins for a trained network that read the test set's labels
# ---------------------------------------------------------------------------


class Oracle(nn.Module):
    """Knows every test digit's label and gets ``wrong_every``-th digits wrong; penalties, or scores if asked."""

    _labels = None

    def __init__(self, wrong_every=100, scores=False):
        super().__init__()
        if Oracle._labels is None:
            images, labels = data.mnist_tensors(train=False)
            Oracle._labels = {image.numpy().tobytes(): (i, int(label)) for i, (image, label) in enumerate(zip(images, labels))}
        self.wrong_every, self.scores = wrong_every, scores
        self.anchor = nn.Parameter(torch.zeros(()))  # so that the check finds its device

    def forward(self, x):
        penalties = torch.full((len(x), 10), 10.0)
        for row, image in enumerate(x):
            index, label = Oracle._labels[image.cpu().numpy().tobytes()]
            predicted = (label + 1) % 10 if index % self.wrong_every == 0 else label
            penalties[row, predicted] = 0.0
        return -penalties if self.scores else penalties


RIGHT = {
    checks.lenet5_shapes: PageLeNet5,
    checks.lenet5_parameters: PageLeNet5,
    checks.paper_inputs: lambda images: -0.1 + 1.275 * F.pad(images, (2, 2, 2, 2)),
    checks.train_step: good_step,
    checks.rbf_test_error: good_error,
    checks.lenet5_target: Oracle(wrong_every=100),  # 1% wrong
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.lenet5_shapes: (lambda: PageLeNet5(c1_padding=2), "padded C1"),
    checks.lenet5_parameters: (dense_c3, "dense C3"),
    checks.paper_inputs: (lambda images: F.pad(-0.1 + 1.275 * images, (2, 2, 2, 2)), "padding with 0 after scaling"),
    checks.train_step: (step_without_zero_grad, "zero_grad"),
    checks.rbf_test_error: (error_by_argmax, "the smallest wins"),
    checks.lenet5_target: (Oracle(wrong_every=25), "4.00%"),  # 4% wrong
}


# ---------------------------------------------------------------------------
# More of each check's mistakes
# ---------------------------------------------------------------------------


def assert_result(result, words) -> None:
    """``words`` None: the check passes; else it fails, and its message has every one of ``words``."""
    if words is None:
        assert result.passed, result.message
    else:
        assert not result.passed
        for word in words:
            assert word in result.message


@pytest.mark.parametrize("make, words", [
    (PageLeNet5, None),
    (models.LeNet5, None),
    (C5AsLinear, None),
    (lambda: PageLeNet5(c1_padding=2), ["layer C1", "6×32×32", "expected 6×28×28", "padded C1"]),
    (Renamed, ["without a layer called C1", "body", "seven names"]),
    (ReturnsF6, ["does not return the output layer"]),
    (lambda: PageLeNet5(output=nn.Identity()), ["layer output", "84 per image", "expected 10", "RBF"]),
    (lambda: nn.Linear(2, 2), ["without a layer called C1"]),
])
def test_lenet5_shapes(make, words):
    assert_result(checks.lenet5_shapes(make), words)


@pytest.mark.parametrize("make, words", [
    (PageLeNet5, None),
    (models.LeNet5, None),
    (C5AsLinear, None),
    (dense_c3, ["60,900", "layer C3 has 2,416, expected 1,516", "Table I"]),
    (max_pooling, ["layer S2 has 0, expected 12", "Subsampling(6)"]),
    (linear_output, ["layer output has 850, expected 0", "linear output layer"]),
    (lambda: PageLeNet5(output=TrainableCentres()), ["layer output has 840", "fixed"]),
    (Renamed, ["without a layer called"]),
])
def test_lenet5_parameters(make, words):
    assert_result(checks.lenet5_parameters(make), words)


def test_the_network_checks_want_the_class_not_an_instance():
    for check in (checks.lenet5_shapes, checks.lenet5_parameters):
        with pytest.raises(TypeError, match=r"pass the class itself, lenet5_\w+\(PageLeNet5\)"):
            check(PageLeNet5())  # an instance is callable, but calling it makes no network
        with pytest.raises(TypeError, match="fn must be your function"):
            check(5)
    made = checks.lenet5_parameters(lambda: "not a network")
    assert not made.passed and "nn.Module" in made.message and "not lenet5_parameters(MyLeNet5())" in made.message


def test_the_network_checks_leave_the_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert checks.lenet5_shapes(PageLeNet5).passed and checks.lenet5_parameters(PageLeNet5).passed
    assert checks.train_step(good_step).passed
    assert torch.equal(torch.rand(3), expected)


def test_the_solution_network_is_the_packages_lenet5():
    torch.manual_seed(0)
    page = PageLeNet5()
    for layer in (page.C1[0], page.C5[0], page.F6[1]):  # the paper's initialisation, as the chapter does it
        fan_in = layer.weight[0].numel()
        layers.uniform_fan_in_(layer.weight, fan_in)
        layers.uniform_fan_in_(layer.bias, fan_in)
    torch.manual_seed(0)
    package = models.LeNet5()
    x = torch.rand(4, 1, 32, 32)
    assert torch.allclose(page(x), package(x), atol=1e-5)


@pytest.mark.parametrize("wrong, words", [
    (lambda images: (F.pad(images, (2, 2, 2, 2)) - data.MNIST_MEAN) / data.MNIST_STD, "standardisation"),
    (lambda images: -0.1 + 1.175 * F.pad(images, (2, 2, 2, 2)), "1.275"),
    (lambda images: -0.1 + 1.275 * images, "without padding"),
    (lambda images: (-0.1 + 1.275 * F.pad(images, (2, 2, 2, 2)))[:, 0], "returned shape"),
])
def test_paper_inputs_names_each_mistake(wrong, words):
    result = checks.paper_inputs(wrong)
    assert not result.passed and words in result.message


@pytest.mark.parametrize("step, words", [
    (step_with(F.cross_entropy), ["did not lower the MAP loss", "cross-entropy on the penalties"]),
    (step_with(lambda p, t: F.cross_entropy(-p, t)), ["cross-entropy on minus the penalties", "rubbish class"]),
    (step_with(lambda p, t: layers.map_loss(p, t) * len(t)), ["summed over the batch"]),
    (step_without_backward, ["did not lower", "weights did not change at all"]),
    (step_with_model_loss, ["raised AttributeError", "map_loss(penalties, y)"]),
    (step_returning_nothing, ["returned None", "expected the loss", "the steps themselves are right"]),
    (lambda model, optimizer, x, y: step_with(layers.map_loss)(model, torch.optim.SGD(model.parameters(), lr=0.001), x, y),
     ["not as two optimiser steps", "Use the model and the optimizer you are given"]),
])
def test_train_step_names_each_mistake(step, words):
    result = checks.train_step(step)
    assert not result.passed
    for word in words:
        assert word in result.message, result.message


@pytest.mark.parametrize("wrong, words", [
    (error_in_training_mode, "model.eval()"),
    (lambda model, images, labels: 1 - good_error(model, images, labels), "accuracy"),
    (lambda model, images, labels: 100 * good_error(model, images, labels), "percentage"),
    (lambda model, images, labels: good_error(model, images, labels) * len(labels), "number of mistakes"),
])
def test_rbf_test_error_names_each_mistake(wrong, words):
    result = checks.rbf_test_error(wrong)
    assert not result.passed and words in result.message, result.message


def test_the_stand_in_network_differs_in_training_mode():
    model = capstone._FixedPenalties(0)
    x = torch.rand(20, 1, 32, 32)
    assert not torch.equal(model.train()(x).argmin(1), model.eval()(x).argmin(1))


def test_the_target_is_one_pair_of_constants():
    assert (capstone.TARGET_ERROR, capstone.TARGET_SECONDS) == (0.015, 60.0)
    assert "TARGET_ERROR" in checks.lenet5_target.__doc__ and "TARGET_SECONDS" in checks.lenet5_target.__doc__


def test_the_target_reports_the_error_and_the_time():
    right = checks.lenet5_target(RIGHT[checks.lenet5_target], seconds=42.0)
    assert right.passed and "1.00%" in right.message and "42.0 s" in right.message and "at most 60 s" in right.message
    slow = checks.lenet5_target(RIGHT[checks.lenet5_target], seconds=75.0)
    assert not slow.passed and "meets the target" in slow.message and "75.0 s, over the 60 s budget" in slow.message
    assert "Hint:" in slow.message and 'data-passed="false"' in slow._repr_html_()
    both = checks.lenet5_target(WRONG[checks.lenet5_target][0], seconds=75.0)
    assert not both.passed and "4.00%" in both.message and "over the 60 s budget" in both.message
    assert both.message.count("Hint:") == 1


def test_the_target_recognises_scores_for_penalties():
    result = checks.lenet5_target(Oracle(wrong_every=100, scores=True))
    assert not result.passed and "smallest penalty wins" in result.message


def test_the_target_rejects_bad_arguments():
    with pytest.raises(TypeError, match="model must be your trained network"):
        checks.lenet5_target("LeNet5")
    with pytest.raises(ValueError, match="seconds must be the training time"):
        checks.lenet5_target(models.LeNet5(), seconds=-1)
    wrong_shape = checks.lenet5_target(nn.Sequential(nn.Flatten(), nn.Linear(1024, 3)))
    assert not wrong_shape.passed and "ten penalties per digit" in wrong_shape.message


def test_the_target_runs_on_the_models_device_in_evaluation_mode():
    with fake_device() as dev:  # not the CPU (tests/fake_device.py): test digits left on the CPU would raise
        model = models.LeNet5().to(dev).train()
        result = checks.lenet5_target(model)
    assert "test error of" in result.message, result.message  # measured, not a failure to run
    assert not result.passed and model.training  # an untrained network misses; its mode is given back
    assert math.isfinite(float(result.message.split("test error of ")[1].split("%")[0]))
