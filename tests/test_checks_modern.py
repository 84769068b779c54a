"""The self-checks of chapter 6 (what changed since 1998): a right answer with parameters named as the learner likes,
and the typical wrong ones, each with the words its message must contain (test_checks.py runs them)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import checks, experiments, models
from lenet_helpers.layers import SQUASH_A, SQUASH_S


def good_batch_norm(maps):
    mean = maps.mean(dim=(0, 2, 3), keepdim=True)
    var = ((maps - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (maps - mean) / torch.sqrt(var + 1e-5)


def good_cross_entropy(scores, classes):
    shifted = scores - scores.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(len(classes)), classes].mean()


def good_sgd_momentum_step(w, g, velocity, rate, beta):
    velocity = beta * velocity + g
    return w - rate * velocity, velocity


def good_rmsprop_step(w, g, average, rate, decay, epsilon):
    average = decay * average + (1 - decay) * g ** 2
    return w - rate * g / (torch.sqrt(average) + epsilon), average


def good_squash_slope(out):
    return SQUASH_S / SQUASH_A * (SQUASH_A ** 2 - out ** 2)


def good_shift_image(picture, right, down, background):
    h, w = picture.shape
    out = torch.full_like(picture, background)
    rows_out, rows_in = slice(max(down, 0), h + min(down, 0)), slice(max(-down, 0), h + min(-down, 0))
    cols_out, cols_in = slice(max(right, 0), w + min(right, 0)), slice(max(-right, 0), w + min(-right, 0))
    out[rows_out, cols_out] = picture[rows_in, cols_in]
    return out


def sgd_in_place(param, grad, buf, lr, momentum):  # PyTorch's own way: the tensors are updated in place
    buf.mul_(momentum).add_(grad)
    param.sub_(lr * buf)
    return param, buf


RIGHT = {
    checks.squash_slope: good_squash_slope,
    checks.shift_image: good_shift_image,
    checks.batch_norm: good_batch_norm,
    checks.sgd_momentum_step: good_sgd_momentum_step,
    checks.rmsprop_step: good_rmsprop_step,
    checks.cross_entropy: good_cross_entropy,
}

WRONG = {
    checks.squash_slope: [
        (lambda y: 1 - y ** 2, ["plain tanh"]),
        (lambda y: SQUASH_A * SQUASH_S * (1 - y ** 2), ["tanh(S·a) = y/A"]),
        (lambda y: SQUASH_S * (1 - (y / SQUASH_A) ** 2), ["forgets the factor A"]),
        (lambda y: SQUASH_A * (1 - (y / SQUASH_A) ** 2), ["forgets the factor S"]),
        (lambda y: y.sum(), ["returned shape"]),
    ],
    checks.shift_image: [
        (lambda image, dx, dy, fill: torch.roll(image, (dy, dx), (0, 1)), ["wraps around", "torch.roll"]),
        (lambda image, dx, dy, fill: good_shift_image(image, -dx, -dy, fill), ["the other way"]),
        (lambda image, dx, dy, fill: good_shift_image(image, dy, dx, fill), ["swaps dx and dy"]),
        (lambda image, dx, dy, fill: good_shift_image(image, dx, dy, 0.0), ["with zeros"]),
    ],
    checks.batch_norm: [
        (lambda x: (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-5), ["whole batch"]),
        (lambda x: F.layer_norm(x, x.shape[1:]), ["layer normalisation"]),
        (lambda x: (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(x.var((0, 2, 3), keepdim=True) + 1e-5),
         ["unbiased variance"]),
        (lambda x: (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5), ["channel and position"]),
        (lambda x: (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), unbiased=False, keepdim=True),
         ["leaves eps out"]),
        (lambda x: x[0], ["returned shape"]),
    ],
    checks.sgd_momentum_step: [
        (lambda param, grad, buf, lr, momentum: (param - (momentum * buf + lr * grad), momentum * buf + lr * grad),
         ["learning rate in the buffer"]),
        (lambda param, grad, buf, lr, momentum: (
            param - lr * (momentum * buf + (1 - momentum) * grad), momentum * buf + (1 - momentum) * grad),
         ["damps the buffer"]),
        (lambda param, grad, buf, lr, momentum: (param - lr * buf, momentum * buf + grad), ["old buffer"]),
        (lambda param, grad, buf, lr, momentum: (param + lr * (momentum * buf + grad), momentum * buf + grad),
         ["against the gradient"]),
        (lambda param, grad, buf, lr, momentum: param - lr * (momentum * buf + grad), ["a pair (new_param, new_buf)"]),
        (sgd_in_place, ["in place"]),
    ],
    checks.rmsprop_step: [
        (lambda param, grad, square_avg, lr, alpha, eps: (
            param - lr * grad / torch.sqrt(alpha * square_avg + (1 - alpha) * grad ** 2 + eps),
            alpha * square_avg + (1 - alpha) * grad ** 2), ["eps inside the square root"]),
        (lambda param, grad, square_avg, lr, alpha, eps: (
            param - lr * grad / (torch.sqrt(square_avg) + eps), alpha * square_avg + (1 - alpha) * grad ** 2),
         ["old average"]),
        (lambda param, grad, square_avg, lr, alpha, eps: (
            param - lr * grad / (alpha * square_avg + (1 - alpha) * grad ** 2 + eps),
            alpha * square_avg + (1 - alpha) * grad ** 2), ["divides by the average itself"]),
        (lambda param, grad, square_avg, lr, alpha, eps: (
            param - lr * grad / (torch.sqrt((1 - alpha) * square_avg + alpha * grad ** 2) + eps),
            (1 - alpha) * square_avg + alpha * grad ** 2), ["alpha on the wrong term"]),
        (lambda param, grad, square_avg, lr, alpha, eps: (
            param - lr * grad / (torch.sqrt(alpha * square_avg + grad ** 2) + eps), alpha * square_avg + grad ** 2),
         ["forgets the (1 − alpha)"]),
    ],
    checks.cross_entropy: [
        (lambda logits, target: -torch.log(torch.softmax(logits, 1)[torch.arange(len(target)), target]).mean(),
         ["overflows", "logsumexp"]),
        (lambda logits, target: -torch.log(torch.exp(logits)[torch.arange(len(target)), target]
                                           / torch.exp(logits).sum(1)).mean(), ["overflows"]),
        (lambda logits, target: F.cross_entropy(logits, target, reduction="sum"), ["sums over the batch"]),
        (lambda logits, target: -F.cross_entropy(logits, target), ["minus the log-probability"]),
        (lambda logits, target: F.cross_entropy(logits, target, reduction="none"), ["loss of every row"]),
        (lambda logits, target: "2.5", ["one number is expected"]),
    ],
}


def test_pytorchs_own_functions_pass():
    assert checks.squash_slope(lambda y: torch.func.grad(models.squash)(
        torch.atanh(y / SQUASH_A) / SQUASH_S) if y.ndim == 0 else torch.stack(
        [torch.func.grad(models.squash)(torch.atanh(v / SQUASH_A) / SQUASH_S) for v in y.flatten()]).view(y.shape)).passed
    assert checks.shift_image(lambda image, dx, dy, fill: experiments.shift(image[None, None], dx, dy, fill=fill)[0, 0]).passed

    def torch_rmsprop(param, grad, square_avg, lr, alpha, eps):
        p = param.clone().requires_grad_()
        optimizer = torch.optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps)
        optimizer.state[p].update(step=torch.tensor(0.0), square_avg=square_avg.clone())
        p.grad = grad.clone()
        optimizer.step()
        return p.detach(), optimizer.state[p]["square_avg"]

    assert checks.rmsprop_step(torch_rmsprop).passed
    assert checks.batch_norm(lambda x: nn.BatchNorm2d(x.shape[1], affine=False).train()(x)).passed
    assert checks.cross_entropy(lambda logits, target: F.cross_entropy(logits, target)).passed

    def torch_step(param, grad, buf, lr, momentum):
        p = param.clone().requires_grad_()
        optimizer = torch.optim.SGD([p], lr=lr, momentum=momentum)
        if momentum:
            p.grad = buf.clone()  # a first step with grad = buf leaves buf in the buffer...
            with torch.no_grad():
                optimizer.step()
                p.copy_(param)  # ... then undo that step's change to the parameter
        p.grad = grad.clone()
        optimizer.step()
        new_buf = optimizer.state[p]["momentum_buffer"] if momentum else grad
        return p.detach(), new_buf

    assert checks.sgd_momentum_step(torch_step).passed


def test_chapter_6s_numeric_questions():
    assert checks.answer("mlp_parameters", 61_699).passed
    assert checks.answer("batch_norm_extra_parameters", 226).passed
    wrong = checks.answer("mlp_parameters", 1024 * 57 + 57 * 48 + 48 * 10)  # the biases forgotten
    assert not wrong.passed and "biases" in wrong.message and "61699" not in wrong.message
    wrong = checks.answer("batch_norm_extra_parameters", 2 * 226)  # forgetting the biases that go
    assert not wrong.passed and "drop their biases" in wrong.message
