"""Self-checks for chapter 5, training on MNIST.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`paper_normalization`     ``fn(images) -> tensor`` (N×28×28 in [0, 1] -> N×32×32, −0.1/1.175)
:func:`error_rate`              ``fn(scores, labels) -> number`` (fraction wrong)
:func:`confusion_matrix`        ``fn(y_true, y_pred, num_classes) -> tensor``
:func:`train_epoch`             ``fn(model, optimizer, images, labels, batch_size) -> (mean loss, error rate)``
:func:`settled_after`           ``fn(errors, tolerance) -> int`` (the pass from which the error stays settled)
==============================  ===================================================
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ..language import Message, _
from . import _core
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

__all__ = ["paper_normalization", "error_rate", "confusion_matrix", "train_epoch", "settled_after"]

_PREPROCESSING = _section(5, _("The paper's preprocessing"))
_LOOP = _section(5, _("The loop, from scratch"))
_PASSES = _section(5, _("Choosing the number of passes"))
_WRONG = _section(5, _("Where it goes wrong"))

_STANDARD = _("uses MNIST's mean/std standardisation, (x − 0.1307) / 0.3081, the tutorials' choice: the paper maps "
              "the background to −0.1 and the ink to 1.175")

_hints("paper_normalization",
       _("two steps: pad each 28×28 digit with 2 pixels of background on every side (32×32), then map the background "
         "(0) to −0.1 and the ink (1) to 1.175."),
       _("pad first, while the background is still 0, so that the padding is scaled with the rest of the "
         "background; the straight line through (0, −0.1) and (1, 1.175) is x ↦ −0.1 + 1.275·x."),
       _("F.pad(images, (2, 2, 2, 2)) pads the last two dimensions with 0; then −0.1 + 1.275 * padded. Keep the "
         "float32 dtype."))


def _pad(images):
    return F.pad(images, (2, 2, 2, 2), value=0.0)


def _paper_mistakes(section):
    from .. import data as _data

    low, high = _data.PAPER_BACKGROUND, _data.PAPER_FOREGROUND
    return [
        Mistake(_("pads with 0 after scaling: the padding is background, −0.1 once scaled (pad first, then scale)"),
                section, lambda images: _pad(low + (high - low) * images)),
        Mistake(_STANDARD, section, lambda images: (_pad(images) - _data.MNIST_MEAN) / _data.MNIST_STD),
        Mistake(_STANDARD, section, lambda images: _pad((images - _data.MNIST_MEAN) / _data.MNIST_STD)),
        Mistake(_("maps x to −0.1 + 1.175·x, which sends the ink to 1.075: the scale is 1.175 − (−0.1) = 1.275"),
                section, lambda images: low + high * _pad(images)),
        Mistake(_("forgets the padding: LeNet-5 reads 32×32 images, the 28×28 digit with 2 pixels of background on "
                  "every side"), section, lambda images: low + (high - low) * images),
        Mistake(_("pads 4 pixels on one side of each dimension: pad 2 on every side, so that the digit stays centred"),
                section, lambda images: low + (high - low) * F.pad(images, (0, 4, 0, 4))),
    ]


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
        return low + (high - low) * _pad(images)

    return _run("paper_normalization", fn, cases, reference, _compare_tensor,
                _paper_mistakes(_PREPROCESSING))


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
