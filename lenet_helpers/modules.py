"""Two small tools for any ``nn.Module``: where its weights are, and evaluation mode for a moment.

* :func:`device_of` — the device of a module's parameters (or buffers), CPU for a module with none;
* :func:`describe` — a short description of a layer, as the course's tables show it;
* :func:`evaluating` — a context manager that puts a module in evaluation mode (dropout off, batch
  normalisation using its running statistics) and gives it back in the mode it was in.

Example:
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    >>> device_of(model).type
    'cpu'
    >>> with evaluating(model):
    ...     model.training
    False
    >>> model.training
    True
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ._validate import check_module
from .layers import EuclideanRBF, PartialConv2d, Squash, Subsampling

__all__ = ["device_of", "evaluating", "describe"]


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer; ``cpu`` if it has neither.

    Example:
        >>> device_of(nn.Linear(3, 1))
        device(type='cpu')
    """
    check_module(module, "module")
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode inside the ``with`` block, then the mode ``module`` had before, even after an error.

    Example:
        >>> model = nn.Dropout(0.5).train()
        >>> with evaluating(model) as m:
        ...     m.training
        False
        >>> model.training
        True
    """
    check_module(module, "module")
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def describe(module: nn.Module) -> str:
    """A short human description of a layer, e.g. ``"conv 5×5, 1→6 + scaled tanh"``.

    Example:
        >>> describe(nn.Sequential(nn.Conv2d(1, 6, 5), Squash()))
        'conv 5×5, 1→6 + scaled tanh'
    """
    if isinstance(module, nn.Sequential):
        return " + ".join(describe(m) for m in module)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        text = f"conv {kh}×{kw}, {module.in_channels}→{module.out_channels}"
        if module.padding not in ((0, 0), "valid"):
            text += f", padding {module.padding[0] if isinstance(module.padding, tuple) else module.padding}"
        if module.stride != (1, 1):
            text += f", stride {module.stride[0]}"
        if module.dilation != (1, 1):
            text += f", dilation {module.dilation[0]}"
        if module.groups > 1:
            depthwise = module.groups == module.in_channels
            text += ", depthwise" if depthwise else f", {module.groups} groups"
        return text
    if isinstance(module, PartialConv2d):
        k = module.kernel_size
        return f"conv {k}×{k}, {module.in_channels}→{module.out_channels} (Table I)"
    if isinstance(module, Subsampling):
        k = module.kernel_size
        return f"subsampling {k}×{k} (trainable)"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = _first(module.kernel_size)
        text = f"{'max' if isinstance(module, nn.MaxPool2d) else 'avg'} pool {k}×{k}"
        stride, padding = _first(module.stride), _first(module.padding)
        if stride not in (None, k):
            text += f", stride {stride}"
        if padding:
            text += f", padding {padding}"
        return text
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,) * 2
        kind = "max" if isinstance(module, nn.AdaptiveMaxPool2d) else "avg"
        return f"adaptive {kind} pool to " + "×".join("any" if s is None else str(s) for s in size)
    if isinstance(module, nn.Linear):
        return f"linear {module.in_features}→{module.out_features}"
    if isinstance(module, EuclideanRBF):
        return f"Euclidean RBF {module.centers.shape[1]}→{module.centers.shape[0]}"
    names = {Squash: "scaled tanh", nn.ReLU: "ReLU", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Flatten: "flatten",
             nn.BatchNorm2d: "batch norm", nn.Dropout: "dropout", nn.ReLU6: "ReLU6", nn.Hardswish: "hardswish",
             nn.SiLU: "SiLU", nn.GELU: "GELU", nn.Softmax: "softmax", nn.LogSoftmax: "log-softmax"}
    return names.get(type(module), type(module).__name__)


def _first(value):
    """The first of a pair, or the value itself: kernel sizes, strides and paddings as a table shows them."""
    return value[0] if isinstance(value, (tuple, list)) else value
