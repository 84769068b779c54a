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

from ..language import Message, _
from . import _core
from ._preprocessing import pad, paper_mistakes
from ._core import (
    CheckResult,
    Mistake,
    _cases,
    _check_callable,
    _compare_int,
    _compare_scalar,
    _compare_tensor,
    _hints,
    _run,
    _same,
    _section,
)

__all__ = ["paper_normalization", "error_rate", "confusion_matrix", "train_epoch", "settled_after", "sdlm_step_sizes",
           "gauss_newton_diagonal"]


def _first_pass():
    from .. import sdlm as _sdlm

    return _sdlm.paper_eta(1), _sdlm.PAPER_MU


#: Numeric questions of chapter 5 for :func:`~lenet_helpers.checks.answer`, computed from the paper's values
QUESTIONS = {
    "sdlm_largest_step": (_("ε_k = η/(μ + h_kk) is largest where h_kk = 0: η/μ, with the first pass's η = 0.0005 "
                            "and μ = 0.02."), lambda: _first_pass()[0] / _first_pass()[1]),
    "sdlm_step_size": (_("ε_k = η/(μ + h_kk) with η = 0.0005, μ = 0.02 and h_kk = 0.48: add μ to h_kk first."),
                       lambda: _first_pass()[0] / (_first_pass()[1] + 0.48)),
}

_PREPROCESSING = _section(5, _("The paper's preprocessing"))
_LOOP = _section(5, _("The loop, from scratch"))
_PASSES = _section(5, _("Choosing the number of passes"))
_WRONG = _section(5, _("Where it goes wrong"))

_hints("paper_normalization",
       _("two steps: pad each 28×28 digit with 2 pixels of background on every side (32×32), then map the background "
         "(0) to −0.1 and the ink (1) to 1.175."),
       _("pad first, while the background is still 0, so that the padding is scaled with the rest of the "
         "background; the straight line through (0, −0.1) and (1, 1.175) is x ↦ −0.1 + 1.275·x."),
       _("F.pad(images, (2, 2, 2, 2)) pads the last two dimensions with 0; then −0.1 + 1.275 * padded. Keep the "
         "float32 dtype."))


def paper_normalization(fn) -> CheckResult:
    """Check ``fn(images)``: MNIST digits prepared as in the paper (Sec. II-B), from pixels in [0, 1].

    Pad each 28×28 digit with 2 pixels of background on every side (32×32),
    then map the background (0) to −0.1 and the ink (1) to 1.175:
    x ↦ −0.1 + 1.275·x, padding included. Hidden cases: random and binary
    digits, a blank one and one that is all ink. The result keeps the input's
    float32 dtype, and ``fn`` leaves its input as it was.

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
        return low + (high - low) * pad(images)

    return _run("paper_normalization", fn, cases, reference, _compare_tensor,
                paper_mistakes(_PREPROCESSING))


_hints("error_rate",
       _("the predicted class of a row is the column with the largest score; the error rate is the fraction of "
         "rows where it is not the label."),
       _("scores.argmax(dim=1) gives the N predictions; compare them with the labels and average: a number "
         "between 0 and 1."),
       _("(scores.argmax(dim=1) != labels).float().mean(), or its .item()."))


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

    def wrong(scores, labels):
        return (scores.argmax(dim=1) != labels).double()

    def reference(scores, labels):
        return wrong(scores, labels).mean().item()

    mistakes = [
        Mistake(_("gives the accuracy (the fraction right): the error rate is 1 − accuracy"), _WRONG,
                lambda scores, labels: 1 - reference(scores, labels)),
        Mistake(_("gives a percentage: return a fraction between 0 and 1"), _WRONG,
                lambda scores, labels: 100 * reference(scores, labels) if reference(scores, labels) else None),
        Mistake(_("gives the number of mistakes: divide by the number of examples"), _WRONG,
                lambda scores, labels: wrong(scores, labels).sum().item() if len(labels) > 1 else None),
        Mistake(_("takes the argmin: these are scores, higher is better (argmin is for penalties)"), _WRONG,
                lambda scores, labels: (scores.argmin(dim=1) != labels).double().mean().item()),
    ]
    return _run("error_rate", fn, cases, reference, _compare_scalar, mistakes)


_hints("confusion_matrix",
       _("the matrix is num_classes × num_classes, even if some class never occurs; entry [i, j] counts the examples "
         "of class i predicted as j."),
       _("start from zeros and add 1 at [true, predicted] for every example: rows are the true classes, columns the "
         "predicted ones."),
       _("matrix = torch.zeros(k, k, dtype=torch.long); for t, p in zip(y_true.tolist(), y_pred.tolist()): "
         "matrix[t, p] += 1."))


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
        return torch.bincount(y_true * k + y_pred, minlength=k * k).view(k, k).double()

    def too_small(y_true, y_pred, num_classes):
        k = int(max(y_true.max(), y_pred.max())) + 1
        return reference(y_true, y_pred, k) if k < num_classes else None

    mistakes = [
        Mistake(_("gives the transpose: rows are the true classes, columns the predicted ones"), _WRONG,
                lambda y_true, y_pred, num_classes: reference(y_true, y_pred, num_classes).t()),
        Mistake(_("sizes the matrix from the classes it sees: it is num_classes × num_classes, even when a class "
                  "never occurs"), _WRONG, too_small),
        Mistake(_("divides each row by its total: the matrix counts examples"), _WRONG,
                lambda y_true, y_pred, num_classes: torch.nan_to_num(
                    reference(y_true, y_pred, num_classes)
                    / reference(y_true, y_pred, num_classes).sum(dim=1, keepdim=True))),
        Mistake(_("counts only the mistakes: the diagonal counts the examples predicted right"), _WRONG,
                lambda y_true, y_pred, num_classes: reference(y_true, y_pred, num_classes).fill_diagonal_(0)
                if bool((y_true == y_pred).any()) else None),
    ]

    def compare(got, expected):
        return _core._compare_counts(got, expected)

    return _run("confusion_matrix", fn, cases, reference, compare, mistakes)


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


def _fresh(model: _Spec, optimizer: _Spec, device):
    torch.manual_seed(1998)  # the same initial weights for every run of a case
    net = model.build().to(device)
    return net, optimizer.build(net.parameters())


def _weights(net) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()]).cpu()


def _reference_epoch(model, optimizer, images, labels, batch_size, *, device=None, zero_grad=True, shuffle=True,
                     mean_of_batches=False, raw_argmax=False, cross_entropy=False, after_step=False,
                     error_of_batches=False) -> _Trained:
    """The epoch as train.train runs it, or with one of the mistakes the flags name."""
    from .. import data as _data

    device = device or _core._device()
    net, opt = _fresh(model, optimizer, device)
    images, labels = images.to(device), labels.to(device)
    torch.manual_seed(_ORDER_SEED)
    total, wrong, means, errors = 0.0, 0, [], []
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
        batch_wrong = (scores.argmax(dim=1) != y).sum().item()
        wrong += batch_wrong
        errors.append(batch_wrong / len(y))
    n = len(labels)
    mean = sum(means) / len(means) if mean_of_batches else total / n
    error = sum(errors) / len(errors) if error_of_batches else wrong / n
    return _Trained((mean, error), _weights(net))


def _same_epoch(got, expected) -> bool:
    return (isinstance(got, _Trained) and isinstance(got.result, (tuple, list)) and len(got.result) == 2
            and _same(got.result[0], expected.result[0]) and _same(got.result[1], expected.result[1])
            and got.weights.shape == expected.weights.shape
            and bool(torch.allclose(got.weights, expected.weights, rtol=1e-4, atol=1e-5)))


def _compare_epoch(got: _Trained, expected: _Trained):
    result = got.result
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return _("returned a {kind}, where a pair (mean loss, error rate) is expected").format(
            kind=type(result).__name__)
    for what, got_one, expected_one in zip((_("the mean loss"), _("the error rate")), result, expected.result):
        problem = _compare_scalar(got_one, expected_one)
        if problem is not None:
            return Message(what, ": ", problem)
    if got.weights.shape != expected.weights.shape:
        return _("changed the shapes of the model's parameters")
    if not torch.allclose(got.weights, expected.weights, rtol=1e-4, atol=1e-5):
        gap = (got.weights - expected.weights).abs().max().item()
        return _("returned the right numbers, but the weights after the epoch differ from the reference's by up to "
                 "{gap}").format(gap=f"{gap:.2g}")
    return None


_hints("train_epoch",
       _("for each batch of data.batches(images, labels, batch_size): the output, the model's own loss, "
         "zero_grad, backward, step; count the loss and the mistakes as you go."),
       _("the mean loss weights each batch's loss by its size (loss.item() × len(y), divided by the number of "
         "images); a mistake is model.scores(output).argmax(dim=1) != y, on the output the loss was computed on."),
       _("total += loss.item() * len(y); wrong += (model.scores(output).argmax(dim=1) != y).sum().item(); return "
         "total / len(labels), wrong / len(labels)."))


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
    weights it leaves with the course's own loop run from the same start. The models
    and the images are on the device the chapters train on (``train.device()``).

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
    device = _core._device()
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

    def probe(case):
        net, opt = _fresh(case["model"], case["optimizer"], device)
        images, labels = case["images"].to(device), case["labels"].to(device)
        torch.manual_seed(_ORDER_SEED)
        result = fn(net, opt, images, labels, case["batch_size"])
        return _Trained(result, _weights(net))

    def reference(model, optimizer, images, labels, batch_size):
        return _reference_epoch(model, optimizer, images, labels, batch_size, device=device)

    def variant(when=None, **flags):
        def gives(model, optimizer, images, labels, batch_size):
            if when is not None and not when(model, labels, batch_size):
                return None
            return _reference_epoch(model, optimizer, images, labels, batch_size, device=device, **flags)
        return gives

    def changed(how):
        def gives(model, optimizer, images, labels, batch_size):
            right = reference(model, optimizer, images, labels, batch_size)
            return _Trained(how(right.result, len(labels)), right.weights)
        return gives

    def several(model, labels, batch_size):
        return len(labels) > batch_size

    def uneven(model, labels, batch_size):
        return len(labels) % batch_size != 0

    def penalties(model, labels, batch_size):
        return model.text == "LeNet5()"

    mistakes = [
        Mistake(_("gives the accuracy (the fraction right): the error rate is 1 − accuracy"), _LOOP,
                changed(lambda result, n: (result[0], 1 - result[1]))),
        Mistake(_("gives the sum of the batch losses times their sizes: divide by the number of images"), _LOOP,
                changed(lambda result, n: (result[0] * n, result[1]))),
        Mistake(_("forgets optimizer.zero_grad(): the gradients of all the batches so far add up"), _LOOP,
                variant(several, zero_grad=False)),
        Mistake(_("takes the batches in the data's order: shuffle them, one random permutation per epoch "
                  "(data.batches does)"), _LOOP, variant(several, shuffle=False)),
        Mistake(_("counts the mistakes of predictions made after the step: count those of the output the loss was "
                  "computed on, before the weights changed"), _LOOP, variant(after_step=True)),
        Mistake(_("averages the batch losses: the last, smaller batch counts as much as a full one (weight each "
                  "batch's loss by its size)"), _LOOP, variant(uneven, mean_of_batches=True)),
        Mistake(_("averages the batches' error rates: the last, smaller batch counts as much as a full one (count "
                  "the mistakes, then divide by the number of images)"), _LOOP, variant(uneven, error_of_batches=True)),
        Mistake(_("takes the argmax of LeNet5's outputs, which are penalties: the smallest wins (model.scores(output) "
                  "turns them into scores)"), _LOOP, variant(penalties, raw_argmax=True)),
        Mistake(_("uses cross-entropy on LeNet5's penalties: use the model's own loss, model.loss (the MAP "
                  "criterion)"), _LOOP, variant(penalties, cross_entropy=True)),
    ]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of a few images: one thread is as fast, and spares a busy machine
    try:
        return _run("train_epoch", fn, cases, reference, _compare_epoch, mistakes, probe=probe, same=_same_epoch)
    finally:
        torch.set_num_threads(threads)


_hints("settled_after",
       _("the answer is a pass counted from 1; every error from that pass to the last must stay within the "
         "tolerance of the last pass's error."),
       _("walk backwards from the last pass while the error stays within the tolerance of the last one: the error "
         "may come within the tolerance early and leave it again."),
       _("p = len(errors); while p > 1 and abs(errors[p - 2] − errors[−1]) <= tolerance: p −= 1; return p."))


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
        return settled(errors, tolerance, errors[-1])

    def unless_right(value_of):
        def gives(errors, tolerance):
            value = value_of(errors, tolerance)
            return value if value != reference(errors, tolerance) else None
        return gives

    mistakes = [
        Mistake(_("counts the passes from 0: the first pass is pass 1"), _PASSES,
                lambda errors, tolerance: reference(errors, tolerance) - 1),
        Mistake(_("gives the first pass that comes within the tolerance, although the error leaves it again later: "
                  "every pass from there on must stay within it"), _PASSES, unless_right(
                    lambda errors, tolerance: next(i for i, e in enumerate(errors)
                                                   if abs(e - errors[-1]) <= tolerance) + 1)),
        Mistake(_("gives the pass with the lowest error: the question is when the error stops changing"), _PASSES,
                unless_right(lambda errors, tolerance: min(range(len(errors)), key=errors.__getitem__) + 1)),
        Mistake(_("measures the settling around the lowest error: compare with the last pass's error"), _PASSES,
                unless_right(lambda errors, tolerance: settled(errors, tolerance, min(errors)))),
        Mistake(_("compares neighbouring passes with each other: compare every pass with the last one"), _PASSES,
                unless_right(lambda errors, tolerance: next(
                    (p for p in range(1, len(errors) + 1)
                     if all(abs(errors[q] - errors[q - 1]) <= tolerance for q in range(p, len(errors)))),
                    len(errors)))),
    ]
    return _run("settled_after", fn, cases, reference, _compare_int, mistakes)


_SDLM = _section(5, _("The paper's own optimiser"))
_SECOND = _section(5, _("Second derivatives, back-propagated"))

_hints("sdlm_step_sizes",
       _("each parameter k gets its own step: the global rate η divided by μ + h_kk, entry by entry."),
       _("μ is added to h_kk, then η is divided by the sum: where h_kk = 0 the step is η/μ, the largest there can be."),
       _("eta / (mu + h): a tensor shaped like h."))


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
        return eta / (mu + h)

    mistakes = [
        Mistake(_("leaves μ out, η/h_kk: a weight with h_kk = 0 would take an infinite step"), _SDLM,
                lambda h, eta, mu: eta / h),
        Mistake(_("multiplies, η·(μ + h_kk): ε_k divides η by μ + h_kk"), _SDLM, lambda h, eta, mu: eta * (mu + h)),
        Mistake(_("computes η/μ + h_kk: add μ to h_kk first, then divide"), _SDLM, lambda h, eta, mu: eta / mu + h),
        Mistake(_("computes η/(μ·h_kk): μ is added to h_kk, not multiplied"), _SDLM,
                lambda h, eta, mu: eta / (mu * h)),
    ]
    return _run("sdlm_step_sizes", fn, cases, reference, _compare_tensor, mistakes)


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
        return _("returned a {kind}, where four tensors are expected (h_W1, h_b1, h_W2, h_b2)").format(
            kind=type(got).__name__)
    for name, mine, right in zip(_Diagonal._fields, got, expected):
        problem = _compare_tensor(mine, right)
        if problem is not None:
            return _("h_{name}: {problem}").format(name=name, problem=problem)
    return None


_hints("gauss_newton_diagonal",
       _("go down the network with second derivatives instead of gradients: at the output s_y = 1 (the loss is "
         "½‖y − t‖²), then through W2 with its weights squared, then through tanh with its slope squared."),
       _("s_u = (W2**2).t() @ s_y, s_a = (1 − u**2)**2 * s_u; the h of a weight is the s of the unit it feeds times "
         "its input squared, the h of a bias is that unit's s."),
       _("h_W1 = outer(s_a, x**2), h_b1 = s_a, h_W2 = outer(s_y, u**2), h_b2 = s_y."))


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
        return _one_hidden_layer_diagonal(W1, b1, W2, b2, x, t)

    def variant(**flags):
        return lambda W1, b1, W2, b2, x, t: _one_hidden_layer_diagonal(W1, b1, W2, b2, x, t, **flags)

    mistakes = [
        Mistake(_("gives the exact diagonal of the Hessian: Gauss–Newton drops the term f''(a)·∂E/∂u"), _SECOND,
                _exact_diagonal),
        Mistake(_("does not square the weights on the way back: s_u = Σ_i W2_ij²·s_y_i"), _SECOND,
                variant(square_weights=False)),
        Mistake(_("does not square the slope: s_a = f'(a)²·s_u"), _SECOND, variant(square_slope=False)),
        Mistake(_("does not square the inputs: the h of a weight is the s of its unit times its input squared"),
                _SECOND, variant(square_inputs=False)),
        Mistake(_("takes ∂²E/∂y² = 2, the curvature of ‖y − t‖²: the loss here is ½‖y − t‖², so it is 1"), _SECOND,
                variant(output_curvature=2.0)),
    ]
    return _run("gauss_newton_diagonal", fn, cases, reference, _compare_diagonal, mistakes)
