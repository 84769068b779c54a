import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lenet_helpers.pool import pool2d, pool_output_size


def test_pool2d_examples():
    X = torch.arange(9.0).reshape(3, 3)
    assert torch.equal(pool2d(X, 2, stride=1), torch.tensor([[4.0, 5.0], [7.0, 8.0]]))
    assert torch.equal(pool2d(X, 2, mode="avg", stride=1), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))
    # stride defaults to the window, like PyTorch: 4×4 -> 2×2
    assert pool2d(torch.arange(16.0).reshape(4, 4), 2).shape == (2, 2)


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    c = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    X = torch.randn(c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return X, (kh, kw), stride, (ph, pw)


@pytest.mark.parametrize("mode, layer", [("max", torch.nn.MaxPool2d), ("avg", torch.nn.AvgPool2d)])
@given(case=pool_case())
def test_pool2d_matches_pytorch(mode, layer, case):
    X, k, stride, padding = case
    theirs = layer(k, stride=stride, padding=padding)(X)
    ours = pool2d(X, k, mode=mode, stride=stride, padding=padding)
    torch.testing.assert_close(ours, theirs)
    assert pool_output_size(tuple(X.shape[1:]), k, stride, padding) == tuple(theirs.shape[1:])


def test_pool2d_single_channel_and_integers():
    X = torch.arange(16).reshape(4, 4)
    out = pool2d(X, 2)
    assert out.dtype == torch.get_default_dtype()
    assert out.tolist() == [[5.0, 7.0], [13.0, 15.0]]


def test_pool_output_size_examples():
    assert pool_output_size(28, 2) == 14
    assert pool_output_size(10, 2) == 5
    assert pool_output_size(7, 2) == 3  # the last row and column are dropped
    assert pool_output_size(5, 3, stride=2, padding=1) == 3
    assert pool_output_size((28, 10), 2) == (14, 5)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: pool2d(torch.ones(4, 4), 2, mode="min"), ValueError, ["mode", "'max'", "'avg'"]),
        (lambda: pool2d(torch.ones(4, 4), 2, stride=0), ValueError, ["stride", "positive"]),
        (lambda: pool2d(torch.ones(4, 4), 2, stride=-2), ValueError, ["stride"]),
        (lambda: pool2d(torch.ones(4, 4), 2.0), TypeError, ["pool_size", "integer"]),
        (lambda: pool2d(torch.ones(4, 4), 0), ValueError, ["pool_size", "positive"]),
        (lambda: pool2d(torch.ones(4, 4), 2, padding=2), ValueError, ["padding", "half"]),
        (lambda: pool2d(torch.ones(4, 4), 5), ValueError, ["pool_size", "padded input X"]),
        (lambda: pool2d(torch.ones(4), 2), ValueError, ["X", "H×W"]),
        (lambda: pool2d(torch.ones(1, 1, 4, 4), 2), ValueError, ["X", "C×H×W"]),
        (lambda: pool_output_size(4, 5), ValueError, ["pool_size", "padded input"]),
        (lambda: pool_output_size(4.0, 2), TypeError, ["n", "integer"]),
        (lambda: pool_output_size(4, 2, stride=0), ValueError, ["stride"]),
    ],
)
def test_pool_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
