"""The machinery every self-check shares: run the learner's function on hidden cases, compare, diagnose, explain.

A check calls :func:`_run` with its hidden cases (each a dict of the exercise's arguments, in the exercise's
order), a reference implementation, a comparison and its **diagnosis table**: the mistakes learners make, each a
:class:`Mistake` that says what that mistake returns on a case. When the learner's function fails, the check looks
for the mistake whose outputs are the learner's on every failing case and names it, with the lesson's section
that explains it; a failure no entry recognises gets the first failing case and a nudge. The hints come in steps
(:func:`hint`): a nudge with the first failure, more with the next failing run or ``checks.hint(name)``; the full
solution stays in the folded solution cell.

The learner's code never makes a check raise: its exceptions, wrong types, wrong values, inputs it changes in
place and tensors on another device or of another dtype are reported in the :class:`CheckResult`. The learner's
function is called by position, so a correct solution passes whatever its parameters are called, and every
message calls it by its own name.
"""

from __future__ import annotations

import html
import inspect
import linecache
import numbers
import traceback
from typing import Callable, NamedTuple

import torch

from ..language import Message, _, html_both
from ..language import text as _text

__all__ = ["CheckResult", "hint"]


# ---------------------------------------------------------------------------
# What a check returns
# ---------------------------------------------------------------------------

_STYLE = {True: ("#1a7f37", "#dafbe1"), False: ("#cf222e", "#ffebe9"), None: ("#0969da", "#ddf4ff")}


def _box(kind: str, passed, lines: str) -> str:
    colour, background = _STYLE[passed]
    flag = "" if passed is None else f' data-passed="{str(passed).lower()}"'
    return (f'<div class="{kind}"{flag} style="border-left:4px solid {colour};background:{background};'
            f'color:#1f2328;padding:0.5em 0.8em;margin:0.3em 0;'
            f'font-family:var(--pst-font-family-monospace,monospace);font-size:0.9em">{lines}</div>')


def _lines_html(words: str) -> str:
    return "<br>".join(html.escape(line).replace("  ", "&nbsp; ") for line in words.splitlines())


class CheckResult:
    """The outcome of a self-check: ``passed``, the check's ``name`` and a ``message`` for the learner.

    ``bool(result)`` is ``result.passed``. ``result.message`` and ``str(result)`` are in the language the package
    speaks (:func:`lenet_helpers.language.set_language`). In a notebook the result displays as a green or red
    box; on the website, in the page's language.
    """

    __slots__ = ("name", "passed", "_words")

    def __init__(self, name: str, passed: bool, words):
        self.name, self.passed, self._words = name, bool(passed), words

    @property
    def message(self) -> str:
        """The message, in the current language."""
        return _text(self._words)

    def render(self, language: str | None = None) -> str:
        """The message in ``language`` (``"en"`` or ``"zh_CN"``; default: the current one)."""
        return _text(self._words, language)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_both(lambda language: _box("lenet-check", self.passed, _lines_html(self.render(language))))


class Hint:
    """The hints :func:`hint` has given for one exercise, so far (a blue box in a notebook)."""

    __slots__ = ("name", "_words")

    def __init__(self, name: str, words):
        self.name, self._words = name, words

    def render(self, language: str | None = None) -> str:
        return _text(self._words, language)

    def __str__(self) -> str:
        return self.render()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_both(lambda language: _box("lenet-hint", None, _lines_html(self.render(language))))


# ---------------------------------------------------------------------------
# Hints in steps
# ---------------------------------------------------------------------------

_HINTS: dict[str, tuple] = {}  # check name -> its hints, from a nudge to the last step before the solution
_LEVEL: dict[str, int] = {}  # check name -> how many of its hints the learner has seen


def _hints(name: str, *steps) -> None:
    """Register a check's hints: a nudge first, then more, never the whole solution."""
    assert steps and name not in _HINTS, name
    _HINTS[name] = steps


def hint(name: str) -> Hint:
    """More help with an exercise: each call gives the next hint of the check called ``name``.

    The first hint is the nudge a failing check shows; each further call (or failing run of the check) adds one
    step. The last step stops short of the solution, which stays in the folded solution cell under the exercise.

    Example:
        >>> print(hint("same_padding"))  # doctest: +ELLIPSIS
        Hints for same_padding (... of 3):
          1. the output keeps n cells when the padding on both sides together equals the cells the window spans ...
    """
    if not isinstance(name, str) or name not in _HINTS:
        raise ValueError(f"name must be the name of a self-check, one of {', '.join(map(repr, sorted(_HINTS)))}; "
                         f"got {name!r}")
    steps = _HINTS[name]
    level = min(_LEVEL.get(name, 0) + 1, len(steps))
    _LEVEL[name] = level
    lines = [_("Hints for {name} ({level} of {total}):").format(name=name, level=level, total=len(steps))]
    lines += [Message(f"  {i}. ", step) for i, step in enumerate(steps[:level], start=1)]
    if level == len(steps):
        lines.append(_("  That is every hint: the full solution is in the folded solution cell under the exercise."))
    return Hint(name, Message("\n").join(lines))


def _next_hint(name: str):
    """The hint a failing run shows: the nudge the first time, one step more at each failing run after it."""
    steps = _HINTS.get(name)
    if not steps:
        return None, False
    level = min(_LEVEL.get(name, 0) + 1, len(steps))
    _LEVEL[name] = level
    return steps[level - 1], level < len(steps)


def _reset_hints() -> None:
    """Forget which hints were given (tests)."""
    _LEVEL.clear()


# ---------------------------------------------------------------------------
# The learner's function: its name, its signature, calling it
# ---------------------------------------------------------------------------


def _check_callable(fn, name: str = "fn") -> Callable:
    if not callable(fn):
        raise TypeError(
            f"{name} must be your function (a callable), got {type(fn).__name__}; "
            "pass the function itself, without calling it: check(my_fn), not check(my_fn(...))"
        )
    return fn


def _name_of(fn):
    """What the learner called ``fn``: ``my_corr2d``, ``MyLeNet5``, ``Squash()``; a lambda is "your function"."""
    inner = getattr(fn, "func", None)  # functools.partial
    if inner is not None and callable(inner):
        fn = inner
    name = getattr(fn, "__name__", None)
    if isinstance(name, str) and name.isidentifier():
        return name
    if name == "<lambda>":
        return _("your function")
    return f"{type(fn).__name__}()"


def _codes_of(fn) -> set:
    """The code objects of the learner's function (or of its class's methods)."""
    target = getattr(fn, "func", fn)
    if not inspect.isfunction(target) and not inspect.ismethod(target) and not inspect.isclass(target):
        target = type(target)
    if inspect.isclass(target):
        codes = set()
        for klass in target.__mro__:
            if klass.__module__ in ("builtins", "torch.nn.modules.module"):
                continue
            for value in vars(klass).values():
                code = getattr(value, "__code__", None)
                if code is not None:
                    codes.add(code)
        return codes
    code = getattr(target, "__code__", None)
    return {code} if code is not None else set()


def _code_of(fn) -> set:
    """The files of the learner's code, to find its lines in a traceback."""
    return {code.co_filename for code in _codes_of(fn)}


def _parameters(fn) -> list[str] | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]


def _signature_problem(fn, keys: list[str]):
    """Why ``fn`` cannot be called with the exercise's ``keys`` by position, or None."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*range(len(keys)))
    except TypeError:
        mine = [p.name for p in signature.parameters.values()]
        return _("{who} takes ({mine}), but the exercise calls it with {n} arguments, ({keys}), in that order: give it "
                 "one parameter for each").format(who=_name_of(fn), mine=", ".join(mine), n=len(keys),
                                                  keys=", ".join(keys))
    return None


def _order_note(fn, keys: list[str]):
    """A note when the learner's parameters are the exercise's, in another order (then the values go elsewhere)."""
    mine = _parameters(fn)
    if not mine or len(mine) < len(keys):
        return None
    first = mine[:len(keys)]
    if first != list(keys) and sorted(first) == sorted(keys):
        return _("{who} takes its parameters in the order ({mine}), the exercise passes them in the order ({keys}): "
                 "the check calls your function by position, as the chapter's code does").format(
            who=_name_of(fn), mine=", ".join(first), keys=", ".join(keys))
    return None


def _argument_names(fn, keys: list[str]) -> list[str]:
    """The learner's own names of the arguments, where its signature has them; else the exercise's."""
    mine = _parameters(fn) or []
    return [mine[i] if i < len(mine) and not mine[i].startswith("*") else key for i, key in enumerate(keys)]


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


class _Raised(NamedTuple):
    """The learner's code raised ``error``; ``line`` is the line of the learner's code where it happened."""

    error: BaseException
    line: object


def _learners_line(error: BaseException, files: set):
    """The last line of the learner's own code in ``error``'s traceback, as "line N: code", or None."""
    found = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename in files:
            found = (frame.f_code.co_filename, lineno, frame.f_code.co_name)
    if found is None:
        return None
    filename, lineno, function = found
    source = linecache.getline(filename, lineno).strip()
    return source or None


#: Errors whose words say what the learner's code did wrong: (words in the error, explanation).
_KNOWN_ERRORS = (
    ("Input type (double) and bias type (float)",
     _("a float64 (double) tensor met the network's float32 weights: keep tensors in float32 "
       "(torch.float32, PyTorch's default; NumPy gives float64)")),
    ("expected m1 and m2 to have the same dtype",
     _("a float64 (double) tensor met float32 ones: keep tensors in float32 (PyTorch's default; NumPy gives float64)")),
    ("same device",
     _("tensors on two devices met: move the inputs to the model's device first, "
       "x.to(next(model.parameters()).device)")),
    ("Tried to step",
     _("the one-cycle schedule was stepped more times than its total_steps: an epoch has ceil(N / batch_size) "
       "batches, the last one smaller, so round the division up (math.ceil)")),
    ("Cannot copy out of meta tensor",
     _("a tensor on the meta device has no values: leave the result on a real device")),
    ("object has no attribute 'loss'",
     _("the network given to your function has no loss method: compute the loss with map_loss(penalties, y)")),
)


def _raised_by_learner(error: BaseException, codes: set) -> bool:
    """Whether the learner's function itself raised ``error`` (its innermost frame is the function's own code): a
    stub's ``raise NotImplementedError("your code here")``, not an operation PyTorch does not implement, nor
    another blank it calls."""
    frames = list(traceback.walk_tb(error.__traceback__))
    return bool(frames) and frames[-1][0].f_code in codes


def _error_text(error: BaseException, limit: int = 300) -> str:
    """``error`` as "TypeError: what it says", cut short if it says a lot."""
    words = f"{type(error).__name__}: {error}"
    return words if len(words) <= limit else words[:limit - 1] + "…"


def _explain_error(raised: _Raised, who):
    error = raised.error
    words = _error_text(error)
    message = _("raised {error}").format(error=words)
    if raised.line:
        message = message + _(" (in the line `{line}`)").format(line=raised.line)
    for marker, explanation in _KNOWN_ERRORS:
        if marker in str(error):
            return message + _(": ") + explanation
    return message


def _call(fn, values: list):
    return fn(*values)


def _short(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 12:
            try:
                shown = value.detach().cpu()
                if shown.is_floating_point():
                    shown = shown.double().round(decimals=4)
                return "tensor(" + str(shown.tolist()) + ")"
            except Exception:  # values that cannot be read (the meta device): show the shape
                pass
        return f"<{'×'.join(map(str, value.shape)) or '0-d'} tensor>"
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(_short(v) for v in value[:8]) + ", …]"
    if isinstance(value, torch.nn.Module):
        return f"{type(value).__name__}()"
    return repr(value)


def _call_text(who, values: list) -> str:
    return f"{_text(who)}(" + ", ".join(_short(v) for v in values) + ")"


# ---------------------------------------------------------------------------
# The diagnosis table
# ---------------------------------------------------------------------------


class Mistake(NamedTuple):
    """A mistake learners make: ``says`` names it (after "{who} …"), ``see`` is the lesson's section that explains
    it, ``gives(**case)`` is what a function with this mistake returns on a hidden case (None where it makes no
    difference or does not apply), and ``raises(error, **case)``, if given, recognises it from an exception
    instead."""

    says: Message
    see: object = None
    gives: Callable | None = None
    raises: Callable | None = None


_SECTIONS: list[tuple[int | str, str]] = []  # every (chapter, heading) a check points to: a test finds each there

#: The pages without a chapter number that checks point to: {file name without .ipynb: its title}.
_PAGES = {"backprop_by_hand": _("Backpropagation by hand")}


def _section(chapter: int | str, title: Message) -> Message:
    """A pointer to a section of the course: chapter ``chapter`` (a number, or the file name of a page without one,
    listed in ``_PAGES``), the section titled ``title`` (its heading)."""
    _SECTIONS.append((chapter, title.render("en")))
    if isinstance(chapter, str):
        return _("the page “{page}”, “{title}”").format(page=_PAGES[chapter], title=title)
    return _("chapter {chapter}, “{title}”").format(chapter=chapter, title=title)


# ---------------------------------------------------------------------------
# Comparing what the learner returned with the right answer
# ---------------------------------------------------------------------------


def _as_cpu(value):
    return value.detach().cpu() if isinstance(value, torch.Tensor) else value


def _same(got, expected, rtol: float = 1e-4, atol: float = 1e-4) -> bool:
    """Whether ``got`` has ``expected``'s value (tensors on any device and of any dtype, numbers, sequences)."""
    try:
        if isinstance(expected, torch.Tensor):
            if isinstance(got, (list, tuple)):
                got = torch.tensor(got)
            if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(expected.shape):
                return False
            got, expected = _as_cpu(got).double(), _as_cpu(expected).double()
            return bool(torch.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))
        if isinstance(expected, (tuple, list)):
            return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                    and all(_same(g, e, rtol, atol) for g, e in zip(got, expected)))
        if isinstance(expected, bool) or not isinstance(expected, numbers.Real):
            return got == expected
        number = _number(got)
        if isinstance(expected, numbers.Integral):
            return number is not None and number == int(expected)
        return number is not None and abs(number - float(expected)) <= atol + rtol * abs(float(expected))
    except Exception:  # a learner's object that cannot be compared is not equal
        return False


def _number(value):
    """``value`` as a float if it is one number (a Python number or a tensor of one element), else None."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        try:
            return float(value.detach().cpu().double().item())
        except Exception:  # values that cannot be read (the meta device)
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _direction(got: float, expected: float):
    return _("which is too large") if got > expected else _("which is too small")


def _compare_int(got, expected):
    """A count or a size: a Python int, or a 0-d integer tensor. The right value is never shown."""
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point() and got.dtype != torch.bool:
        got = int(got.detach().cpu().item())
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        number = _number(got)
        if number is not None and float(number).is_integer() and int(number) == expected:
            return _("returned {got}, a {kind}: return an int (// divides and rounds down to an int; "
                     "int(...) or .item() turns a result into one)").format(got=_short(got), kind=type(got).__name__)
        if number is not None:
            return _("returned {got}, a {kind}, where a whole number is expected, {direction}").format(
                got=_short(got), kind=type(got).__name__, direction=_direction(number, expected))
        return _("returned {got}, a {kind}, where an int is expected").format(got=_short(got),
                                                                            kind=type(got).__name__)
    if int(got) != expected:
        return _("returned {got}, {direction}").format(got=int(got), direction=_direction(int(got), expected))
    return None


def _compare_scalar(got, expected):
    """One number: a float or a tensor of one element. The right value is never shown."""
    if isinstance(got, torch.Tensor) and got.numel() != 1:
        return _("returned a tensor of shape {shape}, where one number is expected (the mean over the batch)").format(
            shape=tuple(got.shape))
    number = _number(got)
    if number is None:
        return _("returned {got}, a {kind}, where one number is expected (a float or a 0-d tensor)").format(
            got=_short(got), kind=type(got).__name__)
    expected = float(expected)
    if not (abs(number - expected) <= 1e-4 + 1e-4 * abs(expected)):
        return _("returned {got:.6g}, {direction}").format(got=number, direction=_direction(number, expected))
    return None


def _compare_tensor(got, expected, *, exact_dtype: bool = True):
    """A tensor: its shape, its values (compared on the CPU, whatever device it is on) and its dtype."""
    if not isinstance(got, torch.Tensor):
        return _("returned a {kind}, where a tensor of shape {shape} is expected").format(
            kind=type(got).__name__, shape=tuple(expected.shape))
    if tuple(got.shape) != tuple(expected.shape):
        return _("returned shape {got}, where the right shape is {shape}").format(got=tuple(got.shape),
                                                                                 shape=tuple(expected.shape))
    mine, right = got.detach().cpu(), expected.detach().cpu()  # on the CPU, whatever device the learner used
    if mine.is_complex() or mine.dtype == torch.bool:
        return _("returned a tensor of {dtype}, where a tensor of {right} is expected").format(dtype=mine.dtype,
                                                                                              right=right.dtype)
    if not torch.allclose(mine.double(), right.double(), rtol=1e-4, atol=1e-4, equal_nan=True):
        gap = (mine.double() - right.double()).abs()
        gap[torch.isnan(gap)] = float("inf")
        where = int(gap.flatten().argmax())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(where), right.shape))
        return _("returned {got} at index {index}, where the right value is {right}").format(
            got=f"{mine.flatten()[where].item():g}", index=index, right=f"{right.flatten()[where].item():g}")
    if exact_dtype and right.is_floating_point() and mine.dtype != right.dtype:
        return _("returned the right values as {dtype}, where the inputs are {right}: keep the inputs' dtype (a "
                 "float64 tensor makes the network's float32 layers fail later: \"Input type (double) and bias type "
                 "(float) should be the same\"); torch.zeros and torch.tensor make float32, NumPy makes float64"
                 ).format(dtype=mine.dtype, right=right.dtype)
    if right.is_floating_point() and not mine.is_floating_point() and exact_dtype:
        return _("returned the right values as integers ({dtype}), where the inputs are {right}: keep the inputs' "
                 "dtype").format(dtype=mine.dtype, right=right.dtype)
    return None


def _compare_counts(got, expected):
    """Counts: a tensor (any integer or float dtype holding whole numbers) or a list of ints."""
    if isinstance(got, (list, tuple)):
        try:
            got = torch.tensor(got)
        except (TypeError, ValueError, RuntimeError):
            return _("returned a {kind} that is not a list of numbers, where a tensor of counts is expected").format(
                kind=type(got).__name__)
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu()
        if got.is_floating_point() and torch.equal(got, got.round()):
            got = got.long()
    return _compare_tensor(got, expected.double(), exact_dtype=False)


def _compare_pair(names, compare=_compare_tensor):
    """Two results returned as a pair, e.g. (new_param, new_buf)."""

    def compare_pair(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return _("returned a {kind}, where a pair ({names}) is expected").format(kind=type(got).__name__,
                                                                                    names=", ".join(names))
        for name, mine, right in zip(names, got, expected):
            problem = compare(mine, right)
            if problem is not None:
                return Message(f"{name}: ", problem)
        return None

    return compare_pair


def _cases(*rows, keys):
    return [dict(zip(keys, row)) for row in rows]


# ---------------------------------------------------------------------------
# Running a check
# ---------------------------------------------------------------------------


class _Outcome(NamedTuple):
    case: dict
    got: object  # what the learner returned, or a _Raised
    problem: object  # None when right
    expected: object = None  # the right answer


def _not_done(name: str, who) -> CheckResult:
    return CheckResult(name, False, _("… {name}: not done yet: {who} still raises NotImplementedError. Replace its "
                                      "body with your code and run this cell again.").format(name=name, who=who))


def _changed(original, given) -> str | None:
    """How the learner's function changed its argument ``given`` (a copy of ``original``), or None."""
    if isinstance(original, torch.Tensor) and isinstance(given, torch.Tensor):
        if given.requires_grad and not original.requires_grad:
            return "requires_grad"
        if given.shape != original.shape or not torch.equal(given.detach(), original.detach()):
            return "values"
    if isinstance(original, list) and isinstance(given, list):
        if len(original) != len(given) or any(_changed(o, g) for o, g in zip(original, given)):
            return "values"
    return None


def _in_place_problem(fn, keys, originals, given):
    names = _argument_names(fn, keys)
    for name, original, copy in zip(names, originals, given):
        how = _changed(original, copy)
        if how == "requires_grad":
            return _("turns on requires_grad of its argument {arg}, the caller's own tensor (it then records every "
                     "operation on it and gets a .grad): work on a copy, {arg}.clone().requires_grad_()").format(
                arg=name)
        if how == "values":
            return _("changes its argument {arg} in place: the caller's tensor is modified (the training data, "
                     "the network's weights …). Compute the result in a new tensor and leave the inputs as they "
                     "were").format(arg=name)
    return None


def _run(name: str, fn, cases, reference, compare, mistakes=(), *, probe=None, check_inputs: bool = True,
         same=_same) -> CheckResult:
    """Run the learner's ``fn`` on every case (by position), compare with ``reference(**case)``, diagnose.

    ``probe(case)``, when given, runs the learner's function itself (building models, calling it several times)
    and returns what ``compare`` compares; exceptions of the learner's code are reported either way.
    """
    fn = _check_callable(fn)
    who = _name_of(fn)
    codes = _codes_of(fn)
    files = {code.co_filename for code in codes}
    keys = list(cases[0]) if cases else []
    if probe is None:
        problem = _signature_problem(fn, keys)
        if problem is not None:
            return _failure(name, who, Message(problem), passed=0, total=len(cases))
    outcomes = []
    for case in cases:
        expected = reference(**case)
        try:
            if probe is not None:
                got = probe(case)
                in_place = None
            else:
                originals = list(case.values())
                given = [_clone(v) for v in originals]
                got = fn(*given)
                in_place = _in_place_problem(fn, keys, originals, given) if check_inputs else None
        except NotImplementedError as error:
            if _raised_by_learner(error, codes):
                return _not_done(name, who)
            outcomes.append(_Outcome(case, _Raised(error, _learners_line(error, files)), "raised", expected))
            continue
        except Exception as error:  # the learner's code may fail in any way: report it, never raise
            outcomes.append(_Outcome(case, _Raised(error, _learners_line(error, files)), "raised", expected))
            continue
        try:
            problem = compare(got, expected)
        except Exception as error:  # a value the comparison cannot read: report it, never raise
            problem = _("returned {got}, which the check cannot read ({error})").format(
                got=_short(got), error=_error_text(error))
        if problem is None and in_place is not None:
            problem = in_place
        outcomes.append(_Outcome(case, got, problem, expected))
    passed = sum(o.problem is None for o in outcomes)
    if passed == len(outcomes):
        return CheckResult(name, True, _("✓ {name}: {who} passes all {total} hidden cases. Well done!").format(
            name=name, who=who, total=len(outcomes)))
    failed = [o for o in outcomes if o.problem is not None]
    found = _diagnose(outcomes, mistakes, same)
    if found is not None:
        mistake, everywhere = found
        words = _("{who} {says}").format(who=who, says=mistake.says)
        if not everywhere:
            words = words + _(" (on the first failing case; other cases fail in other ways too)")
        note = _order_note(fn, keys) if probe is None else None
        return _failure(name, who, words, passed, len(outcomes), see=mistake.see, note=note, named=True)
    first = failed[0]
    if isinstance(first.got, _Raised):
        text = _explain_error(first.got, who)
        values = list(first.case.values())
        words = _("the first failure: {call} {problem}").format(
            call=_call_text(who, values) if probe is None else who, problem=text)
    else:
        values = list(first.case.values())
        call = _call_text(who, values) if probe is None else who
        problem, see = first.problem if isinstance(first.problem, tuple) else (first.problem, None)
        words = _("the first failure: {call} {problem}").format(call=call, problem=problem)
        if see is not None:
            return _failure(name, who, words, passed, len(outcomes), see=see)
    note = _order_note(fn, keys) if probe is None else None
    return _failure(name, who, words, passed, len(outcomes), note=note)


def _diagnose(outcomes, mistakes, same):
    """The mistake that explains the learner's outputs: ``(mistake, True)`` when the learner's function returns
    what the mistake returns on every hidden case where the mistake makes a difference (and fails nowhere else);
    ``(mistake, False)`` when it explains only the first failing case; else None."""
    failed = [o for o in outcomes if o.problem is not None]
    if not mistakes or not failed:
        return None
    raised = [o for o in failed if isinstance(o.got, _Raised)]
    values = [o for o in outcomes if not isinstance(o.got, _Raised)]
    cache = {}

    def gives(mistake, outcome):
        """What the mistake returns on the outcome's case; None where it does not apply or makes no difference."""
        key = (id(mistake), id(outcome))
        if key not in cache:
            try:
                wrong = mistake.gives(**outcome.case) if mistake.gives is not None else None
                if wrong is not None and same(wrong, outcome.expected):
                    wrong = None
            except Exception:  # a mistake that cannot be computed on this case does not apply to it
                wrong = None
            cache[key] = wrong
        return cache[key]

    def explains(mistake, outcome):
        if isinstance(outcome.got, _Raised):
            if mistake.raises is None:
                return False
            try:
                return bool(mistake.raises(outcome.got.error, **outcome.case))
            except Exception:
                return False
        wrong = gives(mistake, outcome)
        return wrong is not None and same(outcome.got, wrong)

    def explains_all(mistake):
        if raised and len(raised) == len(failed):
            return all(explains(mistake, o) for o in raised)
        explained = 0
        for outcome in values:
            wrong = gives(mistake, outcome)
            if wrong is None:
                if outcome.problem is not None:
                    return False
                continue
            if not same(outcome.got, wrong):
                return False
            explained += outcome.problem is not None
        return explained > 0

    for mistake in mistakes:
        if explains_all(mistake):
            return mistake, True
    for mistake in mistakes:
        if explains(mistake, failed[0]):
            return mistake, False
    return None


def _failure(name: str, who, words, passed: int, total: int, *, see=None, note=None, named=False) -> CheckResult:
    lines = [_("✗ {name}, {passed} of {total} hidden cases pass: {words}.").format(
        name=name, passed=passed, total=total, words=words)]
    if note is not None:
        lines.append(_("  Note: {note}.").format(note=note))
    if see is not None:
        lines.append(_("  See {section}.").format(section=see))
    step, more = _next_hint(name)
    if step is not None and not named:
        lines.append(_("  Hint: {hint}").format(hint=step))
    if name in _HINTS:
        lines.append(_("  More help: checks.hint(\"{name}\").").format(name=name) if more or named else
                     _("  The full solution is in the folded solution cell under the exercise."))
    return CheckResult(name, False, Message("\n").join(lines))


def _device() -> torch.device:
    """Where the hidden cases that involve a network run: the device the chapters train on (``train.device()``: a
    CUDA GPU, else Apple's MPS, else the CPU), so that a learner's function that moves its batch there works."""
    from ..train import device

    return device()
