"""Self-checks for chapter 5, training on MNIST.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`paper_normalization`     ``fn(images) -> tensor`` (N×28×28 in [0, 1] -> N×32×32, −0.1/1.175)
:func:`error_rate`              ``fn(scores, labels) -> number`` (fraction wrong)
:func:`confusion_matrix`        ``fn(y_true, y_pred, num_classes) -> tensor``
==============================  ===================================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import (
    CheckResult,
    _cases,
    _compare_scalar,
    _compare_tensor,
    _compare_with_mistakes,
    _Expected,
    _run,
)

__all__ = ["paper_normalization", "error_rate", "confusion_matrix"]


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
