"""What a trained model predicts, image by image: the raw material of a confusion matrix.

:func:`lenet_helpers.train.evaluate` gives one number, the error on a data set.
:func:`predictions` gives the prediction for every image, next to its label, so
that chapter 5 can ask *which* digits the network gets wrong, and as what.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from ._validate import check_int, check_module
from .modules import device_of, evaluating
from .train import _as_device, _batch_source, _scores

__all__ = ["Predictions", "predictions"]


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
    dev = _as_device(device) if device is not None else device_of(model)
    source, _ = _batch_source(data, "data", batch_size, False, dev)
    predicted, labels = [], []
    with evaluating(model), torch.no_grad():
        for x, y in source():
            output = model(x.to(dev, non_blocking=True))
            predicted.append(_scores(model, output).argmax(dim=1).cpu())
            labels.append(torch.as_tensor(y).cpu())
    if not labels:
        raise ValueError("data must hold at least one image, got none")
    return Predictions(torch.cat(predicted), torch.cat(labels).long())
