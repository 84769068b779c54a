"""How well a model classifies: its error rate, its loss, and its prediction for every image.

One rule decides, everywhere in the course: the predicted class is the largest of
:func:`class_scores` (``model.scores``: for ``LeNet5`` minus the RBF penalties, so the
smallest penalty wins; the logits otherwise), and :func:`count_errors` counts the
images where it is not the label. :func:`error_rate` gives the fraction wrong on a
data set, :func:`evaluate` the loss beside it (``lenet_helpers.train.evaluate`` is the
same function), and :func:`predictions` the prediction for every image, next to its
label, so that chapter 5 can ask *which* digits the network gets wrong, and as what: :func:`confusion_matrix`
counts each (true class, predicted class) pair (``lenet_helpers.plots.plot_confusion_matrix`` draws it).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_device, check_int, check_module, check_tensor
from .data import batch_source
from . import _unchecked

__all__ = ["class_scores", "count_errors", "loss_function", "error_rate", "Evaluation", "evaluate", "Predictions",
           "predictions", "confusion_matrix"]


def class_scores(model: nn.Module, output: torch.Tensor) -> torch.Tensor:
    """The class scores in ``model``'s ``output``, higher = more likely: the model's own decision rule.

    ``model.scores(output)`` where the model has one (for ``LeNet5``, minus the
    RBF penalties: the smallest penalty wins), else the output itself (logits).
    The predicted class is ``class_scores(model, output).argmax(dim=1)``.

    Shapes: output: N×classes -> N×classes, on the output's device.

    Example:
        >>> from lenet_helpers.models import LeNet5, LeNet5Modern
        >>> penalties = torch.tensor([[3.0, 0.5, 2.0]])
        >>> class_scores(LeNet5(), penalties).argmax(dim=1).tolist()       # the smallest penalty
        [1]
        >>> class_scores(LeNet5Modern(), penalties).argmax(dim=1).tolist() # the largest logit
        [0]
    """
    return model.scores(output) if hasattr(model, "scores") else output


def count_errors(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How many rows of ``scores`` have their largest score somewhere other than their label.

    The count stays a 0-d tensor on the scores' device, so that a loop can add
    batch after batch without waiting for the device; ``.item()`` reads it.
    For penalties (smallest wins), count on ``-penalties``.

    Shapes: scores: N×classes, labels: N -> a 0-d int64 tensor.

    Example:
        >>> count_errors(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), torch.tensor([1, 1, 1])).item()
        1
    """
    return (scores.argmax(dim=1) != labels).sum()


def loss_function(model: nn.Module, loss_fn: Callable | None = None) -> Callable:
    """The loss ``model`` is trained and evaluated with: ``loss_fn`` if given, else ``model.loss``, else cross-entropy.

    ``model.loss`` is the MAP loss for ``LeNet5`` (see :mod:`lenet_helpers.models`).

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> loss_function(nn.Linear(2, 3)) is F.cross_entropy
        True
        >>> loss_function(LeNet5()).__name__
        'loss'
    """
    if loss_fn is not None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be a function (output, target) -> loss, got {type(loss_fn).__name__}")
        return loss_fn
    return getattr(model, "loss", F.cross_entropy)


class Evaluation(NamedTuple):
    loss: float
    accuracy: float  # fraction of images classified correctly
    error: float  # 1 - accuracy
    total: int  # number of images


def _each_output(model: nn.Module, data, batch_size: int, dev: torch.device, use: Callable) -> None:
    """Call ``use(output, labels)`` for each batch of ``data``: in evaluation mode, without gradients, on ``dev``."""
    source, _ = batch_source(data, batch_size, dev)
    with _unchecked.evaluating(model), torch.no_grad():
        for x, y in source():
            use(model(x.to(dev, non_blocking=True)), y)


def _measure(model: nn.Module, data, batch_size: int, dev: torch.device, criterion: Callable | None) -> Evaluation:
    """The one error count (and the loss beside it, unless ``criterion`` is None), summed on the device."""
    total_loss = torch.zeros((), device=dev)
    wrong = torch.zeros((), dtype=torch.long, device=dev)
    total = 0

    def add(output, y):
        nonlocal total_loss, wrong, total
        y = y.to(dev, non_blocking=True)
        if criterion is not None:
            total_loss += criterion(output, y) * len(y)
        wrong += count_errors(class_scores(model, output), y)
        total += len(y)

    _each_output(model, data, batch_size, dev, add)
    if total == 0:
        raise ValueError("data must hold at least one image, got none")
    error = wrong.item() / total
    return Evaluation(total_loss.item() / total if criterion is not None else float("nan"), 1.0 - error, error, total)


def _settings(model, batch_size, device) -> tuple[int, torch.device]:
    """The checks of a public entry: the model once, here; the helpers after it trust it."""
    check_module(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    return batch_size, check_device(device) if device is not None else _unchecked.device_of(model)


def error_rate(model: nn.Module, data, *, batch_size: int = 1000, device=None) -> float:
    """The fraction of the images of ``data`` that ``model`` classifies wrongly, by its own rule (:func:`class_scores`).

    Runs in evaluation mode, without gradients, ``batch_size`` images at a time, on
    ``device`` (default: the model's); the model's mode is restored afterwards.

    Shapes: data: (images N×C×H×W, labels N) tensors, a Dataset or a DataLoader -> a number in [0, 1].

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> error_rate(LeNet5(), (torch.zeros(4, 1, 32, 32), torch.tensor([0, 1, 2, 3]))) >= 0.75
        True
    """
    batch_size, dev = _settings(model, batch_size, device)
    return _measure(model, data, batch_size, dev, None).error


def evaluate(model: nn.Module, data, *, loss_fn=None, batch_size: int = 1000, device=None) -> Evaluation:
    """Loss and error of ``model`` on ``data``, in evaluation mode, without gradients.

    ``data``: (images, labels) tensors, a Dataset or a DataLoader. The error is
    :func:`error_rate`'s; the loss is :func:`loss_function`'s, averaged over the images.

    Example:
        >>> from lenet_helpers.models import LeNet5Modern
        >>> x, y = torch.zeros(8, 1, 32, 32), torch.zeros(8, dtype=torch.long)
        >>> evaluate(LeNet5Modern(), (x, y)).total
        8
    """
    batch_size, dev = _settings(model, batch_size, device)
    return _measure(model, data, batch_size, dev, loss_function(model, loss_fn))


class Predictions(NamedTuple):
    predicted: torch.Tensor  # N predicted classes (int64, on the CPU)
    labels: torch.Tensor  # N true classes (int64, on the CPU)


def predictions(model: nn.Module, data, *, batch_size: int = 1000, device=None) -> Predictions:
    """The class ``model`` predicts for every image of ``data``, next to the true class.

    Runs in evaluation mode, without gradients, a batch at a time, and decides
    with the model's own rule (:func:`class_scores`: the smallest RBF penalty for
    ``LeNet5``, the largest logit otherwise). The results come back on the CPU,
    ready for :func:`confusion_matrix`.

    Shapes:
        data: (images N×C×H×W, labels N) tensors, a Dataset or a DataLoader
        -> predicted: N int64, labels: N int64.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> x, y = torch.zeros(5, 1, 32, 32), torch.arange(5)
        >>> predicted, labels = predictions(LeNet5(), (x, y))
        >>> predicted.shape, labels.tolist()
        (torch.Size([5]), [0, 1, 2, 3, 4])
    """
    batch_size, dev = _settings(model, batch_size, device)
    predicted, labels = [], []

    def add(output, y):
        predicted.append(class_scores(model, output).argmax(dim=1).cpu())
        labels.append(torch.as_tensor(y).cpu())

    _each_output(model, data, batch_size, dev, add)
    if not labels:
        raise ValueError("data must hold at least one image, got none")
    return Predictions(torch.cat(predicted), torch.cat(labels).long())


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs: entry [i, j] = images of class i predicted as j.

    Shapes:
        y_true, y_pred: N class indices -> num_classes×num_classes int64.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), num_classes=2)
        tensor([[1, 0],
                [1, 1]])
    """
    t = check_tensor(y_true, "y_true", ndim=1, layout="N class indices")
    p = check_tensor(y_pred, "y_pred", ndim=1, layout="N class indices")
    k = check_int(num_classes, "num_classes", minimum=1)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(t)} and {len(p)}")
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.is_floating_point():
            raise TypeError(f"{name} must hold integer class indices, got dtype {v.dtype}")
        if len(v) and (v.min() < 0 or v.max() >= k):
            raise ValueError(f"{name} must hold classes 0..{k - 1}, got values from {int(v.min())} to {int(v.max())}")
    t, p = t.long().cpu(), p.long().cpu()
    return torch.bincount(t * k + p, minlength=k * k).reshape(k, k)
