import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lenet_helpers.conv import conv_output_size, corr2d, corr2d_multi_in, corr2d_multi_in_out


def test_corr2d_worked_example():
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert torch.equal(corr2d(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


def test_corr2d_accepts_integer_tensors_and_lists():
    assert corr2d(torch.arange(9).reshape(3, 3), [[0, 1], [2, 3]]).tolist() == [[19, 25], [37, 43]]


def test_corr2d_multi_in_two_channel_example():
    X = torch.stack([torch.arange(9.0).reshape(3, 3), torch.arange(1.0, 10.0).reshape(3, 3)])
    K = torch.stack([torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])])
    out = corr2d_multi_in(X, K)
    assert out[0, 0] == 56
    assert torch.equal(out, torch.tensor([[56.0, 72.0], [104.0, 120.0]]))


def test_corr2d_is_differentiable():
    K = torch.zeros(2, 2, requires_grad=True)
    corr2d(torch.arange(9.0).reshape(3, 3), K).sum().backward()
    assert torch.equal(K.grad, torch.tensor([[8.0, 12.0], [20.0, 24.0]]))


@st.composite
def conv_case(draw):
    """A random convolution whose kernel fits in the padded input."""
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(cin, h, w, generator=g, dtype=torch.float64)
    K = torch.randn(cout, cin, kh, kw, generator=g, dtype=torch.float64)
    return X, K, (ph, pw), (sh, sw), (dh, dw)


@given(conv_case())
def test_corr2d_multi_in_out_matches_pytorch(case):
    X, K, padding, stride, dilation = case
    ours = corr2d_multi_in_out(X, K, padding=padding, stride=stride, dilation=dilation)
    theirs = F.conv2d(X[None], K, padding=padding, stride=stride, dilation=dilation)[0]
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs)


@given(conv_case())
def test_corr2d_matches_pytorch_on_one_channel(case):
    X, K, padding, stride, dilation = case
    ours = corr2d(X[0], K[0, 0], padding=padding, stride=stride, dilation=dilation)
    theirs = F.conv2d(X[None, :1], K[:1, :1], padding=padding, stride=stride, dilation=dilation)[0, 0]
    torch.testing.assert_close(ours, theirs)


@given(conv_case())
def test_conv_output_size_matches_pytorch(case):
    X, K, padding, stride, dilation = case
    out = F.conv2d(X[None], K, padding=padding, stride=stride, dilation=dilation)
    size = conv_output_size(tuple(X.shape[1:]), tuple(K.shape[2:]), padding, stride, dilation)
    assert size == tuple(out.shape[2:])


def test_conv_output_size_worked_examples():
    assert conv_output_size(32, 5) == 28
    assert conv_output_size(256, 12, padding=2, stride=4) == 63
    # (8 + 2 - 3) / 2 = 3.5: the last half window is dropped, floor gives 4 outputs
    assert conv_output_size(8, 3, padding=1, stride=2) == 4
    assert conv_output_size(28, 5, padding=2) == 28  # "same" padding for an odd kernel
    assert conv_output_size(7, 3, dilation=2) == 3
    assert conv_output_size((28, 32), (5, 3)) == (24, 30)
    assert isinstance(conv_output_size(32, 5), int)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(n=32, kernel_size=5, stride=0), ValueError, ["stride", "positive"]),
        (dict(n=32, kernel_size=5, stride=-1), ValueError, ["stride", "positive"]),
        (dict(n=32, kernel_size=5, padding=-1), ValueError, ["padding", "non-negative"]),
        (dict(n=32, kernel_size=0), ValueError, ["kernel_size", "positive"]),
        (dict(n=32, kernel_size=5, dilation=0), ValueError, ["dilation", "positive"]),
        (dict(n=32.0, kernel_size=5), TypeError, ["n", "integer"]),
        (dict(n=32, kernel_size=2.5), TypeError, ["kernel_size", "integer"]),
        (dict(n=32, kernel_size=True), TypeError, ["kernel_size", "integer"]),
        (dict(n=4, kernel_size=5), ValueError, ["kernel_size", "larger", "padded input"]),
        (dict(n=5, kernel_size=3, dilation=3), ValueError, ["kernel_size", "dilation"]),
        (dict(n=(32, 32, 1), kernel_size=5), ValueError, ["n", "pair"]),
    ],
)
def test_conv_output_size_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error) as info:
        conv_output_size(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: corr2d(torch.ones(3, 3, 3), torch.ones(2, 2)), ValueError, ["X", "2-D", "H×W", "(3, 3, 3)"]),
        (lambda: corr2d(torch.ones(3, 3), torch.ones(2)), ValueError, ["K", "2-D"]),
        (lambda: corr2d(torch.ones(3, 3), torch.ones(4, 4)), ValueError, ["K", "padded input X"]),
        (lambda: corr2d(torch.ones(3, 3), torch.ones(2, 2), stride=0), ValueError, ["stride"]),
        (lambda: corr2d(torch.ones(3, 3), torch.ones(2, 2), padding=1.5), TypeError, ["padding", "integer"]),
        (lambda: corr2d("image", torch.ones(2, 2)), TypeError, ["X", "tensor"]),
        (lambda: corr2d(torch.ones(3, 3, dtype=torch.bool), torch.ones(2, 2)), TypeError, ["X", "real"]),
        (lambda: corr2d_multi_in(torch.ones(2, 3, 3), torch.ones(3, 2, 2)), ValueError, ["K", "channels"]),
        (lambda: corr2d_multi_in(torch.ones(3, 3), torch.ones(2, 2)), ValueError, ["X", "C×H×W"]),
        (lambda: corr2d_multi_in_out(torch.ones(2, 3, 3), torch.ones(4, 3, 2, 2)), ValueError, ["Cin", "X"]),
        (lambda: corr2d_multi_in_out(torch.ones(2, 3, 3), torch.ones(2, 2, 2)), ValueError, ["K", "Cout×Cin×kh×kw"]),
    ],
)
def test_corr2d_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
