"""A plain training loop that runs unchanged on a GPU, an Apple GPU or a CPU.

The loop is the one in ``pytorch/examples``: for each batch, forward, loss,
backward, step. Data can be a pair of in-memory tensors (fastest: see
:func:`lenet_helpers.data.mnist_tensors`), a ``Dataset`` or a ``DataLoader``.
Each model decides its own loss and decision rule (``model.loss`` and
``model.scores``, see :mod:`lenet_helpers.models`); any other model gets
cross-entropy and ``argmax``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ._table import Table
from ._validate import check_choice, check_int, check_module
from .data import batches
from .models import _model_device

__all__ = [
    "device",
    "set_seed",
    "Evaluation",
    "EpochStats",
    "evaluate",
    "train",
    "Run",
    "compare",
    "Predictions",
    "predictions",
    "BENCH_RESULTS_URL",
    "BENCH_DEVICES",
    "bench_results",
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


_best_device = device  # train() and evaluate() have an argument called device


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


class Evaluation(NamedTuple):
    loss: float
    accuracy: float  # fraction of images classified correctly
    error: float  # 1 - accuracy
    total: int  # number of images


class EpochStats(NamedTuple):
    epoch: int
    train_loss: float  # mean loss over the epoch's batches, as training went
    train_error: float  # fraction misclassified over the epoch, as training went
    test_loss: float | None
    test_error: float | None
    seconds: float  # training time so far (evaluation excluded)


def _loss_fn(model: nn.Module, loss_fn):
    if loss_fn is not None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be a function (output, target) -> loss, got {type(loss_fn).__name__}")
        return loss_fn
    return getattr(model, "loss", F.cross_entropy)


def _scores(model: nn.Module, output: torch.Tensor) -> torch.Tensor:
    return model.scores(output) if hasattr(model, "scores") else output


def _batch_source(data, name: str, batch_size: int, shuffle: bool, dev: torch.device):
    """For any kind of data: a function giving a fresh iterator of (x, y) batches, and the number of batches (or None)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        images, labels = data[0].to(dev), data[1].to(dev)  # moved once, not per batch
        if len(images) != len(labels):
            raise ValueError(f"{name} must be (images, labels) of the same length, got {len(images)} and {len(labels)}")
        return (lambda: batches(images, labels, batch_size, shuffle=shuffle)), -(-len(labels) // batch_size)
    if isinstance(data, torch.utils.data.Dataset):
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, num_workers=0)
        return (lambda: iter(loader)), len(loader)
    if hasattr(data, "__iter__") and not isinstance(data, (torch.Tensor, str, bytes, dict)):
        # A DataLoader, or any iterable of (x, y) batches.
        return (lambda: iter(data)), (len(data) if hasattr(data, "__len__") else None)
    raise TypeError(
        f"{name} must be a pair of tensors (images, labels), a torch Dataset or a DataLoader, got {type(data).__name__}"
    )


def _sync(dev: torch.device) -> None:
    """Wait for the device to finish its queued work, so that timings are true."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _as_device(value) -> torch.device:
    try:
        return torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch.device or a name such as 'cpu' or 'cuda', got {value!r}") from None


def evaluate(model: nn.Module, data, *, loss_fn=None, batch_size: int = 1000, device=None) -> Evaluation:
    """Loss and error of ``model`` on ``data``, in evaluation mode, without gradients.

    ``data``: (images, labels) tensors, a Dataset or a DataLoader.

    Example:
        >>> from lenet_helpers.models import LeNet5Modern
        >>> x, y = torch.zeros(8, 1, 32, 32), torch.zeros(8, dtype=torch.long)
        >>> evaluate(LeNet5Modern(), (x, y)).total
        8
    """
    check_module(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    dev = _as_device(device) if device is not None else _model_device(model)
    criterion = _loss_fn(model, loss_fn)
    source, _ = _batch_source(data, "data", batch_size, False, dev)
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=dev)
    correct = torch.zeros((), dtype=torch.long, device=dev)
    total = 0
    try:
        with torch.no_grad():
            for x, y in source():
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                output = model(x)
                total_loss += criterion(output, y) * len(y)
                correct += (_scores(model, output).argmax(dim=1) == y).sum()
                total += len(y)
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("data must hold at least one image, got none")
    accuracy = correct.item() / total
    return Evaluation(total_loss.item() / total, accuracy, 1.0 - accuracy, total)


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
    dev = _as_device(device) if device is not None else _best_device()
    model.to(dev)
    if optimizer is None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    criterion = _loss_fn(model, loss_fn)
    source, n_batches = _batch_source(train_data, "train_data", batch_size, True, dev)

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
            wrong += (_scores(model, output.detach()).argmax(dim=1) != y).sum()
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


# ---------------------------------------------------------------------------
# Chapter 6: small controlled experiments
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Chapter 5: training LeNet-5 on MNIST
# ---------------------------------------------------------------------------


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
    dev = _as_device(device) if device is not None else _model_device(model)
    source, _ = _batch_source(data, "data", batch_size, False, dev)
    was_training = model.training
    model.eval()
    predicted, labels = [], []
    try:
        with torch.no_grad():
            for x, y in source():
                output = model(x.to(dev, non_blocking=True))
                predicted.append(_scores(model, output).argmax(dim=1).cpu())
                labels.append(torch.as_tensor(y).cpu())
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("data must hold at least one image, got none")
    return Predictions(torch.cat(predicted), torch.cat(labels).long())


#: Where the course's published benchmark results are, for machines without the course's files (Colab):
#: ``bench_results`` downloads ``<this>/bench-<device>.json``.
BENCH_RESULTS_URL = "https://raw.githubusercontent.com/lenet5-from-scratch/lenet5-from-scratch/main/results"

#: The devices `make bench` writes results for (``results/bench-<device>.json``).
BENCH_DEVICES = ("cpu", "cuda", "mps")

# The course checkout this package was installed from (editable install); see data._resolve_root.
_CHECKOUT = Path(__file__).resolve().parent.parent


def _read_json(text: str, where: str) -> dict:
    try:
        results = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not valid JSON ({e}); run `make bench` again to rewrite it") from None
    if not isinstance(results, dict):
        raise ValueError(f"{where} must hold a JSON object (what `make bench` writes), got {type(results).__name__}")
    return results


def bench_results(device="cpu", *, download: bool = True, timeout: float = 10.0) -> dict:
    """The results of `make bench` (``benchmarks/bench.py``) for a device, as a dict.

    Looks for ``results/bench-<device>.json`` in the current folder, then in
    the course checkout this package was installed from (so that notebooks in
    ``chapters/`` find it); if neither has it and ``download`` is true, it is
    downloaded from the course repository (:data:`BENCH_RESULTS_URL`), as on Colab.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"mps"`` (or a ``torch.device``): the machine the
            benchmark ran on.
        download: fetch the published file when there is no local one.
        timeout: seconds to wait for the download.

    Returns:
        The parsed JSON: the machine (``device_name``, ``torch``, ``date``, …), the course
        and reference loops (``modern_time_to_99_s``, ``speedup``, …) and the faithful
        LeNet-5's runs (``faithful_modern``, ``faithful_modern_test_error_pct``, …).

    Raises:
        FileNotFoundError: no local file and no download, naming the places tried.
        ValueError: the file is not a JSON object.

    Example:
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     os.makedirs(f"{folder}/results")
        ...     with open(f"{folder}/results/bench-cpu.json", "w") as f:
        ...         _ = f.write('{"device": "cpu", "speedup": 3.0}')
        ...     here = os.getcwd(); os.chdir(folder)
        ...     try:
        ...         results = bench_results("cpu")
        ...     finally:
        ...         os.chdir(here)
        >>> results["speedup"]
        3.0
    """
    if isinstance(device, torch.device):
        device = device.type
    check_choice(device, "device", BENCH_DEVICES)
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    name = f"bench-{device}.json"
    places = [Path("results") / name]
    if (_CHECKOUT / "lenet_helpers").is_dir():
        places.append(_CHECKOUT / "results" / name)
    for path in places:
        if path.is_file():
            return _read_json(path.read_text(encoding="utf-8"), str(path))
    url = f"{BENCH_RESULTS_URL}/{name}"
    if download:
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                text = response.read().decode("utf-8")
        except Exception as e:  # URLError, HTTPError, a timeout, …: say what failed, below
            reason = f"downloading {url} failed: {e}"
        else:
            return _read_json(text, url)
    else:
        reason = f"download=False, so {url} was not tried"
    looked = " and ".join(dict.fromkeys(str(p.resolve()) for p in places))
    raise FileNotFoundError(
        f"no benchmark results for device {device!r}: {name} is not in {looked}, and {reason}. "
        f"Run `make bench` (python benchmarks/bench.py --device {device}) in the course checkout to create it."
    )
