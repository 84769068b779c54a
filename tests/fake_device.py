"""A fake accelerator for the device tests: tensors that say they live on ``meta`` but hold real data on the CPU.

The course promises that its helpers run unchanged on a GPU, and no GPU runs the tests. What breaks on a GPU
and not on a CPU is nearly always one thing: a tensor left on the CPU meets one on the GPU, and CUDA refuses
("Expected all tensors to be on the same device"). This module reproduces exactly that, on any machine:

* inside :func:`fake_device` (a context manager), ``x.to("meta")``, ``model.to("meta")`` and every factory
  called with ``device="meta"`` (``torch.zeros(..., device=dev)``) give a :class:`OnDevice` tensor: its
  ``.device`` is ``meta``, its data a real CPU tensor, so every operation computes real numbers, ``.item()``,
  ``int(t)`` and ``.tolist()`` work, and a helper runs to its end (PyTorch's own ``meta`` device stops at the
  first number read back, before most of a helper has run);
* an operation that mixes an :class:`OnDevice` tensor with a CPU tensor of one or more dimensions raises
  :class:`DeviceMismatch`, as CUDA does; a 0-d CPU tensor is allowed (CUDA takes it as a scalar), and so are
  copies between devices (``copy_``, ``.to()``) and CPU indices into a device tensor (``t[cpu_index]``);
* a factory on the device given a CPU ``torch.Generator`` raises, as CUDA does;
* ``.numpy()`` of a device tensor raises (PyTorch refuses it for any device but the CPU);
* the fused Adam/AdamW kernels refuse parameters and state of different memory layouts, as CUDA's do (the
  CPU kernel silently computes wrong updates instead).

Why not PyTorch's own ``meta`` device: it raises on the same mixes, but it has no data, so a helper stops at
its first ``.item()`` and everything after it goes untested. Why not a real out-of-tree backend (PrivateUse1):
it needs C++ kernels or a process-wide registration. This wrapper is about 100 lines of Python, and every
tensor operation passes through :func:`_run`, where the checks are.

What it cannot see: CUDA's asynchrony (timings), its numerics (TF32, non-deterministic kernels), CUDA-only
code paths (``device.type == "cuda"``: fused Adam, channels_last in ``train``) and ``torch.compile``. Those
need a real GPU: ``tools/gpu_check.sh``.
"""

from __future__ import annotations

import contextlib
import re

import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: The device the fake tensors report.
DEVICE = torch.device("meta")

#: What a device mismatch says, in PyTorch's words and in this module's.
MISMATCH = re.compile(
    r"same device|expected device|different devices|device type for generator|DeviceMismatch|"
    r"is on (cpu|meta)|on device (cpu|meta)",
    re.IGNORECASE,
)


class DeviceMismatch(RuntimeError):
    """A CPU tensor met a tensor on the (fake) device: CUDA raises here too."""


class OnDevice(torch.Tensor):
    """A tensor that says it is on :data:`DEVICE`; its data is the CPU tensor ``elem``."""

    elem: torch.Tensor

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        if isinstance(elem, OnDevice) or elem.device.type != "cpu":
            raise AssertionError(f"OnDevice wraps a CPU tensor, got {type(elem).__name__} on {elem.device}")
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls, elem.size(), strides=elem.stride(), storage_offset=elem.storage_offset(), dtype=elem.dtype,
            layout=elem.layout, device=DEVICE, requires_grad=False,
        )
        wrapper.elem = elem
        return wrapper

    def __repr__(self, **kwargs):
        return f"OnDevice({self.elem!r})"

    def numpy(self, *args, **kwargs):
        raise TypeError(f"can't convert {DEVICE} device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
                        "to host memory first.")

    __array__ = numpy

    def tolist(self):  # PyTorch refuses .tolist() of any tensor subclass; on CUDA it copies to the host
        return self.elem.tolist()

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _run(func, args, kwargs or {})


_aten = torch.ops.aten
# Operations that may mix devices on CUDA too: copies, and advanced indexing with CPU indices.
_CROSS_DEVICE = {_aten.copy_.default, _aten._to_copy.default, _aten.lift_fresh.default}
_CPU_INDICES_OK = {_aten.index.Tensor, _aten.index_put_.default, _aten.index_put.default,
                   _aten._index_put_impl_.default}
# In-place changes of a tensor's shape: the wrapper would keep the old one. No helper uses them; refused, not followed.
_RESHAPED_IN_PLACE = {_aten.squeeze_, _aten.unsqueeze_, _aten.transpose_, _aten.t_, _aten.resize_, _aten.resize_as_,
                      _aten.as_strided_, _aten.set_, _aten.swapdims_, _aten.swapaxes_}
_FUSED = {_aten._fused_adam_.default, _aten._fused_adamw_.default, _aten._fused_adam_.tensor_lr,
          _aten._fused_adamw_.tensor_lr}


def _map(function, tree):
    """``function`` applied to every leaf of nested lists, tuples and dicts (an operation's arguments)."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map(function, leaf) for leaf in tree)
    if isinstance(tree, dict):
        return {key: _map(function, leaf) for key, leaf in tree.items()}
    return function(tree)


def _tensors(tree) -> list:
    found = []
    _map(lambda t: found.append(t) if isinstance(t, torch.Tensor) else None, tree)
    return found


def _check(func, args, kwargs, active: bool, plain: list) -> None:
    if any(t.device.type == "meta" for t in plain):
        raise AssertionError(f"{func}: a real meta tensor (no data) reached the fake device; create tensors "
                             "inside fake_device()")
    if not active or func in _CROSS_DEVICE:
        return
    if func.overloadpacket in _RESHAPED_IN_PLACE:
        raise NotImplementedError(f"{func}: the fake device does not follow a tensor's shape changed in place")
    if func in _FUSED:  # params, grads, exp_avgs, exp_avg_sqs, …: the moments must be laid out as the params
        for state in (args[2], args[3]):
            for p, s in zip(args[0], state):
                if p.stride() != s.stride():
                    raise RuntimeError(f"{func}: the fused kernel needs each state tensor in its parameter's "
                                       f"memory layout, got strides {p.stride()} and {s.stride()} (CUDA refuses)")
    if func in _CPU_INDICES_OK:
        indices = _tensors(args[1])
        plain = [t for t in plain if not any(t is i for i in indices)]
    wrong = [t for t in plain if t.ndim > 0]
    if wrong:
        raise DeviceMismatch(
            f"{func}: Expected all tensors to be on the same device, but found at least two devices, "
            f"{DEVICE} and cpu! (a CPU tensor of shape {tuple(wrong[0].shape)} met a tensor on the fake device)"
        )
    generator = kwargs.get("generator")
    if generator is not None and generator.device.type != DEVICE.type:
        raise DeviceMismatch(f"{func}: Expected a '{DEVICE.type}' device type for generator but found "
                             f"'{generator.device.type}'")


def _unwrap(tree):
    return _map(lambda t: t.elem if isinstance(t, OnDevice) else t, tree)


def _run(func, args, kwargs):
    tensors = _tensors((args, kwargs))
    on_device = [t for t in tensors if isinstance(t, OnDevice)]
    plain = [t for t in tensors if not isinstance(t, OnDevice)]
    device = kwargs.get("device")
    to_device = isinstance(device, torch.device) and device.type == DEVICE.type
    _check(func, args, kwargs, bool(on_device) or to_device, plain)
    out = func(*_unwrap(args), **{**_unwrap(kwargs), **({"device": torch.device("cpu")} if to_device else {})})
    if func is _aten.copy_.default:
        return args[0]  # the destination, on its own device
    if func is _aten._to_copy.default and device is not None:
        wrap = to_device  # .to("cpu") leaves the device, .to(DEVICE) enters it
    else:
        wrap = bool(on_device) or to_device
    if not wrap:
        return out
    given = {id(t.elem): t for t in on_device}  # an in-place operation returns the very tensor it was given

    def wrap_one(t):
        if isinstance(t, torch.Tensor) and not isinstance(t, OnDevice):
            return given[id(t)] if id(t) in given else OnDevice(t)
        return t

    return _map(wrap_one, out)


class _Mode(TorchDispatchMode):
    """Sees every operation, factories included (those have no tensor argument to dispatch on)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return _run(func, args, kwargs or {})


@contextlib.contextmanager
def fake_device():
    """Inside: :data:`DEVICE` is a device with real data, and mixing it with the CPU raises like CUDA.

    Example:
        >>> with fake_device():
        ...     x = torch.ones(3).to(DEVICE)
        ...     (x * 2).sum().item(), x.device.type
        (6.0, 'meta')
        >>> with fake_device():
        ...     torch.ones(3).to(DEVICE) + torch.ones(3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fake_device.DeviceMismatch: aten.add.Tensor: Expected all tensors to be on the same device, ...
    """
    with _Mode():
        yield DEVICE


def is_mismatch(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a device mismatch."""
    while error is not None:
        if isinstance(error, DeviceMismatch) or MISMATCH.search(str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False
