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


def epoch(model, optimizer, images, labels, batch_size, *, zero_grad=True, mean_of_batches=False, raw_argmax=False,
          shuffle=True):
    """One epoch written as a learner would, right by default; each flag is a typical mistake."""
    total, wrong, means = 0.0, 0, []
    batches = (data.batches(images, labels, batch_size) if shuffle
               else zip(images.split(batch_size), labels.split(batch_size)))
    for x, y in batches:
        output = model(x)
        loss = model.loss(output, y)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        means.append(loss.item())
        wrong += int(((output if raw_argmax else model.scores(output)).argmax(dim=1) != y).sum())
    return (sum(means) / len(means) if mean_of_batches else total / len(labels)), wrong / len(labels)


def settled_after(errors, tolerance):
    for p in range(1, len(errors) + 1):
        if all(abs(e - errors[-1]) <= tolerance for e in errors[p - 1:]):
            return p


def gn_diagonal(W1, b1, W2, b2, x, t, *, square_slope=True, exact=False):
    """The Gauss–Newton diagonal of a one-hidden-layer tanh network, as a learner would write it."""
    u = torch.tanh(W1 @ x + b1)
    s_u = (W2**2).sum(dim=0)
    slope = 1 - u**2
    s_a = (slope**2 if square_slope else slope) * s_u
    if exact:  # adds f''(a)·∂E/∂u: the exact second derivative
        dE_du = W2.t() @ (W2 @ u + b2 - t)
        s_a = s_a + (-2 * u * slope) * dE_du
    return torch.outer(s_a, x**2), s_a, (u**2).expand_as(W2).clone(), torch.ones_like(b2)


RIGHT = {
    checks.paper_normalization: lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1,
    checks.error_rate: lambda scores, labels: float((scores.argmax(dim=1) != labels).sum()) / len(labels),
    checks.confusion_matrix: confusion_loop,
    checks.train_epoch: epoch,
    checks.settled_after: settled_after,
    checks.sdlm_step_sizes: lambda h, eta, mu: eta / (mu + h),
    checks.gauss_newton_diagonal: gn_diagonal,
}

WRONG = {
    checks.paper_normalization: lambda images: F.pad(images * 1.275 - 0.1, (2, 2, 2, 2)),  # pads with 0, not -0.1
    checks.error_rate: lambda scores, labels: (scores.argmax(dim=1) == labels).float().mean(),  # the accuracy
    checks.confusion_matrix: lambda y_true, y_pred, num_classes: confusion_loop(y_pred, y_true, num_classes),
    checks.train_epoch: lambda *args: epoch(*args, zero_grad=False),  # the gradients add up
    checks.settled_after: lambda errors, tolerance: settled_after(errors, tolerance) - 1,  # counted from 0
    checks.sdlm_step_sizes: lambda h, eta, mu: eta / h,  # μ left out
    checks.gauss_newton_diagonal: lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t, square_slope=False),
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


@pytest.mark.parametrize("mistake, words", [
    (dict(mean_of_batches=True), "mean of the batch losses"),
    (dict(raw_argmax=True), "penalties"),
    (dict(shuffle=False), "shuffle"),
    (dict(zero_grad=False), "zero_grad"),
])
def test_train_epoch_names_each_typical_mistake(mistake, words):
    result = checks.train_epoch(lambda *args: epoch(*args, **mistake))
    assert not result.passed and words in result.message, result.message


def test_train_epoch_recognises_other_mistakes():
    def cross_entropy(model, optimizer, images, labels, batch_size):
        total, wrong = 0.0, 0
        for x, y in data.batches(images, labels, batch_size):
            output = model(x)
            loss = F.cross_entropy(output, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            wrong += int((model.scores(output).argmax(dim=1) != y).sum())
        return total / len(labels), wrong / len(labels)

    def accuracy(*args):
        loss, error = epoch(*args)
        return loss, 1 - error

    def summed(*args):
        loss, error = epoch(*args)
        return loss * len(args[3]), error

    for wrong, words in ((cross_entropy, "cross-entropy on LeNet5's penalties"), (accuracy, "accuracy"),
                         (lambda *args: epoch(*args)[0], "expected a pair"), (summed, "sum of the batch losses")):
        result = checks.train_epoch(wrong)
        assert not result.passed and words in result.message, result.message


def test_train_epoch_sees_the_weights_not_only_the_numbers():
    def right_numbers_no_step(model, optimizer, images, labels, batch_size):
        before = [p.detach().clone() for p in model.parameters()]
        numbers = epoch(model, optimizer, images, labels, batch_size)
        with torch.no_grad():
            for p, q in zip(model.parameters(), before):
                p.copy_(q)  # undo the training
        return numbers

    result = checks.train_epoch(right_numbers_no_step)
    assert not result.passed and "weights after the epoch differ" in result.message, result.message


def test_train_epoch_matches_the_courses_loop():
    """The reference is train.train's epoch: same weights and the same row (loss, error) from the same start."""
    torch.manual_seed(0)
    x, y = torch.randn(40, 1, 32, 32), torch.randint(0, 10, (40,))
    runs = []
    for run in ("train.train", "learner"):
        torch.manual_seed(1)
        model = models.LeNet5()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        torch.manual_seed(2)
        if run == "train.train":
            row = train.train(model, (x, y), optimizer=optimizer, batch_size=16, device="cpu", progress=False)[0]
            numbers = (row.train_loss, row.train_error)
        else:
            numbers = epoch(model, optimizer, x, y, 16)
        runs.append((numbers, torch.cat([p.detach().flatten() for p in model.parameters()])))
    (ours, weights), (theirs, their_weights) = runs
    assert ours == pytest.approx(theirs, rel=1e-5) and torch.allclose(weights, their_weights, atol=1e-6)


@pytest.mark.parametrize("wrong, words", [
    (lambda errors, tolerance: next(i + 1 for i, e in enumerate(errors) if abs(e - errors[-1]) <= tolerance),
     "leaves it again"),
    (lambda errors, tolerance: min(range(len(errors)), key=errors.__getitem__) + 1, "lowest error"),
    (lambda errors, tolerance: settled_after(errors[:-1] + [min(errors)], tolerance), "around the lowest error"),
    (lambda errors, tolerance: float(settled_after(errors, tolerance)), "return an int"),
])
def test_settled_after_names_each_typical_mistake(wrong, words):
    result = checks.settled_after(wrong)
    assert not result.passed and words in result.message, result.message


def test_settled_after_on_the_benchmarks_curves():
    """A sanity check of the reference on real curves: a pass between 1 and 20."""
    from lenet_helpers.results import bench_results

    run = bench_results("cpu")["faithful_modern"]["runs"][0]
    assert 1 <= settled_after(run["test_error_per_pass"], 0.001) <= len(run["test_error_per_pass"])


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


# ---------------------------------------------------------------------------
# The SDLM exercises: ε_k by hand, and the Gauss–Newton diagonal of a small network
# ---------------------------------------------------------------------------


def test_sdlm_questions_are_the_papers_numbers():
    from lenet_helpers import sdlm

    assert checks.answer("sdlm_largest_step", sdlm.paper_eta(1) / sdlm.PAPER_MU).passed
    assert checks.answer("sdlm_largest_step", 0.025).passed
    assert checks.answer("sdlm_step_size", 0.0005 / 0.5).passed
    assert not checks.answer("sdlm_step_size", 0.0005 / 0.48).passed  # μ left out


@pytest.mark.parametrize("wrong, words", [
    (lambda h, eta, mu: eta / h, "μ left out"),
    (lambda h, eta, mu: eta * (mu + h), "divides η"),
    (lambda h, eta, mu: eta / mu + h, "add μ to h_kk first"),
    (lambda h, eta, mu: eta / (mu * h), "not multiplied"),
    (lambda h, eta, mu: float(eta / (mu + h).sum()), "expected a tensor"),
])
def test_sdlm_step_sizes_names_each_typical_mistake(wrong, words):
    result = checks.sdlm_step_sizes(wrong)
    assert not result.passed and words in result.message, result.message


def test_sdlm_step_sizes_is_the_courses_sdlm():
    """The reference is what sdlm.SDLM.step_sizes computes from an h."""
    from lenet_helpers import sdlm

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    opt = sdlm.SDLM.from_model(net, lr=0.0005, mu=0.02)
    h = {"0.weight": torch.rand(2, 3), "0.bias": torch.zeros(2)}
    opt.set_curvature(h)
    for name, steps in opt.step_sizes().items():
        torch.testing.assert_close(steps, RIGHT[checks.sdlm_step_sizes](h[name], 0.0005, 0.02))


@pytest.mark.parametrize("wrong, words", [
    (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t, square_slope=False), "slope not squared"),
    (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t, exact=True), "exact diagonal of the Hessian"),
    (lambda W1, b1, W2, b2, x, t: tuple(2 * v for v in gn_diagonal(W1, b1, W2, b2, x, t)), "½‖y − t‖²"),
    (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t)[:2], "expected four tensors"),
    (lambda W1, b1, W2, b2, x, t: (abs(W1), b1, W2, b2), "h_W1"),
])
def test_gauss_newton_diagonal_names_each_typical_mistake(wrong, words):
    result = checks.gauss_newton_diagonal(wrong)
    assert not result.passed and words in result.message, result.message


def test_gauss_newton_diagonal_is_the_courses_sdlm_and_exact_where_it_should_be():
    """The reference is sdlm.gauss_newton_diagonal on nn.Sequential(Linear, Tanh, Linear) with loss="mse"; for
    the output layer it is the exact diagonal of the Hessian, for the hidden one it is not."""
    from lenet_helpers import sdlm
    from lenet_helpers.checks.training import _exact_diagonal

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    x, t = torch.randn(3), torch.randn(2)
    W1, b1, W2, b2 = (p.detach() for p in net.parameters())
    ours = gn_diagonal(W1, b1, W2, b2, x, t)
    course = sdlm.gauss_newton_diagonal(net, x[None], t[None], loss="mse")
    for mine, name in zip(ours, ("0.weight", "0.bias", "2.weight", "2.bias")):
        torch.testing.assert_close(mine, course[name])
    exact = _exact_diagonal(W1, b1, W2, b2, x, t)
    torch.testing.assert_close(ours[2], exact.W2) and torch.testing.assert_close(ours[3], exact.b2)
    assert not torch.allclose(ours[0], exact.W1)
