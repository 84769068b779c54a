"""Self-checks for chapter 7, the capstone: LeNet-5 assembled and trained by the learner.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`lenet5_shapes`           ``fn() -> nn.Module`` (your network: each layer's output shape)
:func:`lenet5_parameters`       ``fn() -> nn.Module`` (your network: 60,000 parameters, layer by layer)
:func:`lenet5_behaviour`        ``fn() -> nn.Module`` (your network: what it computes, how it starts)
:func:`paper_inputs`            ``fn(images) -> tensor`` (N×1×28×28 in [0, 1] -> N×1×32×32, −0.1/1.175)
:func:`train_step`              ``fn(model, optimizer, x, y) -> loss`` (one step on the MAP loss)
:func:`rbf_test_error`          ``fn(model, images, labels) -> number`` (smallest penalty wins)
:func:`fit`                     ``fn(model, train_set, validation_set, epochs, batch_size, max_lr, step, error)``
:func:`lenet5_target`           ``model`` (your trained network) and its training time: the target
==============================  ===================================================

The capstone's target is two constants, :data:`TARGET_ERROR` and :data:`TIME_FACTOR`: the chapter states them
and :func:`lenet5_target` judges a run against them, on the validation set, with the time measured against the
solution's own run on the same machine.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import re
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import data as _data
from .. import layers as _layers
from ..evaluation import count_errors
from ..language import Message, _
from ..modules import device_of as _device_of
from ..modules import evaluating as _evaluating
from . import _core
from ._core import (
    CheckResult,
    Mistake,
    _check_callable,
    _compare_scalar,
    _compare_tensor,
    _hints,
    _name_of,
    _run,
    _same,
    _section,
    _short,
)
from ._preprocessing import paper_mistakes

__all__ = ["lenet5_shapes", "lenet5_parameters", "lenet5_behaviour", "paper_inputs", "train_step", "rbf_test_error",
           "fit", "lenet5_target"]

TARGET_ERROR = 0.02  #: the capstone's target: a validation error of at most 2% (above the solution's own, which meets it) ...
TIME_FACTOR = 2.0  #: ... after at most twice the training time of the solution's own run on the same machine

#: The seven layers of LeNet-5 (Sec. II-B, Fig. 2), in order: the names the capstone's skeleton uses.
LAYERS = ("C1", "S2", "C3", "S4", "C5", "F6", "output")

_NETWORK = _section(7, _("Step 1: the network"))
_DATA = _section(7, _("Step 2: the data"))
_STEP = _section(7, _("Step 3: the training step"))
_EVALUATION = _section(7, _("Step 4: the evaluation"))
_LOOP = _section(7, _("Step 5: the training loop"))
_INIT = _section(4, _("The paper's initialisation"))
_SQUASH = _section(4, _("The squashing function"))


def _reference_network(seed: int | None = None) -> nn.Module:
    """The course's faithful LeNet-5 (``models.LeNet5``), imported late: models imports nothing from checks."""
    from .. import models

    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return models.LeNet5()


def _check_maker(fn, name: str) -> None:
    """A network check takes the class (or a function that makes the network), not a network."""
    if isinstance(fn, nn.Module):
        raise TypeError(f"fn must make your network: pass the class itself, {name}({type(fn).__name__}), "
                        f"not a network already made, {name}({type(fn).__name__}())")
    _check_callable(fn)


def _make(fn, name: str, seed: int | None = None) -> nn.Module:
    """``fn()``, which must give an ``nn.Module``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = fn()
    if not isinstance(model, nn.Module):
        raise TypeError(f"fn() must give your network, an nn.Module; it gave a {type(model).__name__} "
                        f"(pass the class itself: {name}(MyLeNet5), not {name}(MyLeNet5()))")
    return model


def _shape(t) -> str:
    return "×".join(map(str, t)) if t else "a single number"


def _missing_layers(children, check: str):
    missing = [name for name in LAYERS if name not in children]
    if not missing:
        return None
    return (_("gives a network without a layer called {missing} (it has: {has}); keep the skeleton's seven names, "
              "{names}, so that {check} can find them").format(missing=", ".join(missing),
                                                              has=", ".join(children) or "—",
                                                              names=", ".join(LAYERS), check=check), _NETWORK)


# ---------------------------------------------------------------------------
# The network: shapes, parameters, behaviour
# ---------------------------------------------------------------------------

#: What a wrong output shape of a layer usually means.
_SHAPE_MISTAKES = {
    ("C1", (6, 32, 32)): _("a padded C1 (LeNet-5's convolutions have no padding: the input is already 32×32)"),
    ("C3", (16, 14, 14)): _("a padded C3 (no padding: a 5×5 convolution takes 14×14 maps to 10×10)"),
    ("C5", (16, 1, 1)): _("C5 with 16 maps (it has 120)"),
    ("F6", (120,)): _("no linear layer in F6 (F6 maps C5's 120 values to 84)"),
    ("output", (84,)): _("no output layer (ten RBF units: EuclideanRBF(rbf_codes()))"),
    ("S2", (6, 28, 28)): _("an S2 that does not subsample (its 2×2 windows, stride 2, halve each side)"),
    ("S4", (16, 10, 10)): _("an S4 that does not subsample (its 2×2 windows, stride 2, halve each side)"),
}


def _expected_shapes() -> dict[str, tuple]:
    from .. import models

    return {row.layer: tuple(row.output_shape) for row in models.trace_shapes(_reference_network(), (1, 32, 32))
            if row.layer in LAYERS}


_hints("lenet5_shapes",
       _("run a batch through your network one layer at a time and print each output's shape; compare them with "
         "the table of Step 1."),
       _("a 5×5 convolution without padding takes 4 pixels off the side (32→28 in C1, 14→10 in C3, 5→1 in C5); a "
         "2×2 subsampling halves it (28→14 in S2, 10→5 in S4)."),
       _("F6 flattens C5's 120×1×1 maps and maps them to 84 values (nn.Flatten(), nn.Linear(120, 84)); the output "
         "layer gives one penalty per class, EuclideanRBF(rbf_codes())."))


def lenet5_shapes(fn) -> CheckResult:
    """Check ``fn()``, your LeNet-5 (the class itself): the output shape of each of its seven layers.

    The check builds ``model = fn()`` and runs ``model(x)`` on hidden batches
    of 32×32 images, recording the output of the layers named C1, S2, C3,
    S4, C5, F6 and output (keep the skeleton's names). Per image they must
    be 6×28×28, 6×14×14, 16×10×10, 16×5×5, 120×1×1 (or 120: C5 written as
    a linear layer gives the same numbers), 84 and 10, and ``model(x)`` must
    return the output layer's ten penalties.

    Shapes: x: N×1×32×32 -> each layer's output N×…, model(x): N×10.

    Example:
        >>> from lenet_helpers import models
        >>> lenet5_shapes(models.LeNet5).passed
        True
    """
    _check_maker(fn, "lenet5_shapes")
    expected = _expected_shapes()
    g = torch.Generator().manual_seed(1998)
    cases = [{"x": torch.rand(1, 1, 32, 32, generator=g) * 1.275 - 0.1},
             {"x": torch.rand(5, 1, 32, 32, generator=g) * 1.275 - 0.1}]

    def probe(case):
        x = case["x"]
        model = _make(fn, "lenet5_shapes")
        children = dict(model.named_children())
        calls = OrderedDict()
        handles = [children[name].register_forward_hook(
            lambda module, inputs, output, name=name: calls.setdefault(name, output)) for name in LAYERS
            if name in children]
        out, error = None, None
        try:
            with torch.no_grad():
                out = model(x)
        except NotImplementedError:
            raise
        except Exception as e:  # a wrong shape early on makes a later layer fail: report the wrong shape first
            error = e
        finally:
            for handle in handles:
                handle.remove()
        return {"children": list(children), "calls": calls, "out": out, "error": error, "n": len(x)}

    def reference(x):
        return {name: (len(x), *shape) for name, shape in expected.items()}

    def compare(got, want):
        missing = _missing_layers(got["children"], "lenet5_shapes")
        if missing:
            return missing
        for name in LAYERS:
            if name not in got["calls"]:
                if got["error"] is not None:
                    error = got["error"]
                    return _("raised {error} in layer {name} or just before it (the layers before it give the right "
                             "shapes)").format(error=_core._error_text(error), name=name)
                return _("never runs layer {name} in forward: forward must run C1, S2, C3, S4, C5, F6, output in "
                         "turn").format(name=name)
            output = got["calls"][name]
            if not isinstance(output, torch.Tensor):
                return _("has a layer {name} that returns a {kind}, not a tensor").format(
                    name=name, kind=type(output).__name__)
            shape = tuple(output.shape)
            if shape == want[name] or (name == "C5" and shape == want[name][:2]):
                continue
            problem = _("has a layer {name} whose output is {got} per image, where the table says {shape}").format(
                name=name, got=_shape(shape[1:]), shape=_shape(want[name][1:]))
            if shape[:1] != (got["n"],):
                return problem + _(" (and the first dimension must stay the batch, {n})").format(n=got["n"])
            mistake = _SHAPE_MISTAKES.get((name, shape[1:]))
            return (problem + _("; it matches {mistake}").format(mistake=mistake), _NETWORK) if mistake else problem
        if got["error"] is not None:
            return _("raised {error} after the output layer").format(error=_core._error_text(got["error"]))
        out = got["out"]
        if not isinstance(out, torch.Tensor) or out.shape != got["calls"]["output"].shape or \
                not torch.equal(out, got["calls"]["output"]):
            return _("gives a network whose forward does not return the output layer's result: return the ten "
                     "penalties")
        return None

    return _run("lenet5_shapes", fn, cases, reference, compare, probe=probe)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


#: What a wrong parameter count of a layer usually means: (layer, count) -> the mistake.
def _parameter_mistakes(expected: dict[str, int]) -> dict[tuple[str, int], Message]:
    c3_dense = 16 * (6 * 25 + 1)
    return {
        ("C3", c3_dense): _("a dense C3, every map seeing all six S2 maps; C3 follows Table I: "
                            "PartialConv2d(C3_TABLE, 5)"),
        ("S2", 0): _("a pooling without parameters; S2 has a trainable coefficient and bias per map: Subsampling(6)"),
        ("S4", 0): _("a pooling without parameters; S4 has a trainable coefficient and bias per map: Subsampling(16)"),
        ("output", 84 * 10 + 10): _("a linear output layer; the output is ten RBF units with fixed centres: "
                                    "EuclideanRBF(rbf_codes())"),
        ("output", 84 * 10): _("trainable RBF centres; the paper's codes are fixed (a buffer, not a parameter)"),
        ("F6", expected["F6"] - 84): _("F6 without biases"),
        ("C1", expected["C1"] - 6): _("C1 without biases"),
        ("C5", expected["C5"] - 120): _("C5 without biases"),
    }


_hints("lenet5_parameters",
       _("count each layer's trainable parameters, sum(p.numel() for p in layer.parameters()), and compare with the "
         "table of Step 1."),
       _("S2 and S4 have one coefficient and one bias per map; C3 has one 5×5 kernel per X of Table I and 16 biases; "
         "the output layer's ten codes are fixed, so it has none."),
       _("Subsampling(6), PartialConv2d(C3_TABLE, 5), Subsampling(16) and EuclideanRBF(rbf_codes()) have exactly the "
         "paper's parameters; nn.Conv2d and nn.Linear keep their biases (bias=True)."))


def lenet5_parameters(fn) -> CheckResult:
    """Check ``fn()``, your LeNet-5 (the class itself): its trainable parameters, layer by layer.

    The paper's counts (Sec. II-B; chapter 3 derives them): C1 156, S2 12,
    C3 1,516, S4 32, C5 48,120, F6 10,164 and none in the output layer,
    whose RBF centres are fixed: 60,000 in all. Only parameters with
    ``requires_grad`` count; the layers are found by the skeleton's names
    (C1, S2, C3, S4, C5, F6, output).

    Example:
        >>> from lenet_helpers import models
        >>> lenet5_parameters(models.LeNet5).passed
        True
    """
    _check_maker(fn, "lenet5_parameters")
    reference_model = _reference_network()
    want = {name: _count(layer) for name, layer in reference_model.named_children()}
    want["total"] = _count(reference_model)
    mistakes = _parameter_mistakes(want)

    def probe(case):
        model = _make(fn, "lenet5_parameters")
        children = dict(model.named_children())
        got = {name: _count(children[name]) for name in LAYERS if name in children}
        got["total"] = _count(model)
        got["children"] = list(children)
        return got

    def compare(got, want):
        missing = _missing_layers(got["children"], "lenet5_parameters")
        if missing:
            return missing
        for name in LAYERS:
            if got[name] != want[name]:
                mistake = mistakes.get((name, got[name]))
                problem = _("has {total} trainable parameters, where the paper's network has {want}: layer {name} has "
                            "{got}, where the table says {expected}").format(
                    total=f"{got['total']:,}", want=f"{want['total']:,}", name=name, got=f"{got[name]:,}",
                    expected=f"{want[name]:,}")
                return (problem + _("; it matches {mistake}").format(mistake=mistake), _NETWORK) if mistake else problem
        if got["total"] != want["total"]:
            extra = got["total"] - sum(got[name] for name in LAYERS)
            return _("has {total} trainable parameters, where the paper's network has {want}: {extra} of them are "
                     "outside the seven layers (a parameter of the network itself?)").format(
                total=f"{got['total']:,}", want=f"{want['total']:,}", extra=f"{extra:,}")
        return None

    return _run("lenet5_parameters", fn, [{}], lambda: want, compare, probe=probe)


def _fan_ins() -> dict[str, tuple[float, float]]:
    """For each layer with parameters: the largest and the smallest bound 2.4/F_i of its units (Appendix A)."""
    per_map = _layers.C3_TABLE.sum(dim=0) * 25
    return {"C1": (2.4 / 25, 2.4 / 25), "S2": (2.4 / 4, 2.4 / 4), "C3": (2.4 / int(per_map.min()),
                                                                         2.4 / int(per_map.max())),
            "S4": (2.4 / 4, 2.4 / 4), "C5": (2.4 / 400, 2.4 / 400), "F6": (2.4 / 120, 2.4 / 120)}


_FAN_IN = {"C1": 25, "S2": 4, "C3": 150, "S4": 4, "C5": 400, "F6": 120}


def _initialisation_problem(model):
    """Whether ``model``'s layers start as Appendix A says: every weight and bias uniform in ±2.4/F_i."""
    children = dict(model.named_children())
    for name, (largest, smallest) in _fan_ins().items():
        for pname, p in children[name].named_parameters():
            if not p.requires_grad or p.numel() == 0:
                continue
            top = float(p.detach().abs().max().cpu())
            what = _("biases") if pname.endswith("bias") else _("weights")
            if top > largest * (1 + 1e-4):
                default = 1 / math.sqrt(_FAN_IN[name])
                if top <= default * (1 + 1e-4):
                    return _("starts {name}'s {what} with PyTorch's default initialisation (uniform in ±1/√F_i, up to "
                             "{top}), not the paper's ±2.4/F_i ({bound} for {name}): initialise them with "
                             "uniform_fan_in_(tensor, F_i)").format(name=name, what=what, top=f"{top:.3g}",
                                                                    bound=f"{largest:.3g}")
                return _("starts {name}'s {what} as large as {top}, outside the paper's ±2.4/F_i ({bound} for "
                         "{name})").format(name=name, what=what, top=f"{top:.3g}", bound=f"{largest:.3g}")
            if p.numel() >= 6 and not pname.endswith("bias") and top < 0.5 * smallest:
                return _("starts {name}'s {what} far inside the paper's range, all within {top} (the paper draws them "
                         "uniform in ±2.4/F_i, {bound} for {name})").format(name=name, what=what, top=f"{top:.3g}",
                                                                            bound=f"{smallest:.3g}")
    return None


def _copy_weights(source: nn.Module, target: nn.Module):
    """Copy ``source``'s parameters into ``target``, layer by layer, by name (weight, bias) where both have such
    names, else by position. Returns a problem, or None."""
    for name in LAYERS:
        theirs = dict(getattr(source, name).named_parameters())
        mine = dict(getattr(target, name).named_parameters())
        pairs = list(zip(theirs.values(), mine.values()))
        by_name = {}
        for key in ("weight", "bias"):
            a = [p for n, p in theirs.items() if n.split(".")[-1] == key]
            b = [p for n, p in mine.items() if n.split(".")[-1] == key]
            if len(a) == 1 and len(b) == 1:
                by_name[key] = (a[0], b[0])
        if len(by_name) == 2 and len(theirs) == len(mine) == 2:
            pairs = list(by_name.values())
        if len(theirs) != len(mine) or any(s.numel() != t.numel() for s, t in pairs):
            return _("has a layer {name} whose parameters do not pair up with the paper's (run lenet5_parameters "
                     "first)").format(name=name)
        with torch.no_grad():
            for s, t in pairs:
                t.copy_(s.detach().reshape(t.shape))
    return None


def _record(model: nn.Module, x):
    """Run ``x`` through ``model``, recording each named layer's input and output; returns (result, inputs, outputs)."""
    children = dict(model.named_children())
    inputs, outputs = {}, {}
    handles = []
    for name in LAYERS:
        layer = children[name]
        handles.append(layer.register_forward_pre_hook(
            lambda module, args, name=name: inputs.setdefault(name, args[0] if args else None)))
        handles.append(layer.register_forward_hook(
            lambda module, args, output, name=name: outputs.setdefault(name, output)))
    try:
        with torch.no_grad():
            result = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return result, inputs, outputs


def _flat(t):
    return t.detach().reshape(len(t), -1) if isinstance(t, torch.Tensor) else t


#: How a layer's output differs when the squashing function is replaced: (what, function of the pre-activation).
def _activations():
    A, S = _layers.SQUASH_A, _layers.SQUASH_S
    return [
        (_("ReLU in place of the paper's squashing function f(a) = 1.7159·tanh(2a/3) (LeNet-5 has no ReLU)"),
         torch.relu),
        (_("a plain tanh in place of the squashing function: f(a) = 1.7159·tanh(2a/3), with its amplitude and slope"),
         torch.tanh),
        (_("no squashing function after it: every layer but the output ends with f(a) = 1.7159·tanh(2a/3)"),
         lambda a: a),
        (_("a sigmoid in place of the squashing function f(a) = 1.7159·tanh(2a/3)"), torch.sigmoid),
        (_("tanh(2a/3) without the amplitude 1.7159"), lambda a: torch.tanh(S * a)),
        (_("1.7159·tanh(a) without the slope 2/3"), lambda a: A * torch.tanh(a)),
    ]


_hints("lenet5_behaviour",
       _("the check copies the weights of the course's LeNet-5 into your network and compares what each layer "
         "computes; a layer that differs has another function or another order of operations."),
       _("every layer but the output is its core (convolution, subsampling or linear) followed by the squashing "
         "function Squash(), 1.7159·tanh(2a/3); C1, C5 and F6 start from uniform_fan_in_(weight, F_i) and "
         "uniform_fan_in_(bias, F_i)."),
       _("F_i is the number of inputs of one unit: layer.weight[0].numel() for C1 (25), C5 (400) and F6 (120); "
         "Subsampling and PartialConv2d initialise themselves."))


def lenet5_behaviour(fn) -> CheckResult:
    """Check ``fn()``, your LeNet-5 (the class itself): what it computes and how it starts.

    * **How it starts**: every weight and bias of C1, S2, C3, S4, C5 and F6
      uniform in ±2.4/F_i, F_i the number of inputs of the unit (Appendix A);
      PyTorch's default initialisation (±1/√F_i) is named.
    * **What it computes**: the weights of the course's ``models.LeNet5`` are
      copied into your network, layer by layer (by name, weight and bias, or
      else in order), and both run hidden batches; each layer's result (what
      the next layer receives) must be the same. A ReLU, a plain tanh, a
      missing squashing function and the like are named.

    Run :func:`lenet5_shapes` and :func:`lenet5_parameters` first: this check
    needs the seven layers with the paper's parameters.

    Example:
        >>> from lenet_helpers import models
        >>> lenet5_behaviour(models.LeNet5).passed
        True
    """
    _check_maker(fn, "lenet5_behaviour")
    g = torch.Generator().manual_seed(1998)
    cases = [{"x": torch.rand(4, 1, 32, 32, generator=g) * 1.275 - 0.1},
             {"x": (torch.rand(3, 1, 32, 32, generator=g) > 0.7).float() * 1.275 - 0.1}]

    def probe(case):
        model = _make(fn, "lenet5_behaviour", seed=0)
        children = dict(model.named_children())
        found = {"children": list(children)}
        if any(name not in children for name in LAYERS):
            return found
        found["init"] = _initialisation_problem(model)
        reference = _reference_network(seed=0)
        found["copy"] = _copy_weights(reference, model)
        if found["copy"] is None:
            found["mine"] = _record(model.eval(), case["x"])
            found["theirs"] = _record(reference.eval(), case["x"])
            found["reference"] = reference
        return found

    def compare(got, _expected):
        missing = _missing_layers(got["children"], "lenet5_behaviour")
        if missing:
            return missing
        if got["init"] is not None:
            return got["init"], _INIT
        if got["copy"] is not None:
            return got["copy"]
        result, inputs, outputs = got["mine"]
        right, right_inputs, right_outputs = got["theirs"]
        for k, name in enumerate(LAYERS):
            mine = inputs.get(LAYERS[k + 1]) if k + 1 < len(LAYERS) else result
            if isinstance(mine, torch.Tensor) and mine.shape[0] == right_outputs[name].shape[0] and \
                    mine.numel() == right_outputs[name].numel() and \
                    torch.allclose(_flat(mine).cpu(), _flat(right_outputs[name]).cpu(), rtol=1e-4, atol=1e-4):
                continue
            return _layer_problem(name, mine, got["reference"], right_inputs[name])
        return None

    return _run("lenet5_behaviour", fn, cases, lambda x: None, compare, probe=probe)


def _layer_problem(name: str, mine, reference: nn.Module, given):
    """Why the learner's layer ``name`` differs from the reference's, given the same input ``given``."""
    layer = getattr(reference, name)
    if name == "output" or not isinstance(mine, torch.Tensor):
        return _("computes something else in its output layer, with the paper's weights: ten penalties "
                 "y_i = Σ_j (x_j − w_ij)², the squared distances to the fixed codes (no square root, no minus sign)"), \
            _NETWORK
    with torch.no_grad():
        core = layer[:-1](given)  # everything before the squashing
    mine = _flat(mine).cpu()
    for what, activation in _activations():
        if mine.shape == _flat(core).shape and torch.allclose(mine, _flat(activation(core)).cpu(), rtol=1e-4,
                                                              atol=1e-4):
            return _("gives layer {name} {what}").format(name=name, what=what), _SQUASH
    if name in ("S2", "S4"):
        subsample = layer[0]
        bias = subsample.bias.detach().view(1, -1, 1, 1)
        mean = (core - bias) / 4 + bias
        if torch.allclose(mine, _flat(_layers.squash(mean)).cpu(), rtol=1e-4, atol=1e-4):
            return _("gives layer {name} the mean of each 2×2 window: the paper adds the four inputs, then multiplies "
                     "by the coefficient and adds the bias (Subsampling)").format(name=name), _NETWORK
        pooled = F.max_pool2d(given, 2)
        if mine.shape == _flat(pooled).shape and torch.allclose(mine, _flat(_layers.squash(pooled)).cpu(),
                                                                 rtol=1e-4, atol=1e-4):
            return _("gives layer {name} max pooling: the paper's subsampling adds each 2×2 window, multiplies by a "
                     "trainable coefficient and adds a bias (Subsampling)").format(name=name), _NETWORK
    extra = _(" (if it keeps its kernels in another order than PartialConv2d, ordered by C3 map, the weights copied "
              "in order land on other kernels)") if name == "C3" else ""
    return _("computes something else in layer {name} with the paper's weights (the layers before it agree): check "
             "its operation, its squashing function and what forward does between it and the next layer{extra}"
             ).format(name=name, extra=extra), _NETWORK


# ---------------------------------------------------------------------------
# The data: the paper's preprocessing
# ---------------------------------------------------------------------------

_hints("paper_inputs",
       _("two steps: pad each 28×28 digit with 2 pixels of background on every side (32×32), then map the background "
         "(0) to −0.1 and the ink (1) to 1.175; the channel dimension stays."),
       _("pad first, while the background is still 0, so that the padding is scaled with the rest of the "
         "background; the straight line through (0, −0.1) and (1, 1.175) is x ↦ −0.1 + 1.275·x."),
       _("F.pad(images, (2, 2, 2, 2)) pads the last two dimensions; then −0.1 + 1.275 * padded, still float32, "
         "without changing images itself."))


def paper_inputs(fn) -> CheckResult:
    """Check ``fn(images)``: a batch of MNIST digits prepared as LeNet-5 reads them (Sec. II-B).

    From raw digits with pixels in [0, 1] (0 the background, 1 the ink):
    pad 2 pixels of background on every side (28×28 -> 32×32), then map
    the background to −0.1 and the ink to 1.175, x ↦ −0.1 + 1.275·x,
    padding included. The channel dimension stays, the dtype stays float32,
    and ``fn`` leaves ``images`` as it was. Hidden cases: random and
    binary digits, a blank one and one that is all ink.

    Shapes: images: N×1×28×28 float in [0, 1] -> N×1×32×32.

    Example:
        >>> paper_inputs(lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    low, high = _data.PAPER_BACKGROUND, _data.PAPER_FOREGROUND
    cases = [torch.rand(2, 1, 28, 28, generator=g), (torch.rand(3, 1, 28, 28, generator=g) > 0.8).float(),
             torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28), torch.rand(4, 1, 28, 28, generator=g) ** 4]
    cases = [{"images": x} for x in cases]

    def reference(images):
        return low + (high - low) * F.pad(images, (2, 2, 2, 2), value=0.0)

    mistakes = paper_mistakes(_DATA) + [
        Mistake(_("drops the channel dimension: LeNet-5 reads N×1×32×32 batches"), _DATA,
                lambda images: reference(images)[:, 0]),
    ]
    return _run("paper_inputs", fn, cases, reference, _compare_tensor, mistakes)


# ---------------------------------------------------------------------------
# Training: one step on the MAP loss
# ---------------------------------------------------------------------------


def _plain_lenet5(seed: int, device) -> nn.Module:
    """The faithful LeNet-5 as a plain nn.Sequential: no ``loss`` or ``scores`` methods to lean on."""
    return nn.Sequential(OrderedDict(_reference_network(seed).named_children())).to(device)


def _optimizer_for(model: nn.Module, description: str) -> torch.optim.Optimizer:
    if description.startswith("SGD"):
        return torch.optim.SGD(model.parameters(), lr=0.01)
    return torch.optim.Adam(model.parameters(), lr=1e-3)


def _as_number(value):
    """A loss as a float, or None if it is not one number."""
    if isinstance(value, torch.Tensor):
        return value.detach().double().cpu().item() if value.numel() == 1 else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).cpu()


def _steps(step, seed: int, optimizer_name: str, x, y, device, calls: int = 2) -> dict:
    """Make the case's network and optimiser, call ``step`` ``calls`` times on (x, y); say what happened."""
    model = _plain_lenet5(seed, device)
    optimizer = _optimizer_for(model, optimizer_name)
    x, y = x.to(device), y.to(device)
    start = _weights(model)
    losses, returned = [], []   # the MAP loss of the batch before each call, and what the call returned
    for _call in range(calls):
        with torch.no_grad():
            losses.append(_layers.map_loss(model(x), y).item())
        returned.append(step(model, optimizer, x.clone(), y.clone()))
    with torch.no_grad():
        after = _layers.map_loss(model(x), y).item()
    return {"returned": returned, "losses": losses, "before": losses[0], "after": after, "start": start,
            "weights": _weights(model), "n": len(y)}


def _step_with(loss_of, zero_grad: bool = True, backward: bool = True, returns_after: bool = False):
    def step(model, optimizer, x, y):
        loss = loss_of(model(x), y)
        if zero_grad:
            optimizer.zero_grad()
        if backward:
            loss.backward()
        optimizer.step()
        if returns_after:
            with torch.no_grad():
                return _layers.map_loss(model(x), y).item()
        return loss.item()

    return step


def _sum_map_loss(penalties, y):
    return _layers.map_loss(penalties, y) * len(y)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5)


_hints("train_step",
       _("one step: the penalties of the batch, the MAP loss on them, fresh gradients, back-propagation, the "
         "optimiser's update; return the loss as a number."),
       _("the network the check gives is a plain nn.Sequential: compute the loss with map_loss(penalties, y) (eq. 9, "
         "the mean over the batch); use the optimizer you are given, and call optimizer.zero_grad() before "
         "loss.backward()."),
       _("loss = map_loss(model(x), y); optimizer.zero_grad(); loss.backward(); optimizer.step(); return "
         "loss.item()."))


def train_step(fn) -> CheckResult:
    """Check ``fn(model, optimizer, x, y)``: one training step of LeNet-5 on the batch (x, y) with the MAP loss.

    One step is: the penalties ``model(x)``, the MAP loss of eq. (9) on them
    (the mean over the batch, ``layers.map_loss``), fresh gradients
    (``optimizer.zero_grad()``), ``loss.backward()``, ``optimizer.step()``;
    ``fn`` returns the loss computed before the step, as a number. Each
    hidden case calls ``fn`` twice on a fixed batch, with the course's
    LeNet-5 (a plain ``nn.Sequential``: use ``map_loss(model(x), y)``, not
    ``model.loss``) and an SGD or Adam optimiser, then checks that the steps
    lowered the loss on that batch and changed the weights exactly as two
    optimiser steps on the MAP loss do. The network and the batch are on the
    device the chapters train on (``train.device()``).

    Shapes: x: N×1×32×32, y: N labels (int64) -> a number (float or 0-d tensor).

    Example:
        >>> from lenet_helpers.layers import map_loss
        >>> def step(model, optimizer, x, y):
        ...     loss = map_loss(model(x), y)
        ...     optimizer.zero_grad()
        ...     loss.backward()
        ...     optimizer.step()
        ...     return loss.item()
        >>> train_step(step).passed
        True
    """
    fn = _check_callable(fn)
    device = _core._device()
    g = torch.Generator().manual_seed(1998)
    seeds, cases = {}, []
    for seed, optimizer_name in enumerate(("SGD, lr=0.01", "SGD, lr=0.01", "Adam, lr=0.001")):
        model_name = f"LeNet-5, seed {seed}"
        seeds[model_name] = seed
        x = (torch.rand(8, 1, 32, 32, generator=g) > 0.7).float() * 1.275 - 0.1   # blobs of ink, as the paper scales it
        cases.append({"model": model_name, "optimizer": optimizer_name, "x": x,
                      "y": torch.randint(0, 10, (8,), generator=g)})

    def probe(case):
        return _steps(fn, seeds[case["model"]], case["optimizer"], case["x"], case["y"], device)

    def reference(model, optimizer, x, y):
        return _steps(_step_with(_layers.map_loss), seeds[model], optimizer, x, y, device)

    def wrong(step):
        def gives(model, optimizer, x, y):
            return _steps(step, seeds[model], optimizer, x, y, device)
        return gives

    def same(got, wrong_run):
        if not _close(got["weights"], wrong_run["weights"]):
            return False
        numbers = [_as_number(v) for v in got["returned"]]
        return all(n is not None and abs(n - w) <= 1e-4 + 1e-4 * abs(w)
                   for n, w in zip(numbers, wrong_run["returned"]))

    mistakes = [
        Mistake(_("forgets optimizer.zero_grad(): the second step adds the old gradients to the new ones"), _STEP,
                wrong(_step_with(_layers.map_loss, zero_grad=False))),
        Mistake(_("uses cross-entropy on the penalties, which treats them as scores: it pushes the correct class's "
                  "penalty up, where the MAP loss of eq. (9) pulls it down"), _STEP, wrong(_step_with(F.cross_entropy))),
        Mistake(_("uses cross-entropy on minus the penalties: close, but eq. (9) also has the rubbish class's e^(−j) "
                  "in the sum (map_loss)"), _STEP, wrong(_step_with(lambda p, t: F.cross_entropy(-p, t)))),
        Mistake(_("sums the loss over the batch: eq. (9) here is the mean over the batch (map_loss)"), _STEP,
                wrong(_step_with(_sum_map_loss))),
        Mistake(_("does not change the weights: call loss.backward(), then optimizer.step()"), _STEP,
                wrong(_step_with(_layers.map_loss, backward=False))),
        Mistake(_("returns the loss after the step: return the loss of the batch computed before the update, the one "
                  "you stepped on"), _STEP, wrong(_step_with(_layers.map_loss, returns_after=True))),
    ]

    def compare(got, right):
        if not _close(got["weights"], right["weights"]):
            if torch.equal(got["weights"], got["start"]):
                return _("did not change the weights at all: call loss.backward(), then optimizer.step()")
            if got["after"] >= got["before"]:
                return _("did not lower the MAP loss of the fixed batch (before the two calls {before}, after "
                         "{after}): check the loss, its sign and the optimiser").format(
                    before=f"{got['before']:.4g}", after=f"{got['after']:.4g}")
            return _("lowered the loss of the fixed batch (from {before} to {after}), but not as two steps on the MAP "
                     "loss with the optimizer it is given do: use the model and the optimizer you are given").format(
                before=f"{got['before']:.4g}", after=f"{got['after']:.4g}")
        for call, (value, loss) in enumerate(zip(got["returned"], got["losses"]), start=1):
            number = _as_number(value)
            if number is None:
                return _("returned {value} at call {call}, where the loss is expected, one number (loss.item(), or the "
                         "0-d tensor itself); the steps themselves are right").format(value=_short(value), call=call)
            if abs(number - loss) > 1e-4 + 1e-4 * abs(loss):
                problem = _("returned {number} at call {call}, not the MAP loss of the batch before the step (the "
                            "steps themselves are right)").format(number=f"{number:.6g}", call=call)
                if abs(number - loss * got["n"]) <= 1e-4 * abs(loss) * got["n"]:
                    problem = problem + _("; it is the loss summed over the batch: return the mean, the loss you "
                                          "step on")
                return problem
        return None

    return _run("train_step", fn, cases, reference, compare, mistakes, probe=probe, same=same)


# ---------------------------------------------------------------------------
# Evaluation: the test error, smallest penalty wins
# ---------------------------------------------------------------------------


class _FixedPenalties(nn.Module):
    """A stand-in for a trained LeNet-5: RBF penalties of a fixed random F6; other penalties in training mode.

    In training mode its output is shifted class by class, so a function that forgets ``model.eval()``
    gets another error (LeNet-5 itself behaves the same in both modes; networks with dropout or batch
    normalisation do not).
    """

    def __init__(self, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(84, 32 * 32, generator=g) / 8, requires_grad=False)
        self.register_buffer("centers", _layers.rbf_codes())

    def forward(self, x):
        features = _layers.squash(x.flatten(1) @ self.weight.t())
        penalties = ((features.unsqueeze(1) - self.centers) ** 2).sum(dim=2)
        return penalties.roll(1, dims=1) if self.training else penalties

    def extra_repr(self) -> str:
        return "a stand-in for a trained LeNet-5"


_hints("rbf_test_error",
       _("LeNet-5's output is ten penalties per image and the smallest wins: the predicted class is the argmin; the "
         "error is the fraction of images whose predicted class is not their label."),
       _("evaluation mode (model.eval()) and no gradients (torch.no_grad()); move each batch to the model's device; "
         "count the mistakes over all the batches, then divide by the number of images (the last batch may be "
         "smaller)."),
       _("device = next(model.parameters()).device; penalties = torch.cat([model(b.to(device)) for b in "
         "images.split(1000)]); (penalties.argmin(dim=1) != labels.to(device)).float().mean().item()."))


def rbf_test_error(fn) -> CheckResult:
    """Check ``fn(model, images, labels)``: the error rate of a LeNet-5 on a set of images, from its RBF penalties.

    The network's output is ten penalties per image, and the smallest
    penalty wins (Sec. II-B): the predicted class is ``argmin``. The error
    is the fraction of images whose predicted class is not their label, a
    number between 0 and 1 (a float or a 0-d tensor). Evaluate in
    evaluation mode (``model.eval()``) and without gradients
    (``torch.no_grad()``), with the images on the model's device. Hidden
    cases: stand-in networks (in training mode when ``fn`` gets them, on the
    device the chapters train on, the images on the CPU), with labels that
    make the error 0, 1 or in between, and a set of 1,500 images: averaging
    the error rates of batches of 1,000 is not the error rate of the set.

    Shapes: images: N×1×32×32, labels: N class indices (int64) -> a number in [0, 1].

    Example:
        >>> def error(model, images, labels):
        ...     device = next(model.parameters()).device
        ...     model.eval()
        ...     with torch.no_grad():
        ...         penalties = model(images.to(device))
        ...     return (penalties.argmin(dim=1) != labels.to(device)).float().mean().item()
        >>> rbf_test_error(error).passed
        True
    """
    device = _core._device()
    g = torch.Generator().manual_seed(1998)

    def case(seed, n, wrong, *, first=None):
        model = _FixedPenalties(seed)
        images = torch.rand(n, 1, 32, 32, generator=g) * 1.275 - 0.1
        with torch.no_grad():
            labels = model.eval()(images).argmin(dim=1)
        model.train()
        pool = torch.randperm(n if first is None else first, generator=g)
        flip = pool[:wrong]
        labels[flip] = (labels[flip] + torch.randint(1, 10, (wrong,), generator=g)) % 10
        return {"model": model.to(device), "images": images, "labels": labels}

    cases = [case(0, 8, 3), case(1, 40, 6), case(2, 5, 0), case(3, 4, 4), case(4, 1, 1),
             case(5, 1500, 30, first=1000)]  # all the mistakes in the first 1,000: per-batch rates average wrong

    def predictions(model, images, training=False):
        with torch.no_grad():
            if training:
                return model.train()(images.to(_device_of(model))).argmin(dim=1).cpu()
            with _evaluating(model):
                return model(images.to(_device_of(model))).argmin(dim=1).cpu()

    def probe(case):
        model = case["model"].train()
        return fn(model, case["images"].clone(), case["labels"].clone())

    def reference(model, images, labels):
        return (predictions(model, images) != labels).double().mean().item()

    def batchwise(model, images, labels):
        if len(labels) <= 1000:
            return None
        wrong = (predictions(model, images) != labels).double()
        return sum(part.mean().item() for part in wrong.split(1000)) / math.ceil(len(labels) / 1000)

    def largest(model, images, labels):
        with torch.no_grad(), _evaluating(model):
            penalties = model(images.to(_device_of(model))).cpu()
        return (penalties.argmax(dim=1) != labels).double().mean().item()

    mistakes = [
        Mistake(_("lets the largest penalty win (argmax): LeNet-5's output is a penalty, the smallest wins (argmin)"),
                _EVALUATION, largest),
        Mistake(_("gives the accuracy (the fraction right): the error is 1 − accuracy"), _EVALUATION,
                lambda model, images, labels: 1 - reference(model, images, labels)),
        Mistake(_("gives a percentage: return a fraction between 0 and 1"), _EVALUATION,
                lambda model, images, labels: 100 * reference(model, images, labels)
                if reference(model, images, labels) else None),
        Mistake(_("gives the number of mistakes: divide by the number of images"), _EVALUATION,
                lambda model, images, labels: reference(model, images, labels) * len(labels) if len(labels) > 1
                else None),
        Mistake(_("evaluates the network in training mode: call model.eval() before evaluating"), _EVALUATION,
                lambda model, images, labels: (predictions(model, images, training=True) != labels).double().mean()
                .item()),
        Mistake(_("averages the error rates of the batches: the last batch is smaller, so count the mistakes over all "
                  "the batches and divide by the number of images"), _EVALUATION, batchwise),
    ]
    return _run("rbf_test_error", fn, cases, reference, _compare_scalar, mistakes, probe=probe)


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------


class _Clock:
    """A clock for the thread that runs the learner's ``fit``: the real one plus the time the check's own step and
    error say they took (1 s a step, 1,000 s a validation), so that what ``fit`` times is known exactly."""

    STEP, VALIDATION = 1.0, 1000.0
    NAMES = ("perf_counter", "monotonic", "time")

    def __init__(self):
        self.offset = 0.0
        self.thread = threading.get_ident()
        self.real = {name: getattr(time, name) for name in self.NAMES}
        self.real_ns = {name: getattr(time, name + "_ns") for name in self.NAMES}

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __enter__(self):
        for name in self.NAMES:
            real, real_ns = self.real[name], self.real_ns[name]

            def fake(real=real):
                value = real()
                return value + self.offset if threading.get_ident() == self.thread else value

            def fake_ns(real_ns=real_ns):
                value = real_ns()
                return value + int(self.offset * 1e9) if threading.get_ident() == self.thread else value

            setattr(time, name, fake)
            setattr(time, name + "_ns", fake_ns)
        return self

    def __exit__(self, *exc):
        for name in self.NAMES:
            setattr(time, name, self.real[name])
            setattr(time, name + "_ns", self.real_ns[name])
        return False


class _FitRun:
    """One run of the learner's ``fit`` on a tiny data set, with a step and an error that record what it does."""

    def __init__(self, fn, n, batch_size, epochs, max_lr, device, seed):
        self.n, self.batch_size, self.epochs, self.max_lr = n, batch_size, epochs, max_lr
        g = torch.Generator().manual_seed(seed)
        images = torch.randn(n, 1, 32, 32, generator=g)
        images[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)  # each image carries its index
        self.train_set = (images.to(device), (torch.arange(n) % 10).to(device))
        self.validation_set = (torch.randn(7, 1, 32, 32, generator=g).to(device), torch.arange(7).to(device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10)).to(device)
        self.steps, self.errors = [], []
        self.clock = _Clock()
        self.printed = io.StringIO()
        with self.clock, contextlib.redirect_stdout(self.printed), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.history = fn(self.model, self.train_set, self.validation_set, epochs, batch_size, max_lr,
                              self.step, self.error)

    def step(self, model, optimizer, x, y):
        self.steps.append({"model": model is self.model, "training": model.training, "optimizer": optimizer,
                           "lr": optimizer.param_groups[0]["lr"], "ids": x[:, 0, 0, 0].round().long().tolist(),
                           "errors_before": len(self.errors)})
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.clock.advance(_Clock.STEP)
        return 1.0 + 0.25 * (len(self.steps) % 4)  # a loss the check knows

    def error(self, model, images, labels):
        self.errors.append({"validation": images is self.validation_set[0] or (
            isinstance(images, torch.Tensor) and images.shape == self.validation_set[0].shape
            and torch.equal(images, self.validation_set[0])), "steps_before": len(self.steps)})
        model.eval()
        self.clock.advance(_Clock.VALIDATION)
        return 0.5 / len(self.errors)  # an error rate the check knows


def _one_cycle_rates(max_lr: float, total_steps: int) -> list[float]:
    """The learning rate OneCycleLR sets before each of its ``total_steps`` steps."""
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([parameter], lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps)
    rates = []
    for _i in range(total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def _fit_problem(run: _FitRun):
    """What is wrong with what ``fit`` did, or None; a (problem, section) pair where a section explains it."""
    n, b, epochs = run.n, run.batch_size, run.epochs
    per_epoch = math.ceil(n / b)
    steps, errors, history = run.steps, run.errors, run.history
    if not steps:
        return _("never calls the step it is given: train with step(model, optimizer, x, y), the function passed to "
                 "fit"), _LOOP
    if not all(s["model"] for s in steps):
        return _("passes another network to step: train the model fit is given"), _LOOP
    optimizer = steps[0]["optimizer"]
    if not isinstance(optimizer, torch.optim.Adam):
        return _("trains with {kind}: the recipe is Adam, torch.optim.Adam(model.parameters(), lr=max_lr)").format(
            kind=type(optimizer).__name__), _LOOP
    if any(s["optimizer"] is not optimizer for s in steps):
        return _("creates a new optimiser during training: create Adam and the schedule once, before the first "
                 "epoch"), _LOOP
    if len(steps) != epochs * per_epoch:
        return _("calls step {got} times for {epochs} epochs of {n} images in batches of {b}: an epoch has "
                 "ceil({n} / {b}) = {per} batches, the last one smaller, each through step once").format(
            got=len(steps), epochs=epochs, n=n, b=b, per=per_epoch), _LOOP
    epochs_ids = [sum((s["ids"] for s in steps[e * per_epoch:(e + 1) * per_epoch]), []) for e in range(epochs)]
    for ids in epochs_ids:
        if sorted(ids) != list(range(n)):
            return _("does not pass every training image through step once per epoch: take the batches from "
                     "data.batches(images, labels, batch_size)"), _LOOP
    if epochs > 1 and all(ids == epochs_ids[0] for ids in epochs_ids) and epochs_ids[0] == list(range(n)):
        return _("takes the batches in the same order every epoch: data.batches(images, labels, batch_size) shuffles "
                 "them, one random permutation per epoch"), _LOOP
    if not all(s["training"] for s in steps):
        epoch = next(i // per_epoch + 1 for i, s in enumerate(steps) if not s["training"])
        return _("trains epoch {epoch} in evaluation mode: error() leaves the network in evaluation mode, so call "
                 "model.train() at the start of every epoch").format(epoch=epoch), _LOOP
    rates = [s["lr"] for s in steps]
    right = _one_cycle_rates(run.max_lr, epochs * per_epoch)
    if not _same(rates, right, rtol=1e-6, atol=1e-12):
        if all(abs(r - rates[0]) <= 1e-12 for r in rates):
            return _("never steps the one-cycle schedule: the learning rate stays at {lr}; call schedule.step() after "
                     "every batch").format(lr=f"{rates[0]:.3g}"), _LOOP
        if all(rates[e * per_epoch:(e + 1) * per_epoch] == [rates[e * per_epoch]] * per_epoch for e in range(epochs)):
            return _("steps the one-cycle schedule once per epoch: step it after every batch, and give it "
                     "total_steps = epochs × batches per epoch"), _LOOP
        if _same(rates, _one_cycle_rates(run.max_lr, epochs * n)[:len(rates)], rtol=1e-6, atol=1e-12):
            return _("gives the schedule total_steps = epochs × images: it counts batches, epochs × ceil(N / "
                     "batch_size)"), _LOOP
        return _("sets learning rates that are not the one-cycle schedule's: OneCycleLR(optimizer, max_lr=max_lr, "
                 "total_steps=epochs × ceil(N / batch_size)), stepped after every batch"), _LOOP
    if len(errors) != epochs or any(e["steps_before"] != (i + 1) * per_epoch for i, e in enumerate(errors)):
        return _("calls error {got} times: measure the validation error once after every epoch, {epochs} times here"
                 ).format(got=len(errors), epochs=epochs), _LOOP
    if not all(e["validation"] for e in errors):
        return _("measures the error on another set: pass the validation set, error(model, *validation_set)"), _LOOP
    if not isinstance(history, (list, tuple)) or len(history) != epochs:
        return _("returns {got}: return a list with one dictionary per epoch, {epochs} here").format(
            got=_short(history), epochs=epochs), _LOOP
    keys = ("epoch", "train_loss", "validation_error", "seconds")
    returned = [1.0 + 0.25 * (i % 4) for i in range(1, epochs * per_epoch + 1)]
    sizes = [min(b, n - k * b) for k in range(per_epoch)]
    for e, row in enumerate(history, start=1):
        if not isinstance(row, dict) or any(key not in row for key in keys):
            return _("returns a row without the keys {keys}: each epoch's dictionary holds epoch, train_loss, "
                     "validation_error and seconds").format(keys=", ".join(k for k in keys if not isinstance(row, dict)
                                                                           or k not in row)), _LOOP
        if _as_number(row["epoch"]) != e:
            if _as_number(row["epoch"]) == e - 1:
                return _("numbers the epochs from 0: the first epoch is epoch 1"), _LOOP
            return _("gives epoch {got} in row {row}: the epochs are numbered 1, 2, …").format(
                got=_short(row["epoch"]), row=e), _LOOP
        losses = returned[(e - 1) * per_epoch:e * per_epoch]
        mean = sum(losses) / len(losses)
        weighted = sum(loss * size for loss, size in zip(losses, sizes)) / n
        loss = _as_number(row["train_loss"])
        if loss is None or (abs(loss - mean) > 1e-6 and abs(loss - weighted) > 1e-6):
            if loss is not None and abs(loss - losses[-1]) <= 1e-6:
                return _("gives as train_loss the last step's loss: give the mean of the epoch's step losses"), _LOOP
            return _("gives a train_loss of {got} for epoch {epoch}, not the mean of the losses step returned in "
                     "that epoch").format(got=_short(row["train_loss"]), epoch=e), _LOOP
        if _as_number(row["validation_error"]) is None or abs(_as_number(row["validation_error"]) - 0.5 / e) > 1e-9:
            return _("gives a validation_error of {got} for epoch {epoch}, not what error(model, *validation_set) "
                     "returned after that epoch").format(got=_short(row["validation_error"]), epoch=e), _LOOP
    seconds = [_as_number(row["seconds"]) for row in history]
    if any(s is None for s in seconds):
        return _("gives seconds that are not numbers: the training time so far, in seconds"), _LOOP
    if max(seconds) >= _Clock.VALIDATION / 2:
        return _("counts the validation in the training time: stop the clock before error(...) and start it again "
                 "after, so that seconds is the training alone"), _LOOP
    timed = max(seconds) >= 0.5  # a clock of its own the check does not see (from time import ...) is let be
    if timed:
        for e, s in enumerate(seconds, start=1):
            if e > 1 and s < e * per_epoch * _Clock.STEP - 0.5:
                return _("gives each epoch's own time as seconds: give the training time so far, summed over the "
                         "epochs"), _LOOP
            if s < e * per_epoch * _Clock.STEP - 0.5:
                return _("times only part of the training: seconds must cover every step of the epoch"), _LOOP
    return None


_hints("fit",
       _("create Adam and the one-cycle schedule once, before the epochs; then, for each epoch: model.train(), every "
         "batch through step and then schedule.step(), and the validation error after the epoch."),
       _("an epoch has ceil(N / batch_size) batches, the last one smaller, so total_steps = epochs × "
         "math.ceil(len(labels) / batch_size); time the batches alone with time.perf_counter(), before and after "
         "the loop over the batches."),
       _("each row is a dictionary with the keys epoch (counted from 1), train_loss (the mean of the epoch's step "
         "losses), validation_error (error(model, *validation_set)) and seconds (the training time so far)."))


def fit(fn) -> CheckResult:
    """Check ``fn(model, train_set, validation_set, epochs, batch_size, max_lr, step, error)``: chapter 7's loop.

    The check runs ``fn`` on tiny data sets (tens of random images, epochs of
    batches that do and do not divide the set) with a stand-in network and its
    own ``step`` and ``error``, which record what ``fn`` does. It checks:

    * Adam, and the one-cycle schedule with ``total_steps`` = epochs ×
      ceil(N / batch_size), stepped once per batch (the learning rate at each
      step is OneCycleLR's);
    * every image through ``step`` once per epoch, in shuffled batches
      (``data.batches``), the network in training mode (``error`` leaves it in
      evaluation mode, as the chapter's does);
    * the validation error measured once after each epoch, on the validation set;
    * the returned list: one dictionary per epoch with ``epoch`` (from 1),
      ``train_loss`` (the mean of the step losses), ``validation_error`` and
      ``seconds``, the training time so far, the validation excluded (the check's
      clock says 1 s per step and 1,000 s per validation).

    An exception in ``fn`` is reported with the line of ``fn`` where it happened and, for
    the schedule's "Tried to step" error, what it means.

    Example:
        >>> import math, time
        >>> from lenet_helpers import data
        >>> def my_fit(model, train_set, validation_set, epochs, batch_size, max_lr, step, error):
        ...     images, labels = train_set
        ...     optimizer = torch.optim.Adam(model.parameters(), lr=max_lr)
        ...     schedule = torch.optim.lr_scheduler.OneCycleLR(
        ...         optimizer, max_lr=max_lr, total_steps=epochs * math.ceil(len(labels) / batch_size))
        ...     history, seconds = [], 0.0
        ...     for epoch in range(1, epochs + 1):
        ...         model.train()
        ...         start, losses = time.perf_counter(), []
        ...         for x, y in data.batches(images, labels, batch_size):
        ...             losses.append(float(step(model, optimizer, x, y)))
        ...             schedule.step()
        ...         seconds += time.perf_counter() - start
        ...         history.append({"epoch": epoch, "train_loss": sum(losses) / len(losses),
        ...                         "validation_error": error(model, *validation_set), "seconds": seconds})
        ...     return history
        >>> fit(my_fit).passed
        True
    """
    fn = _check_callable(fn)
    device = _core._device()
    keys = ("n", "batch_size", "epochs", "max_lr")
    cases = [dict(zip(keys, row)) for row in ((50, 16, 2, 0.01), (40, 8, 3, 0.02), (23, 10, 2, 0.05))]

    def probe(case):
        return _FitRun(fn, case["n"], case["batch_size"], case["epochs"], case["max_lr"], device, seed=7)

    def compare(run, _expected):
        return _fit_problem(run)

    def rounded_down(error, n, batch_size, epochs, max_lr):
        found = re.search(r"total steps is (\d+)", str(error))
        return "Tried to step" in str(error) and found is not None and \
            int(found.group(1)) == epochs * (n // batch_size)

    def stub(error, n, batch_size, epochs, max_lr):
        return isinstance(error, NotImplementedError)

    mistakes = [
        Mistake(_("rounds the number of batches down: an epoch has ceil(N / batch_size) batches, the last one smaller "
                  "(55,000 / 128 → 430 batches), so total_steps = epochs × math.ceil(len(labels) / batch_size); "
                  "rounded down, the schedule runs out before the last batch (\"Tried to step\")"), _LOOP,
                raises=rounded_down),
        Mistake(_("calls a function that raises NotImplementedError: use the step and error that fit is given, not "
                  "the blanks train_step and test_error"), _LOOP, raises=stub),
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run("fit", fn, cases, lambda n, batch_size, epochs, max_lr: None, compare, mistakes, probe=probe)
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------
# The target
# ---------------------------------------------------------------------------


def _validation_set():
    """The 5,000 validation digits of every chapter, prepared as the paper prepares them."""
    images, labels = _data.mnist_tensors(train=True)
    _train, validation = _data.split_validation(images, labels)
    return validation


def lenet5_target(model, seconds=None, solution_seconds=None) -> CheckResult:
    """Check your trained LeNet-5 against the capstone's target: its validation error, and the time it trained.

    The check runs ``model`` over the 5,000 validation digits of every chapter
    (``data.split_validation`` of ``data.mnist_tensors(train=True)``: 32×32,
    background −0.1, ink 1.175), 1,000 at a time, in evaluation mode and on
    the model's device; the smallest of the ten outputs wins. The target is
    a validation error of at most :data:`TARGET_ERROR` (2%) and, when
    ``seconds`` (the training time) and ``solution_seconds`` (the solution's own
    training time, measured on the same machine in the same session) are
    given, at most :data:`TIME_FACTOR` (2) times the solution's time. The test
    set is not used: measure the test error once, at the end.

    Shapes: model: N×1×32×32 -> N×10 penalties. seconds, solution_seconds: numbers, or None.

    Example:
        >>> import torch
        >>> untrained = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 10))
        >>> lenet5_target(untrained, seconds=1.0, solution_seconds=1.0).passed
        False
    """
    if not callable(model):
        raise TypeError(f"model must be your trained network (an nn.Module), got {type(model).__name__}")
    for name, value in (("seconds", seconds), ("solution_seconds", solution_seconds)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0):
            raise ValueError(f"{name} must be a training time in seconds (a number ≥ 0) or None, got {value!r}")
    images, labels = _validation_set()
    n = len(labels)
    who = _name_of(model)
    hint = _("  Hint: train longer or better: check each piece of the chapter (network, data, training step, loop), "
             "then look at the training log: does the validation error still fall at the end? Try more epochs or "
             "another peak learning rate, chosen on the validation set, never on the test set.")
    try:
        is_module = isinstance(model, nn.Module)
        device = _device_of(model) if is_module else torch.device("cpu")
        outputs = []
        with (_evaluating(model) if is_module else nullcontext()), torch.no_grad():
            for batch in images.split(1000):
                output = model(batch.to(device))
                if not isinstance(output, torch.Tensor):
                    return CheckResult("lenet5_target", False, Message("\n").join([_(
                        "✗ lenet5_target: {who} returned a {kind}, where a tensor of ten penalties per digit is "
                        "expected.").format(who=who, kind=type(output).__name__), hint]))
                outputs.append(output.detach().float().cpu())
        got = torch.cat(outputs)
    except Exception as error:  # the learner's network may fail in any way: report it, never raise
        return CheckResult("lenet5_target", False, _("✗ lenet5_target: {who} raised {error} on the validation "
                                                     "digits.").format(who=who, error=_core._error_text(error)))
    if tuple(got.shape) != (n, 10):
        return CheckResult("lenet5_target", False, _(
            "✗ lenet5_target: {who} returned shape {shape}, where ({n}, 10) is expected: ten penalties per digit."
        ).format(who=who, shape=tuple(got.shape), n=n))
    wrong = int(count_errors(-got, labels))  # penalties: the smallest wins
    error = wrong / n
    timed = seconds is not None and solution_seconds is not None
    budget = TIME_FACTOR * solution_seconds if timed else None
    slow = timed and seconds > budget
    measured = _("{who} gives a validation error of {error} ({wrong} of {n} digits; the target is at most {target})"
                 ).format(who=who, error=f"{error:.2%}", wrong=f"{wrong:,}", n=f"{n:,}", target=f"{TARGET_ERROR:.1%}")
    timing = _("trained in {seconds} s (at most {factor} × the solution's {solution} s on this machine, {budget} s)"
               ).format(seconds=f"{seconds:.1f}", factor=f"{TIME_FACTOR:g}", solution=f"{solution_seconds:.1f}",
                        budget=f"{budget:.1f}") if timed else None
    if error <= TARGET_ERROR and not slow:
        words = _("✓ lenet5_target: target met. {measured}").format(measured=measured)
        if timing is not None:
            words = words + _(", ") + timing
        return CheckResult("lenet5_target", True, words + _(". Well done! Now measure the test error, once."))
    if error <= TARGET_ERROR:
        return CheckResult("lenet5_target", False, Message("\n").join([_(
            "✗ lenet5_target: the validation error meets the target, but not the time. {measured}, {timing}."
        ).format(measured=measured, timing=timing), _(
            "  Hint: the time compares your code with the solution's on the same machine: look for work that the "
            "solution's loop does not do (the validation inside the timing, a .item() or a print at every step, data "
            "moved to the device at every batch).")]))
    words = _("✗ lenet5_target: target not met. {measured}").format(measured=measured)
    by_max = int(count_errors(got, labels)) / n
    if by_max < error / 2:
        words = words + _("; with the largest output winning it would be {error}: does your network give scores rather "
                          "than penalties? LeNet-5's smallest penalty wins").format(error=f"{by_max:.2%}")
    if slow:
        words = words + _("; and it {timing}, over the budget").format(timing=timing)
    return CheckResult("lenet5_target", False, Message("\n").join([words + _("."), hint]))
