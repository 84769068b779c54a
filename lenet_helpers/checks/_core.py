"""The machinery every self-check shares: run the learner's function on hidden cases, compare, explain.

A check calls :func:`_run` with its cases, a reference implementation, a comparison that returns
``None`` when the answer is right (else what is wrong), and a hint. The learner's function never makes
a check raise: an exception, a wrong type or a wrong value is reported in the :class:`CheckResult`.
"""

from __future__ import annotations

import html
import numbers
from typing import Callable, NamedTuple

import torch

__all__ = ["CheckResult"]



class CheckResult(NamedTuple):
    """The outcome of a self-check: ``passed`` and a message for the learner.

    ``bool(result)`` is ``result.passed``. It displays as a green or red box in
    a notebook and as one or two lines of text elsewhere.
    """

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour, background = ("#1a7f37", "#dafbe1") if self.passed else ("#cf222e", "#ffebe9")
        lines = "<br>".join(html.escape(line) for line in self.message.splitlines())
        return (
            f'<div class="lenet-check" data-passed="{str(self.passed).lower()}" '
            f'style="border-left:4px solid {colour};background:{background};color:#1f2328;'
            f'padding:0.5em 0.8em;margin:0.3em 0;font-family:var(--pst-font-family-monospace,monospace);'
            f'font-size:0.9em">{lines}</div>'
        )


# ---------------------------------------------------------------------------
# The machinery shared by every check
# ---------------------------------------------------------------------------


def _check_callable(fn, name: str = "fn") -> Callable:
    if not callable(fn):
        raise TypeError(
            f"{name} must be your function (a callable), got {type(fn).__name__}; "
            "pass the function itself, without calling it: check(my_fn), not check(my_fn(...))"
        )
    return fn


def _call(args: dict) -> str:
    return "fn(" + ", ".join(f"{k}={_short(v)}" for k, v in args.items()) + ")"


def _short(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 12:
            return "tensor(" + str(value.tolist()) + ")"
        return f"<{'×'.join(map(str, value.shape))} tensor>"
    return repr(value)


def _not_done(name: str) -> CheckResult:
    return CheckResult(name, False, f"… {name}: not done yet. Your function still raises NotImplementedError: "
                       "replace its body with your code and run this cell again.")


def _run(name: str, fn, cases, reference, compare, hint: Callable[[dict], str]) -> CheckResult:
    """Run ``fn(**args)`` on every case; report the first that differs from ``reference(**args)``."""
    fn = _check_callable(fn)
    failure = None
    passed = 0
    for args in cases:
        expected = reference(**args)
        try:
            got = fn(**{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in args.items()})
        except NotImplementedError:
            return _not_done(name)
        except Exception as error:  # the learner's code may fail in any way; report it, don't raise
            if failure is None:
                failure = (f"{_call(args)} raised {type(error).__name__}: {error}", hint(args))
            continue
        problem = compare(got, expected)
        if problem is None:
            passed += 1
        elif failure is None:
            failure = (f"{_call(args)} {problem}", hint(args))
    total = len(cases)
    if failure is None:
        return CheckResult(name, True, f"✓ {name}: all {total} hidden cases pass. Well done!")
    text, tip = failure
    message = f"✗ {name}: {passed} of {total} cases pass. First failure: {text}."
    if tip:
        message += f"\n  Hint: {tip}"
    return CheckResult(name, False, message)


def _compare_int(got, expected):
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        if isinstance(got, numbers.Real) and float(got).is_integer() and int(got) == expected:
            return f"returned {got!r}, a {type(got).__name__}; return an int (use // for floor division)"
        return f"returned {got!r}, expected the int {expected}"
    if int(got) != expected:
        return f"returned {int(got)}, expected {expected}"
    return None


def _compare_count(got, expected):
    """Like :func:`_compare_int`, but a 0-d integer tensor is a number too, and the message never shows the
    expected count (an exercise whose answer is one large number would give it away)."""
    if isinstance(got, torch.Tensor):
        if got.numel() != 1 or got.dim() != 0:
            return f"returned a tensor of shape {tuple(got.shape)}; expected one number, an int"
        if got.is_floating_point() or got.is_complex() or got.dtype == torch.bool:
            return f"returned a {got.dtype} tensor; return an int (or an integer tensor): use // for floor division"
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        if isinstance(got, numbers.Real):
            return f"returned a {type(got).__name__}; return an int (use // for floor division)"
        return f"returned a {type(got).__name__}; expected a number, an int"
    if int(got) != expected:
        return f"returned {int(got):,}, which is not the right count"
    return None


def _compare_tensor(got, expected):
    if not isinstance(got, torch.Tensor):
        return f"returned a {type(got).__name__}, expected a tensor of shape {tuple(expected.shape)}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.detach().to(expected.dtype), expected, rtol=1e-4, atol=1e-4):
        where = (got.detach().to(expected.dtype) - expected).abs().flatten().argmax().item()
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(where), expected.shape))
        return (f"returned {got.detach().flatten()[where].item():g} at index {index}, "
                f"expected {expected.flatten()[where].item():g}")
    return None


def _compare_scalar(got, expected):
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            return f"returned a tensor of shape {tuple(got.shape)}, expected one number (the mean over the batch)"
        got = got.detach().double().item()
    elif isinstance(got, bool) or not isinstance(got, numbers.Real):
        return f"returned a {type(got).__name__}, expected a number (a 0-d tensor)"
    expected = float(expected)
    if not (abs(float(got) - expected) <= 1e-4 + 1e-4 * abs(expected)):
        return f"returned {float(got):.6g}, expected {expected:.6g}"
    return None


def _cases(*rows, keys):
    return [dict(zip(keys, row)) for row in rows]


class _Expected(NamedTuple):
    """What a reference returns: the right value, and the values of common mistakes."""

    value: object
    mistakes: dict  # explanation -> the value that mistake gives


def _compare_with_mistakes(compare):
    """A comparison that, when the answer is wrong, says which common mistake it matches (if any)."""

    def compare_expected(got, expected: _Expected):
        problem = compare(got, expected.value)
        if problem is None:
            return None
        for explanation, wrong in expected.mistakes.items():
            if compare(got, wrong) is None:
                return f"{problem}; it matches {explanation}"
        return problem

    return compare_expected
