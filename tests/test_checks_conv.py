"""The self-checks of chapter 1 (convolution): the right answers and the typical wrong ones that test_checks.py runs."""

import torch
import torch.nn.functional as F

from lenet_helpers import checks, conv


def good_corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def autograd_gradient(X, K, Y):
    K = K.clone().requires_grad_()
    loss = ((conv.corr2d(X, K) - Y) ** 2).mean()
    loss.backward()
    return K.grad


def hand_gradient(X, K, Y):
    # dL/dK[a, b] = sum over outputs of 2 (Ŷ - Y)[i, j] X[i + a, j + b] / N: a cross-correlation of X with the error
    error = good_corr2d(X, K) - Y
    return good_corr2d(X, 2 * error / error.numel())


def coverage_loop(n, k, p=0, s=1):
    counts = [0] * n
    for start in range(-p, n + p - k + 1, s):  # window starts, in the real cells' coordinates
        for cell in range(start, start + k):
            if 0 <= cell < n:
                counts[cell] += 1
    return counts  # a list: the check accepts it


def multi_in_out_loop(X, K):
    return torch.stack([sum(good_corr2d(x, k) for x, k in zip(X, kernel)) for kernel in K])


def receptive_field_loop(layers):
    r, j = 1, 1
    for k, s, d in layers:
        r, j = r + d * (k - 1) * j, j * s
    return r


RIGHT = {
    checks.corr2d: good_corr2d,
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) // s + 1,
    checks.same_padding: lambda k, d=1: d * (k - 1) // 2,
    checks.kernel_gradient: autograd_gradient,
    checks.window_coverage: coverage_loop,
    checks.corr2d_multi_in_out: multi_in_out_loop,
    checks.receptive_field: receptive_field_loop,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.corr2d: lambda X, K: F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0],  # a true convolution
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + p - k) // s + 1,  # padding on one side only
    checks.same_padding: lambda k, d=1: (k - 1) // 2,  # ignores dilation
    checks.kernel_gradient: (lambda X, K, Y: autograd_gradient(X, K, Y) * Y.numel(), "sum of squared errors"),
    checks.window_coverage: (lambda n, k, p=0, s=1: coverage_loop(n + 2 * p, k, 0, s), "padded input"),
    checks.corr2d_multi_in_out: (lambda X, K: torch.stack([good_corr2d(X[0], k[0]) for k in K]), "first input channel"),
    checks.receptive_field: (lambda layers: 1 + sum(d * (k - 1) for k, s, d in layers), "forgets the jump"),
}


def test_the_hand_derived_gradient_is_autograds():
    assert checks.kernel_gradient(hand_gradient).passed


def test_other_kernel_gradient_mistakes_are_recognised():
    for wrong, words in ((lambda X, K, Y: autograd_gradient(X, K, Y) / 2, "2e"),
                         (lambda X, K, Y: -autograd_gradient(X, K, Y), "minus the gradient")):
        result = checks.kernel_gradient(wrong)
        assert not result.passed and words in result.message, result.message

    def wrt_X(X, K, Y):  # the gradient with respect to the input, not the kernel
        X = X.clone().requires_grad_()
        ((conv.corr2d(X, K) - Y) ** 2).mean().backward()
        return X.grad

    result = checks.kernel_gradient(wrt_X)
    assert not result.passed and "returned shape" in result.message and "K's shape" in result.message


def test_window_coverage_accepts_tensors_and_recognises_more_mistakes():
    assert checks.window_coverage(lambda n, k, p=0, s=1: torch.tensor(coverage_loop(n, k, p, s), dtype=torch.float32)).passed
    for wrong, words in ((lambda n, k, p=0, s=1: coverage_loop(n, k, 0, s), "without padding"),
                         (lambda n, k, p=0, s=1: coverage_loop(n, k, p, 1), "stride 1")):
        result = checks.window_coverage(wrong)
        assert not result.passed and words in result.message, result.message
    fractions = checks.window_coverage(lambda n, k, p=0, s=1: [c + 0.5 for c in coverage_loop(n, k, p, s)])
    assert not fractions.passed


def test_multi_in_out_mistakes_and_the_package():
    assert checks.corr2d_multi_in_out(conv.corr2d_multi_in_out).passed
    pairs = checks.corr2d_multi_in_out(lambda X, K: torch.stack([torch.stack([good_corr2d(x, k) for x, k in zip(X, kernel)])
                                                                 for kernel in K]))
    assert not pairs.passed and "add the maps over the input channels" in pairs.message


def test_receptive_field_ignoring_dilation_is_recognised():
    result = checks.receptive_field(lambda layers: receptive_field_loop([(k, s, 1) for k, s, d in layers]))
    assert not result.passed and "ignores dilation" in result.message
