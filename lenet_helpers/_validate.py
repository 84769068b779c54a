"""Argument checks shared by the public helpers.

Every public function of ``lenet_helpers`` checks its inputs with these, so a
mistake gives an error that names the argument and says what was expected,
instead of a confusing failure deep inside PyTorch (or, worse, a wrong answer).
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import torch


def shape_of(x) -> str:
    """What an error message says was given: the shape of a tensor, else the type."""
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int``; raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_positive(value, name: str) -> float:
    """Return ``value`` as a ``float``; raise if it is not a finite number > 0.

    Step sizes, damping terms and scales go through here: infinity, NaN, zero,
    negatives, booleans and strings are all refused.

    Example:
        >>> check_positive(0.02, "mu")
        0.02
        >>> check_positive(float("inf"), "lr")
        Traceback (most recent call last):
        ...
        ValueError: lr must be a finite positive number, got inf
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not value > 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def check_pair(value, name: str, *, minimum: int | None = None) -> tuple[int, int]:
    """Return ``value`` as a pair ``(height, width)``; an int ``n`` means ``(n, n)``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an integer or a pair (height, width), got {value!r}")
        return (check_int(value[0], f"{name}[0]", minimum=minimum), check_int(value[1], f"{name}[1]", minimum=minimum))
    if isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be an integer or a pair (height, width) of integers, got a tensor")
    v = check_int(value, name, minimum=minimum)
    return (v, v)


def is_pair(value) -> bool:
    """True if ``value`` is given as a pair (tuple or list) rather than a single number."""
    return isinstance(value, (tuple, list))


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``; raise otherwise."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_tensor(x, name: str, *, ndim: int | Sequence[int], layout: str | None = None) -> torch.Tensor:
    """Return ``x`` as a real-valued tensor with ``ndim`` dimensions.

    Lists and NumPy arrays are converted. ``layout`` (for example ``"H×W"``)
    is used in the error message to say what shape was expected.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a tensor (or an array of numbers), got {type(x).__name__}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if t.ndim not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        expected = f"a {dims} tensor" + (f" ({layout})" if layout else "")
        raise ValueError(f"{name} must be {expected}, got shape {tuple(t.shape)}")
    return t


def check_device(value, name: str = "device") -> torch.device:
    """Return ``value`` as a ``torch.device``; raise if it names no device.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
    """
    try:
        return torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name} must be a torch.device or a name such as 'cpu' or 'cuda', got {value!r}") from None


def check_module(model, name: str = "model") -> torch.nn.Module:
    """Return ``model`` if it is a ``torch.nn.Module``; raise otherwise."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def check_input_size(input_size, name: str = "input_size") -> tuple[int, int, int]:
    """Return ``input_size`` as ``(channels, height, width)``.

    Accepts ``(C, H, W)`` or ``(1, C, H, W)``: sizes describe one image.
    """
    if not isinstance(input_size, (tuple, list, torch.Size)):
        raise TypeError(f"{name} must be a tuple (channels, height, width), got {input_size!r}")
    size = tuple(input_size)
    if len(size) == 4:
        if size[0] != 1:
            raise ValueError(f"{name} describes one image: (channels, height, width) or (1, channels, height, width), got {size}")
        size = size[1:]
    if len(size) != 3:
        raise ValueError(f"{name} must be (channels, height, width), got {size}")
    return tuple(check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(size))
