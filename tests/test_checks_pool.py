"""The self-checks of chapter 2 (pooling): the right answers and the typical wrong ones that test_checks.py runs."""

import torch

from lenet_helpers import checks, pool


def good_pool2d(X, pool_size, mode):
    ph, pw = pool_size
    Y = torch.zeros(X.shape[0] // ph, X.shape[1] // pw)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


RIGHT = {
    checks.pool2d: good_pool2d,
    checks.pool_output_size: lambda n, k, s, p=0: (n + 2 * p - k) // s + 1,
}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {
    checks.pool2d: lambda X, pool_size, mode: pool.pool2d(X, pool_size, mode="max"),  # ignores mode
    checks.pool_output_size: lambda n, k, s, p=0: round((n + 2 * p - k) / s) + 1,  # rounds instead of floor
}
