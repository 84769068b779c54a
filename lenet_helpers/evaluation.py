"""What a trained model predicts, image by image: the raw material of a confusion matrix.

:func:`lenet_helpers.train.evaluate` gives one number, the error on a data set.
:func:`predictions` gives the prediction for every image, next to its label, so
that chapter 5 can ask *which* digits the network gets wrong, and as what.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from ._validate import check_device, check_int, check_module
from .data import batch_source
from .modules import device_of, evaluating

__all__ = ["class_scores", "Predictions", "predictions"]


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


class Predictions(NamedTuple):
    predicted: torch.Tensor  # N predicted classes (int64, on the CPU)
    labels: torch.Tensor  # N true classes (int64, on the CPU)


def predictions(model: nn.Module, data, *, batch_size: int = 1000, device=None) -> Predictions:
    """The class ``model`` predicts for every image of ``data``, next to the true class.

    Runs in evaluation mode, without gradients, a batch at a time, and decides
    with the model's own rule (``model.scores``: the smallest RBF penalty for
    ``LeNet5``, the largest logit otherwise). The results come back on the CPU,
    ready for :func:`lenet_helpers.plots.confusion_matrix`.

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
    check_module(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    dev = check_device(device) if device is not None else device_of(model)
    source, _ = batch_source(data, batch_size, dev)
    predicted, labels = [], []
    with evaluating(model), torch.no_grad():
        for x, y in source():
            output = model(x.to(dev, non_blocking=True))
            predicted.append(class_scores(model, output).argmax(dim=1).cpu())
            labels.append(torch.as_tensor(y).cpu())
    if not labels:
        raise ValueError("data must hold at least one image, got none")
    return Predictions(torch.cat(predicted), torch.cat(labels).long())
