"""lenet_helpers: the tested code behind the course *LeNet-5 from scratch*.

One module per idea, in the order the course teaches them:

* :mod:`~lenet_helpers.conv`      convolution (cross-correlation) from scratch, output sizes
* :mod:`~lenet_helpers.pool`      max and average pooling from scratch
* :mod:`~lenet_helpers.counting`  trainable parameters, connections and multiply–accumulates, as the 1998 paper counts them, of any network
* :mod:`~lenet_helpers.tracing`   one image through a model: every layer and function it runs, in order
* :mod:`~lenet_helpers.layers`    the paper's own layers: scaled tanh, trainable subsampling, C3's Table I, RBF output, MAP loss
* :mod:`~lenet_helpers.models`    LeNet-5 as in the paper, the modern variant, the tutorial variant, and tools to inspect them
* :mod:`~lenet_helpers.backprop`  backpropagation by hand: every layer's backward pass without autograd, and gradient checking
* :mod:`~lenet_helpers.modules`   small tools for any module: its device, evaluation mode for a moment, a description
* :mod:`~lenet_helpers.data`      MNIST, padded and normalised like the paper; the validation split
* :mod:`~lenet_helpers.train`     a training loop for CPU and GPU, and the evaluation it reports
* :mod:`~lenet_helpers.evaluation` how well a model classifies: its error rate, every prediction, the confusion matrix
* :mod:`~lenet_helpers.experiments` controlled comparisons: several set-ups, the same data, several seeds
* :mod:`~lenet_helpers.inside`    inside a trained network: receptive fields, top patches, margins, occlusion, robustness
* :mod:`~lenet_helpers.sdlm`      the paper's optimiser: stochastic diagonal Levenberg–Marquardt
* :mod:`~lenet_helpers.fast_sdlm` the same, one pattern at a time as the paper ran it, fast enough for its 20 passes
* :mod:`~lenet_helpers.results`   the figures `make bench` measured, shipped with the package
* :mod:`~lenet_helpers.plots`     the pictures the chapters draw
* :mod:`~lenet_helpers.player`    the animations' player: matplotlib's, offline and labelled in the reader's language
* :mod:`~lenet_helpers.widgets`   explorers, a draw-a-digit pad and a trainer that run in the browser, even on the static site
* :mod:`~lenet_helpers.export`    what the browser reads: a model as simple operations and float32 weights
* :mod:`~lenet_helpers.checks`    self-checks for the exercises
* :mod:`~lenet_helpers.language`  what the package writes for people, in English or Chinese: ``set_language("zh_CN")``

Example:
    >>> from lenet_helpers import models, counting
    >>> counting.count_parameters(models.LeNet5())
    60000
"""

from . import language  # noqa: I001  (first: the language setting, before anything speaks)
from . import (
    backprop,
    checks,
    conv,
    counting,
    data,
    evaluation,
    experiments,
    export,
    fast_sdlm,
    inside,
    layers,
    models,
    modules,
    player,
    plots,
    pool,
    results,
    sdlm,
    tracing,
    train,
    widgets,
)

from .language import get_language, set_language

__version__ = "0.2.0"

__all__ = ["conv", "pool", "counting", "tracing", "layers", "models", "backprop", "modules", "data", "train", "evaluation",
           "experiments", "inside", "sdlm", "fast_sdlm", "results", "plots", "player", "export", "widgets", "checks", "language", "set_language",
           "get_language", "__version__"]
