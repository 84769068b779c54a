"""Self-checks for chapter 5, training on MNIST.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`paper_normalization`     ``fn(images) -> tensor`` (N×28×28 in [0, 1] -> N×32×32, −0.1/1.175)
:func:`error_rate`              ``fn(scores, labels) -> number`` (fraction wrong)
:func:`confusion_matrix`        ``fn(y_true, y_pred, num_classes) -> tensor``
:func:`train_epoch`             ``fn(model, optimizer, images, labels, batch_size) -> (mean loss, error rate)``
:func:`settled_after`           ``fn(errors, tolerance) -> int`` (the pass from which the error stays settled)
:func:`sdlm_step_sizes`         ``fn(h, eta, mu) -> tensor`` (SDLM's step ε_k = η/(μ + h_kk) of every parameter)
:func:`gauss_newton_diagonal`   ``fn(W1, b1, W2, b2, x, t) -> (h_W1, h_b1, h_W2, h_b2)`` (one hidden tanh layer)
==============================  ===================================================

Numeric questions for :func:`answer`: ``sdlm_largest_step`` (the largest step ε_k of the paper's first pass,
η = 0.0005, μ = 0.02) and ``sdlm_step_size`` (the step of a weight whose h_kk is 0.48 in that pass).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ._core import (
    CheckResult,
    _cases,
    _check_callable,
    _compare_int,
    _compare_scalar,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["paper_normalization", "error_rate", "confusion_matrix", "train_epoch", "settled_after", "sdlm_step_sizes",
           "gauss_newton_diagonal"]


def _first_pass():
    from .. import sdlm as _sdlm

    return _sdlm.paper_eta(1), _sdlm.PAPER_MU


#: Numeric questions of chapter 5 for :func:`~lenet_helpers.checks.answer`, computed from the paper's values
QUESTIONS = {
    "sdlm_largest_step": ("ε_k = η/(μ + h_kk) is largest where h_kk = 0: η/μ, with the first pass's η = 0.0005 and "
                          "μ = 0.02.", lambda: _first_pass()[0] / _first_pass()[1]),
    "sdlm_step_size": ("ε_k = η/(μ + h_kk) with η = 0.0005, μ = 0.02 and h_kk = 0.48: add μ to h_kk first.",
                       lambda: _first_pass()[0] / (_first_pass()[1] + 0.48)),
}


def paper_normalization(fn) -> CheckResult:
    """Check ``fn(images)``: MNIST digits prepared as in the paper (Sec. II-B), from pixels in [0, 1].

    Pad each 28×28 digit with 2 pixels of background on every side (32×32),
    then map the background (0) to −0.1 and the ink (1) to 1.175:
    x ↦ −0.1 + 1.275·x, padding included. Hidden cases: random and binary
    digits, a blank one and one that is all ink.

    Shapes: images: N×28×28 float in [0, 1] -> N×32×32.

    Example:
        >>> paper_normalization(lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1).passed
        True
    """
    from .. import data as _data

    g = torch.Generator().manual_seed(1998)
    low, high = _data.PAPER_BACKGROUND, _data.PAPER_FOREGROUND
    cases = [torch.rand(2, 28, 28, generator=g), (torch.rand(3, 28, 28, generator=g) > 0.8).float(),
             torch.zeros(1, 28, 28), torch.ones(1, 28, 28), torch.rand(5, 28, 28, generator=g) ** 4]
    cases = [{"images": x} for x in cases]

    def reference(images):
        padded = F.pad(images, (2, 2, 2, 2), value=0.0)
        value = low + (high - low) * padded
        standard = (padded - _data.MNIST_MEAN) / _data.MNIST_STD
        mistakes = {
            "padding with 0 after scaling (the padding is background: −0.1 once scaled)":
                F.pad(low + (high - low) * images, (2, 2, 2, 2), value=0.0),
            "MNIST's mean/std standardisation (this exercise asks for the paper's −0.1 and 1.175)": standard,
            "x ↦ −0.1 + 1.175·x, which sends the ink to 1.075 (the scale is 1.175 − (−0.1) = 1.275)":
                low + high * padded,
        }
        return _Expected(value, mistakes)

    def hint(args):
        n = args["images"].shape[0]
        return (f"pad 2 pixels on each side (28 + 2 + 2 = 32, so {n}×32×32), with the background's value, and map "
                "0 to −0.1 and 1 to 1.175: x ↦ −0.1 + 1.275·x. F.pad(images, (2, 2, 2, 2)) pads the last two dims.")

    return _run("paper_normalization", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


def error_rate(fn) -> CheckResult:
    """Check ``fn(scores, labels)``: the fraction of examples whose highest score is not their label.

    The predicted class of a row is the column with the largest score
    (``argmax``); the error rate is the fraction of rows where it differs from
    the label, a number between 0 and 1 (a float or a 0-d tensor). Hidden
    cases: all right, all wrong, and random scores. For ``LeNet5`` the scores are
    minus the RBF penalties (``model.scores``).

    Shapes: scores: N×classes float, labels: N class indices (int64) -> a number in [0, 1].

    Example:
        >>> error_rate(lambda scores, labels: (scores.argmax(dim=1) != labels).float().mean()).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def case(n, k):
        return {"scores": torch.randn(n, k, generator=g), "labels": torch.randint(0, k, (n,), generator=g)}

    eye = torch.eye(4) * 5
    cases = [case(8, 10), {"scores": eye, "labels": torch.arange(4)}, {"scores": eye, "labels": torch.tensor([1, 2, 3, 0])},
             case(7, 3), case(50, 10), case(1, 10)]

    def reference(scores, labels):
        wrong = (scores.argmax(dim=1) != labels).double()
        value = wrong.mean().item()
        mistakes = {"the accuracy (the fraction right); the error is 1 − accuracy": 1 - value,
                    "a percentage (return a fraction between 0 and 1)": 100 * value,
                    "the number of mistakes (divide by the number of examples)": wrong.sum().item(),
                    "argmin (these are scores: higher is better; argmin is for penalties)":
                        (scores.argmin(dim=1) != labels).double().mean().item()}
        return _Expected(value, mistakes)

    def hint(args):
        n = len(args["labels"])
        return (f"the predicted class of each of the {n} rows is scores.argmax(dim=1); the error rate is the fraction "
                "of rows where it differs from the label: (predicted != labels).float().mean().")

    return _run("error_rate", fn, cases, reference, _compare_with_mistakes(_compare_scalar), hint)


def confusion_matrix(fn) -> CheckResult:
    """Check ``fn(y_true, y_pred, num_classes)``: the confusion matrix, entry [i, j] = examples of class i predicted as j.

    Rows are the true classes, columns the predicted ones; the diagonal
    counts the right answers. Hidden cases: a small hand-made one, a class
    never predicted, a class that never occurs (the matrix is always
    num_classes × num_classes), and random labels.

    Shapes: y_true, y_pred: N class indices (int64), num_classes: int -> num_classes×num_classes counts.

    Example:
        >>> def counts(y_true, y_pred, num_classes):
        ...     return torch.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).view(num_classes, -1)
        >>> confusion_matrix(counts).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    keys = ("y_true", "y_pred", "num_classes")
    cases = _cases((torch.tensor([0, 1, 1, 2, 2, 2]), torch.tensor([0, 1, 0, 2, 1, 2]), 3),
                   (torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 1, 1]), 2),
                   (torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), 5),
                   (torch.randint(0, 10, (60,), generator=g), torch.randint(0, 10, (60,), generator=g), 10),
                   (torch.randint(0, 4, (9,), generator=g), torch.randint(0, 4, (9,), generator=g), 4), keys=keys)

    def reference(y_true, y_pred, num_classes):
        k = num_classes
        value = torch.bincount(y_true * k + y_pred, minlength=k * k).view(k, k).double()
        mistakes = {"the transpose (rows are the true classes, columns the predicted ones)": value.t()}
        return _Expected(value, mistakes)

    def hint(args):
        k = args["num_classes"]
        return (f"start from a {k}×{k} tensor of zeros (num_classes, even if some class never occurs) and add 1 at "
                "[true, predicted] for every example: rows are the true classes, columns the predicted ones.")

    return _run("confusion_matrix", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


class _Spec(NamedTuple):
    """A model or an optimiser that a hidden case builds afresh for every run; messages show ``text``."""

    text: str
    build: Callable

    def __repr__(self) -> str:
        return self.text


class _Trained(NamedTuple):
    """What one run of an epoch gives: the function's return value and the weights it left behind."""

    result: object
    weights: torch.Tensor


_ORDER_SEED = 5  # the global seed set just before the epoch, so that every run sees the batches in one order


def _fresh(model: _Spec, optimizer: _Spec):
    torch.manual_seed(1998)  # the same initial weights for every run of a case
    net = model.build()
    return net, optimizer.build(net.parameters())


def _weights(net) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def _reference_epoch(model, optimizer, images, labels, batch_size, *, zero_grad=True, shuffle=True,
                     mean_of_batches=False, raw_argmax=False, cross_entropy=False, after_step=False) -> _Trained:
    """The epoch as train.train runs it, or with one of the mistakes the flags name."""
    from .. import data as _data

    net, opt = _fresh(model, optimizer)
    torch.manual_seed(_ORDER_SEED)
    total, wrong, means = 0.0, 0, []
    for x, y in _data.batches(images, labels, batch_size, shuffle=shuffle):
        output = net(x)
        loss = F.cross_entropy(output, y) if cross_entropy else net.loss(output, y)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
        means.append(loss.item())
        if after_step:
            with torch.no_grad():
                output = net(x)
        scores = output if raw_argmax else net.scores(output)
        wrong += (scores.argmax(dim=1) != y).sum().item()
    n = len(labels)
    mean = sum(means) / len(means) if mean_of_batches else total / n
    return _Trained((mean, wrong / n), _weights(net))


def _compare_epoch(got: _Trained, expected: _Trained):
    result = got.result
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return f"returned a {type(result).__name__}, expected a pair (mean loss, error rate)"
    for what, got_one, expected_one in zip(("the mean loss", "the error rate"), result, expected.result):
        problem = _compare_scalar(got_one, expected_one)
        if problem is not None:
            return f"{what}: {problem}"
    if got.weights.shape != expected.weights.shape:
        return "changed the model's parameters' shapes"
    if not torch.allclose(got.weights, expected.weights, rtol=1e-4, atol=1e-5):
        gap = (got.weights - expected.weights).abs().max().item()
        return f"returned the right numbers, but the weights after the epoch differ from the reference's by up to {gap:.2g}"
    return None


def train_epoch(fn) -> CheckResult:
    """Check ``fn(model, optimizer, images, labels, batch_size)``: one epoch of training, as ``train.train`` runs it.

    For each mini-batch of ``data.batches(images, labels, batch_size)`` (shuffled: one
    random permutation per epoch): the output, the model's own loss
    ``model.loss(output, y)``, ``optimizer.zero_grad()``, ``loss.backward()``,
    ``optimizer.step()``. Return the pair (mean loss, error rate) over the epoch,
    as training went: the loss averaged over the *images* (each batch's loss weighted
    by its size) and the fraction of images whose prediction,
    ``model.scores(output).argmax(dim=1)``, was wrong when their batch was seen.
    The check runs the function on fresh models (``LeNet5`` and ``LeNet5Modern``) and
    optimisers, with the global seed set just before, and compares the pair and the
    weights it leaves with the course's own loop run from the same start.

    Shapes: images: N×1×32×32, labels: N class indices, batch_size: int -> (float, float).

    Example:
        >>> from lenet_helpers import data
        >>> def my_epoch(model, optimizer, images, labels, batch_size):
        ...     total, wrong = 0.0, 0
        ...     for x, y in data.batches(images, labels, batch_size):
        ...         output = model(x)
        ...         loss = model.loss(output, y)
        ...         optimizer.zero_grad()
        ...         loss.backward()
        ...         optimizer.step()
        ...         total += loss.item() * len(y)
        ...         wrong += (model.scores(output).argmax(dim=1) != y).sum().item()
        ...     return total / len(labels), wrong / len(labels)
        >>> train_epoch(my_epoch).passed
        True
    """
    from .. import models as _models

    fn = _check_callable(fn)
    g = torch.Generator().manual_seed(1998)

    def spec_model(name):
        return _Spec(f"{name}()", getattr(_models, name))

    def sgd(lr):
        return _Spec(f"SGD(lr={lr})", lambda params: torch.optim.SGD(params, lr=lr))

    def adam(lr):
        return _Spec(f"Adam(lr={lr})", lambda params: torch.optim.Adam(params, lr=lr))

    def digits(n):
        return torch.randn(n, 1, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    keys = ("model", "optimizer", "images", "labels", "batch_size")
    cases = _cases((spec_model("LeNet5Modern"), sgd(0.05), *digits(40), 16),
                   (spec_model("LeNet5"), sgd(0.05), *digits(40), 16),
                   (spec_model("LeNet5Modern"), adam(1e-3), *digits(24), 8),
                   (spec_model("LeNet5"), adam(1e-3), *digits(30), 30),
                   (spec_model("LeNet5"), sgd(0.1), *digits(21), 4), keys=keys)

    def run_learners(model, optimizer, images, labels, batch_size):
        net, opt = _fresh(model, optimizer)
        torch.manual_seed(_ORDER_SEED)
        result = fn(net, opt, images, labels, batch_size)
        return _Trained(result, _weights(net))

    def reference(model, optimizer, images, labels, batch_size):
        args = (model, optimizer, images, labels, batch_size)
        value = _reference_epoch(*args)
        n, several = len(labels), len(labels) > batch_size
        mistakes = {"the accuracy (the fraction right); the error rate is 1 − accuracy":
                    _Trained((value.result[0], 1 - value.result[1]), value.weights),
                    "the sum of the batch losses times their sizes (divide by the number of images)":
                    _Trained((value.result[0] * n, value.result[1]), value.weights)}
        if several:
            mistakes["a missing optimizer.zero_grad(): the gradients of all the batches so far add up"] = (
                _reference_epoch(*args, zero_grad=False))
            mistakes["the batches in the data's order: shuffle them, one random permutation per epoch "
                     "(data.batches does)"] = _reference_epoch(*args, shuffle=False)
        mistakes["predictions made after the step (count the mistakes of the output the loss was computed on, "
                 "before the weights changed)"] = _reference_epoch(*args, after_step=True)
        if n % batch_size:
            mistakes["the mean of the batch losses: the last, smaller batch counts as much as a full one "
                     "(weight each batch's loss by its size)"] = _reference_epoch(*args, mean_of_batches=True)
        if model.text == "LeNet5()":
            mistakes["the argmax of LeNet5's outputs, which are penalties: the smallest wins "
                     "(model.scores(output) turns them into scores)"] = _reference_epoch(*args, raw_argmax=True)
            mistakes["cross-entropy on LeNet5's penalties (use the model's own loss, model.loss: the MAP "
                     "criterion)"] = _reference_epoch(*args, cross_entropy=True)
        return _Expected(value, mistakes)

    def hint(args):
        return ("for each batch (x, y) of data.batches(images, labels, batch_size): output = model(x), "
                "loss = model.loss(output, y), then zero_grad, backward, step. Add loss.item() × len(y) to a total "
                "and count the wrong predictions, model.scores(output).argmax(dim=1) != y; divide both by the "
                f"{len(args['labels'])} images at the end.")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of a few images: one thread is as fast, and spares a busy machine
    try:
        return _run("train_epoch", run_learners, cases, reference, _compare_with_mistakes(_compare_epoch), hint)
    finally:
        torch.set_num_threads(threads)


def settled_after(fn) -> CheckResult:
    """Check ``fn(errors, tolerance)``: the first pass from which the error stays within ``tolerance`` of its last value.

    ``errors[i]`` is the error measured after pass ``i + 1``. The answer is the
    smallest pass ``p`` (counted from 1) such that every error from pass ``p`` to
    the last is within ``tolerance`` of the last pass's error,
    ``abs(errors[q - 1] - errors[-1]) <= tolerance`` for every ``q >= p``. An error
    that comes within the tolerance and then leaves it again has not settled yet.
    Hidden cases: a curve that settles, one that dips early and rises again, a
    constant one, a single pass, and one whose lowest point is not its last.

    Shapes: errors: a list of P numbers (P >= 1), tolerance: a number >= 0 -> an int in 1..P.

    Example:
        >>> def my_settled_after(errors, tolerance):
        ...     p = len(errors)
        ...     while p > 1 and abs(errors[p - 2] - errors[-1]) <= tolerance:
        ...         p -= 1
        ...     return p
        >>> settled_after(my_settled_after).passed
        True
    """
    keys = ("errors", "tolerance")
    cases = _cases(([5.0, 2.0, 1.4, 1.15, 1.05, 1.0, 1.02, 0.98, 1.0], 0.1),
                   ([3.0, 1.0, 2.0, 1.3, 1.05, 1.0], 0.1),
                   ([2.0, 0.8, 1.0, 1.0, 1.0], 0.1),
                   ([3.0, 2.0, 1.0], 0.5),
                   ([1.0, 1.0, 1.0], 0.0),
                   ([2.5], 0.1),
                   ([9.5, 2.7, 2.1, 1.75, 1.6, 1.5, 1.35, 1.3, 1.2, 1.1, 1.0, 0.97, 0.93, 0.9, 0.88], 0.15),
                   keys=keys)

    def settled(errors, tolerance, target):
        p = len(errors)
        while p > 1 and abs(errors[p - 2] - target) <= tolerance:
            p -= 1
        return p

    def reference(errors, tolerance):
        value = settled(errors, tolerance, errors[-1])
        first_within = next(i for i, e in enumerate(errors) if abs(e - errors[-1]) <= tolerance) + 1
        lowest = min(range(len(errors)), key=errors.__getitem__) + 1
        mistakes = {"a pass counted from 0 (the first pass is pass 1)": value - 1,
                    "the first pass that comes within the tolerance, although the error leaves it again later "
                    "(every pass from there on must stay within it)": first_within,
                    "the pass with the lowest error (the question is when the error stops changing)": lowest,
                    "settling around the lowest error (compare with the last pass's error)":
                        settled(errors, tolerance, min(errors))}
        return _Expected(value, {k: v for k, v in mistakes.items() if v != value})

    def hint(args):
        return (f"start from the last pass ({len(args['errors'])}) and walk backwards while the error stays within "
                f"{args['tolerance']} of the last pass's error; the answer is the earliest pass reached, counted from 1.")

    return _run("settled_after", fn, cases, reference, _compare_with_mistakes(_compare_int), hint)


def sdlm_step_sizes(fn) -> CheckResult:
    """Check ``fn(h, eta, mu)``: SDLM's step ε_k = η/(μ + h_kk) for every parameter (Appendix C).

    ``h`` holds the curvature estimates h_kk (a tensor of any shape, every entry ≥ 0),
    ``eta`` the global learning rate η and ``mu`` the paper's μ (numbers). Return a
    tensor shaped like ``h``: large steps where the loss is flat (h_kk small), small
    ones where it curves sharply, and never more than η/μ. Hidden cases: the paper's
    first and last η, h of zero, small and large values, and a 2-D tensor.

    Shapes: h: any shape, eta and mu: numbers -> a tensor shaped like h.

    Example:
        >>> sdlm_step_sizes(lambda h, eta, mu: eta / (mu + h)).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    keys = ("h", "eta", "mu")
    cases = _cases((torch.tensor([0.0, 0.005, 0.48, 7.1]), 0.0005, 0.02),
                   (torch.rand(3, 4, generator=g) * 2, 0.0002, 0.02),
                   (torch.tensor([0.0]), 1e-5, 0.02),
                   (torch.rand(6, generator=g) ** 3 * 10, 0.0005, 0.1), keys=keys)

    def reference(h, eta, mu):
        value = eta / (mu + h)
        mistakes = {"η/h: μ left out (a weight with h_kk = 0 would take an infinite step)": eta / h,
                    "η·(μ + h): ε_k divides η by μ + h_kk": eta * (mu + h),
                    "η/μ + h: add μ to h_kk first, then divide": eta / mu + h,
                    "η/(μ·h): μ is added to h_kk, not multiplied": eta / (mu * h)}
        return _Expected(value, mistakes)

    def hint(args):
        return (f"divide η = {args['eta']} by μ + h_kk, entry by entry: eta / (mu + h). Where h_kk = 0 the step is "
                f"η/μ = {args['eta'] / args['mu']:g}, the largest there can be.")

    return _run("sdlm_step_sizes", fn, cases, reference, _compare_with_mistakes(_compare_tensor), hint)


class _Diagonal(NamedTuple):
    """What a one-hidden-layer Gauss–Newton diagonal is: one tensor per parameter."""

    W1: torch.Tensor
    b1: torch.Tensor
    W2: torch.Tensor
    b2: torch.Tensor


def _one_hidden_layer_diagonal(W1, b1, W2, b2, x, t, *, square_weights=True, square_slope=True, square_inputs=True,
                               output_curvature=1.0) -> _Diagonal:
    """The Gauss–Newton diagonal for E = ½‖W2·tanh(W1·x + b1) + b2 − t‖², or with one of the mistakes the flags name."""
    u = torch.tanh(W1 @ x + b1)
    s_y = torch.full_like(b2, output_curvature)  # ∂²E/∂y² = 1 for ½‖y − t‖²
    s_u = (W2**2 if square_weights else W2).t() @ s_y  # back through the weights, squared
    slope = 1 - u**2
    s_a = (slope**2 if square_slope else slope) * s_u  # back through tanh, its slope squared
    inputs, hidden = (x**2, u**2) if square_inputs else (x, u)
    return _Diagonal(torch.outer(s_a, inputs), s_a, torch.outer(s_y, hidden), s_y)


def _exact_diagonal(W1, b1, W2, b2, x, t) -> _Diagonal:
    """The exact diagonal of the loss's Hessian, from autograd."""
    shapes = [W1.shape, b1.shape, W2.shape, b2.shape]
    sizes = [W1.numel(), b1.numel(), W2.numel(), b2.numel()]

    def loss(theta):
        w1, c1, w2, c2 = (part.view(shape) for part, shape in zip(theta.split(sizes), shapes))
        return 0.5 * ((w2 @ torch.tanh(w1 @ x + c1) + c2 - t) ** 2).sum()

    theta = torch.cat([W1.flatten(), b1, W2.flatten(), b2]).double()
    x, t = x.double(), t.double()
    diagonal = torch.autograd.functional.hessian(loss, theta).diagonal()
    return _Diagonal(*(part.view(shape).to(W1.dtype) for part, shape in zip(diagonal.split(sizes), shapes)))


def _compare_diagonal(got, expected: _Diagonal):
    if not isinstance(got, (tuple, list)) or len(got) != 4:
        return f"returned a {type(got).__name__}, expected four tensors (h_W1, h_b1, h_W2, h_b2)"
    for name, mine, right in zip(_Diagonal._fields, got, expected):
        problem = _compare_tensor(mine, right)
        if problem is not None:
            return f"h_{name}: {problem}"
    return None


def gauss_newton_diagonal(fn) -> CheckResult:
    """Check ``fn(W1, b1, W2, b2, x, t)``: the Gauss–Newton diagonal h_kk of a network with one hidden layer.

    The network is y = W2·u + b2 with u = tanh(a), a = W1·x + b1, for one sample x, and the
    loss E = ½‖y − t‖². Back-propagate second derivatives as the paper's Appendix C does,
    with squared weights and squared slopes: ∂²E/∂y_i² = 1 at the output;
    s_u_j = Σ_i W2_ij²·1; s_a_j = (1 − u_j²)²·s_u_j (the slope of tanh, squared); then
    h of a weight is the s of the unit it feeds times its input squared (h_W2_ij = u_j²,
    h_W1_jk = s_a_j·x_k²) and h of a bias is that unit's s. Return the four tensors, each
    shaped like its parameter. Hidden cases: networks of a few units with random weights,
    and one whose hidden units are saturated. (For W2 and b2 this is the exact second
    derivative; for W1 and b1 the exact one has one more term, f''(a)·∂E/∂u, which
    Gauss–Newton drops: it can be negative.)

    Shapes: W1: H×I, b1: H, W2: O×H, b2: O, x: I, t: O -> (H×I, H, O×H, O).

    Example:
        >>> def gn(W1, b1, W2, b2, x, t):
        ...     u = torch.tanh(W1 @ x + b1)
        ...     s_u = (W2 ** 2).sum(dim=0)              # s_y = 1 at every output
        ...     s_a = (1 - u ** 2) ** 2 * s_u
        ...     return torch.outer(s_a, x ** 2), s_a, (u ** 2).expand_as(W2), torch.ones_like(b2)
        >>> gauss_newton_diagonal(gn).passed
        True
    """
    g = torch.Generator().manual_seed(1998)

    def network(inputs, hidden, outputs, scale=1.0):
        return {"W1": scale * torch.randn(hidden, inputs, generator=g), "b1": torch.randn(hidden, generator=g),
                "W2": torch.randn(outputs, hidden, generator=g), "b2": torch.randn(outputs, generator=g),
                "x": torch.randn(inputs, generator=g), "t": torch.randn(outputs, generator=g)}

    cases = [network(2, 3, 1), network(3, 4, 2), network(5, 2, 3), network(4, 3, 2, scale=4.0), network(1, 1, 1)]

    def reference(W1, b1, W2, b2, x, t):
        args = (W1, b1, W2, b2, x, t)
        value = _one_hidden_layer_diagonal(*args)
        mistakes = {"the exact diagonal of the Hessian (Gauss–Newton drops the term f''(a)·∂E/∂u)": _exact_diagonal(*args),
                    "weights not squared on the way back (s_u = Σ_i W2_ij²·s_y_i)":
                        _one_hidden_layer_diagonal(*args, square_weights=False),
                    "the slope not squared (s_a = f'(a)²·s_u)": _one_hidden_layer_diagonal(*args, square_slope=False),
                    "inputs not squared (h of a weight is s of its unit times its input squared)":
                        _one_hidden_layer_diagonal(*args, square_inputs=False),
                    "∂²E/∂y² = 2, the curvature of ‖y − t‖² (the loss here is ½‖y − t‖², so it is 1)":
                        _one_hidden_layer_diagonal(*args, output_curvature=2.0)}
        return _Expected(value, mistakes)

    def hint(args):
        h, i = args["W1"].shape
        return (f"at the output s_y = 1 for each of the {len(args['b2'])} outputs; going down, s_u = (W2**2).t() @ s_y, "
                f"then s_a = (1 - u**2)**2 * s_u for the {h} hidden units; h_W1 = outer(s_a, x**2) ({h}×{i}), h_b1 = s_a, "
                "h_W2 = outer(s_y, u**2), h_b2 = s_y.")

    return _run("gauss_newton_diagonal", fn, cases, reference, _compare_with_mistakes(_compare_diagonal), hint)
