"""Self-checks for the chapter "Inside the trained network".

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`rbf_margin`              ``fn(penalties) -> tensor`` (N×10 RBF penalties -> N margins)
:func:`kept_error`              ``fn(margin, correct, share) -> number`` (error on the digits kept)
==============================  ===================================================
"""

from __future__ import annotations

import torch

from ..language import _
from ._core import CheckResult, Mistake, _compare_scalar, _compare_tensor, _hints, _run

__all__ = ["rbf_margin", "kept_error"]


def _sorted_penalties(penalties):
    return penalties.sort(dim=1).values


_hints("rbf_margin",
       _("LeNet-5's answer is the class with the smallest penalty; the runner-up has the second smallest."),
       _("sort each row in increasing order (or take the two smallest with topk(2, largest=False)): the margin is "
         "the second value minus the first, one number per digit."),
       _("penalties.sort(dim=1).values gives each row in increasing order; subtract column 0 from column 1."))


def rbf_margin(fn) -> CheckResult:
    """Check ``fn(penalties)``: the margin of each digit, its second smallest RBF penalty minus its smallest.

    Shapes: penalties N×10 (RBF penalties, smallest = best) -> N margins, all >= 0.

    Example:
        >>> rbf_margin(lambda p: p.topk(2, dim=1, largest=False).values.diff(dim=1)[:, 0]).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    cases = [{"penalties": torch.rand(n, 10, generator=g) * 40} for n in (1, 5, 64)]
    cases.append({"penalties": torch.tensor([[3.0, 9.0, 1.0, 40.0, 2.5, 30.0, 12.0, 8.0, 7.0, 50.0]])})

    def reference(penalties):
        s = _sorted_penalties(penalties)
        return s[:, 1] - s[:, 0]

    mistakes = [
        Mistake(_("takes the two largest penalties: a penalty is small for a good match, so LeNet-5 answers the class "
                  "with the smallest one, and the runner-up has the second smallest"),
                gives=lambda penalties: _sorted_penalties(penalties)[:, -1] - _sorted_penalties(penalties)[:, -2]),
        Mistake(_("subtracts the other way round (smallest minus second smallest): the margin is never negative"),
                gives=lambda penalties: _sorted_penalties(penalties)[:, 0] - _sorted_penalties(penalties)[:, 1]),
        Mistake(_("takes the largest penalty minus the smallest: the margin compares the answer with the runner-up, "
                  "the second smallest penalty"),
                gives=lambda penalties: _sorted_penalties(penalties)[:, -1] - _sorted_penalties(penalties)[:, 0]),
        Mistake(_("returns the smallest penalty itself: the margin is the gap between the two smallest"),
                gives=lambda penalties: _sorted_penalties(penalties)[:, 0]),
    ]
    return _run("rbf_margin", fn, cases, reference, _compare_tensor, mistakes)


_hints("kept_error",
       _("sort the digits by margin, reject the share with the smallest margins, and measure the error on the rest."),
       _("reject int(share · N) digits: the first ones of torch.argsort(margin); the error is the number of mistakes "
         "among the kept digits divided by the number of kept digits, not by N."),
       _("order = margin.argsort(); kept = order[int(share * len(margin)):]; then the share of ~correct[kept]."))


def _kept(margin, correct, share, *, surest=False, over_all=False, rejected=False, count=False):
    order = torch.sort(margin, stable=True, descending=surest).indices
    n = int(share * len(margin))
    part = order[:n] if rejected else order[n:]
    wrong = (~correct[part]).sum().item()
    if count:
        return wrong
    return wrong / (len(margin) if over_all else max(len(part), 1))


def kept_error(fn) -> CheckResult:
    """Check ``fn(margin, correct, share)``: the error on the digits kept when the share ``share`` of them with the
    smallest margins is rejected (``int(share · N)`` digits).

    Shapes: margin N (floats), correct N (booleans), share a number in [0, 1) -> one number (a float or a 0-d
    tensor), the share of mistakes among the kept digits.

    Example:
        >>> def mine(margin, correct, share):
        ...     kept = margin.argsort()[int(share * len(margin)):]
        ...     return (~correct[kept]).float().mean()
        >>> kept_error(mine).passed
        True
    """
    g = torch.Generator().manual_seed(1998)
    cases = []
    for n, share in ((10, 0.0), (10, 0.2), (20, 0.25), (50, 0.1), (40, 0.5)):
        margin = torch.randperm(n, generator=g).float() / 4 + 0.1  # distinct margins: no ties to break
        correct = torch.rand(n, generator=g) < 0.6
        correct[margin.argsort()[-2:]] = False  # some confident mistakes, so that the surest are not all right
        cases.append({"margin": margin, "correct": correct, "share": share})

    def reference(margin, correct, share):
        return _kept(margin, correct, share)

    mistakes = [
        Mistake(_("rejects the digits with the largest margins, the ones the network is surest of: reject the "
                  "smallest margins"), gives=lambda margin, correct, share: _kept(margin, correct, share, surest=True)),
        Mistake(_("divides the mistakes kept by all the digits: the error on the kept digits divides by the number "
                  "kept"), gives=lambda margin, correct, share: _kept(margin, correct, share, over_all=True)),
        Mistake(_("measures the error on the rejected digits: the curve shows the error on the digits kept"),
                gives=lambda margin, correct, share: _kept(margin, correct, share, rejected=True) if share else None),
        Mistake(_("returns the number of mistakes kept: return their share, a number between 0 and 1"),
                gives=lambda margin, correct, share: _kept(margin, correct, share, count=True)),
        Mistake(_("counts the right answers: the error is the share of digits where correct is False"),
                gives=lambda margin, correct, share: 1 - _kept(margin, correct, share)),
    ]
    return _run("kept_error", fn, cases, reference, _compare_scalar, mistakes)
