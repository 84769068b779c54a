"""The self-checks of chapter 1 (convolution): the right answers and the typical wrong ones that test_checks.py runs."""

import torch
import torch.nn.functional as F

from lenet_helpers import checks


def good_corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


RIGHT = {
    checks.corr2d: good_corr2d,
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) // s + 1,
    checks.same_padding: lambda k, d=1: d * (k - 1) // 2,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.corr2d: lambda X, K: F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0],  # a true convolution
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + p - k) // s + 1,  # padding on one side only
    checks.same_padding: lambda k, d=1: (k - 1) // 2,  # ignores dilation
}
