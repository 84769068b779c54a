""":func:`lenet_helpers.modules.device_of` and :func:`~lenet_helpers.modules.evaluating` without checking their
argument, for a public entry that has checked the model itself (a model is checked once per call)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer; the CPU for a module without any."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode inside the ``with`` block, then the mode ``module`` had before, even after an error."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
