"""The self-checks, all of them: a right answer (its parameters named as the learner likes) passes, each typical wrong
answer is rejected with a message that names its mistake, a stub is not done yet, nothing the learner's code does makes
a check raise; the hints come in steps; the messages speak the learner's language; a section a message points to
exists in its chapter.

Each chapter's file, test_checks_<module>.py, gives its checks' RIGHT answer and WRONG answers:
``WRONG[check] = [(wrong, [words its message must contain]), ...]``, at least three per check."""

import json
import re
from pathlib import Path

import pytest
import torch

from lenet_helpers import checks, conv, counting, models
from lenet_helpers.checks import _core
from lenet_helpers.checks.answers import _answers
from lenet_helpers.language import set_language, using

from test_checks_backprop import RIGHT as RIGHT_BP, WRONG as WRONG_BP  # noqa: E402
from test_checks_capstone import RIGHT as RIGHT_7, WRONG as WRONG_7  # noqa: E402
from test_checks_conv import RIGHT as RIGHT_1, WRONG as WRONG_1, good_corr2d  # noqa: E402
from test_checks_counting import RIGHT as RIGHT_3, WRONG as WRONG_3  # noqa: E402
from test_checks_inside import RIGHT as RIGHT_INSIDE, WRONG as WRONG_INSIDE  # noqa: E402
from test_checks_lenet5 import RIGHT as RIGHT_4, WRONG as WRONG_4  # noqa: E402
from test_checks_modern import RIGHT as RIGHT_6, WRONG as WRONG_6  # noqa: E402
from test_checks_pool import RIGHT as RIGHT_2, WRONG as WRONG_2  # noqa: E402
from test_checks_training import RIGHT as RIGHT_5, WRONG as WRONG_5  # noqa: E402

RIGHT = {**RIGHT_1, **RIGHT_2, **RIGHT_3, **RIGHT_4, **RIGHT_5, **RIGHT_BP, **RIGHT_6, **RIGHT_7, **RIGHT_INSIDE}
WRONG = {**WRONG_1, **WRONG_2, **WRONG_3, **WRONG_4, **WRONG_5, **WRONG_BP, **WRONG_6, **WRONG_7, **WRONG_INSIDE}
ALL_WRONG = [(check, wrong, words) for check, answers in WRONG.items() for wrong, words in answers]
CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def check_id(value):
    return getattr(value, "__name__", None)


@pytest.fixture(autouse=True)
def fresh_hints():
    _core._reset_hints()
    set_language("en")
    yield
    set_language("en")


def test_every_check_is_tested_right_and_with_three_typical_mistakes():
    for name in checks.__all__:
        check = getattr(checks, name)
        if callable(check) and name not in ("answer", "CheckResult", "hint", "lenet5_target"):
            assert check in RIGHT, f"checks.{name} needs a right answer in the tests"
            assert len(WRONG.get(check, [])) >= 3, f"checks.{name} needs at least three typical wrong answers"


@pytest.mark.parametrize("check", list(RIGHT), ids=check_id)
def test_a_right_answer_with_its_own_parameter_names_passes(check):
    right = RIGHT[check]
    result = check(right)
    assert result.passed and bool(result), result.message
    assert result.message.startswith("✓") and "pass" in result.message
    if right.__name__ != "<lambda>":
        assert right.__name__ in result.message  # the learner's function, by its own name
    assert 'data-passed="true"' in result._repr_html_()


@pytest.mark.parametrize("check, wrong, words", ALL_WRONG, ids=lambda v: check_id(v) if callable(v) else None)
def test_a_typical_mistake_is_rejected_with_a_message_that_names_it(check, wrong, words):
    result = check(wrong)
    assert not result.passed and not bool(result)
    assert result.message.startswith("✗"), result.message
    for word in words:
        assert word in result.message, f"{word!r} not in: {result.message}"
    if getattr(wrong, "__name__", "<lambda>") != "<lambda>":
        assert wrong.__name__ in result.message
    assert 'data-passed="false"' in result._repr_html_()
    assert str(result) == repr(result) == result.message
    assert "fn(" not in result.message  # the learner's function is never called fn


@pytest.mark.parametrize("check", list(RIGHT), ids=check_id)
def test_a_stub_is_reported_as_not_done_yet(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("your code here")

    result = check(stub)
    assert not result.passed and "not done yet" in result.message and "stub" in result.message


@pytest.mark.parametrize("check", list(RIGHT), ids=check_id)
def test_an_exception_in_the_learners_code_is_reported_with_its_line_not_raised(check):
    def broken(*args, **kwargs):
        ratio = 1 / 0
        return ratio

    result = check(broken)
    assert not result.passed and "raised ZeroDivisionError: division by zero" in result.message
    assert "ratio = 1 / 0" in result.message  # the line of the learner's code where it happened


@pytest.mark.parametrize("check", [c for c in RIGHT if c not in (checks.lenet5_shapes, checks.lenet5_parameters,
                                                               checks.lenet5_behaviour)], ids=check_id)
def test_a_function_with_too_few_parameters_is_told_which_it_needs(check):
    def too_few(x):
        return x

    result = check(too_few)
    assert not result.passed and "✗" in result.message and "too_few" in result.message


def test_the_learners_function_is_called_by_position_and_a_swapped_order_is_noted():
    assert checks.conv_output_size(lambda a, b, c=0, d=1, e=1: (a + 2 * c - e * (b - 1) - 1) // d + 1).passed
    swapped = checks.conv_output_size(lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s + 1)
    assert not swapped.passed and "in the order (n, k, s, p, d)" in swapped.message
    missing = checks.conv_output_size(lambda n, k: n - k + 1)
    assert not missing.passed and "takes (n, k)" in missing.message and "(n, k, p, s, d)" in missing.message


def test_wrong_return_types_are_explained():
    as_float = checks.conv_output_size(lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1)
    assert not as_float.passed and "return an int" in as_float.message
    as_list = checks.corr2d(lambda X, K: good_corr2d(X, K).tolist())
    assert not as_list.passed and "returned a list, where a tensor" in as_list.message
    wrong_shape = checks.pool2d(lambda X, pool_size, mode: X)
    assert not wrong_shape.passed and "returned shape" in wrong_shape.message


def test_a_tensor_that_cannot_be_read_is_reported_not_raised():
    """A result on another device is compared on the CPU; one on the meta device has no values: a failure."""
    result = checks.corr2d(lambda X, K: good_corr2d(X, K).to("meta"))
    assert not result.passed and "meta" in result.message
    result = checks.map_loss(lambda penalties, target, j=0.1: torch.zeros((), device="meta"))
    assert not result.passed


def test_the_learners_inputs_cannot_spoil_the_reference():
    def in_place(X, K):
        Y = good_corr2d(X, K)
        X.zero_()  # a learner's function that modifies its input
        return Y

    result = checks.corr2d(in_place)
    assert not result.passed and "changes its argument X in place" in result.message
    assert checks.corr2d(good_corr2d).passed


@pytest.mark.parametrize("check", list(RIGHT) + [checks.lenet5_target, checks.answer, checks.hint], ids=check_id)
def test_every_check_is_public_documented_and_listed(check):
    assert check.__name__ in checks.__all__
    assert check.__doc__ and "Example:" in check.__doc__
    if check is not checks.hint:
        assert f":func:`{check.__name__}`" in checks.__doc__  # listed in the module's table


def test_passing_something_that_is_not_a_function_is_a_clear_error():
    with pytest.raises(TypeError, match="fn must be your function"):
        checks.conv_output_size(5)
    for check in (checks.squash, checks.fit, checks.paper_normalization):
        with pytest.raises(TypeError, match="pass the function itself"):
            check(0.5)


# ---------------------------------------------------------------------------
# Hints in steps; no answer given away
# ---------------------------------------------------------------------------


def test_a_second_failing_run_gives_the_next_hint_and_hint_gives_more():
    wrong = lambda X, K: good_corr2d(X, K) + 1  # noqa: E731  (no mistake the table knows)
    first, second = checks.corr2d(wrong).message, checks.corr2d(wrong).message
    steps = _core._HINTS["corr2d"]
    assert steps[0].render("en") in first and steps[1].render("en") in second
    assert 'checks.hint("corr2d")' in first
    more = checks.hint("corr2d")
    assert "3 of 3" in str(more) and all(step.render("en") in str(more) for step in steps)
    assert "solution cell" in str(more) and "lenet-hint" in more._repr_html_()
    again = checks.corr2d(wrong).message
    assert "full solution is in the folded solution cell" in again
    with pytest.raises(ValueError, match="name must be the name of a self-check"):
        checks.hint("corr3d")


def test_every_check_has_hints_in_steps_that_never_give_the_whole_solution():
    for name in checks.__all__:
        check = getattr(checks, name)
        if callable(check) and name not in ("answer", "CheckResult", "hint", "lenet5_target"):
            steps = _core._HINTS.get(name)
            assert steps and len(steps) >= 2, f"{name} needs hints in steps"


def test_no_failure_message_gives_the_answer_to_a_numeric_question():
    answers = _answers()
    for question, value in answers.items():
        shown = {str(value), f"{value:,}"} if isinstance(value, int) else {f"{value:.4g}", f"{value:.3g}"}
        for wrong in (value + 1, -1, 0.5, "x"):
            message = checks.answer(question, wrong).message
            assert not any(s in message.replace(str(wrong), "") for s in shown if len(s) > 1), (question, message)


def test_answer_never_raises_on_the_learners_value():
    assert checks.answer("c3_parameters", torch.tensor(1516)).passed
    assert checks.answer("map_loss_lowest", models.map_loss(torch.tensor([[0.0, 1e4]]), torch.tensor([0]))).passed
    for value in ("1516", [1516], torch.ones(2), torch.zeros((), device="meta"), object()):
        result = checks.answer("c3_parameters", value)
        assert not result.passed and result.message.startswith("✗")
    assert "without quotes" in checks.answer("c3_parameters", "1516").message
    with pytest.raises(ValueError, match="question must be one of"):
        checks.answer("c7_parameters", 1)


def test_answers_are_the_courses_own_numbers():
    table = {row.layer: row for row in counting.lenet5_table()}
    assert checks.answer("c3_parameters", table["C3"].parameters).passed
    assert checks.answer("c1_connections", table["C1"].connections).passed
    assert checks.answer("lenet5_parameters", 60_000).passed
    assert checks.answer("lenet5_connections", 340_908).passed
    assert checks.answer("c3_output_size", conv.conv_output_size(14, 5)).passed
    assert checks.answer("modern_parameters", counting.count_parameters(models.LeNet5Modern())).passed
    sizes = [checks.answer(f"receptive_field_{layer}", n).passed
             for layer, n in zip(("c1", "s2", "c3", "s4", "c5"), (5, 6, 14, 16, 32))]
    assert all(sizes)
    wrong = checks.answer("c3_parameters", 2416)  # C3 as if fully connected
    assert not wrong.passed and "Table I" in wrong.message
    assert set(_answers()) == set(checks.QUESTIONS)
    assert checks.answer("c3_parameters", None).message.startswith("… c3_parameters: not done yet")


# ---------------------------------------------------------------------------
# Where the messages point, and in which language
# ---------------------------------------------------------------------------


def headings(chapter: int | str) -> set[str]:
    path = CHAPTERS / f"{chapter}.ipynb" if isinstance(chapter, str) else next(CHAPTERS.glob(f"{chapter:02d}_*.ipynb"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {h.strip() for h in re.findall(r"^#{2,4} (.+)$", text, re.M)}


def test_every_section_a_message_points_to_is_a_heading_of_its_chapter():
    assert _core._SECTIONS
    for chapter, title in set(_core._SECTIONS):
        assert title in headings(chapter), f"chapter {chapter} has no section “{title}” (a check points to it)"


def chinese_share(text: str) -> float:
    """The share of Chinese characters among the letters of ``text``, code in backticks and names left out."""
    text = re.sub(r"`[^`]*`|\b\w+\(\S*\)|[\w.]+_\w+|\b[A-Z]\w*\d\w*\b", " ", text)
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return cjk / max(cjk + latin, 1)


@pytest.mark.parametrize("check, wrong", [
    (checks.corr2d, WRONG_1[checks.corr2d][0][0]),
    (checks.conv_output_size, WRONG_1[checks.conv_output_size][2][0]),
    (checks.subsampling, WRONG_2[checks.subsampling][0][0]),
    (checks.partial_conv_parameters, WRONG_3[checks.partial_conv_parameters][1][0]),
    (checks.map_loss, WRONG_4[checks.map_loss][0][0]),
    (checks.paper_normalization, WRONG_5[checks.paper_normalization][1][0]),
    (checks.train_step, WRONG_7[checks.train_step][0][0]),
    (checks.conv_backward_input, WRONG_BP[checks.conv_backward_input][0][0]),
    (checks.subsampling_backward, WRONG_BP[checks.subsampling_backward][0][0]),
    (checks.fit, WRONG_7[checks.fit][0][0]),
], ids=lambda v: check_id(v) if hasattr(v, "__module__") and "checks" in getattr(v, "__module__", "") else None)
def test_in_chinese_a_failure_message_is_mostly_chinese(check, wrong):
    set_language("zh_CN")
    result = check(wrong)
    assert not result.passed
    assert chinese_share(result.message) > 0.6, result.message
    assert result.render("en").startswith("✗") and chinese_share(result.render("en")) == 0
    more = checks.hint(check.__name__)
    assert chinese_share(str(more)) > 0.6, str(more)


def test_a_result_shows_the_learners_language_and_on_the_website_both(monkeypatch):
    result = checks.corr2d(WRONG_1[checks.corr2d][0][0])
    assert "true convolution" in result.message
    with using("zh_CN"):
        assert "互相关" in result.message and str(result) == result.message
    monkeypatch.setenv("LENET_BILINGUAL", "1")
    page = result._repr_html_()
    assert page.count('class="lenet-check"') == 2 and 'lang="zh-CN"' in page and 'lang="en"' in page
    assert "true convolution" in page and "互相关" in page
    assert result.name == "corr2d" and result.passed is False
    with using("zh_CN"):
        assert checks.answer("s2_parameters", 0).message.startswith("✗ s2_parameters")
        assert chinese_share(checks.answer("s2_parameters", 0).message) > 0.5
