"""Self-checks for chapter 7, the capstone: LeNet-5 assembled and trained by the learner.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`lenet5_shapes`           ``fn() -> nn.Module`` (your network: each layer's output shape)
:func:`lenet5_parameters`       ``fn() -> nn.Module`` (your network: 60,000 parameters, layer by layer)
:func:`paper_inputs`            ``fn(images) -> tensor`` (N×1×28×28 in [0, 1] -> N×1×32×32, −0.1/1.175)
:func:`train_step`              ``fn(model, optimizer, x, y) -> loss`` (one step on the MAP loss)
:func:`rbf_test_error`          ``fn(model, images, labels) -> number`` (smallest penalty wins)
:func:`lenet5_target`           ``model`` (your trained network) and its training time: the target
==============================  ===================================================

The capstone's target is one pair of constants, :data:`TARGET_ERROR` and :data:`TARGET_SECONDS`: the
chapter states them and :func:`lenet5_target` judges a run against them.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import data as _data
from .. import layers as _layers
from ..modules import device_of as _device_of
from ..modules import evaluating as _evaluating
from ._core import (
    CheckResult,
    _check_callable,
    _compare_scalar,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
    _short,
)

__all__ = ["lenet5_shapes", "lenet5_parameters", "paper_inputs", "train_step", "rbf_test_error", "lenet5_target"]

TARGET_ERROR = 0.015  #: the capstone's target: a test error of at most 1.5% ...
TARGET_SECONDS = 60.0  #: ... after at most 60 s of training on the book's 2-core CPU

#: The seven layers of LeNet-5 (Sec. II-B, Fig. 2), in order: the names the capstone's skeleton uses.
LAYERS = ("C1", "S2", "C3", "S4", "C5", "F6", "output")


def _reference_network() -> nn.Module:
    """The course's faithful LeNet-5 (``models.LeNet5``), imported late: models imports nothing from checks."""
    from .. import models

    with torch.random.fork_rng(devices=[]):
        return models.LeNet5()


def _check_maker(fn, name: str) -> None:
    """A network check takes the class (or a function that makes the network), not a network."""
    if isinstance(fn, nn.Module):
        raise TypeError(f"fn must make your network: pass the class itself, {name}({type(fn).__name__}), "
                        f"not a network already made, {name}({type(fn).__name__}())")
    _check_callable(fn)


def _make(fn, name: str) -> nn.Module:
    """``fn()``, which must give an ``nn.Module``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        model = fn()
    if not isinstance(model, nn.Module):
        raise TypeError(f"fn() must give your network, an nn.Module; it gave a {type(model).__name__} "
                        f"(pass the class itself: {name}(MyLeNet5), not {name}(MyLeNet5()))")
    return model


def _shape(t) -> str:
    return "×".join(map(str, t)) if t else "a single number"


# ---------------------------------------------------------------------------
# The network: shapes and parameters
# ---------------------------------------------------------------------------

#: What a wrong output shape of a layer usually means.
_SHAPE_MISTAKES = {
    ("C1", (6, 32, 32)): "a padded C1 (LeNet-5's convolutions have no padding: the input is already 32×32)",
    ("C3", (16, 14, 14)): "a padded C3 (no padding: a 5×5 convolution takes 14×14 maps to 10×10)",
    ("C5", (16, 1, 1)): "C5 with 16 maps (it has 120)",
    ("F6", (120,)): "no linear layer in F6 (F6 maps C5's 120 values to 84)",
    ("output", (84,)): "no output layer (ten RBF units: EuclideanRBF(rbf_codes()))",
}


def _expected_shapes() -> dict[str, tuple]:
    from .. import models

    return {row.layer: tuple(row.output_shape) for row in models.trace_shapes(_reference_network(), (1, 32, 32))
            if row.layer in LAYERS}


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

    def probe(x):
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
        missing = [name for name in LAYERS if name not in got["children"]]
        if missing:
            return (f"gives a network without a layer called {', '.join(missing)} (it has: "
                    f"{', '.join(got['children']) or 'no layers'}); keep the skeleton's seven names, "
                    f"{', '.join(LAYERS)}, so that the check can find them")
        for name in LAYERS:
            if name not in got["calls"]:
                if got["error"] is not None:
                    error = got["error"]
                    return (f"raised {type(error).__name__} in layer {name} or just before it: {error} "
                            "(the layers before it give the right shapes)")
                return f"never runs layer {name} in forward: forward must run C1, S2, C3, S4, C5, F6, output in turn"
            output = got["calls"][name]
            if not isinstance(output, torch.Tensor):
                return f"has a layer {name} that returns a {type(output).__name__}, not a tensor"
            shape = tuple(output.shape)
            if shape == want[name] or (name == "C5" and shape == want[name][:2]):
                continue
            problem = f"has a layer {name} whose output is {_shape(shape[1:])} per image, expected {_shape(want[name][1:])}"
            if shape[:1] != (got["n"],):
                return f"{problem} (and the first dimension must stay the batch, {got['n']})"
            mistake = _SHAPE_MISTAKES.get((name, shape[1:]))
            return problem + (f"; it matches {mistake}" if mistake else "")
        if got["error"] is not None:
            return f"raised {type(got['error']).__name__} after the output layer: {got['error']}"
        out = got["out"]
        if not isinstance(out, torch.Tensor) or out.shape != got["calls"]["output"].shape or \
                not torch.equal(out, got["calls"]["output"]):
            return "gives a network whose forward does not return the output layer's result (return the ten penalties)"
        return None

    def hint(args):
        return ("a 5×5 convolution without padding takes 4 pixels off the side (32→28 in C1, 14→10 in C3, 5→1 in C5); "
                "a 2×2 subsampling halves it (28→14 in S2, 10→5 in S4); F6 flattens C5's 120×1×1 maps and maps "
                "them to 84 values; the output layer gives one penalty per class, 10.")

    return _run("lenet5_shapes", probe, cases, reference, compare, hint)


#: What a wrong parameter count of a layer usually means: (layer, count) -> the mistake.
def _parameter_mistakes(expected: dict[str, int]) -> dict[tuple[str, int], str]:
    c3_dense = 16 * (6 * 25 + 1)
    return {
        ("C3", c3_dense): "a dense C3, every map seeing all six S2 maps; C3 follows Table I: PartialConv2d(C3_TABLE, 5)",
        ("S2", 0): "a pooling without parameters; S2 has a trainable coefficient and bias per map: Subsampling(6)",
        ("S4", 0): "a pooling without parameters; S4 has a trainable coefficient and bias per map: Subsampling(16)",
        ("output", 84 * 10 + 10): "a linear output layer; the output is ten RBF units with fixed centres: "
                                  "EuclideanRBF(rbf_codes())",
        ("output", 84 * 10): "trainable RBF centres; the paper's codes are fixed (a buffer, not a parameter)",
        ("F6", expected["F6"] - 84): "F6 without biases",
        ("C1", expected["C1"] - 6): "C1 without biases",
    }


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

    def count(module):
        return sum(p.numel() for p in module.parameters() if p.requires_grad)

    want = {name: count(layer) for name, layer in reference_model.named_children()}
    want["total"] = count(reference_model)
    mistakes = _parameter_mistakes(want)

    def probe():
        model = _make(fn, "lenet5_parameters")
        children = dict(model.named_children())
        got = {name: count(children[name]) for name in LAYERS if name in children}
        got["total"] = count(model)
        got["children"] = list(children)
        return got

    def reference():
        return want

    def compare(got, want):
        missing = [name for name in LAYERS if name not in got["children"]]
        if missing:
            return (f"gives a network without a layer called {', '.join(missing)}; keep the skeleton's seven names, "
                    f"{', '.join(LAYERS)}, so that the check can count each layer")
        for name in LAYERS:
            if got[name] != want[name]:
                mistake = mistakes.get((name, got[name]))
                return (f"has {got['total']:,} trainable parameters, expected {want['total']:,}: layer {name} has "
                        f"{got[name]:,}, expected {want[name]:,}" + (f"; it matches {mistake}" if mistake else ""))
        if got["total"] != want["total"]:
            extra = got["total"] - sum(got[name] for name in LAYERS)
            return (f"has {got['total']:,} trainable parameters, expected {want['total']:,}: {extra:,} of them are "
                    "outside the seven layers (a parameter of the network itself?)")
        return None

    def hint(args):
        return ("C1: 6 kernels 5×5 + 6 biases; S2, S4: one coefficient and one bias per map; C3: one 5×5 kernel per X "
                "of Table I + 16 biases; C5: 120 kernels 16×5×5 + biases; F6: 120·84 weights + 84 biases; the output "
                "layer's ten codes are fixed, so it has none (chapter 3 counts them all).")

    return _run("lenet5_parameters", probe, [{}], reference, compare, hint)


# ---------------------------------------------------------------------------
# The data: the paper's preprocessing
# ---------------------------------------------------------------------------


def paper_inputs(fn) -> CheckResult:
    """Check ``fn(images)``: a batch of MNIST digits prepared as LeNet-5 reads them (Sec. II-B).

    From raw digits with pixels in [0, 1] (0 the background, 1 the ink):
    pad 2 pixels of background on every side (28×28 -> 32×32), then map
    the background to −0.1 and the ink to 1.175, x ↦ −0.1 + 1.275·x,
    padding included. The channel dimension stays. Hidden cases: random and
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
        padded = F.pad(images, (2, 2, 2, 2), value=0.0)
        value = low + (high - low) * padded
        mistakes = {
            "padding with 0 after scaling (the padding is background: −0.1 once scaled)":
                F.pad(low + (high - low) * images, (2, 2, 2, 2), value=0.0),
            "MNIST's mean/std standardisation (LeNet-5 reads the paper's −0.1 and 1.175)":
                (padded - _data.MNIST_MEAN) / _data.MNIST_STD,
            "x ↦ −0.1 + 1.175·x, which sends the ink to 1.075 (the scale is 1.175 − (−0.1) = 1.275)":
                low + high * padded,
            "the digits without padding (LeNet-5 reads 32×32 images)": low + (high - low) * images,
        }
        return _Expected(value, mistakes)

    def hint(args):
        n = args["images"].shape[0]
        return (f"pad 2 pixels on each side of the last two dimensions (28 + 2 + 2 = 32, so {n}×1×32×32) with the "
                "background's value, and map 0 to −0.1 and 1 to 1.175: x ↦ −0.1 + 1.275·x. "
                "F.pad(images, (2, 2, 2, 2)) pads the last two dimensions.")

    return _run("paper_inputs", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


# ---------------------------------------------------------------------------
# Training: one step on the MAP loss
# ---------------------------------------------------------------------------

_STEP_CASES = (("LeNet-5, seed 0", "SGD, lr=0.01", 0), ("LeNet-5, seed 1", "SGD, lr=0.01", 1),
               ("LeNet-5, seed 2", "Adam, lr=0.001", 2))


def _plain_lenet5(seed: int) -> nn.Module:
    """The faithful LeNet-5 as a plain nn.Sequential: no ``loss`` or ``scores`` methods to lean on."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(OrderedDict(_reference_network().named_children()))


def _optimizer_for(model: nn.Module, description: str) -> torch.optim.Optimizer:
    if description.startswith("SGD"):
        return torch.optim.SGD(model.parameters(), lr=0.01)
    return torch.optim.Adam(model.parameters(), lr=1e-3)


def _as_number(value):
    """A loss as a float, or None if it is not one number."""
    if isinstance(value, torch.Tensor):
        return value.detach().double().item() if value.numel() == 1 else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _steps(step, seed: int, optimizer_name: str, x, y, calls: int = 2) -> dict:
    """Make the case's network and optimiser, call ``step`` ``calls`` times on (x, y); say what happened."""
    model = _plain_lenet5(seed)
    optimizer = _optimizer_for(model, optimizer_name)
    start = _weights(model)
    losses, returned = [], []   # the MAP loss of the batch before each call, and what the call returned
    for _ in range(calls):
        with torch.no_grad():
            losses.append(_layers.map_loss(model(x), y).item())
        returned.append(step(model, optimizer, x.clone(), y.clone()))
    with torch.no_grad():
        after = _layers.map_loss(model(x), y).item()
    return {"returned": returned, "losses": losses, "before": losses[0], "after": after, "start": start,
            "weights": _weights(model), "n": len(y)}


def _step_with(loss_of, zero_grad: bool = True):
    def step(model, optimizer, x, y):
        loss = loss_of(model(x), y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _sum_map_loss(penalties, y):
    return _layers.map_loss(penalties, y) * len(y)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5)


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
    optimiser steps on the MAP loss do.

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
    g = torch.Generator().manual_seed(1998)
    seeds, cases = {}, []
    for seed, optimizer_name in enumerate(("SGD, lr=0.01", "SGD, lr=0.01", "Adam, lr=0.001")):
        model_name = f"LeNet-5, seed {seed}"
        seeds[model_name] = seed
        x = (torch.rand(8, 1, 32, 32, generator=g) > 0.7).float() * 1.275 - 0.1   # blobs of ink, as the paper scales it
        cases.append({"model": model_name, "optimizer": optimizer_name, "x": x,
                      "y": torch.randint(0, 10, (8,), generator=g)})

    def probe(model, optimizer, x, y):
        return _steps(fn, seeds[model], optimizer, x, y)

    def reference(model, optimizer, x, y):
        seed = seeds[model]
        wrong = {
            "two steps without optimizer.zero_grad() in between: the second step adds the old gradients to the new":
                _step_with(_layers.map_loss, zero_grad=False),
            "cross-entropy on the penalties, which treats them as scores: it pushes the correct class's penalty "
            "up, where the MAP loss of eq. (9) pulls it down": _step_with(F.cross_entropy),
            "cross-entropy on minus the penalties: close, but eq. (9) also has the rubbish class's e^(−j) in the "
            "sum (layers.map_loss)": _step_with(lambda p, t: F.cross_entropy(-p, t)),
            "the loss summed over the batch: eq. (9) here is the mean over the batch (layers.map_loss)":
                _step_with(_sum_map_loss),
        }
        mistakes = {why: _steps(step, seed, optimizer, x, y)["weights"] for why, step in wrong.items()}
        return _Expected(_steps(_step_with(_layers.map_loss), seed, optimizer, x, y), mistakes)

    def compare(got, expected):
        right = expected.value
        if not _close(got["weights"], right["weights"]):
            if got["after"] >= got["before"]:
                problem = (f"did not lower the MAP loss of the fixed batch (before the two calls {got['before']:.4g}, "
                           f"after {got['after']:.4g}; two right steps give {right['after']:.4g})")
            else:
                problem = (f"lowered the loss of the fixed batch (from {got['before']:.4g} to {got['after']:.4g}), "
                           f"but not as two optimiser steps on the MAP loss do (to {right['after']:.4g})")
            if torch.equal(got["weights"], got["start"]):
                return problem + "; the weights did not change at all: call loss.backward(), then optimizer.step()"
            for why, weights in expected.mistakes.items():
                if _close(got["weights"], weights):
                    return f"{problem}; it matches {why}"
            return problem
        for call, (value, loss) in enumerate(zip(got["returned"], got["losses"]), start=1):
            number = _as_number(value)
            if number is None:
                return (f"returned {_short(value)} at call {call}, expected the loss, one number (loss.item(), or "
                        "the 0-d tensor itself); the steps themselves are right")
            if abs(number - loss) > 1e-4 + 1e-4 * abs(loss):
                problem = (f"returned {number:.6g} at call {call}, expected {loss:.6g}, the MAP loss of the batch "
                           "before the step (the steps themselves are right)")
                if abs(number - loss * got["n"]) <= 1e-4 * abs(loss) * got["n"]:
                    problem += "; it matches the loss summed over the batch (return the mean, the loss you step on)"
                return problem
        return None

    def hint(args):
        return ("penalties = model(x); loss = map_loss(penalties, y) (eq. 9, the mean over the batch); "
                "optimizer.zero_grad(); loss.backward(); optimizer.step(); return loss.item(). "
                "Use the model and the optimizer you are given.")

    return _run("train_step", probe, cases, reference, compare, hint)


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


def rbf_test_error(fn) -> CheckResult:
    """Check ``fn(model, images, labels)``: the error rate of a LeNet-5 on a set of images, from its RBF penalties.

    The network's output is ten penalties per image, and the smallest
    penalty wins (Sec. II-B): the predicted class is ``argmin``. The error
    is the fraction of images whose predicted class is not their label, a
    number between 0 and 1 (a float or a 0-d tensor). Evaluate in
    evaluation mode (``model.eval()``) and without gradients
    (``torch.no_grad()``), with the images on the model's device. Hidden
    cases: stand-in networks (in training mode when ``fn`` gets them), with
    labels that make the error 0, 1 or in between.

    Shapes: images: N×1×32×32, labels: N class indices (int64) -> a number in [0, 1].

    Example:
        >>> def error(model, images, labels):
        ...     model.eval()
        ...     with torch.no_grad():
        ...         return (model(images).argmin(dim=1) != labels).float().mean().item()
        >>> rbf_test_error(error).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(seed, n, wrong):
        model = _FixedPenalties(seed)
        images = torch.rand(n, 1, 32, 32, generator=g) * 1.275 - 0.1
        with torch.no_grad():
            labels = model.eval()(images).argmin(dim=1)
        model.train()
        flip = torch.randperm(n, generator=g)[:wrong]
        labels[flip] = (labels[flip] + torch.randint(1, 10, (wrong,), generator=g)) % 10
        return {"model": model, "images": images, "labels": labels}

    cases = [case(0, 8, 3), case(1, 40, 6), case(2, 5, 0), case(3, 4, 4), case(4, 1, 1)]

    def reference(model, images, labels):
        with _evaluating(model), torch.no_grad():
            penalties = model(images)
        with torch.no_grad():
            training = model(images)
        wrong = penalties.argmin(dim=1) != labels
        value = wrong.double().mean().item()
        mistakes = {
            "the largest penalty winning (argmax); LeNet-5's output is a penalty: the smallest wins (argmin)":
                (penalties.argmax(dim=1) != labels).double().mean().item(),
            "the accuracy (the fraction right); the error is 1 − accuracy": 1 - value,
            "a percentage (return a fraction between 0 and 1)": 100 * value,
            "the number of mistakes (divide by the number of images)": wrong.sum().item(),
            "the network in training mode: call model.eval() before evaluating":
                (training.argmin(dim=1) != labels).double().mean().item(),
        }
        return _Expected(value, mistakes)

    def hint(args):
        n = len(args["labels"])
        return (f"with model.eval() and torch.no_grad(): penalties = model(images) ({n}×10); the prediction is "
                "penalties.argmin(dim=1), the smallest penalty; the error is (prediction != labels).float().mean().")

    return _run("rbf_test_error", fn, cases, reference, _compare_with_mistakes(_compare_scalar), hint)


# ---------------------------------------------------------------------------
# The target
# ---------------------------------------------------------------------------


def lenet5_target(model, seconds=None) -> CheckResult:
    """Check your trained LeNet-5 against the capstone's target: its test error, and the time it trained.

    The check runs ``model`` over MNIST's 10,000 test digits, prepared as the
    paper prepares them (``data.mnist_tensors(train=False)``: 32×32,
    background −0.1, ink 1.175), 1,000 at a time, in evaluation mode and on
    the model's device; the smallest of the ten outputs wins. The target is
    a test error of at most :data:`TARGET_ERROR` (1.5%) and, when
    ``seconds`` (the training time) is given, at most :data:`TARGET_SECONDS`
    (60 s) of training. The time is for the book's 2-core CPU: a slower or
    busier machine needs longer, a GPU far less.

    Shapes: model: N×1×32×32 -> N×10 penalties. seconds: a number, or None.

    Example:
        >>> import torch
        >>> untrained = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 10))
        >>> lenet5_target(untrained, seconds=1.0).passed
        False
    """
    if not callable(model):
        raise TypeError(f"model must be your trained network (an nn.Module), got {type(model).__name__}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or seconds < 0):
        raise ValueError(f"seconds must be the training time in seconds (a number ≥ 0) or None, got {seconds!r}")
    images, labels = _data.mnist_tensors(train=False)
    measured = {}

    def probe(x):
        is_module = isinstance(model, nn.Module)
        device = _device_of(model) if is_module else torch.device("cpu")
        outputs = []
        with (_evaluating(model) if is_module else nullcontext()), torch.no_grad():
            for batch in x.split(1000):
                output = model(batch.to(device))
                if not isinstance(output, torch.Tensor):
                    return output
                outputs.append(output.detach().float().cpu())
        return torch.cat(outputs)

    def compare(got, labels):
        n = len(labels)
        if not isinstance(got, torch.Tensor):
            return f"returned a {type(got).__name__}, expected a tensor of {n}×10 penalties"
        if tuple(got.shape) != (n, 10):
            return f"returned shape {tuple(got.shape)}, expected ({n}, 10): ten penalties per digit"
        wrong = int((got.argmin(dim=1) != labels).sum())
        measured["error"], measured["wrong"] = wrong / n, wrong
        if wrong / n <= TARGET_ERROR:
            return None
        problem = (f"gives a test error of {wrong / n:.2%} ({wrong:,} of {n:,} digits), above the target of "
                   f"{TARGET_ERROR:.1%}")
        by_max = int((got.argmax(dim=1) != labels).sum()) / n
        if by_max < wrong / n / 2:
            problem += (f"; with the largest output winning it would be {by_max:.2%}: does your network give scores "
                        "rather than penalties? LeNet-5's smallest penalty wins")
        return problem

    def hint(args):
        return ("train longer or better: check each step of the chapter (network, data, training step), then look at "
                "the training log: does the validation error still fall at the end? More epochs, or another peak "
                "learning rate, chosen on the validation set, not on the test set.")

    result = _run("lenet5_target", probe, [{"x": images}], lambda x: labels, compare, hint)
    slow = seconds is not None and seconds > TARGET_SECONDS
    timing = "" if seconds is None else f", in {seconds:.1f} s of training"
    budget = "" if seconds is None else f" (at most {TARGET_SECONDS:g} s)"
    if result.passed and not slow:
        error = measured["error"]
        return result._replace(message=f"✓ lenet5_target: target met, every criterion passes: test error {error:.2%} "
                                       f"({measured['wrong']} of {len(labels):,} digits, at most {TARGET_ERROR:.1%})"
                                       f"{timing}{budget}. Well done!")
    if result.passed:
        error = measured["error"]
        return CheckResult("lenet5_target", False, (
            f"✗ lenet5_target: the test error, {error:.2%}, meets the target (at most {TARGET_ERROR:.1%}), but the "
            f"training took {seconds:.1f} s, over the {TARGET_SECONDS:g} s budget.\n  Hint: the budget is for the book's "
            "2-core CPU; on a slower or busier machine the same run takes longer (on a GPU, far less). If this machine "
            "is as fast, make each epoch cheaper (larger batches) or train fewer epochs."))
    message = result.message.replace("0 of 1 cases pass. ", "target not met. ")
    if slow:
        message = message.replace("\n  Hint:", f"; and the training took {seconds:.1f} s, over the "
                                                f"{TARGET_SECONDS:g} s budget.\n  Hint:", 1)
    return result._replace(message=message)
