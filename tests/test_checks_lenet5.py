"""The self-checks of chapter 4 (LeNet-5, layer by layer): a right answer with parameters named as the learner likes,
and the typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import math

import torch
import torch.nn.functional as F

from lenet_helpers import checks, models


def c3_loop(inputs, kernels, offsets, connected):
    """The chapter's from-scratch C3: one output map at a time, on its own input maps only."""
    maps = []
    for j in range(connected.shape[1]):
        seen = connected[:, j].nonzero().flatten()
        maps.append(F.conv2d(inputs[:, seen], kernels[j:j + 1, seen], offsets[j:j + 1]))
    return torch.cat(maps, dim=1)


def rbf_loop(features, codes):
    y = torch.zeros(features.shape[0], codes.shape[0])
    for n in range(features.shape[0]):
        for i in range(codes.shape[0]):
            y[n, i] = ((features[n] - codes[i]) ** 2).sum()
    return y


def map_loss_by_hand(y, labels, rubbish=0.1):
    total = 0.0
    for row, d in zip(y.tolist(), labels.tolist()):
        total += row[d] + math.log(math.exp(-rubbish) + sum(math.exp(-v) for v in row))
    return total / len(y)  # a float is accepted as well as a 0-d tensor


def subsample_by_reshape(maps, coefficient, offset, size=2):
    """The exercise's answer: window sums by a reshape, then the coefficient and the bias of each map."""
    n, c, h, w = maps.shape
    sums = maps.reshape(n, c, h // size, size, w // size, size).sum(dim=(3, 5))
    return sums * coefficient.view(1, c, 1, 1) + offset.view(1, c, 1, 1)


def map_loss_without_correct(penalties, target, j=0.1):
    correct = penalties[torch.arange(len(target)), target]
    others = torch.exp(-penalties).sum(dim=1) - torch.exp(-correct)
    return (correct + torch.log(math.exp(-j) + others)).mean()


RIGHT = {
    checks.squash: lambda values: 1.7159 * torch.tanh(2 / 3 * values),
    checks.subsample: subsample_by_reshape,
    checks.c3_forward: c3_loop,
    checks.rbf_penalties: rbf_loop,
    checks.map_loss: map_loss_by_hand,
}

WRONG = {
    checks.squash: [
        (lambda a: torch.tanh(a), ["plain tanh"]),
        (lambda a: torch.tanh(2 / 3 * a), ["amplitude A = 1.7159"]),
        (lambda a: 1.7159 * torch.tanh(a), ["slope S = 2/3"]),
        (lambda a: 1.7159 * torch.tanh(3 / 2 * a), ["S = 3/2"]),
        (lambda a: torch.relu(a), ["ReLU"]),
        (lambda a: (1.7159 * torch.tanh(2 / 3 * a)).flatten(), ["returned shape"]),
    ],
    checks.subsample: [
        (lambda x, weight, bias, kernel_size=2: (
            F.avg_pool2d(x, kernel_size) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)), ["mean of each window"]),
        (lambda x, weight, bias, kernel_size=2: (
            F.max_pool2d(x, kernel_size) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)), ["max pooling"]),
        (lambda x, weight, bias, kernel_size=2: subsample_by_reshape(x, weight, torch.zeros_like(bias), kernel_size),
         ["forgets the bias"]),
        (lambda x, weight, bias, kernel_size=2: models.squash(subsample_by_reshape(x, weight, bias, kernel_size)),
         ["squashing function"]),
        (lambda x, weight, bias, kernel_size=2: subsample_by_reshape(x, weight, bias, 2), ["2×2 windows whatever"]),
    ],
    checks.c3_forward: [
        (lambda x, weight, bias, table: F.conv2d(x, weight, bias), ["ignores Table I"]),
        (lambda x, weight, bias, table: c3_loop(x, weight, torch.zeros_like(bias), table), ["forgets the bias"]),
        (lambda x, weight, bias, table: c3_loop(x, weight.flip(2, 3), bias, table), ["flips the kernels"]),
        (lambda x, weight, bias, table: models.squash(c3_loop(x, weight, bias, table)), ["squashing function"]),
    ],
    checks.rbf_penalties: [
        (lambda x, centers: torch.cdist(x, centers), ["distances, not their squares"]),
        (lambda x, centers: rbf_loop(x, centers) / x.shape[1], ["averages the squared differences"]),
        (lambda x, centers: rbf_loop(x, centers).t(), ["transpose"]),
        (lambda x, centers: x @ centers.t(), ["dot products"]),
    ],
    checks.map_loss: [
        (lambda penalties, target, j=0.1: (
            penalties.gather(1, target[:, None]).squeeze(1) + torch.logsumexp(-penalties, dim=1)).mean(),
         ["rubbish class"]),
        (lambda penalties, target, j=0.1: models.map_loss(penalties, target, j) * len(target), ["sums over the batch"]),
        (map_loss_without_correct, ["correct class out of the sum"]),
        (lambda penalties, target, j=0.1: models.map_loss(penalties, target), ["use the j you are given"]),
        (lambda penalties, target, j=0.1: torch.full((len(target),), 1.0), ["one number is expected"]),
        (lambda penalties, target, j=0.1: [0.0], ["a list", "one number is expected"]),
    ],
}


def test_the_references_are_the_courses_own_layers():
    torch.manual_seed(0)
    c3 = models.PartialConv2d(models.C3_TABLE)
    x = torch.randn(2, 6, 14, 14)
    assert torch.allclose(c3_loop(x, c3.dense_weight(), c3.bias, models.C3_TABLE), c3(x), atol=1e-5)
    assert checks.squash(models.squash).passed and checks.squash(models.Squash()).passed
    assert checks.rbf_penalties(lambda x, centers: models.EuclideanRBF(centers)(x)).passed
    assert checks.map_loss(models.map_loss).passed
    layer = models.Subsampling(6)
    assert checks.subsample(lambda x, weight, bias, kernel_size=2: (
        F.avg_pool2d(x, kernel_size, divisor_override=1) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1))).passed
    x = torch.randn(2, 6, 28, 28)
    with torch.no_grad():
        assert torch.allclose(subsample_by_reshape(x, layer.weight, layer.bias), layer(x), atol=1e-6)


def test_the_learners_inputs_cannot_spoil_the_reference():
    def in_place(x, weight, bias, table):
        y = c3_loop(x, weight, bias, table)
        weight.zero_()
        return y

    result = checks.c3_forward(in_place)
    assert not result.passed and "changes its argument weight in place" in result.message
    assert int(models.C3_TABLE.sum()) == 60


def test_the_lowest_map_loss_is_computed_and_wrong_values_get_the_hint():
    lowest = math.log(1 + math.exp(-0.1))
    assert checks.answer("map_loss_lowest", lowest).passed
    assert checks.answer("map_loss_lowest", round(lowest, 4)).passed  # 0.6444, to 0.1%
    assert checks.answer("map_loss_lowest", models.map_loss(torch.tensor([[0.0, 1e4]]), torch.tensor([0]))).passed
    for wrong in (0.0, math.log(2), math.exp(-0.1), 0.1):  # zero, j = 0, forgetting the log, j itself
        result = checks.answer("map_loss_lowest", wrong)
        assert not result.passed and "correct penalty is 0" in result.message
        assert "0.644" not in result.message  # the hint never gives the answer
    assert checks.answer("map_loss_lowest", None).message.startswith("… map_loss_lowest: not done yet")
