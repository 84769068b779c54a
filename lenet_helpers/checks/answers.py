"""Numeric answers: ``answer("c3_parameters", 1516)`` checks a number against the course's own code.

==============================  ===================================================
check                           your function
==============================  ===================================================
:func:`answer`                  a number: ``answer("c3_parameters", 1516)``
==============================  ===================================================
"""

from __future__ import annotations

import math
import numbers

from .. import counting as _counting
from .. import models as _models
from . import backprop, capstone, conv, counting, lenet5, modern, pool, training
from ..language import _
from ._core import CheckResult, _short

__all__ = ["QUESTIONS", "answer"]


def _receptive_fields() -> dict[str, int]:
    """Side of the input square one unit of each LeNet-5 layer sees (32×32 input)."""
    from ..inside import receptive_field

    layers = (("c1", 5, 1), ("s2", 2, 2), ("c3", 5, 1), ("s4", 2, 2), ("c5", 5, 1))
    return {f"receptive_field_{name}": receptive_field([(k, s) for _name, k, s in layers[:i + 1]]).size
            for i, (name, _k, _s) in enumerate(layers)}


def _answers() -> dict[str, int]:
    table = _counting.lenet5_table()
    rows = {row.layer.lower(): row for row in table}
    found = {}
    for layer in ("c1", "s2", "c3", "s4", "c5"):
        found[f"{layer}_parameters"] = rows[layer].parameters
        found[f"{layer}_connections"] = rows[layer].connections
    found["f6_parameters"] = rows["f6"].parameters
    found["lenet5_parameters"] = table.footer.parameters
    found["lenet5_connections"] = table.footer.connections
    found["c3_output_size"] = rows["c3"].output_shape[-1]
    found.update(_receptive_fields())
    found["modern_parameters"] = _counting.count_parameters(_models.LeNet5Modern())
    for module in _CHAPTERS:
        found.update({name: compute() for name, (_hint, compute) in getattr(module, "QUESTIONS", {}).items()})
    return found


#: The questions :func:`answer` knows, with a hint for each (the answers are computed, not stored).
QUESTIONS = {
    "c1_parameters": _("C1: 6 kernels of 5×5 on one input map, and a bias each."),
    "c1_connections": _("C1: every one of the 6·28·28 units is fed by 25 inputs and a bias."),
    "s2_parameters": _("S2: each map has one trainable coefficient and one trainable bias."),
    "s2_connections": _("S2: every one of the 6·14·14 units is fed by a 2×2 window and a bias."),
    "c3_parameters": _("C3: add up, over the 16 maps, (number of S2 maps it sees · 25 + 1) — see Table I."),
    "c3_connections": _("C3: every unit of a 10×10 map uses all of its map's parameters."),
    "s4_parameters": _("S4: one coefficient and one bias per map, 16 maps."),
    "s4_connections": _("S4: every one of the 16·5·5 units is fed by a 2×2 window and a bias."),
    "c5_parameters": _("C5: 120 kernels, each 16×5×5, and a bias each."),
    "c5_connections": _("C5's maps are 1×1, so each parameter is used exactly once."),
    "f6_parameters": _("F6: 84 units fully connected to C5's 120, with biases."),
    "lenet5_parameters": _("add up the trainable parameters of all layers (the RBF centres are fixed)."),
    "lenet5_connections": _("add up the connections of all layers, the output's 84·10 included."),
    "c3_output_size": _("C3 is a 5×5 convolution without padding on S2's 14×14 maps."),
    "receptive_field_c1": _("one C1 unit sees one 5×5 window of the input."),
    "receptive_field_s2": _("an S2 unit pools 2×2 neighbouring C1 units, which are one input pixel apart."),
    "receptive_field_c3": _("a C3 unit sees 5×5 S2 units, which are 2 input pixels apart."),
    "receptive_field_s4": _("an S4 unit pools 2×2 C3 units, which are 2 input pixels apart."),
    "receptive_field_c5": _("a C5 unit sees 5×5 S4 units, which are 4 input pixels apart."),
    "modern_parameters": _("count the modern variant's layers one by one (biases included, no RBF)."),
}


# Each chapter's check module may add questions of its own:
#     QUESTIONS = {"name": ("hint", compute)}, compute() returning the answer (an int, or a float
#     checked to 0.1%), so that the answers are computed from the course's code, never typed.
_CHAPTERS = (conv, pool, counting, lenet5, training, backprop, modern, capstone)
for _module in _CHAPTERS:
    for _name, (_hint, _compute) in getattr(_module, "QUESTIONS", {}).items():
        assert _name not in QUESTIONS, f"question {_name!r} is defined twice"
        QUESTIONS[_name] = _hint


def answer(question: str, value) -> CheckResult:
    """Check a numeric answer to one of the :data:`QUESTIONS` (computed from the course's code).

    ``value`` is your number: an int, a float, or a tensor holding one number (a 0-d tensor, such as
    ``map_loss`` returns). ``None`` (a placeholder not filled in yet) is reported as not done yet; anything
    else that is not a number gets a failed result that says what was expected. A wrong answer gets a hint,
    never the answer.

    Example:
        >>> answer("c3_parameters", 1516).passed
        True
        >>> print(answer("s2_parameters", 0))
        ✗ s2_parameters: 0 is not right.
          Hint: S2: each map has one trainable coefficient and one trainable bias.
    """
    if not isinstance(question, str) or question not in QUESTIONS:
        known = ", ".join(repr(q) for q in QUESTIONS)
        raise ValueError(f"question must be one of {known}; got {question!r}")
    if value is None or value is Ellipsis:
        return CheckResult(question, False, _("… {question}: not done yet. Replace None with your answer and run "
                                              "this cell again.").format(question=question))
    number = value
    try:
        import torch

        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                return CheckResult(question, False, _("✗ {question}: your answer is a tensor of shape {shape}, where "
                                                      "one number is expected.").format(question=question,
                                                                                        shape=tuple(value.shape)))
            number = value.detach().cpu().item()
    except Exception as error:  # a tensor that cannot be read (on the meta device, say): say so, never raise
        return CheckResult(question, False, _("✗ {question}: your answer {value} cannot be read as a number ({error}); "
                                              "call .item() on it.").format(question=question, value=_short(value),
                                                                           error=f"{type(error).__name__}: {error}"))
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        return CheckResult(question, False, _("✗ {question}: your answer is {value}, a {kind}, where a number is "
                                              "expected (an int or a float, without quotes).").format(
            question=question, value=_short(value), kind=type(value).__name__))
    expected = _answers()[question]
    if isinstance(expected, numbers.Integral):
        right = float(number).is_integer() and int(number) == expected
    else:
        right = math.isclose(number, expected, rel_tol=1e-3)
    shown = f"{number:g}" if isinstance(number, float) else str(number)
    if right:
        return CheckResult(question, True, _("✓ {question}: {value} is right.").format(question=question, value=shown))
    return CheckResult(question, False, _("✗ {question}: {value} is not right.\n  Hint: {hint}").format(
        question=question, value=shown, hint=QUESTIONS[question]))
