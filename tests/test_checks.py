"""The self-checks: right answers pass, each kind of wrong answer gets a clear message, nothing raises."""

import pytest
import torch
import torch.nn.functional as F

from lenet_helpers import checks, conv, counting, models, pool


def good_corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def good_pool2d(X, pool_size, mode):
    ph, pw = pool_size
    Y = torch.zeros(X.shape[0] // ph, X.shape[1] // pw)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


RIGHT = {
    checks.corr2d: good_corr2d,
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + 2 * p - d * (k - 1) - 1) // s + 1,
    checks.same_padding: lambda k, d=1: d * (k - 1) // 2,
    checks.pool2d: good_pool2d,
    checks.pool_output_size: lambda n, k, s, p=0: (n + 2 * p - k) // s + 1,
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * (in_channels * kernel_size**2 + 1),
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * (in_channels * kernel_size**2 + 1) * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: (in_features + 1) * out_features,
}

WRONG = {
    checks.corr2d: lambda X, K: F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0],  # a true convolution
    checks.conv_output_size: lambda n, k, p=0, s=1, d=1: (n + p - k) // s + 1,  # padding on one side only
    checks.same_padding: lambda k, d=1: (k - 1) // 2,  # ignores dilation
    checks.pool2d: lambda X, pool_size, mode: pool.pool2d(X, pool_size, mode="max"),  # ignores mode
    checks.pool_output_size: lambda n, k, s, p=0: round((n + 2 * p - k) / s) + 1,  # rounds instead of floor
    checks.conv_parameters: lambda in_channels, out_channels, kernel_size: out_channels * in_channels * kernel_size**2,
    checks.conv_connections: lambda in_channels, out_channels, kernel_size, output_size: (
        out_channels * in_channels * kernel_size**2 * output_size**2),
    checks.linear_parameters: lambda in_features, out_features: in_features * out_features,
}


# The checks of chapters 4–6 are tested here too, with the right and wrong answers their chapters' tests
# define. A wrong answer may come with words the message must contain (the mistake it recognises).
from test_lenet5_chapter_helpers import RIGHT as RIGHT_4, WRONG as WRONG_4  # noqa: E402
from test_since_1998_helpers import RIGHT as RIGHT_6, WRONG as WRONG_6  # noqa: E402
from test_training_chapter_helpers import RIGHT as RIGHT_5, WRONG as WRONG_5  # noqa: E402

RIGHT = {**RIGHT, **RIGHT_4, **RIGHT_5, **RIGHT_6}
WRONG = {**WRONG, **WRONG_4, **{c: (fn, "it matches") for c, fn in WRONG_5.items()}, **WRONG_6}


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
    assert all(isinstance(v, int) and v > 0 for v in answers.values())


def test_bad_questions_and_values_are_clear_errors():
    with pytest.raises(ValueError, match="question must be one of"):
        checks.answer("c7_parameters", 1)
    with pytest.raises(TypeError, match="value must be a number"):
        checks.answer("c3_parameters", "1516")


def test_an_unanswered_question_is_not_done_yet():
    result = checks.answer("c3_parameters", None)
    assert not result.passed and "not done yet" in result.message
