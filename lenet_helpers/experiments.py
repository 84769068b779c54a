"""Small controlled experiments: train several set-ups from scratch on the same data, seed by seed.

Chapter 6 measures what each modern change to LeNet-5 is worth. A fair comparison
gives every set-up the same data, the same number of passes and the same seeds,
and changes one thing at a time: :func:`compare` does exactly that and returns
one row per (set-up, seed).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from ._table import Table
from ._validate import check_int, check_module
from .train import _as_device, evaluate, set_seed, train
from .train import device as _best_device

__all__ = ["Run", "compare"]


class Run(NamedTuple):
    setup: str  # the name of the set-up (a key of compare's setups)
    seed: int
    train_loss: float  # mean loss over the last epoch, as training went
    train_error: float  # fraction misclassified over the last epoch, as training went
    test_error: float  # after training, in evaluation mode
    seconds: float  # training time (evaluation excluded)


def _setup_parts(name, setup):
    """(make_model, make_optimizer or None) from a set-up: a model factory, or a pair of factories."""
    first = setup[0] if isinstance(setup, (tuple, list)) and setup else setup
    if isinstance(first, nn.Module):
        raise TypeError(
            f"setups[{name!r}] must be a function returning a new model (e.g. lambda: lenet_variant('sigmoid')), "
            "not a model: each run starts from a fresh one"
        )
    if isinstance(setup, (tuple, list)):
        if len(setup) != 2 or not all(callable(f) for f in setup):
            raise TypeError(f"setups[{name!r}] must be make_model or a pair (make_model, make_optimizer) of functions")
        return setup[0], setup[1]
    if not callable(setup):
        raise TypeError(
            f"setups[{name!r}] must be a function returning a new model, or a pair (make_model, make_optimizer); "
            f"got {type(setup).__name__}"
        )
    return setup, None


def compare(
    setups: dict,
    train_data,
    test_data,
    *,
    seeds=(0,),
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    device=None,
) -> Table:
    """Train each set-up once per seed, from scratch, and measure it: one :class:`Run` per (set-up, seed).

    Each run seeds every generator with :func:`set_seed` first, then builds its
    model and optimizer, so a set-up with the same seed starts from the same
    state and sees the batches in the same order: runs differ only by what the
    set-up changes (on a CPU exactly; on a GPU up to non-deterministic kernels).

    Args:
        setups: ``{name: make_model}`` or ``{name: (make_model, make_optimizer)}``;
            ``make_model()`` returns a new ``nn.Module``, ``make_optimizer(parameters)``
            a ``torch.optim.Optimizer`` for them (default: Adam with learning rate ``lr``).
        train_data, test_data: (images, labels) tensors, a Dataset or a DataLoader.
        seeds: the seeds to repeat each set-up with.
        epochs, batch_size, lr, device: as in :func:`train`.

    Returns:
        A table of :class:`Run`: setup, seed, train_loss and train_error of the
        last epoch, test_error after training, and seconds of training.

    Example:
        >>> from lenet_helpers.models import lenet_variant
        >>> x, y = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
        >>> runs = compare({"relu": lenet_variant, "sigmoid": lambda: lenet_variant("sigmoid")},
        ...                (x, y), (x, y), seeds=(0, 1), device="cpu")
        >>> [(run.setup, run.seed) for run in runs]
        [('relu', 0), ('relu', 1), ('sigmoid', 0), ('sigmoid', 1)]
    """
    if not isinstance(setups, dict) or not setups:
        raise TypeError(f"setups must be a non-empty dict {{name: make_model}}, got {setups!r}")
    parts = {}
    for name, setup in setups.items():
        if not isinstance(name, str):
            raise TypeError(f"setups must be named by strings, got the key {name!r}")
        parts[name] = _setup_parts(name, setup)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a list of integers, e.g. (0, 1), got {seeds!r}")
    seeds = [check_int(seed, "seeds[i]", minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    epochs = check_int(epochs, "epochs", minimum=1)
    dev = _as_device(device) if device is not None else _best_device()
    if test_data is None:
        raise ValueError("test_data must be given: compare measures the test error of every run")

    def on_device(data):  # move tensor pairs once, not once per run
        if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
            return data[0].to(dev), data[1].to(dev)
        return data

    train_data, test_data = on_device(train_data), on_device(test_data)
    runs = Table()
    for name, (make_model, make_optimizer) in parts.items():
        for seed in seeds:
            set_seed(seed)
            model = check_module(make_model(), f"setups[{name!r}]()").to(dev)
            optimizer = make_optimizer(model.parameters()) if make_optimizer is not None else None
            history = train(model, train_data, epochs=epochs, optimizer=optimizer, lr=lr, batch_size=batch_size,
                            device=dev, progress=False)
            last = history[-1]
            test = evaluate(model, test_data, device=dev)
            runs.append(Run(name, seed, last.train_loss, last.train_error, test.error, last.seconds))
    return runs
