""":func:`lenet_helpers.modules.device_of`, :func:`~lenet_helpers.modules.evaluating` and
:func:`lenet_helpers.models.layer_calls` without checking their arguments, for a public entry that has checked the
model (and its input) itself: a model is checked once per call."""

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


def layer_calls(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Run ``model`` on ``x`` (on the model's device) and return (name, layer, output) for each call of a top-level
    layer, in the order of the calls."""
    calls = []
    handles = [
        child.register_forward_hook(lambda module, inputs, output, name=name: calls.append((name, module, output)))
        for name, child in model.named_children()
    ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return calls
