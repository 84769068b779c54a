"""The self-checks of the chapter "Inside the trained network": a right answer with parameters named as the learner
likes, and the typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import torch

from lenet_helpers import checks, inside


def margins_by_topk(rbf_penalties):
    two = rbf_penalties.topk(2, dim=1, largest=False).values
    return two[:, 1] - two[:, 0]


def kept_error_loop(m, ok, rejected_share):
    n_rejected = int(rejected_share * len(m))
    ranked = sorted(range(len(m)), key=lambda i: float(m[i]))
    kept = ranked[n_rejected:]
    return sum(1 for i in kept if not bool(ok[i])) / len(kept)


def kept_error_tensor(margin, correct, share):
    kept = margin.argsort()[int(share * len(margin)):]
    return (~correct[kept]).float().mean()  # a 0-d tensor


def sorted_pair(p):
    s = p.sort(dim=1).values
    return s


RIGHT = {
    checks.rbf_margin: margins_by_topk,
    checks.kept_error: kept_error_loop,
}

WRONG = {
    checks.rbf_margin: [
        (lambda p: sorted_pair(p)[:, -1] - sorted_pair(p)[:, -2], ["two largest penalties", "smallest"]),
        (lambda p: sorted_pair(p)[:, 0] - sorted_pair(p)[:, 1], ["other way round", "never negative"]),
        (lambda p: p.max(dim=1).values - p.min(dim=1).values, ["largest penalty minus the smallest"]),
        (lambda p: p.min(dim=1).values, ["smallest penalty itself"]),
    ],
    checks.kept_error: [
        (lambda margin, correct, share: kept_error_tensor(-margin, correct, share), ["largest margins"]),
        (lambda margin, correct, share: (~correct[margin.argsort()[int(share * len(margin)):]]).sum() / len(margin),
         ["by all the digits"]),
        (lambda margin, correct, share: int((~correct[margin.argsort()[int(share * len(margin)):]]).sum()),
         ["number of mistakes"]),
        (lambda margin, correct, share: correct[margin.argsort()[int(share * len(margin)):]].float().mean(),
         ["counts the right answers"]),
    ],
}


def test_the_references_are_the_packages_own_functions():
    assert checks.kept_error(lambda m, c, s: inside.rejection_curve(m, c, [s])[0]).passed
    assert checks.kept_error(kept_error_tensor).passed  # a 0-d tensor is a number too
    from lenet_helpers import models

    model = models.LeNet5()

    def through_the_package(penalties):  # margins() on a network whose output is these penalties
        return torch.stack([row.sort().values[1] - row.sort().values[0] for row in penalties])

    assert checks.rbf_margin(through_the_package).passed
    _, margin = inside.margins(model, torch.zeros(2, 1, 32, 32))
    penalties = model(torch.zeros(2, 1, 32, 32)).detach()
    assert torch.allclose(margin, margins_by_topk(penalties), atol=1e-5)
