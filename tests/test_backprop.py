"""The hand-written backward passes against autograd, in float64, and the gradient checker."""

import pytest
import torch
import torch.nn.functional as F

from lenet_helpers import backprop, layers, models

D = torch.float64


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


def autograd(f, *inputs):
    """The gradients of (f(*inputs) · a fixed random weighting).sum() with respect to every input, by autograd,
    and that weighting (the grad_out the hand-written functions take)."""
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    out = f(*leaves)
    grad_out = rand(*out.shape, seed=7)
    grads = torch.autograd.grad(out, leaves, grad_out)
    return grad_out, grads


def close(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (a - b).abs().max()


def test_squash_backward_is_autograds():
    a = rand(3, 4, 5)
    grad_out, (expected,) = autograd(layers.squash, a)
    close(backprop.squash_backward(a, grad_out), expected)


@pytest.mark.parametrize("n, cin, cout, size, k", [(2, 1, 6, 32, 5), (3, 16, 4, 5, 5), (1, 2, 3, 7, 3), (2, 3, 2, 6, (2, 3))])
def test_convolution_backward_is_autograds(n, cin, cout, size, k):
    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = rand(n, cin, size, size, seed=1), rand(cout, cin, kh, kw, seed=2), rand(cout, seed=3)
    grad_out, (gx, gw, gb) = autograd(F.conv2d, x, w, b)
    close(backprop.conv_backward_input(grad_out, w), gx)
    close(backprop.conv_backward_weight(x, grad_out), gw)
    close(backprop.conv_backward_bias(grad_out), gb)


def test_the_input_gradient_needs_the_flipped_kernel():
    x, w = rand(1, 1, 6, 6), rand(1, 1, 3, 3)
    grad_out, (gx, _) = autograd(F.conv2d, x, w)
    unflipped = F.conv2d(F.pad(grad_out, (2, 2, 2, 2)), w)
    assert not torch.allclose(unflipped, gx)
    close(backprop.conv_backward_input(grad_out, w), gx)


@pytest.mark.parametrize("shape", [(2, 6, 28, 28), (3, 16, 10, 10), (1, 2, 5, 7)])
def test_subsampling_backward_is_autograds(shape):
    x, w, b = rand(*shape, seed=1), rand(shape[1], seed=2), rand(shape[1], seed=3)

    def forward(x, w, b):
        return F.avg_pool2d(x, 2, divisor_override=1) * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)

    grad_out, (gx, gw, gb) = autograd(forward, x, w, b)
    found = backprop.subsampling_backward(x, w, grad_out)
    close(found.x, gx)
    close(found.weight, gw)
    close(found.bias, gb)


def test_subsampling_backward_matches_the_layer():
    s2 = layers.Subsampling(6).double()
    x = rand(2, 6, 28, 28).requires_grad_()
    out = s2(x)
    grad_out = rand(*out.shape, seed=4)
    out.backward(grad_out)
    dx, dw, db = backprop.subsampling_backward(x.detach(), s2.weight.detach(), grad_out)
    close(dx, x.grad)
    close(dw, s2.weight.grad)
    close(db, s2.bias.grad)


def test_partial_conv_backward_is_autograds_and_flows_only_along_table_I():
    c3 = layers.PartialConv2d(layers.C3_TABLE, 5).double()
    x = rand(2, 6, 14, 14).requires_grad_()
    out = c3(x)
    grad_out = rand(*out.shape, seed=4)
    out.backward(grad_out)
    dx, dw, db = backprop.partial_conv_backward(x.detach(), c3.weight.detach(), c3.table, grad_out)
    close(dx, x.grad)
    close(dw, c3.weight.grad)
    close(db, c3.bias.grad)
    # an output map's gradient reaches only the input maps Table I connects it to
    only_map_0 = torch.zeros_like(grad_out)
    only_map_0[:, 0] = 1.0
    dx0 = backprop.partial_conv_backward(x.detach(), c3.weight.detach(), c3.table, only_map_0).x
    reached = dx0.abs().sum(dim=(0, 2, 3)) > 0
    assert torch.equal(reached, layers.C3_TABLE[:, 0])


def test_linear_backward_is_autograds():
    x, w, b = rand(5, 120, seed=1), rand(84, 120, seed=2), rand(84, seed=3)
    grad_out, (gx, gw, gb) = autograd(F.linear, x, w, b)
    found = backprop.linear_backward(x, w, grad_out)
    close(found.x, gx)
    close(found.weight, gw)
    close(found.bias, gb)


def test_rbf_and_map_loss_backward_are_autograds():
    rbf = layers.EuclideanRBF(layers.rbf_codes()).double()
    x, target = rand(6, 84), torch.tensor([0, 3, 9, 3, 1, 7])
    grad_out, (gx,) = autograd(rbf, x)
    close(backprop.rbf_backward(x, rbf.centers, grad_out), gx)
    for j in (0.1, 2.0):
        penalties = (rand(6, 10, seed=5) * 20).abs().requires_grad_()
        layers.map_loss(penalties, target, j).backward()
        close(backprop.map_loss_backward(penalties.detach(), target, j), penalties.grad)


def test_lenet5_gradients_are_autograds():
    torch.manual_seed(0)
    model = models.LeNet5().double()
    images, target = rand(4, 1, 32, 32), torch.tensor([1, 7, 7, 0])
    loss = model.loss(model(images), target)
    loss.backward()
    mine, grads = backprop.lenet5_gradients(model, images, target)
    assert torch.allclose(mine, loss.detach(), rtol=1e-12)
    assert list(grads) == [name for name, _ in model.named_parameters()]
    for name, parameter in model.named_parameters():
        assert torch.allclose(grads[name], parameter.grad, rtol=1e-9, atol=1e-12), name
    assert not any(g.requires_grad for g in grads.values())


def test_lenet5_gradients_in_float32_are_close_to_autograds():
    torch.manual_seed(1)
    model = models.LeNet5()
    images, target = rand(8, 1, 32, 32).float(), torch.arange(8)
    model.loss(model(images), target).backward()
    _, grads = backprop.lenet5_gradients(model, images, target)
    for name, parameter in model.named_parameters():
        assert backprop.relative_error(grads[name], parameter.grad) < 1e-4, name


def test_gradient_check_passes_right_gradients_and_fails_wrong_ones():
    x, w = rand(1, 1, 5, 5), rand(2, 1, 3, 3)
    grad_out = rand(1, 2, 3, 3, seed=9)

    def loss_of_x(t):
        return (F.conv2d(t, w) * grad_out).sum()

    right = backprop.gradient_check(loss_of_x, x, backprop.conv_backward_input(grad_out, w))
    assert right.passed and right.relative_error < 1e-8
    unflipped = F.conv2d(F.pad(grad_out, (2, 2, 2, 2)), w.transpose(0, 1))
    wrong = backprop.gradient_check(loss_of_x, x, unflipped)
    assert not wrong.passed and wrong.relative_error > 1e-2
    assert torch.autograd.gradcheck(lambda t: F.conv2d(t, w), (x.clone().requires_grad_(),))


def test_float32_finite_differences_mislead_where_float64_do_not():
    """The point the chapter makes: the same right gradient, checked with finite differences in float32,
    shows an error many orders of magnitude larger than in float64."""
    model = models.LeNet5().double()
    images, target = rand(2, 1, 32, 32), torch.tensor([3, 8])
    weight = model.F6.linear.weight
    _, grads = backprop.lenet5_gradients(model, images, target)
    rows = slice(0, 1)
    copies = {dtype: models.LeNet5().to(dtype) for dtype in (D, torch.float32)}
    for copy in copies.values():
        copy.load_state_dict(model.state_dict())

    def loss_with(w, dtype):
        m = copies[dtype]
        with torch.no_grad():
            m.F6.linear.weight[rows] = w
            return m.loss(m(images.to(dtype)), target)

    exact = grads["F6.linear.weight"][rows]
    in64 = backprop.numerical_gradient(lambda w: loss_with(w, D), weight[rows].detach(), eps=1e-6)
    in32 = backprop.numerical_gradient(lambda w: loss_with(w, torch.float32), weight[rows].detach().float(), eps=1e-6)
    error64, error32 = backprop.relative_error(in64, exact), backprop.relative_error(in32.double(), exact)
    assert error64 < 1e-6
    assert error32 > 1e3 * error64


def test_relative_error():
    a = torch.tensor([1.0, -2.0])
    assert backprop.relative_error(a, a) == 0.0
    assert backprop.relative_error(a, -a) == pytest.approx(1.0)
    assert backprop.relative_error(torch.zeros(2), torch.zeros(2)) == 0.0


@pytest.mark.parametrize("call, error, words", [
    (lambda: backprop.conv_backward_input(torch.zeros(1, 2, 3, 3), torch.zeros(3, 1, 2, 2)), ValueError, "one kernel per channel"),
    (lambda: backprop.conv_backward_input(torch.zeros(2, 3, 3), torch.zeros(3, 1, 2, 2)), ValueError, "grad_out must be a 4-D"),
    (lambda: backprop.conv_backward_weight(torch.zeros(2, 1, 4, 4), torch.zeros(1, 1, 2, 2)), ValueError, "same batch"),
    (lambda: backprop.conv_backward_bias(torch.zeros(2, 3, 4, 4, dtype=torch.long)), TypeError, "floating-point"),
    (lambda: backprop.squash_backward(torch.zeros(3), torch.zeros(4)), ValueError, "grad_out must have the shape of a"),
    (lambda: backprop.squash_backward(torch.zeros(1, dtype=torch.long), torch.zeros(1)), TypeError, "floating-point"),
    (lambda: backprop.subsampling_backward(torch.zeros(1, 2, 4, 4), torch.zeros(2), torch.zeros(1, 2, 3, 3)), ValueError, "grad_out the shape"),
    (lambda: backprop.subsampling_backward(torch.zeros(1, 2, 4, 4), torch.zeros(2), torch.zeros(1, 2, 2, 2), 0), ValueError, "kernel_size"),
    (lambda: backprop.partial_conv_backward(torch.zeros(1, 6, 14, 14), torch.zeros(59, 5, 5), layers.C3_TABLE, torch.zeros(1, 16, 10, 10)), ValueError, "60 kernels"),
    (lambda: backprop.partial_conv_backward(torch.zeros(1, 6, 14, 14), torch.zeros(60, 5, 5), torch.ones(6), torch.zeros(1, 16, 10, 10)), ValueError, "table must be a 2-D"),
    (lambda: backprop.linear_backward(torch.zeros(2, 3), torch.zeros(4, 5), torch.zeros(2, 4)), ValueError, "do not fit"),
    (lambda: backprop.rbf_backward(torch.zeros(2, 84), torch.zeros(10, 84), torch.zeros(2, 9)), ValueError, "do not fit"),
    (lambda: backprop.map_loss_backward(torch.zeros(2, 10), torch.tensor([1.0, 2.0])), TypeError, "integer class indices"),
    (lambda: backprop.map_loss_backward(torch.zeros(2, 10), torch.tensor([1])), ValueError, "one label per row"),
    (lambda: backprop.map_loss_backward(torch.zeros(2, 10), torch.tensor([1, 2]), j=0), ValueError, "j must be a finite positive"),
    (lambda: backprop.lenet5_gradients(models.LeNet5Modern(), torch.zeros(1, 1, 32, 32), torch.tensor([1])), TypeError, "faithful LeNet-5"),
    (lambda: backprop.lenet5_gradients(models.LeNet5(), torch.zeros(1, 1, 28, 28), torch.tensor([1])), ValueError, "N×1×32×32"),
    (lambda: backprop.numerical_gradient(3, torch.zeros(2)), TypeError, "f must be a function"),
    (lambda: backprop.numerical_gradient(torch.sum, torch.zeros(2), eps=0), ValueError, "eps must be a finite positive"),
    (lambda: backprop.numerical_gradient(torch.sum, torch.zeros(2), eps=float("inf")), ValueError, "eps must be a finite positive"),
    (lambda: backprop.map_loss_backward(torch.zeros(2, 10), torch.tensor([1, 2]), j=float("nan")), ValueError, "j must be a finite positive"),
    (lambda: backprop.relative_error(torch.zeros(2), torch.zeros(3)), ValueError, "reference must have the shape"),
    (lambda: backprop.gradient_check(torch.sum, torch.zeros(2), torch.zeros(2), tolerance=-1), ValueError, "tolerance"),
    (lambda: backprop.gradient_check(torch.sum, torch.zeros(2), torch.zeros(3)), ValueError, "gradient must have the shape"),
    (lambda: backprop.gradient_check("sum", torch.zeros(2), torch.zeros(2)), TypeError, "f must be a function"),
    (lambda: backprop.gradient_check(torch.sum, torch.zeros(2), torch.zeros(2), eps=0), ValueError, "eps must be a finite positive"),
])
def test_bad_arguments_are_clear_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_arguments_are_checked_once_at_the_public_entry(monkeypatch):
    """lenet5_gradients checks its images and targets; the backward passes it chains trust it (they are the public
    functions' bodies, without their checks). gradient_check checks x and gradient once."""
    calls = []
    real = backprop.check_tensor

    def counting(x, name, **kw):
        calls.append(name)
        return real(x, name, **kw)

    monkeypatch.setattr(backprop, "check_tensor", counting)
    backprop.lenet5_gradients(models.LeNet5(), torch.zeros(2, 1, 32, 32), torch.tensor([3, 5]))
    assert calls == ["images", "target"]
    calls.clear()
    backprop.gradient_check(lambda t: (t ** 2).sum(), torch.ones(3), 2 * torch.ones(3))
    assert calls == ["x", "gradient"]
