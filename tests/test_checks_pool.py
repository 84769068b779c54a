"""The self-checks of chapter 2 (pooling): the right answers and the typical wrong ones that test_checks.py runs."""

import torch
import torch.nn.functional as F

from lenet_helpers import checks, layers, pool


def good_pool2d(X, pool_size, mode):
    ph, pw = pool_size
    Y = torch.zeros(X.shape[0] // ph, X.shape[1] // pw)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def subsampling_loop(x, weight, bias):
    c, h, w = x.shape
    y = torch.zeros(c, h // 2, w // 2)
    for m in range(c):
        for i in range(h // 2):
            for j in range(w // 2):
                y[m, i, j] = weight[m] * x[m, 2 * i:2 * i + 2, 2 * j:2 * j + 2].sum() + bias[m]
    return y


RIGHT = {
    checks.pool2d: good_pool2d,
    checks.pool_output_size: lambda n, k, s, p=0: (n + 2 * p - k) // s + 1,
    checks.global_avg_pool: lambda X: X.mean(dim=(2, 3)),
    checks.subsampling: subsampling_loop,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.pool2d: lambda X, pool_size, mode: pool.pool2d(X, pool_size, mode="max"),  # ignores mode
    checks.pool_output_size: lambda n, k, s, p=0: round((n + 2 * p - k) / s) + 1,  # rounds instead of floor
    checks.global_avg_pool: (lambda X: F.adaptive_avg_pool2d(X, 1), "flatten the result"),
    checks.subsampling: (lambda x, weight, bias: weight[:, None, None] * F.avg_pool2d(x[None], 2)[0] + bias[:, None, None],
                         "the window's mean"),
}


def test_the_references_are_the_courses_own_layers():
    def with_the_layer(x, weight, bias):  # layers.Subsampling with the given coefficients and biases
        s = layers.Subsampling(x.shape[0], 2)
        with torch.no_grad():
            s.weight.copy_(weight)
            s.bias.copy_(bias)
            return s(x[None])[0]

    assert checks.subsampling(with_the_layer).passed
    assert checks.global_avg_pool(lambda X: pool.pool2d(X.flatten(0, 1), tuple(X.shape[-2:]), "avg").reshape(X.shape[:2])).passed


def test_other_global_pooling_mistakes_are_recognised():
    for wrong, words in ((lambda X: X.amax(dim=(2, 3)), "global max pooling"),
                         (lambda X: X.mean(dim=1), "mean over the channels"),
                         (lambda X: X.mean(dim=(0, 2, 3)), "mean over the batch")):
        result = checks.global_avg_pool(wrong)
        assert not result.passed and words in result.message, result.message


def test_other_subsampling_mistakes_are_recognised():
    right = RIGHT[checks.subsampling]
    for wrong, words in ((lambda x, weight, bias: layers.squash(right(x, weight, bias)), "squashing function"),
                         (lambda x, weight, bias: weight[:, None, None] * F.max_pool2d(x[None], 2)[0] + bias[:, None, None],
                          "max pooling"),
                         (lambda x, weight, bias: right(x, weight[:1].expand_as(weight), bias[:1].expand_as(bias)),
                          "first map's coefficient")):
        result = checks.subsampling(wrong)
        assert not result.passed and words in result.message, result.message
