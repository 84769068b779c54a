"""The self-checks of chapter 5 (training on MNIST): a right answer with parameters named as the learner likes, and
the typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import pytest
import torch
import torch.nn.functional as F

from lenet_helpers import checks, data, evaluation, models, plots, train


def confusion_loop(truth, guess, k):
    matrix = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(truth.tolist(), guess.tolist()):
        matrix[t, p] += 1
    return matrix


def epoch(net, opt, xs, ys, size, *, zero_grad=True, mean_of_batches=False, raw_argmax=False, shuffle=True,
          error_of_batches=False):
    """One epoch written as a learner would, right by default; each flag is a typical mistake."""
    total, wrong, means, rates = 0.0, 0, [], []
    batches = data.batches(xs, ys, size) if shuffle else zip(xs.split(size), ys.split(size))
    for x, y in batches:
        output = net(x)
        loss = net.loss(output, y)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
        means.append(loss.item())
        batch_wrong = int(((output if raw_argmax else net.scores(output)).argmax(dim=1) != y).sum())
        wrong += batch_wrong
        rates.append(batch_wrong / len(y))
    loss = sum(means) / len(means) if mean_of_batches else total / len(ys)
    return loss, (sum(rates) / len(rates) if error_of_batches else wrong / len(ys))


def epoch_with_cross_entropy(model, optimizer, images, labels, batch_size):
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


def settled(history, within):
    for p in range(1, len(history) + 1):
        if all(abs(e - history[-1]) <= within for e in history[p - 1:]):
            return p


def standardised(images):  # the tutorials' normalisation
    return F.pad((images - 0.1307) / 0.3081, (2, 2, 2, 2), value=-0.1307 / 0.3081)


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
    checks.paper_normalization: lambda digits: F.pad(digits, (2, 2, 2, 2)) * 1.275 - 0.1,
    checks.error_rate: lambda logits, truth: float((logits.argmax(dim=1) != truth).sum()) / len(truth),
    checks.confusion_matrix: confusion_loop,
    checks.train_epoch: epoch,
    checks.settled_after: settled,
    checks.sdlm_step_sizes: lambda curvature, rate, damping: rate / (damping + curvature),
    checks.gauss_newton_diagonal: gn_diagonal,
}

WRONG = {
    checks.paper_normalization: [
        (lambda images: F.pad(images * 1.275 - 0.1, (2, 2, 2, 2)), ["pads with 0 after scaling"]),
        (standardised, ["(x − 0.1307) / 0.3081", "−0.1", "1.175"]),
        (lambda images: F.pad(images, (2, 2, 2, 2)) * 1.175 - 0.1, ["1.275"]),
        (lambda images: images * 1.275 - 0.1, ["forgets the padding"]),
        (lambda images: (F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1).double(), ["float64"]),
    ],
    checks.error_rate: [
        (lambda scores, labels: (scores.argmax(dim=1) == labels).float().mean(), ["accuracy"]),
        (lambda scores, labels: 100 * (scores.argmax(1) != labels).float().mean(), ["percentage"]),
        (lambda scores, labels: (scores.argmin(1) != labels).float().mean(), ["argmin"]),
        (lambda scores, labels: (scores.argmax(1) != labels).sum(), ["number of mistakes"]),
    ],
    checks.confusion_matrix: [
        (lambda y_true, y_pred, num_classes: confusion_loop(y_pred, y_true, num_classes), ["transpose"]),
        (lambda y_true, y_pred, num_classes: confusion_loop(y_true, y_pred, int(max(y_true.max(), y_pred.max())) + 1),
         ["num_classes × num_classes"]),
        (lambda y_true, y_pred, num_classes: torch.nan_to_num(
            confusion_loop(y_true, y_pred, num_classes).double()
            / confusion_loop(y_true, y_pred, num_classes).sum(dim=1, keepdim=True)), ["divides each row"]),
        (lambda y_true, y_pred, num_classes: confusion_loop(y_true, y_pred, num_classes).fill_diagonal_(0),
         ["only the mistakes"]),
    ],
    checks.train_epoch: [
        (lambda *args: epoch(*args, zero_grad=False), ["zero_grad"]),
        (lambda *args: epoch(*args, mean_of_batches=True), ["averages the batch losses"]),
        (lambda *args: epoch(*args, error_of_batches=True), ["averages the batches' error rates"]),
        (lambda *args: epoch(*args, raw_argmax=True), ["penalties", "smallest wins"]),
        (lambda *args: epoch(*args, shuffle=False), ["shuffle"]),
        (epoch_with_cross_entropy, ["cross-entropy on LeNet5's penalties"]),
        (lambda *args: (lambda r: (r[0], 1 - r[1]))(epoch(*args)), ["accuracy"]),
        (lambda *args: epoch(*args)[0], ["a pair (mean loss, error rate)"]),
    ],
    checks.settled_after: [
        (lambda errors, tolerance: settled(errors, tolerance) - 1, ["from 0"]),
        (lambda errors, tolerance: next(i + 1 for i, e in enumerate(errors) if abs(e - errors[-1]) <= tolerance),
         ["leaves it again"]),
        (lambda errors, tolerance: min(range(len(errors)), key=errors.__getitem__) + 1, ["lowest error"]),
        (lambda errors, tolerance: settled(errors[:-1] + [min(errors)], tolerance), ["around the lowest error"]),
        (lambda errors, tolerance: float(settled(errors, tolerance)), ["return an int"]),
    ],
    checks.sdlm_step_sizes: [
        (lambda h, eta, mu: eta / h, ["leaves μ out"]),
        (lambda h, eta, mu: eta * (mu + h), ["divides η by μ + h_kk"]),
        (lambda h, eta, mu: eta / mu + h, ["add μ to h_kk first"]),
        (lambda h, eta, mu: eta / (mu * h), ["not multiplied"]),
        (lambda h, eta, mu: float(eta / (mu + h).sum()), ["tensor"]),
    ],
    checks.gauss_newton_diagonal: [
        (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t, square_slope=False),
         ["does not square the slope"]),
        (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t, exact=True),
         ["exact diagonal of the Hessian"]),
        (lambda W1, b1, W2, b2, x, t: tuple(2 * v for v in gn_diagonal(W1, b1, W2, b2, x, t)), ["½‖y − t‖²"]),
        (lambda W1, b1, W2, b2, x, t: gn_diagonal(W1, b1, W2, b2, x, t)[:2], ["four tensors"]),
        (lambda W1, b1, W2, b2, x, t: (abs(W1), b1, W2, b2), ["h_W1"]),
    ],
}


def test_the_references_are_the_courses_own_code():
    # the paper's preprocessing is what data.mnist_tensors does to the real digits
    from torchvision.datasets import MNIST

    raw = data.prepare_mnist().parent.parent
    digits = MNIST(str(raw), train=False, download=False).data[:16].float() / 255
    expected, _ = data.mnist_tensors(train=False)
    assert torch.allclose(RIGHT[checks.paper_normalization](digits), expected[:16, 0], atol=1e-5)
    # the confusion matrix is evaluation.confusion_matrix, the error rate is evaluate()'s
    assert checks.confusion_matrix(evaluation.confusion_matrix).passed
    torch.manual_seed(0)
    x, y = torch.randn(40, 1, 32, 32), torch.randint(0, 10, (40,))
    model = models.LeNet5()
    with torch.no_grad():
        scores = model.scores(model(x))
    assert RIGHT[checks.error_rate](scores, y) == pytest.approx(train.evaluate(model, (x, y)).error)


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


def test_settled_after_on_the_benchmarks_curves():
    """A sanity check of the reference on real curves: a pass between 1 and 20."""
    from lenet_helpers.results import bench_results

    run = bench_results("cpu")["faithful_modern"]["runs"][0]
    assert 1 <= settled(run["test_error_per_pass"], 0.001) <= len(run["test_error_per_pass"])


def test_the_learners_inputs_cannot_spoil_the_reference():
    def vandal(images):
        prepared = F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1
        images.fill_(7.0)  # the right answer, but the caller's digits are gone
        return prepared

    result = checks.paper_normalization(vandal)
    assert not result.passed and "changes its argument images in place" in result.message
    assert checks.paper_normalization(RIGHT[checks.paper_normalization]).passed


# ---------------------------------------------------------------------------
# The SDLM exercises: ε_k by hand, and the Gauss–Newton diagonal of a small network
# ---------------------------------------------------------------------------


def test_sdlm_questions_are_the_papers_numbers():
    from lenet_helpers import sdlm

    assert checks.answer("sdlm_largest_step", sdlm.paper_eta(1) / sdlm.PAPER_MU).passed
    assert checks.answer("sdlm_largest_step", 0.025).passed
    assert checks.answer("sdlm_step_size", 0.0005 / 0.5).passed
    assert not checks.answer("sdlm_step_size", 0.0005 / 0.48).passed  # μ left out


def test_sdlm_step_sizes_is_the_courses_sdlm():
    """The reference is what sdlm.SDLM.step_sizes computes from an h."""
    from lenet_helpers import sdlm

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    opt = sdlm.SDLM.from_model(net, lr=0.0005, mu=0.02)
    h = {"0.weight": torch.rand(2, 3), "0.bias": torch.zeros(2)}
    opt.set_curvature(h)
    for name, steps in opt.step_sizes().items():
        torch.testing.assert_close(steps, RIGHT[checks.sdlm_step_sizes](h[name], 0.0005, 0.02))


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
    torch.testing.assert_close(ours[2], exact.W2)
    torch.testing.assert_close(ours[3], exact.b2)
    assert not torch.allclose(ours[0], exact.W1)
