"""The self-checks on an accelerator, tested without one (#29): learner code that moves its tensors to a device.

A CUDA GPU refuses to mix tensors of two devices, and the self-checks must neither break a correct learner function
that moves its batch to the model's device (or to the chapters' ``device``) nor raise when a learner function returns
a tensor on the GPU. Without a GPU, this file uses a fake accelerator: tensors that claim to be on another device
(``meta``, so every ``.device`` test and ``.to(device)`` call behaves as it would with ``cuda``), hold their values on
the CPU, compute exactly what the CPU computes, and raise PyTorch's "Expected all tensors to be on the same device"
when an operation mixes them with ordinary CPU tensors, as CUDA does (0-d CPU tensors excepted, as on CUDA).
``tolist``, ``item`` and ``float`` read the values, as they do on CUDA (after a sync); ``numpy()`` refuses, as it does
on CUDA.

PyTorch's own ``meta`` device would show a mismatch too, but holds no values, so no check could compare anything;
the first tests below show that the fake catches the mismatches a GPU would.
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

from lenet_helpers import checks, data, layers, models
from lenet_helpers.checks import _core

FAKE = torch.device("meta")  # the device the fake accelerator's tensors claim to be on


class OnAccelerator(torch.Tensor):
    """A tensor on the fake accelerator: its values live in ``inner``, a CPU tensor."""

    @staticmethod
    def __new__(cls, inner):
        inner = inner.detach()
        made = torch.Tensor._make_wrapper_subclass(cls, inner.shape, strides=inner.stride(),
                                                   storage_offset=inner.storage_offset(), dtype=inner.dtype,
                                                   device=FAKE, requires_grad=False)
        made.inner = inner
        return made

    def __repr__(self):
        return f"OnAccelerator({self.inner!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        plain = [t for t in flat if isinstance(t, torch.Tensor) and not isinstance(t, OnAccelerator) and t.dim() > 0]
        if plain:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{FAKE} and {plain[0].device}! (in {func})")
        if func is torch.ops.aten._to_copy.default and kwargs.get("device") is not None \
                and torch.device(kwargs["device"]).type == "cpu":
            return func(args[0].inner, **{k: v for k, v in kwargs.items() if k != "device"})
        kwargs = {k: (torch.device("cpu") if k == "device" and v is not None and torch.device(v) == FAKE else v)
                  for k, v in kwargs.items()}
        out = func(*tree_map(unwrap, args), **tree_map(unwrap, kwargs))
        if isinstance(out, torch.Tensor) and args and isinstance(args[0], OnAccelerator) and out is args[0].inner:
            return args[0]  # an in-place operation: the same tensor
        return tree_map(lambda t: OnAccelerator(t) if type(t) is torch.Tensor else t, out)


def unwrap(value):
    return value.inner if isinstance(value, OnAccelerator) else value


class Accelerator(TorchFunctionMode):
    """Inside this mode, ``.to(FAKE)``, ``module.to(FAKE)`` and factories with ``device=FAKE`` put tensors on the fake
    accelerator; ``.cpu()`` and ``.to("cpu")`` bring them back."""

    READ = {torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__bool__,
            torch.Tensor.__index__, torch.Tensor.item}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        first = args[0] if args else None
        if func is torch.Tensor.to:
            device, dtype, _non_blocking, _format = torch._C._nn._parse_to(*args[1:], **kwargs)
            if device is not None and device == FAKE and not isinstance(first, OnAccelerator):
                moved = first.to(dtype) if dtype is not None else first
                return OnAccelerator(moved).requires_grad_(first.requires_grad)
            if device is not None and device.type == "cpu" and isinstance(first, OnAccelerator):
                return first.inner.to(dtype) if dtype is not None else first.inner.clone()
        if func is torch.Tensor.cpu and isinstance(first, OnAccelerator):
            return first.inner.clone()
        if func in self.READ and isinstance(first, OnAccelerator):
            return func(first.inner, *args[1:], **kwargs)
        if func is torch.Tensor.numpy and isinstance(first, OnAccelerator):
            raise TypeError("can't convert an accelerator tensor to numpy. Use Tensor.cpu() first.")
        device = kwargs.get("device")
        if device is not None and not isinstance(device, int) and torch.device(device) == FAKE:
            return OnAccelerator(func(*args, **{**kwargs, "device": "cpu"}))
        return func(*args, **kwargs)


@pytest.fixture
def accelerator(monkeypatch):
    """The checks' hidden cases on the fake accelerator (as train.device() would give a GPU), inside its mode."""
    monkeypatch.setattr(_core, "_device", lambda: FAKE)
    with Accelerator():
        yield FAKE


# ---------------------------------------------------------------------------
# The fake behaves as an accelerator
# ---------------------------------------------------------------------------


def test_the_fake_accelerator_refuses_to_mix_devices_as_cuda_does(accelerator):
    model = models.LeNet5().to(FAKE)
    assert next(model.parameters()).device == FAKE and isinstance(next(model.parameters()), OnAccelerator)
    x = torch.rand(4, 1, 32, 32)
    with pytest.raises(RuntimeError, match="same device"):
        model(x)
    with pytest.raises(RuntimeError, match="same device"):
        layers.map_loss(model(x.to(FAKE)), torch.tensor([1, 2, 3, 4]))
    with pytest.raises(TypeError, match="numpy"):
        x.to(FAKE).numpy()


def test_the_fake_accelerator_computes_what_the_cpu_computes(accelerator):
    x, y = torch.rand(8, 1, 32, 32), torch.randint(0, 10, (8,))
    weights = []
    for device in ("cpu", FAKE):
        torch.manual_seed(0)
        model = models.LeNet5().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(2):
            loss = layers.map_loss(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weights.append(torch.cat([p.detach().cpu().flatten() for p in model.parameters()]))
        batches = [yb.tolist() for _, yb in data.batches(x.to(device), y.to(device), 3)]
    assert torch.equal(weights[0], weights[1]) and sum(map(len, batches)) == 8
    assert not isinstance(weights[1], OnAccelerator)


# ---------------------------------------------------------------------------
# Learner code that moves its tensors to the model's device, or to the chapters' device
# ---------------------------------------------------------------------------

DEVICE = FAKE  # a chapter's `device = train.device()`, on a machine with a GPU


def step_to_model_device(model, optimizer, x, y):
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    loss = layers.map_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_to_the_chapters_device(model, optimizer, x, y):
    loss = layers.map_loss(model(x.to(DEVICE)), y.to(DEVICE))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss  # a 0-d tensor on the accelerator


def step_on_the_cpu(model, optimizer, x, y):  # moves the batch off the model's device
    loss = layers.map_loss(model(x.cpu()), y.cpu())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def error_on_the_models_device(model, images, labels):
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        penalties = torch.cat([model(batch.to(device)) for batch in images.split(1000)])
    return (penalties.argmin(dim=1) != labels.to(device)).float().mean()  # a 0-d tensor on the accelerator


def error_without_moving(model, images, labels):
    model.eval()
    with torch.no_grad():
        return (model(images).argmin(dim=1) != labels).float().mean().item()


def fit_on_the_chapters_device(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
    images, labels = (t.to(DEVICE) for t in train_set)
    optimizer = torch.optim.Adam(model.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr,
                                                   total_steps=epochs * math.ceil(len(labels) / batch_size))
    import time

    history, seconds = [], 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        start, losses = time.perf_counter(), []
        for x, y in data.batches(images, labels, batch_size):
            losses.append(float(step(model, optimizer, x, y)))
            schedule.step()
        seconds += time.perf_counter() - start
        history.append({"epoch": epoch, "train_loss": sum(losses) / len(losses),
                        "validation_error": error(model, *validation_set), "seconds": seconds})
    return history


def epoch_to_model_device(model, optimizer, images, labels, batch_size):
    device = next(model.parameters()).device
    total, wrong = 0.0, 0
    for x, y in data.batches(images.to(device), labels.to(device), batch_size):
        output = model(x)
        loss = model.loss(output, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        wrong += int((model.scores(output).argmax(dim=1) != y).sum())
    return total / len(labels), wrong / len(labels)


@pytest.mark.parametrize("check, learner", [
    (checks.train_step, step_to_model_device),
    (checks.train_step, step_to_the_chapters_device),
    (checks.rbf_test_error, error_on_the_models_device),
    (checks.fit, fit_on_the_chapters_device),
    (checks.train_epoch, epoch_to_model_device),
], ids=lambda v: getattr(v, "__name__", None))
def test_a_learner_function_that_moves_its_batch_to_the_device_passes(accelerator, check, learner):
    result = check(learner)
    assert result.passed, result.message


@pytest.mark.parametrize("check, learner, words", [
    (checks.train_step, step_on_the_cpu, "move the inputs to the model's device"),
    (checks.rbf_test_error, error_without_moving, "move the inputs to the model's device"),
], ids=lambda v: getattr(v, "__name__", None))
def test_a_learner_function_that_mixes_devices_is_told_so(accelerator, check, learner, words):
    result = check(learner)
    assert not result.passed and "same device" in result.message and words in result.message, result.message


@pytest.mark.parametrize("check, learner", [
    (checks.paper_normalization, lambda images: (F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1).to(DEVICE)),
    (checks.paper_inputs, lambda images: (F.pad(images.to(DEVICE), (2, 2, 2, 2)) * 1.275 - 0.1)),
    (checks.corr2d, lambda X, K: F.conv2d(X.to(DEVICE)[None, None], K.to(DEVICE)[None, None])[0, 0]),
    (checks.map_loss, lambda penalties, target, j=0.1: models.map_loss(penalties.to(DEVICE), target.to(DEVICE), j)),
    (checks.conv_parameters, lambda cin, cout, k: torch.tensor(cout * (cin * k * k + 1), device=DEVICE)),
    (checks.error_rate, lambda scores, labels: (scores.to(DEVICE).argmax(1) != labels.to(DEVICE)).float().mean()),
    (checks.sgd_momentum_step, lambda p, g, b, lr, m: ((p - lr * (m * b + g)).to(DEVICE), (m * b + g).to(DEVICE))),
], ids=lambda v: getattr(v, "__name__", None))
def test_a_result_on_the_accelerator_is_compared_on_the_cpu(accelerator, check, learner):
    """#29: torch.allclose(gpu, cpu) ran outside the check's try; now every comparison reads the values on the CPU."""
    result = check(learner)
    assert result.passed, result.message


def test_the_target_and_answer_take_a_network_and_a_number_on_the_accelerator(accelerator):
    torch.manual_seed(0)
    model = models.LeNet5().to(FAKE)
    result = checks.lenet5_target(model)
    assert not result.passed and "validation error of" in result.message  # untrained, but measured
    assert checks.answer("c3_parameters", torch.tensor(1516).to(FAKE)).passed


def test_the_network_checks_run_a_network_that_puts_itself_on_the_accelerator(accelerator):
    class OnTheDevice(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = models.LeNet5()
            for name, layer in self.body.named_children():
                setattr(self, name, layer)
            self.to(DEVICE)

        def forward(self, x):
            return self.body(x.to(DEVICE))

    assert checks.lenet5_parameters(OnTheDevice).passed
    assert checks.lenet5_shapes(OnTheDevice).passed
