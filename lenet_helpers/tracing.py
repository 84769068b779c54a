"""Running one image through a model and recording, in order, every layer and function that runs.

A model's ``forward`` mixes two kinds of steps: calls of its layers (``self.conv1(x)``) and calls of
functions (``F.relu(x)``, ``F.max_pool2d(x, 2)``, ``torch.flatten(x, 1)``). Hooks on the layers see
only the first kind; a :class:`~torch.overrides.TorchFunctionMode` sees every PyTorch operation. This
module uses both, so one run lists the steps as ``forward`` takes them: a layer by its attribute name,
a function by its own name. :func:`lenet_helpers.models.trace_shapes` reads the output shapes from
this trace, and :mod:`lenet_helpers.counting` adds up the connections or the multiply–accumulates of
the operations inside each step.

The image is zeros, on the model's device: a model built on the ``meta`` device (``with
torch.device("meta"): model = torchvision.models.vgg11()``) is traced without computing anything and
without memory for its weights.

Example:
    >>> import torch.nn.functional as F
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = nn.Conv2d(1, 2, 3)
    ...     def forward(self, x):
    ...         return F.max_pool2d(F.relu(self.conv(x)), 2)
    >>> [(step.name, step.output_shape) for step in trace(Net(), (1, 6, 6)).steps]
    [('conv', (2, 4, 4)), ('relu', (2, 4, 4)), ('max_pool2d', (2, 2, 2))]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ._validate import check_input_size, check_module
from .language import _
from .modules import describe, device_of, evaluating

__all__ = ["Step", "Trace", "Unknown", "trace", "operation_name"]


@dataclass
class Step:
    """One step of ``forward``: a call of a top-level layer, or of a function in the model's own ``forward``.

    ``value`` is what the trace adds up over the operations of the step (connections, say);
    ``parameters`` the trainable tensors the step uses that no earlier step used.
    """

    name: str
    kind: str
    module: nn.Module | None
    output_shape: tuple | None = None
    value: int = 0
    parameters: int = 0


@dataclass
class Trace:
    """The steps of one forward pass, in order; ``unused``: top-level layers that never ran.

    ``unknown`` is ``(operation, module)`` for the first operation that the trace's ``measure``
    could not value (``None`` when all could): ``module`` is the innermost layer running it.
    """

    steps: list[Step]
    unused: list[tuple[str, nn.Module]] = field(default_factory=list)
    unknown: tuple[str, nn.Module] | None = None
    own_unused: int = 0  # trainable numbers of the model itself (not of a layer) that no step used


class Unknown(Exception):
    """Raised by a ``measure`` function for an operation it does not know."""


# Operations that are not steps of the computation when ``forward`` calls them itself: reading a
# tensor's properties, making new tensors from nothing.
_NOT_STEPS = frozenset({
    "__get__", "dim", "size", "numel", "tolist", "item", "__len__", "__format__", "__repr__", "__bool__",
    "ones", "zeros", "full", "empty", "arange", "tensor", "as_tensor", "ones_like", "zeros_like", "full_like",
    "empty_like", "rand", "randn", "rand_like", "randn_like",
})

# How a step that is a function is described in the tables: its own name (ReLU, tanh: the same in any language) or
# words of the package's catalog.
_FUNCTION_KINDS = {
    "relu": "ReLU", "relu6": "ReLU6", "hardtanh": "hardtanh", "gelu": "GELU", "silu": "SiLU",
    "hardswish": "hardswish", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
    "log_softmax": _("log-softmax"), "flatten": _("flatten"), "dropout": _("dropout"), "cat": _("concatenation"),
    "batch_norm": _("batch norm"), "add": _("addition"), "add_": _("addition"),
}


def operation_name(func) -> str:
    """The name of a PyTorch operation as a table shows it: ``F.relu`` -> ``'relu'``, ``x + y`` -> ``'add'``.

    Example:
        >>> operation_name(torch.Tensor.__iadd__), operation_name(torch.nn.functional.max_pool2d)
        ('add_', 'max_pool2d')
    """
    name = getattr(func, "__name__", type(func).__name__)
    if name.startswith("__") and name.endswith("__"):
        core = name[2:-2]
        for prefix, suffix in (("", ""), ("i", "_"), ("r", "")):  # x + y, x += y, 1 + x
            if core.startswith(prefix) and core[len(prefix):] in _ARITHMETIC:
                return _ARITHMETIC[core[len(prefix):]] + suffix
    return name


_ARITHMETIC = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide",
               "matmul": "matmul", "pow": "pow", "neg": "neg", "mod": "remainder"}


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _function_kind(name: str, args, kwargs) -> str:
    """``'max pool 2×2 (function)'``: what a function step does, for the tables (a :class:`Phrase`: a ``str`` that
    can still be said in another language)."""
    what = _FUNCTION_KINDS.get(name, name)
    try:
        if name in ("max_pool2d", "avg_pool2d"):
            kh, kw = _pair(args[1] if len(args) > 1 else kwargs["kernel_size"])
            what = (_("max pool {size}") if name == "max_pool2d" else _("avg pool {size}")).format(size=f"{kh}×{kw}")
        elif name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
            oh, ow = _pair(args[1] if len(args) > 1 else kwargs["output_size"])
            what = (_("adaptive max pool to {size}") if name == "adaptive_max_pool2d"
                    else _("adaptive avg pool to {size}")).format(size=f"{oh}×{ow}")
    except (IndexError, KeyError, TypeError, ValueError):
        pass
    return _("{what} (function)").format(what=what).phrase()


def _shape(output) -> tuple | None:
    """The shape of one image's output (without the batch dimension); the first tensor of a tuple."""
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        output = output[0]
    return tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None


def _top_level(model: nn.Module):
    """(name, layer) for the layers ``forward`` calls: the model's children, looking inside a
    ``ModuleList`` or ``ModuleDict`` (containers that are never called themselves)."""
    for name, child in model.named_children():
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            yield from ((f"{name}.{sub}", m) for sub, m in _top_level(child))
        else:
            yield name, child


def _tensors(args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if isinstance(v, torch.Tensor))


class _Tracer(TorchFunctionMode):
    def __init__(self, model: nn.Module, measure):
        super().__init__()
        self.model = model
        self.measure = measure
        self.steps: list[Step] = []
        self.running: list[Step] = []  # top-level layers running now, innermost last
        self.modules: list[nn.Module] = []  # every layer running now, innermost last
        self.depth = 0  # > 0 inside a layer that a formula counts as a whole
        self.unknown = None
        own = [p for p in model.parameters(recurse=False) if p.requires_grad]
        self.own = {id(p): p.numel() for p in own}  # the model's own parameters, claimed by the first step using them

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth:
            return out
        name = operation_name(func)
        value = 0
        if self.measure is not None:
            try:
                value = self.measure(name, args, kwargs, out)
            except Unknown:
                if self.unknown is None:
                    self.unknown = (name, self.modules[-1] if self.modules else self.model)
        if self.running:
            self.running[-1].value += value
        elif name not in _NOT_STEPS and (value or _shape(out) is not None):
            used = sum(self.own.pop(id(t), 0) for t in _tensors(args, kwargs))
            self.steps.append(Step(name, _function_kind(name, args, kwargs), None, _shape(out), value, used))
        return out


def trace(model: nn.Module, input_size, measure: Callable | None = None,
          formulas: dict | None = None) -> Trace:
    """Run one zero image of size ``input_size`` through ``model`` and record its steps in order.

    ``measure(name, args, kwargs, output)`` values each PyTorch operation (an int; raise
    :class:`Unknown` for one it does not know); a step's ``value`` is the sum over its operations.
    ``formulas`` ``{LayerClass: formula(layer, output)}`` value a whole layer instead, and the
    operations inside it are not valued again (``output`` is its output for one image).

    Shapes:
        input_size: (C, H, W), or (1, C, H, W).

    Example:
        >>> steps = trace(nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten()), (1, 32, 32)).steps
        >>> [(s.name, s.kind, s.output_shape) for s in steps]
        [('0', 'conv 5×5, 1→6', (6, 28, 28)), ('1', 'flatten', (4704,))]
    """
    check_module(model)
    size = check_input_size(input_size)
    formulas = formulas or {}
    tracer = _Tracer(model, measure)
    handles = []

    def formula_of(module):
        for kind in type(module).__mro__:
            if kind in formulas:
                return formulas[kind]
        return None

    def enter(module, inputs):
        tracer.modules.append(module)
        if formula_of(module) is not None:
            tracer.depth += 1

    def leave(module, inputs, output):
        formula = formula_of(module)
        if formula is not None:
            if tracer.depth == 1:  # still > 0 here, so the tracer ignores the arithmetic of the formula itself
                value = formula(module, output)
                if tracer.running:
                    tracer.running[-1].value += value
                else:  # the model itself is a layer with a formula
                    tracer.steps.append(Step(type(module).__name__, describe(module), module, _shape(output), value,
                                             sum(tracer.own.values())))
                    tracer.own.clear()
            tracer.depth -= 1
        tracer.modules.pop()

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))

    called = set()

    def start(name):
        def pre(module, inputs):
            first = id(module) not in called
            called.add(id(module))
            params = sum(p.numel() for p in module.parameters() if p.requires_grad) if first else 0
            step = Step(name, describe(module), module, None, 0, params)
            tracer.steps.append(step)
            tracer.running.append(step)

        def post(module, inputs, output):
            tracer.running.pop().output_shape = _shape(output)

        return pre, post

    layers = list(_top_level(model))
    for name, child in layers:
        pre, post = start(name)
        # prepend: the step starts before the layer's own hooks (above) run, and ends after them
        handles.append(child.register_forward_pre_hook(pre, prepend=True))
        handles.append(child.register_forward_hook(post))

    x = torch.zeros(1, *size, device=device_of(model))
    try:
        with evaluating(model), torch.no_grad(), tracer:
            model(x)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"input_size {size} does not fit this model: {e}") from None
    finally:
        for h in handles:
            h.remove()
    unused = [(name, child) for name, child in layers if id(child) not in called]
    return Trace(tracer.steps, unused, tracer.unknown, sum(tracer.own.values()))
