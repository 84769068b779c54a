"""lenet_helpers: the tested code behind the course *LeNet-5 from scratch*.

One module per idea, in the order the course teaches them:

* :mod:`~lenet_helpers.conv`      convolution (cross-correlation) from scratch, output sizes
* :mod:`~lenet_helpers.pool`      max and average pooling from scratch
* :mod:`~lenet_helpers.counting`  trainable parameters and connections, as the 1998 paper counts them
* :mod:`~lenet_helpers.models`    LeNet-5 as in the paper, the modern variant, the tutorial variant
* :mod:`~lenet_helpers.data`      MNIST, padded and normalised like the paper
* :mod:`~lenet_helpers.train`     a training loop for CPU and GPU
* :mod:`~lenet_helpers.sdlm`      the paper's optimiser: stochastic diagonal Levenberg–Marquardt
* :mod:`~lenet_helpers.fast_sdlm` the same, one pattern at a time as the paper ran it, fast enough for its 20 passes
* :mod:`~lenet_helpers.plots`     the pictures the chapters draw
* :mod:`~lenet_helpers.widgets`   explorers and a draw-a-digit pad that run in the browser, even on the static site
* :mod:`~lenet_helpers.checks`    self-checks for the exercises

Example:
    >>> from lenet_helpers import models, counting
    >>> counting.count_parameters(models.LeNet5())
    60000
"""

from . import checks, conv, counting, data, fast_sdlm, models, plots, pool, sdlm, train, widgets

__version__ = "0.1.0"

__all__ = ["conv", "pool", "counting", "models", "data", "train", "sdlm", "fast_sdlm", "plots", "widgets", "checks", "__version__"]
