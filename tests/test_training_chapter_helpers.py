"""Chapter 5's self-checks (its helpers have their own tests: test_evaluation.py, test_results.py)."""

import json
import os

import pytest
import torch
import torch.nn.functional as F

from lenet_helpers import checks, data, models, plots, train

# ---------------------------------------------------------------------------
# The self-checks of chapter 5
# ---------------------------------------------------------------------------


def confusion_loop(y_true, y_pred, num_classes):
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        matrix[t, p] += 1
    return matrix


RIGHT = {
    checks.paper_normalization: lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1,
    checks.error_rate: lambda scores, labels: float((scores.argmax(dim=1) != labels).sum()) / len(labels),
    checks.confusion_matrix: confusion_loop,
}

WRONG = {
    checks.paper_normalization: lambda images: F.pad(images * 1.275 - 0.1, (2, 2, 2, 2)),  # pads with 0, not -0.1
    checks.error_rate: lambda scores, labels: (scores.argmax(dim=1) == labels).float().mean(),  # the accuracy
    checks.confusion_matrix: lambda y_true, y_pred, num_classes: confusion_loop(y_pred, y_true, num_classes),
}


def test_the_references_are_the_courses_own_code():
    # the paper's preprocessing is what data.mnist_tensors does to the real digits
    from torchvision.datasets import MNIST

    raw = data.prepare_mnist().parent.parent
    digits = MNIST(str(raw), train=False, download=False).data[:16].float() / 255
    expected, _ = data.mnist_tensors(train=False)
    assert torch.allclose(RIGHT[checks.paper_normalization](digits), expected[:16, 0], atol=1e-5)
    # the confusion matrix is plots.confusion_matrix, the error rate is evaluate()'s
    assert checks.confusion_matrix(plots.confusion_matrix).passed
    torch.manual_seed(0)
    x, y = torch.randn(40, 1, 32, 32), torch.randint(0, 10, (40,))
    model = models.LeNet5()
    with torch.no_grad():
        scores = model.scores(model(x))
    assert RIGHT[checks.error_rate](scores, y) == pytest.approx(train.evaluate(model, (x, y)).error)


def test_other_mistakes_are_recognised():
    standard = checks.paper_normalization(
        lambda images: F.pad((images - data.MNIST_MEAN) / data.MNIST_STD, (2, 2, 2, 2), value=-data.MNIST_MEAN / data.MNIST_STD))
    assert not standard.passed and "standardisation" in standard.message
    no_padding = checks.paper_normalization(lambda images: images * 1.275 - 0.1)
    assert not no_padding.passed and "expected (2, 32, 32)" in no_padding.message
    for wrong, words in ((lambda scores, labels: 100 * (scores.argmax(1) != labels).float().mean(), "percentage"),
                         (lambda scores, labels: (scores.argmin(1) != labels).float().mean(), "argmin"),
                         (lambda scores, labels: (scores.argmax(1) != labels).sum(), "number of mistakes")):
        result = checks.error_rate(wrong)
        assert not result.passed and words in result.message, result.message
    too_small = checks.confusion_matrix(
        lambda y_true, y_pred, num_classes: confusion_loop(y_true, y_pred, int(max(y_true.max(), y_pred.max())) + 1))
    assert not too_small.passed and "returned shape" in too_small.message


def test_the_learners_inputs_cannot_spoil_the_reference():
    def vandal(images):
        images.fill_(7.0)  # changes its own copy only
        return F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1

    assert not checks.paper_normalization(vandal).passed
    assert checks.paper_normalization(RIGHT[checks.paper_normalization]).passed


def test_passing_something_that_is_not_a_function_is_a_clear_error():
    for check in RIGHT:
        with pytest.raises(TypeError, match="pass the function itself"):
            check(0.5)
