"""The self-checks of chapter 2 (pooling): a right answer with parameters named as the learner likes, and the
typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import math

import torch
import torch.nn.functional as F

from lenet_helpers import checks, layers, pool


def good_pool2d(image, window, how):
    ph, pw = window
    out = torch.zeros(image.shape[0] // ph, image.shape[1] // pw)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            patch = image[i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            out[i, j] = patch.max() if how == "max" else patch.mean()
    return out


def pool2d_stride_one(X, pool_size, mode):
    ph, pw = pool_size
    out = torch.zeros(X.shape[0] - ph + 1, X.shape[1] - pw + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            patch = X[i:i + ph, j:j + pw]
            out[i, j] = patch.max() if mode == "max" else patch.mean()
    return out


def pool2d_swapped(X, pool_size, mode):
    pw, ph = pool_size  # read as (width, height)
    return good_pool2d(X, (ph, pw), mode)


def subsampling_loop(maps, coefficient, offset):
    c, h, w = maps.shape
    y = torch.zeros(c, h // 2, w // 2)
    for m in range(c):
        for i in range(h // 2):
            for j in range(w // 2):
                y[m, i, j] = coefficient[m] * maps[m, 2 * i:2 * i + 2, 2 * j:2 * j + 2].sum() + offset[m]
    return y


RIGHT = {
    checks.pool2d: good_pool2d,
    checks.pool_output_size: lambda size, window, stride, padding=0: (size + 2 * padding - window) // stride + 1,
    checks.global_avg_pool: lambda batch: batch.mean(dim=(2, 3)),
    checks.subsampling: subsampling_loop,
}

WRONG = {
    checks.pool2d: [
        (lambda X, pool_size, mode: pool.pool2d(X, pool_size, mode="max"), ["whatever the mode"]),
        (pool2d_stride_one, ["one cell at a time", "do not overlap"]),
        (lambda X, pool_size, mode: good_pool2d(X, pool_size, mode) * (math.prod(pool_size) if mode == "avg" else 1),
         ["adds up each window"]),
        (pool2d_swapped, ["swaps the window's sides"]),
    ],
    checks.pool_output_size: [
        (lambda n, k, s, p=0: round((n + 2 * p - k) / s) + 1, ["nearest integer (round)", "round(2.5) is 2"]),
        (lambda n, k, s, p=0: math.ceil((n + 2 * p - k) / s) + 1, ["up (math.ceil)"]),
        (lambda n, k, s, p=0: (n + 2 * p - k) // s, ["forgets the first window"]),
        (lambda n, k, s, p=0: (n + p - k) // s + 1, ["one side only"]),
        (lambda n, k, s, p=0: n // k, ["divides n by the window"]),
    ],
    checks.global_avg_pool: [
        (lambda X: F.adaptive_avg_pool2d(X, 1), ["N×C×1×1", "flatten"]),
        (lambda X: X.amax(dim=(2, 3)), ["global max pooling"]),
        (lambda X: X.mean(dim=1), ["averages over the channels"]),
        (lambda X: X.mean(dim=(0, 2, 3)), ["averages over the batch"]),
        (lambda X: X.sum(dim=(2, 3)), ["adds up each map"]),
    ],
    checks.subsampling: [
        (lambda x, weight, bias: weight[:, None, None] * F.avg_pool2d(x[None], 2)[0] + bias[:, None, None],
         ["the window's mean", "4 times the mean"]),
        (lambda x, weight, bias: layers.squash(subsampling_loop(x, weight, bias)), ["squashing function"]),
        (lambda x, weight, bias: weight[:, None, None] * F.max_pool2d(x[None], 2)[0] + bias[:, None, None],
         ["max pooling"]),
        (lambda x, weight, bias: subsampling_loop(x, weight[:1].expand_as(weight), bias[:1].expand_as(bias)),
         ["first map's coefficient"]),
        (lambda x, weight, bias: weight[:, None, None] * (4 * F.avg_pool2d(x[None], 2)[0] + bias[:, None, None]),
         ["adds the bias before multiplying"]),
    ],
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
    assert checks.pool2d(pool.pool2d).passed


def test_pool_output_size_separates_floor_round_and_ceil():
    for rounding in (round, math.ceil):
        assert not checks.pool_output_size(lambda n, k, s, p=0: rounding((n + 2 * p - k) / s) + 1).passed
