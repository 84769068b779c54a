"""The self-checks: right answers pass, each kind of wrong answer gets a clear message, nothing raises."""

import pytest

from lenet_helpers import checks, conv, counting, models

# Every chapter's checks are tested here, with the right and wrong answers its tests define. A wrong
# answer may come with words the message must contain (the mistake it recognises).
from test_checks_capstone import RIGHT as RIGHT_7, WRONG as WRONG_7  # noqa: E402
from test_checks_conv import RIGHT as RIGHT_1, WRONG as WRONG_1, good_corr2d  # noqa: E402
from test_checks_counting import RIGHT as RIGHT_3, WRONG as WRONG_3  # noqa: E402
from test_checks_pool import RIGHT as RIGHT_2, WRONG as WRONG_2  # noqa: E402
from test_lenet5_chapter_helpers import RIGHT as RIGHT_4, WRONG as WRONG_4  # noqa: E402
from test_since_1998_helpers import RIGHT as RIGHT_6, WRONG as WRONG_6  # noqa: E402
from test_training_chapter_helpers import RIGHT as RIGHT_5, WRONG as WRONG_5  # noqa: E402

RIGHT = {**RIGHT_1, **RIGHT_2, **RIGHT_3, **RIGHT_4, **RIGHT_5, **RIGHT_6, **RIGHT_7}
WRONG = {**WRONG_1, **WRONG_2, **WRONG_3, **WRONG_4, **{c: (fn, "it matches") for c, fn in WRONG_5.items()}, **WRONG_6,
         **WRONG_7}


def test_every_check_is_tested_right_and_wrong():
    for name in checks.__all__:
        check = getattr(checks, name)
        if callable(check) and name not in ("answer", "CheckResult"):
            assert check in RIGHT and check in WRONG, f"checks.{name} needs a right and a wrong answer in the tests"


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_a_right_answer_passes(check):
    result = check(RIGHT[check])
    assert result.passed and bool(result), result.message
    assert result.message.startswith("✓") and "pass" in result.message
    assert 'data-passed="true"' in result._repr_html_()


@pytest.mark.parametrize("check", list(WRONG), ids=lambda c: c.__name__)
def test_a_wrong_answer_names_the_first_failing_case_and_gives_a_hint(check):
    wrong, words = WRONG[check] if isinstance(WRONG[check], tuple) else (WRONG[check], "")
    result = check(wrong)
    assert not result.passed and not bool(result)
    assert result.message.startswith("✗") and "First failure: fn(" in result.message
    assert "Hint:" in result.message and words in result.message
    assert 'data-passed="false"' in result._repr_html_()
    assert str(result) == repr(result) == result.message


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_a_stub_is_reported_as_not_done_yet(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("your code here")

    result = check(stub)
    assert not result.passed and "not done yet" in result.message


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_an_exception_in_the_learners_code_is_reported_not_raised(check):
    def broken(*args, **kwargs):
        return 1 / 0

    result = check(broken)
    assert not result.passed and "raised ZeroDivisionError: division by zero" in result.message


def test_wrong_return_types_are_explained():
    as_float = checks.conv_output_size(lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1)
    assert not as_float.passed and "return an int" in as_float.message
    as_list = checks.corr2d(lambda X, K: good_corr2d(X, K).tolist())
    assert not as_list.passed and "returned a list, expected a tensor" in as_list.message
    wrong_shape = checks.pool2d(lambda X, pool_size, mode: X)
    assert not wrong_shape.passed and "returned shape" in wrong_shape.message


def test_the_learners_inputs_cannot_spoil_the_reference():
    def in_place(X, K):
        Y = good_corr2d(X, K)
        X.zero_()  # a learner's function that modifies its input
        return Y

    assert checks.corr2d(in_place).passed


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_every_check_is_public_documented_and_listed(check):
    assert check.__name__ in checks.__all__
    assert check.__doc__ and "Example:" in check.__doc__
    assert f":func:`{check.__name__}`" in checks.__doc__  # listed in the module's table


def test_passing_something_that_is_not_a_function_is_a_clear_error():
    with pytest.raises(TypeError, match="fn must be your function"):
        checks.conv_output_size(5)


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


def test_every_question_has_an_answer_and_a_hint():
    answers = checks._answers()
    assert set(answers) == set(checks.QUESTIONS)
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in answers.values())


def test_bad_questions_and_values_are_clear_errors():
    with pytest.raises(ValueError, match="question must be one of"):
        checks.answer("c7_parameters", 1)
    with pytest.raises(TypeError, match="value must be a number"):
        checks.answer("c3_parameters", "1516")


def test_an_unanswered_question_is_not_done_yet():
    result = checks.answer("c3_parameters", None)
    assert not result.passed and "not done yet" in result.message
