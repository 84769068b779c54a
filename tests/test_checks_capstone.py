"""The self-checks of chapter 7 (the capstone): a right answer with parameters named as the learner likes, the typical
wrong ones a learner writes from the chapter (each with the words its message must contain; test_checks.py runs
them), and what the capstone's checks do beyond them (the network's behaviour, the loop, the target)."""

import math
import time
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
    """The capstone's solution, built from the course's layers: LeNet-5 as a plain nn.Module; each argument is a
    typical departure from it."""

    def __init__(self, c3=None, s2=None, output=None, c1_padding=0, squash=layers.Squash, c3_squash=None,
                 init=True):
        super().__init__()
        self.C1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=c1_padding), squash())
        self.S2 = nn.Sequential(s2 or layers.Subsampling(6), squash())
        self.C3 = nn.Sequential(c3 or layers.PartialConv2d(layers.C3_TABLE, 5), (c3_squash or squash)())
        self.S4 = nn.Sequential(layers.Subsampling(16), squash())
        self.C5 = nn.Sequential(nn.Conv2d(16, 120, 5), squash())
        self.F6 = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), squash())
        self.output = output or layers.EuclideanRBF(layers.rbf_codes())
        if init:
            for layer in (self.C1[0], self.C5[0], self.F6[1]):
                fan_in = layer.weight[0].numel()
                layers.uniform_fan_in_(layer.weight, fan_in)
                layers.uniform_fan_in_(layer.bias, fan_in)

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
        for layer in (self.C5[1], self.F6[0]):
            layers.uniform_fan_in_(layer.weight, layer.in_features)
            layers.uniform_fan_in_(layer.bias, layer.in_features)


class SquashInForward(nn.Module):
    """The squashing function applied in forward, not inside the layers, and F6 flattened there too."""

    def __init__(self):
        super().__init__()
        self.C1, self.S2 = nn.Conv2d(1, 6, 5), layers.Subsampling(6)
        self.C3, self.S4 = layers.PartialConv2d(layers.C3_TABLE, 5), layers.Subsampling(16)
        self.C5, self.F6 = nn.Conv2d(16, 120, 5), nn.Linear(120, 84)
        self.output = layers.EuclideanRBF(layers.rbf_codes())
        for layer in (self.C1, self.C5, self.F6):
            layers.uniform_fan_in_(layer.weight, layer.weight[0].numel())
            layers.uniform_fan_in_(layer.bias, layer.weight[0].numel())

    def forward(self, images):
        f = layers.squash
        x = f(self.S2(f(self.C1(images))))
        x = f(self.S4(f(self.C3(x))))
        x = f(self.F6(f(self.C5(x)).flatten(1)))
        return self.output(x)


class MeanPooling(nn.Module):
    """S2 with a coefficient and a bias per map, but the mean of each window (the tutorials' AvgPool2d)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels).uniform_(-0.6, 0.6))
        self.bias = nn.Parameter(torch.empty(channels).uniform_(-0.6, 0.6))

    def forward(self, x):
        return F.avg_pool2d(x, 2) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PlainTanh(nn.Module):
    def forward(self, a):
        return torch.tanh(a)


class NoSquash(nn.Module):
    def forward(self, a):
        return a


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


class Distances(nn.Module):
    """An output layer with the square root: distances, not squared distances."""

    def __init__(self):
        super().__init__()
        self.register_buffer("codes", layers.rbf_codes())

    def forward(self, x):
        return torch.cdist(x, self.codes)


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


class C5With16Maps(PageLeNet5):
    def __init__(self):
        super().__init__()
        self.C5 = nn.Sequential(nn.Conv2d(16, 16, 5), layers.Squash())
        self.F6 = nn.Sequential(nn.Flatten(), nn.Linear(16, 84), layers.Squash())


# ---------------------------------------------------------------------------
# Training steps, right and wrong
# ---------------------------------------------------------------------------


def good_step(net, opt, images, targets):
    penalties = net(images)
    loss = layers.map_loss(penalties, targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
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


def step_returning_the_new_loss(model, optimizer, x, y):
    good_step(model, optimizer, x, y)
    with torch.no_grad():
        return layers.map_loss(model(x), y).item()


def step_with_model_loss(model, optimizer, x, y):
    loss = model.loss(model(x), y)  # the check's network is a plain nn.Sequential: no .loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Evaluation, right and wrong
# ---------------------------------------------------------------------------


def good_error(net, xs, ys):
    device = next(net.parameters()).device   # the notebook's way: the stand-in networks have a parameter
    net.eval()
    with torch.no_grad():
        penalties = torch.cat([net(batch.to(device)) for batch in xs.split(1000)])
    return (penalties.argmin(dim=1) != ys.to(device)).float().mean().item()


def error_by_argmax(model, images, labels):
    model.eval()
    with torch.no_grad():
        return (model(images).argmax(dim=1) != labels).float().mean().item()


def error_in_training_mode(model, images, labels):
    with torch.no_grad():
        return (model(images).argmin(dim=1) != labels).float().mean().item()


def error_averaged_over_batches(model, images, labels):
    model.eval()
    rates = []
    with torch.no_grad():
        for x, y in zip(images.split(1000), labels.split(1000)):
            rates.append((model(x).argmin(dim=1) != y).float().mean().item())
    return sum(rates) / len(rates)


# ---------------------------------------------------------------------------
# Training loops, right and wrong
# ---------------------------------------------------------------------------


def good_fit(net, training, validation, n_epochs, size, peak, one_step, measure, *, rounding=math.ceil,
             per_batch=True, train_mode=True, time_validation=False, cumulative=True, shuffle=True):
    """Chapter 7's fit, with other names; each keyword is a typical mistake."""
    images, labels = training
    optimizer = torch.optim.Adam(net.parameters(), lr=peak)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak, total_steps=n_epochs * rounding(len(labels) / size))
    history, seconds = [], 0.0
    for epoch in range(1, n_epochs + 1):
        if train_mode:
            net.train()
        start = time.perf_counter()
        losses = []
        batches = data.batches(images, labels, size) if shuffle else zip(images.split(size), labels.split(size))
        for x, y in batches:
            losses.append(float(one_step(net, optimizer, x, y)))
            if per_batch:
                schedule.step()
        if not per_batch:
            schedule.step()
        error = measure(net, *validation) if time_validation else None
        took = time.perf_counter() - start
        seconds = seconds + took if cumulative else took
        if error is None:
            error = measure(net, *validation)
        history.append({"epoch": epoch, "train_loss": sum(losses) / len(losses), "validation_error": error,
                        "seconds": seconds})
        print(f"epoch {epoch}/{n_epochs}: training loss {history[-1]['train_loss']:.4f}")
    return history


def fit_with(**mistake):
    def fit(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
        return good_fit(model, train_set, validation_set, epochs, batch_size, max_lr, step, error, **mistake)

    return fit


def train_step(model, optimizer, x, y):  # the chapter's blank, still blank
    raise NotImplementedError("your code here")


def fit_with_the_blank(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
    return good_fit(model, train_set, validation_set, epochs, batch_size, max_lr, train_step, error)


def fit_with_a_typo(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
    history = good_fit(model, train_set, validation_set, epochs, batch_size, max_lr, step, error)
    return [{"epoch": row["epoch"], "train_loss": row["train_loss"], "validation_error": row["validation_eror"],
             "seconds": row["seconds"]} for row in history]


def fit_on_the_training_set(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
    return good_fit(model, train_set, train_set, epochs, batch_size, max_lr, step, error)


# ---------------------------------------------------------------------------
# The target: stand-ins for a trained network that read the validation set's labels
# ---------------------------------------------------------------------------


class Oracle(nn.Module):
    """Knows every validation digit's label and gets ``wrong_every``-th digits wrong; penalties, or scores if asked."""

    _labels = None

    def __init__(self, wrong_every=100, scores=False):
        super().__init__()
        if Oracle._labels is None:
            images, labels = capstone._validation_set()
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


def prepare_in_place(images):
    images.mul_(1.275).sub_(0.1)
    return F.pad(images, (2, 2, 2, 2), value=-0.1)


RIGHT = {
    checks.lenet5_shapes: PageLeNet5,
    checks.lenet5_parameters: PageLeNet5,
    checks.lenet5_behaviour: PageLeNet5,
    checks.paper_inputs: lambda digits: -0.1 + 1.275 * F.pad(digits, (2, 2, 2, 2)),
    checks.train_step: good_step,
    checks.rbf_test_error: good_error,
    checks.fit: good_fit,
}

WRONG = {
    checks.lenet5_shapes: [
        (lambda: PageLeNet5(c1_padding=2), ["layer C1", "6×32×32", "6×28×28", "padded C1"]),
        (Renamed, ["without a layer called C1", "body", "seven names"]),
        (ReturnsF6, ["does not return the output layer"]),
        (lambda: PageLeNet5(output=nn.Identity()), ["layer output", "84 per image", "RBF"]),
        (C5With16Maps, ["C5 with 16 maps"]),
    ],
    checks.lenet5_parameters: [
        (dense_c3, ["60,900", "layer C3 has 2,416", "1,516", "Table I"]),
        (max_pooling, ["layer S2 has 0", "Subsampling(6)"]),
        (linear_output, ["layer output has 850", "linear output layer"]),
        (lambda: PageLeNet5(output=TrainableCentres()), ["layer output has 840", "fixed"]),
        (Renamed, ["without a layer called"]),
    ],
    checks.lenet5_behaviour: [
        (lambda: PageLeNet5(squash=nn.ReLU), ["ReLU", "layer C1"]),
        (lambda: PageLeNet5(squash=PlainTanh), ["plain tanh", "amplitude"]),
        (lambda: PageLeNet5(c3_squash=NoSquash), ["layer C3", "no squashing function"]),
        (lambda: PageLeNet5(init=False), ["PyTorch's default initialisation", "uniform_fan_in_"]),
        (lambda: PageLeNet5(squash=nn.Sigmoid), ["sigmoid"]),
        (lambda: PageLeNet5(s2=MeanPooling(6)), ["layer S2", "mean of each 2×2 window"]),
        (lambda: PageLeNet5(output=Distances()), ["output layer", "no square root"]),
    ],
    checks.paper_inputs: [
        (lambda images: (F.pad(images, (2, 2, 2, 2)) - data.MNIST_MEAN) / data.MNIST_STD, ["0.1307", "0.3081"]),
        (lambda images: -0.1 + 1.175 * F.pad(images, (2, 2, 2, 2)), ["1.275"]),
        (lambda images: -0.1 + 1.275 * images, ["forgets the padding"]),
        (lambda images: (-0.1 + 1.275 * F.pad(images, (2, 2, 2, 2)))[:, 0], ["channel dimension"]),
        (lambda images: F.pad(-0.1 + 1.275 * images, (2, 2, 2, 2)), ["pads with 0 after scaling"]),
        (lambda images: (-0.1 + 1.275 * F.pad(images, (2, 2, 2, 2))).double(), ["float64", "Input type (double)"]),
        (prepare_in_place, ["changes its argument images in place"]),
    ],
    checks.train_step: [
        (step_without_zero_grad, ["zero_grad"]),
        (step_with(F.cross_entropy), ["cross-entropy on the penalties"]),
        (step_with(lambda p, t: F.cross_entropy(-p, t)), ["cross-entropy on minus the penalties", "rubbish class"]),
        (step_with(lambda p, t: layers.map_loss(p, t) * len(t)), ["sums the loss over the batch"]),
        (step_without_backward, ["does not change the weights"]),
        (step_with_model_loss, ["raised AttributeError", "map_loss(penalties, y)"]),
        (step_returning_nothing, ["returned None", "the steps themselves are right"]),
        (step_returning_the_new_loss, ["loss after the step"]),
    ],
    checks.rbf_test_error: [
        (error_by_argmax, ["argmax", "the smallest wins"]),
        (error_in_training_mode, ["model.eval()"]),
        (error_averaged_over_batches, ["averages the error rates of the batches"]),
        (lambda model, images, labels: 1 - good_error(model, images, labels), ["accuracy"]),
        (lambda model, images, labels: 100 * good_error(model, images, labels), ["percentage"]),
        (lambda model, images, labels: good_error(model, images, labels) * len(labels), ["number of mistakes"]),
    ],
    checks.fit: [
        (fit_with(rounding=math.floor), ["rounds the number of batches down", "math.ceil", "430"]),
        (fit_with(per_batch=False), ["once per epoch"]),
        (fit_with(train_mode=False), ["evaluation mode", "model.train()"]),
        (fit_with(time_validation=True), ["validation in the training time"]),
        (fit_with(cumulative=False), ["each epoch's own time"]),
        (fit_with(shuffle=False), ["same order every epoch"]),
        (fit_with_the_blank, ["NotImplementedError", "the step and error that fit is given"]),
        (fit_with_a_typo, ["raised KeyError", "validation_eror"]),
        (fit_on_the_training_set, ["another set"]),
    ],
}


# ---------------------------------------------------------------------------
# More of each check
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [PageLeNet5, models.LeNet5, C5AsLinear, SquashInForward],
                         ids=lambda m: getattr(m, "__name__", "network"))
def test_networks_written_in_other_ways_pass_every_network_check(make):
    for check in (checks.lenet5_shapes, checks.lenet5_parameters, checks.lenet5_behaviour):
        result = check(make)
        assert result.passed, result.message


def test_the_network_checks_want_the_class_not_an_instance():
    for check in (checks.lenet5_shapes, checks.lenet5_parameters, checks.lenet5_behaviour):
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
    assert checks.lenet5_behaviour(PageLeNet5).passed
    assert checks.train_step(good_step).passed and checks.fit(good_fit).passed
    assert torch.equal(torch.rand(3), expected)


def test_the_solution_network_is_the_packages_lenet5():
    torch.manual_seed(0)
    page = PageLeNet5()
    torch.manual_seed(0)
    package = models.LeNet5()
    x = torch.rand(4, 1, 32, 32)
    assert torch.allclose(page(x), package(x), atol=1e-5)


def test_the_stand_in_network_differs_in_training_mode():
    model = capstone._FixedPenalties(0)
    x = torch.rand(20, 1, 32, 32)
    assert not torch.equal(model.train()(x).argmin(1), model.eval()(x).argmin(1))


def test_fit_captures_what_the_learners_loop_prints_and_explains_its_exceptions():
    result = checks.fit(fit_with_a_typo)
    assert "in the line" in result.message and "validation_eror" in result.message
    assert "Traceback" not in result.message


def test_the_loop_exercise_counts_the_batches_of_an_epoch_as_the_run_makes_them():
    """#28: the exercise says how many batches an epoch of the run has, rounded up, and so does fit's message."""
    import json
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "chapters" / "07_build_it_yourself.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    exercise = " ".join(next(c for c in cells if ":label: ex-capstone-loop" in c).split())
    batch_size = int(re.search(r"EPOCHS, BATCH_SIZE, MAX_LR, SEED = \d+, (\d+),", "\n".join(cells)).group(1))
    n = 60_000 - data.VALIDATION_SIZE
    found = re.search(r"([\d,]+) training digits in batches of (\d+) make (\d+) batches, not (\d+)", exercise)
    assert found, exercise
    said = [int(g.replace(",", "")) for g in found.groups()]
    assert said == [n, batch_size, math.ceil(n / batch_size), n // batch_size]
    message = checks.fit(WRONG[checks.fit][0][0]).message  # total_steps rounded down
    assert f"{n:,} / {batch_size} → {math.ceil(n / batch_size)} batches" in message


def test_the_target_is_two_constants():
    assert (capstone.TARGET_ERROR, capstone.TIME_FACTOR) == (0.02, 2.0)
    assert "TARGET_ERROR" in checks.lenet5_target.__doc__ and "TIME_FACTOR" in checks.lenet5_target.__doc__


def test_the_target_is_judged_on_the_validation_set_against_the_solutions_time():
    right = checks.lenet5_target(Oracle(wrong_every=100), seconds=42.0, solution_seconds=30.0)
    assert right.passed, right.message
    assert "validation error of 1.00%" in right.message and "42.0 s" in right.message and "30.0 s" in right.message
    assert "test error, once" in right.message
    slow = checks.lenet5_target(Oracle(wrong_every=100), seconds=75.0, solution_seconds=30.0)
    assert not slow.passed and "meets the target, but not the time" in slow.message and "75.0 s" in slow.message
    assert "Hint:" in slow.message and 'data-passed="false"' in slow._repr_html_()
    both = checks.lenet5_target(Oracle(wrong_every=25), seconds=75.0, solution_seconds=30.0)
    assert not both.passed and "4.00%" in both.message and "over the budget" in both.message
    assert both.message.count("Hint:") == 1
    untimed = checks.lenet5_target(Oracle(wrong_every=100))
    assert untimed.passed and " s" not in untimed.message.split("target met")[1].split(".")[0]


def test_the_target_recognises_scores_for_penalties():
    result = checks.lenet5_target(Oracle(wrong_every=100, scores=True))
    assert not result.passed and "smallest penalty wins" in result.message


def test_the_target_rejects_bad_arguments_and_never_raises_on_the_network():
    with pytest.raises(TypeError, match="model must be your trained network"):
        checks.lenet5_target("LeNet5")
    with pytest.raises(ValueError, match="seconds must be a training time"):
        checks.lenet5_target(models.LeNet5(), seconds=-1)
    with pytest.raises(ValueError, match="solution_seconds must be a training time"):
        checks.lenet5_target(models.LeNet5(), seconds=1.0, solution_seconds="fast")
    wrong_shape = checks.lenet5_target(nn.Sequential(nn.Flatten(), nn.Linear(1024, 3)))
    assert not wrong_shape.passed and "ten penalties per digit" in wrong_shape.message
    broken = checks.lenet5_target(nn.Sequential(nn.Flatten(), nn.Linear(1000, 10)))
    assert not broken.passed and "raised RuntimeError" in broken.message


def test_the_target_runs_on_the_models_device_in_evaluation_mode():
    with fake_device() as dev:  # not the CPU (tests/fake_device.py): test digits left on the CPU would raise
        model = models.LeNet5().to(dev).train()
        result = checks.lenet5_target(model)
    assert "validation error of" in result.message, result.message  # measured, not a failure to run
    assert not result.passed and model.training  # an untrained network misses; its mode is given back
    assert math.isfinite(float(result.message.split("validation error of ")[1].split("%")[0]))


def test_the_plain_sequential_of_train_step_has_the_packages_layers():
    net = capstone._plain_lenet5(0, torch.device("cpu"))
    assert isinstance(net, nn.Sequential) and list(OrderedDict(net.named_children())) == list(capstone.LAYERS)
