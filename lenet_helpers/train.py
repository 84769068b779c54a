"""A plain training loop that runs unchanged on a GPU, an Apple GPU or a CPU.

The loop is the one in ``pytorch/examples``: for each batch, forward, loss,
backward, step. Data can be a pair of in-memory tensors (fastest: see
:func:`lenet_helpers.data.mnist_tensors`), a ``Dataset`` or a ``DataLoader``.
Each model decides its own loss and decision rule (``model.loss`` and
``model.scores``, see :mod:`lenet_helpers.models`); any other model gets
cross-entropy and ``argmax``. :func:`evaluate` (loss and error on a data set) is
:func:`lenet_helpers.evaluation.evaluate`, kept here beside the loop that calls it.
"""

from __future__ import annotations

import random
import time
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ._table import Table
from ._validate import check_device, check_int, check_module, check_positive
from .data import batch_source
from .evaluation import Evaluation, class_scores, count_errors, evaluate, loss_function

__all__ = [
    "device",
    "set_seed",
    "Evaluation",
    "EpochStats",
    "evaluate",
    "train",
]


def device() -> torch.device:
    """The fastest device on this machine: a CUDA GPU, else Apple's MPS, else the CPU.

    Example:
        >>> device().type in ("cuda", "mps", "cpu")
        True
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


_best_device = device  # train() has an argument called device


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random generators (all devices), for repeatable runs.

    On a CPU a run is then repeated exactly; on a GPU some operations are not
    deterministic, so the last digits of the results may still vary.

    Example:
        >>> set_seed(0); a = torch.rand(1)
        >>> set_seed(0); bool(torch.rand(1) == a)
        True
    """
    seed = check_int(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every device, CUDA included


class EpochStats(NamedTuple):
    epoch: int
    train_loss: float  # mean loss over the epoch's batches, as training went
    train_error: float  # fraction misclassified over the epoch, as training went
    test_loss: float | None
    test_error: float | None
    seconds: float  # training time so far (evaluation excluded)


def _sync(dev: torch.device) -> None:
    """Wait for the device to finish its queued work, so that timings are true."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def train(
    model: nn.Module,
    train_data,
    *,
    epochs: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    loss_fn: Callable | None = None,
    batch_size: int = 64,
    test_data=None,
    device=None,
    scheduler=None,
    before_epoch: Callable[[int], None] | None = None,
    progress: bool = True,
    channels_last: bool | None = None,
) -> Table:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return one row of statistics per epoch.

    Args:
        train_data, test_data: (images, labels) tensors, a Dataset or a DataLoader.
        optimizer: defaults to Adam with learning rate ``lr``.
        loss_fn: defaults to ``model.loss`` (the MAP loss for ``LeNet5``), else cross-entropy.
        batch_size: images per step (ignored for a DataLoader, which has its own).
        device: defaults to :func:`device` (GPU if there is one); the model is moved there.
        scheduler: a learning-rate scheduler, stepped after every batch (e.g. ``OneCycleLR``).
        before_epoch: called with the epoch number (1, 2, …) before each epoch.
        progress: show a progress bar (``tqdm``) per epoch.
        channels_last: compute convolutions on ``torch.channels_last`` weights (each pixel's channels
            side by side in memory), which PyTorch's CPU and CUDA kernels run faster. ``None``
            (default): on a CPU or a CUDA GPU, for a model with convolutions. The model's
            weights, and a given optimizer's state, are given back in the usual layout
            afterwards; their values are the same.

    Returns:
        A table of :class:`EpochStats`: epoch, train_loss, train_error, test_loss,
        test_error (None without test_data) and seconds of training so far.

    Example:
        >>> from lenet_helpers.models import LeNet5Modern
        >>> x, y = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
        >>> history = train(LeNet5Modern(), (x, y), epochs=2, progress=False, device="cpu")
        >>> [row.epoch for row in history]
        [1, 2]
    """
    check_module(model)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if before_epoch is not None and not callable(before_epoch):
        raise TypeError(f"before_epoch must be a function of the epoch number, got {type(before_epoch).__name__}")
    if channels_last is not None and not isinstance(channels_last, bool):
        raise TypeError(f"channels_last must be True, False or None (automatic), got {channels_last!r}")
    dev = check_device(device) if device is not None else _best_device()
    model.to(dev)
    if optimizer is None:
        lr = check_positive(lr, "lr")
        # fused: one kernel updates every weight (PyTorch has one for CPUs and CUDA GPUs); the same updates
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=dev.type in ("cpu", "cuda"))
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    criterion = loss_function(model, loss_fn)
    source, n_batches = batch_source(train_data, batch_size, dev, shuffle=True, name="train_data")
    if channels_last is None:
        channels_last = dev.type in ("cpu", "cuda") and any(p.ndim == 4 for p in model.parameters())
    if channels_last:
        model.to(memory_format=torch.channels_last)
        _lay_out_state_like_parameters(optimizer)
    try:
        return _epochs(model, source, n_batches, optimizer, criterion, scheduler, before_epoch, epochs, test_data,
                       loss_fn, dev, progress)
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
            _lay_out_state_like_parameters(optimizer)


def _lay_out_state_like_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Give each state tensor shaped like its parameter (Adam's moments, SGD's momentum) the parameter's layout.

    A fused optimizer reads its state as laid out in memory: after ``train`` switched the weights to or from
    channels_last, a state left in the other layout gives wrong updates on the CPU, and CUDA refuses it.
    """
    for p, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def _epochs(model, source, n_batches, optimizer, criterion, scheduler, before_epoch, epochs, test_data, loss_fn,
            dev, progress) -> Table:
    history = Table()
    seconds = 0.0
    for epoch in range(1, epochs + 1):
        if before_epoch is not None:
            before_epoch(epoch)
        model.train()
        _sync(dev)
        start = time.perf_counter()
        total_loss = torch.zeros((), device=dev)
        wrong = torch.zeros((), dtype=torch.long, device=dev)
        seen = 0
        bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch", disable=not progress)
        for x, y in source():
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            output = model(x)
            loss = criterion(output, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total_loss += loss.detach() * len(y)
            wrong += count_errors(class_scores(model, output.detach()), y)
            seen += len(y)
            bar.update(1)
        _sync(dev)
        seconds += time.perf_counter() - start
        if seen == 0:
            raise ValueError("train_data must hold at least one image, got none")
        train_loss, train_error = total_loss.item() / seen, wrong.item() / seen
        test = evaluate(model, test_data, loss_fn=loss_fn, device=dev) if test_data is not None else None
        stats = EpochStats(
            epoch, train_loss, train_error, test.loss if test else None, test.error if test else None, seconds
        )
        history.append(stats)
        bar.set_postfix(train_loss=f"{train_loss:.4f}", test_error=f"{test.error:.2%}" if test else "n/a")
        bar.close()
    return history
