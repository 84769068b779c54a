"""The self-checks of chapter 1 (convolution): a right answer with parameters named as the learner likes, and the
typical wrong ones, written as a learner would from the lesson, each with the words its message must contain.
test_checks.py runs them all; the tests here are what is particular to chapter 1."""

import math

import torch
import torch.nn.functional as F

from lenet_helpers import checks, conv


def good_corr2d(image, kernel):
    h, w = kernel.shape
    out = torch.zeros(image.shape[0] - h + 1, image.shape[1] - w + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + h, j:j + w] * kernel).sum()
    return out


def corr2d_short(image, kernel):  # range(H - kh): one position too few
    h, w = kernel.shape
    out = torch.zeros(image.shape[0] - h, image.shape[1] - w)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + h, j:j + w] * kernel).sum()
    return out


def corr2d_mean(image, kernel):
    return good_corr2d(image, kernel) / kernel.numel()


def corr2d_numpy(image, kernel):  # NumPy's float64 comes back
    import numpy as np

    X, K = image.numpy().astype(np.float64), kernel.numpy().astype(np.float64)
    h, w = K.shape
    out = np.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return torch.from_numpy(out)


def autograd_gradient(inputs, weights, target):
    weights = weights.clone().requires_grad_()
    loss = ((conv.corr2d(inputs, weights) - target) ** 2).mean()
    loss.backward()
    return weights.grad


def gradient_in_place(X, K, Y):  # turns on requires_grad of the caller's K
    K.requires_grad_()
    ((conv.corr2d(X, K) - Y) ** 2).mean().backward()
    return K.grad.clone()


def hand_gradient(X, K, Y):
    # dL/dK[a, b] = sum over outputs of 2 (Ŷ - Y)[i, j] X[i + a, j + b] / N: a cross-correlation of X with the error
    error = good_corr2d(X, K) - Y
    return good_corr2d(X, 2 * error / error.numel())


def gradient_wrt_input(X, K, Y):
    X = X.clone().requires_grad_()
    ((conv.corr2d(X, K) - Y) ** 2).mean().backward()
    return X.grad


def coverage_loop(length, window, pad=0, step=1):
    counts = [0] * length
    for start in range(-pad, length + pad - window + 1, step):  # window starts, in the real cells' coordinates
        for cell in range(start, start + window):
            if 0 <= cell < length:
                counts[cell] += 1
    return counts  # a list: the check accepts it


def coverage_one_short(n, k, p=0, s=1):  # the windows' loop stops one start early
    counts = torch.zeros(n + 2 * p, dtype=torch.long)
    for start in range(0, n + 2 * p - k, s):
        counts[start:start + k] += 1
    return counts[p:p + n]


def multi_in_out_loop(inputs, kernels):
    return torch.stack([sum(good_corr2d(x, k) for x, k in zip(inputs, kernel)) for kernel in kernels])


def receptive_field_loop(stack):
    r, j = 1, 1
    for k, s, d in stack:
        r, j = r + d * (k - 1) * j, j * s
    return r


def receptive_field_jump_first(layers):
    r, j = 1, 1
    for k, s, d in layers:
        j = j * s
        r = r + d * (k - 1) * j
    return r


RIGHT = {
    checks.corr2d: good_corr2d,
    checks.conv_output_size: lambda size, kernel, padding=0, stride=1, dilation=1: (
        (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1),
    checks.same_padding: lambda kernel, dilation=1: dilation * (kernel - 1) // 2,
    checks.kernel_gradient: autograd_gradient,
    checks.window_coverage: coverage_loop,
    checks.corr2d_multi_in_out: multi_in_out_loop,
    checks.receptive_field: receptive_field_loop,
}

# Typical wrong answers: checks.x: [(wrong, words the message must contain), ...].
WRONG = {
    checks.corr2d: [
        (lambda X, K: F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0], ["true convolution", "flips"]),
        (corr2d_short, ["one row and one column short", "off-by-one"]),
        (corr2d_mean, ["averages", ".sum()"]),
        (lambda X, K: good_corr2d(X, K).t(), ["transpose"]),
        (corr2d_numpy, ["float64", "float32"]),
    ],
    checks.conv_output_size: [
        (lambda n, k, p=0, s=1, d=1: (n + p - d * (k - 1) - 1) // s + 1, ["one side only", "n + 2p"]),
        (lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) // s, ["forgets the first window", "off-by-one"]),
        (lambda n, k, p=0, s=1, d=1: round((n + 2 * p - d * (k - 1) - 1) / s) + 1, ["round", "round(2.5) is 2"]),
        (lambda n, k, p=0, s=1, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, ["up (math.ceil)"]),
        (lambda n, k, p=0, s=1, d=1: (n + 2 * p - k) // s + 1, ["ignores the dilation"]),
        (lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1, ["return an int"]),
    ],
    checks.same_padding: [
        (lambda k, d=1: (k - 1) // 2, ["ignores the dilation"]),
        (lambda k, d=1: d * (k - 1), ["both sides together"]),
        (lambda k, d=1: d * k // 2, ["halves d·k"]),
    ],
    checks.kernel_gradient: [
        (lambda X, K, Y: autograd_gradient(X, K, Y) * Y.numel(), ["sum of squared errors"]),
        (lambda X, K, Y: autograd_gradient(X, K, Y) / 2, ["half the gradient", "2e"]),
        (lambda X, K, Y: -autograd_gradient(X, K, Y), ["minus the gradient"]),
        (gradient_wrt_input, ["with respect to the input X"]),
        (gradient_in_place, ["requires_grad", "K.clone().requires_grad_()"]),
    ],
    checks.window_coverage: [
        (lambda n, k, p=0, s=1: coverage_loop(n + 2 * p, k, 0, s), ["padded input"]),
        (lambda n, k, p=0, s=1: coverage_loop(n, k, 0, s), ["ignores the padding"]),
        (lambda n, k, p=0, s=1: coverage_loop(n, k, p, 1), ["ignores the stride"]),
        (coverage_one_short, ["drops the last window", "off-by-one"]),
    ],
    checks.corr2d_multi_in_out: [
        (lambda X, K: torch.stack([good_corr2d(X[0], k[0]) for k in K]), ["only the first input channel"]),
        (lambda X, K: torch.stack([torch.stack([good_corr2d(x, k) for x, k in zip(X, kernel)]) for kernel in K]),
         ["one map per (output, input) pair"]),
        (lambda X, K: torch.stack([sum(good_corr2d(x, k) for x, k in zip(X, kernel)) / len(X) for kernel in K]),
         ["averages over the input channels"]),
        (lambda X, K: F.conv2d(X[None], K.flip(2, 3))[0], ["flips the kernels"]),
    ],
    checks.receptive_field: [
        (lambda layers: 1 + sum(d * (k - 1) for k, s, d in layers), ["forgets the jump"]),
        (lambda layers: receptive_field_loop([(k, s, 1) for k, s, d in layers]), ["ignores the dilation"]),
        (receptive_field_jump_first, ["updates the jump before the field"]),
    ],
}


def test_the_hand_derived_gradient_is_autograds():
    assert checks.kernel_gradient(hand_gradient).passed


def test_window_coverage_accepts_tensors_of_counts():
    assert checks.window_coverage(lambda n, k, p=0, s=1: torch.tensor(coverage_loop(n, k, p, s), dtype=torch.float32)).passed
    fractions = checks.window_coverage(lambda n, k, p=0, s=1: [c + 0.5 for c in coverage_loop(n, k, p, s)])
    assert not fractions.passed


def test_the_package_passes_its_own_checks():
    assert checks.corr2d(conv.corr2d).passed
    assert checks.corr2d_multi_in_out(conv.corr2d_multi_in_out).passed


def test_output_sizes_separate_floor_round_and_ceil():
    """#22: the hidden cases have remainders above one half and an odd integer part at one half, where Python's
    round differs from the floor (round(2.5) is 2 but round(3.5) is 4)."""
    exact = lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) // s + 1  # noqa: E731
    for rounding in (round, math.ceil):
        result = checks.conv_output_size(lambda n, k, p=0, s=1, d=1: rounding((n + 2 * p - d * (k - 1) - 1) / s) + 1)
        assert not result.passed, rounding
    assert checks.conv_output_size(exact).passed


def test_a_numeric_exercises_answer_is_never_shown():
    """Ex. 'Receptive fields with dilation' asks for the field of three 3×3 convolutions with dilations 1, 2, 4:
    a wrong function's message must not print it (nor any expected count)."""
    result = checks.receptive_field(lambda layers: 999)
    assert not result.passed and "15" not in result.message and "expected" not in result.message
    unrecognised = checks.conv_output_size(lambda n, k, p=0, s=1, d=1: 7)
    assert not unrecognised.passed and "returned 7" in unrecognised.message
    assert "the first failure" in unrecognised.message and "too" in unrecognised.message
