"""The self-checks of the page "Backpropagation by hand": a right answer with parameters named as the learner likes,
and the typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import torch
import torch.nn.functional as F

from lenet_helpers import backprop, checks, conv, layers


def corr2d_input_gradient(upstream, kernels):
    """Loops, one map at a time, with chapter 1's corr2d: the full correlation with the kernel turned by 180°."""
    n, cout, ho, wo = upstream.shape
    _, cin, kh, kw = kernels.shape
    grad = torch.zeros(n, cin, ho + kh - 1, wo + kw - 1)
    for i in range(n):
        for o in range(cout):
            padded = F.pad(upstream[i, o], (kw - 1, kw - 1, kh - 1, kh - 1))
            for c in range(cin):
                grad[i, c] += conv.corr2d(padded, kernels[o, c].flip(0, 1))
    return grad


def kernel_gradients(images, upstream):
    n, cin, h, w = images.shape
    cout, ho, wo = upstream.shape[1:]
    grad_w = torch.zeros(cout, cin, h - ho + 1, w - wo + 1)
    for i in range(n):
        for o in range(cout):
            for c in range(cin):
                grad_w[o, c] += conv.corr2d(images[i, c], upstream[i, o])
    return grad_w, upstream.sum(dim=(0, 2, 3))


def subsampling_gradients(maps, coefficients, upstream):
    sums = 4 * F.avg_pool2d(maps, 2)
    grad_x = F.interpolate(upstream * coefficients[None, :, None, None], scale_factor=2, mode="nearest")
    return grad_x, (upstream * sums).sum(dim=(0, 2, 3)), upstream.sum(dim=(0, 2, 3))


def output_gradient(features, codes, labels):
    penalties = torch.cdist(features, codes) ** 2
    logits = torch.cat([-penalties, torch.full((len(labels), 1), -0.1)], dim=1)
    shares = logits.softmax(dim=1)[:, :-1]
    g = (F.one_hot(labels, codes.shape[0]).float() - shares) / len(labels)
    return 2 * (g.sum(1, keepdim=True) * features - g @ codes)


def output_gradient_by_autograd(features, codes, labels):
    x = features.clone().requires_grad_()
    layers.map_loss(((x[:, None] - codes) ** 2).sum(2), labels).backward()
    return x.grad


def _full(g, w):
    k = w.shape[-1]
    return F.pad(g, (w.shape[-1] - 1, k - 1, w.shape[-2] - 1, w.shape[-2] - 1))


RIGHT = {
    checks.conv_backward_input: corr2d_input_gradient,
    checks.conv_backward_params: kernel_gradients,
    checks.subsampling_backward: subsampling_gradients,
    checks.rbf_map_backward: output_gradient,
}

WRONG = {
    checks.conv_backward_input: [
        (lambda g, w: F.conv2d(_full(g, w), w.transpose(0, 1)), ["does not flip the kernel", "180°"]),
        (lambda g, w: F.conv2d(_full(g, w), w.flip(3).transpose(0, 1)), ["one direction only"]),
        (lambda g, w: F.conv2d(g, w.flip(2, 3).transpose(0, 1)), ["does not pad grad_out", "\"full\""]),
        (lambda g, w: F.conv2d(_full(g, w), w.flip(2, 3)), ["channels as they are", ".transpose(0, 1)"]),
        (lambda g, w: backprop.conv_backward_input(g, w).sum(0, keepdim=True), ["over the batch"]),
    ],
    checks.conv_backward_params: [
        (lambda x, g: (backprop.conv_backward_weight(x, g), torch.zeros(g.shape[1])), ["forgets the bias's gradient"]),
        (lambda x, g: (backprop.conv_backward_weight(x, g), None), ["None for the bias's gradient"]),
        (lambda x, g: kernel_gradients(x[:1], g[:1]), ["leaves out the sum over the batch"]),
        (lambda x, g: tuple(p / len(x) for p in kernel_gradients(x, g)), ["averages over the batch"]),
        (lambda x, g: (torch.stack([kernel_gradients(x[i:i + 1], g[i:i + 1])[0] for i in range(len(x))]),
                       g.sum(dim=(0, 2, 3))), ["one kernel gradient per image"]),
        (lambda x, g: (kernel_gradients(x, g)[0], g.sum(dim=0)), ["sum over the positions for the bias"]),
        (lambda x, g: (kernel_gradients(x, g)[0].flip(2, 3), g.sum(dim=(0, 2, 3))), ["flips the kernel's gradient"]),
    ],
    checks.subsampling_backward: [
        (lambda x, w, g: (F.interpolate(g, scale_factor=2),) + subsampling_gradients(x, w, g)[1:],
         ["ignores the coefficient"]),
        (lambda x, w, g: (subsampling_gradients(x, w, g)[0] / 4,) + subsampling_gradients(x, w, g)[1:],
         ["divides the input's gradient by 4"]),
        (lambda x, w, g: subsampling_gradients(x, w, g)[:2] + (torch.zeros_like(w),), ["forgets the bias's gradient"]),
        (lambda x, w, g: subsampling_gradients(x, w, g)[:2] + (None,), ["None for the bias's gradient"]),
        (lambda x, w, g: (subsampling_gradients(x, w, g)[0],) + subsampling_gradients(x[:1], w, g[:1])[1:],
         ["leaves out the sum over the batch"]),
        (lambda x, w, g: (subsampling_gradients(x, w, g)[0], (g * F.avg_pool2d(x, 2)).sum(dim=(0, 2, 3)),
                          g.sum(dim=(0, 2, 3))), ["window's mean for the coefficient"]),
        (lambda x, w, g: (subsampling_gradients(x, w, g)[0], g.sum(dim=(0, 2, 3)), g.sum(dim=(0, 2, 3))),
         ["gives the coefficient the bias's gradient"]),
    ],
    checks.rbf_map_backward: [
        (lambda x, c, t: 2 * (x - c[t]) / len(t), ["forgets the competition term"]),
        (lambda x, c, t: output_gradient_by_autograd(x, c, t) * len(t), ["leaves out the 1/N"]),
        (lambda x, c, t: output_gradient(x, c, t) / 2, ["forgets the 2 of the square"]),
        (lambda x, c, t: -output_gradient(x, c, t), ["the wrong way round"]),
    ],
}


def rbf_without_rubbish(x, c, t):
    penalties = ((x[:, None] - c) ** 2).sum(2)
    g = (F.one_hot(t, c.shape[0]).float() - (-penalties).softmax(1)) / len(t)
    return 2 * (g.sum(1, keepdim=True) * x - g @ c)


WRONG[checks.rbf_map_backward].append((rbf_without_rubbish, ["leaves out the rubbish class"]))


def test_the_references_are_the_packages_and_autograds():
    assert checks.rbf_map_backward(output_gradient_by_autograd).passed
    assert checks.conv_backward_input(backprop.conv_backward_input).passed
    assert checks.conv_backward_params(lambda x, g: (backprop.conv_backward_weight(x, g),
                                                     backprop.conv_backward_bias(g))).passed
    assert checks.subsampling_backward(lambda x, w, g: tuple(backprop.subsampling_backward(x, w, g))).passed

    def by_autograd(x, w, g):
        x, w, b = x.clone().requires_grad_(), w.clone().requires_grad_(), torch.zeros_like(w).requires_grad_()
        out = F.avg_pool2d(x, 2, divisor_override=1) * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
        return torch.autograd.grad(out, (x, w, b), g)

    assert checks.subsampling_backward(by_autograd).passed


def test_a_list_of_three_results_is_accepted_and_a_pair_is_explained():
    assert checks.subsampling_backward(lambda x, w, g: list(subsampling_gradients(x, w, g))).passed
    result = checks.subsampling_backward(lambda x, w, g: subsampling_gradients(x, w, g)[:2])
    assert not result.passed and "3 results (grad_x, grad_weight, grad_bias)" in result.message
