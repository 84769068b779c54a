"""Chapter 6's helpers: models.lenet_variant and the checks batch_norm, cross_entropy, sgd_momentum_step."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lenet_helpers import checks, counting, data, models, train
from lenet_helpers.models import LeNetVariant, Subsampling, lenet_variant

# ---------------------------------------------------------------------------
# models.lenet_variant
# ---------------------------------------------------------------------------

SHAPES = [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]


@pytest.mark.parametrize("activation", models.VARIANT_ACTIVATIONS)
@pytest.mark.parametrize("pooling", models.VARIANT_POOLINGS)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_variant_has_lenet5s_layer_sizes_and_ten_logits(activation, pooling, batch_norm):
    model = lenet_variant(activation, pooling, batch_norm=batch_norm, dropout=0.25)
    assert isinstance(model, LeNetVariant)
    assert [name for name, _ in model.named_children()] == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]
    assert [row.output_shape for row in model.trace()] == SHAPES
    out = model(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 10)
    assert model.config == {"activation": activation, "pooling": pooling, "batch_norm": batch_norm, "dropout": 0.25}
    logits, target = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    assert model.loss(logits, target) == F.cross_entropy(logits, target)
    assert torch.equal(model.scores(logits), logits)


def test_the_default_variant_is_the_modern_lenet():
    default, modern = lenet_variant(), models.LeNet5Modern()
    assert counting.count_parameters(default) == counting.count_parameters(modern) == 61_706
    assert [(n, tuple(p.shape)) for n, p in default.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in modern.named_parameters()]
    assert [models.describe(m) for m in default] == [models.describe(m) for m in modern]


def test_parameter_counts_of_each_choice():
    base = 61_706
    count = counting.count_parameters
    # the paper's subsampling: a coefficient and a bias per map, in S2 (6 maps) and S4 (16)
    assert count(lenet_variant(pooling="trainable")) == base + 2 * (6 + 16)
    assert count(lenet_variant(pooling="avg")) == base
    # batch norm: gamma and beta per channel of C1, C3, C5 and per unit of F6; those layers lose their biases
    bn = 6 + 16 + 120 + 84
    assert count(lenet_variant(batch_norm=True)) == base + 2 * bn - bn
    for activation in models.VARIANT_ACTIVATIONS:
        assert count(lenet_variant(activation, dropout=0.5)) == base  # activations and dropout have no parameters


def test_the_chosen_layers_are_where_the_docstring_says():
    model = lenet_variant("squash", "trainable", batch_norm=True, dropout=0.5)
    assert isinstance(model.C1.squash, models.Squash) and isinstance(model.C1.batch_norm, nn.BatchNorm2d)
    assert model.C1.conv.bias is None and model.F6.linear.bias is None
    assert isinstance(model.S2.subsample, Subsampling) and model.S2.subsample.channels == 6
    assert isinstance(model.S4.squash, models.Squash) and model.S4.subsample.channels == 16
    assert isinstance(model.F6.batch_norm, nn.BatchNorm1d) and model.F6.batch_norm.num_features == 84
    assert [type(m) for m in model.F6] == [nn.Flatten, nn.Dropout, nn.Linear, nn.BatchNorm1d, models.Squash, nn.Dropout]
    assert isinstance(model.output, nn.Linear) and model.output.out_features == 10
    plain = lenet_variant("sigmoid", "avg")
    assert isinstance(plain.C3.sigmoid, nn.Sigmoid) and isinstance(plain.S2, nn.AvgPool2d)
    assert isinstance(lenet_variant().S4, nn.MaxPool2d) and isinstance(lenet_variant("tanh").C5.tanh, nn.Tanh)
    assert not any(isinstance(m, (nn.Dropout, nn.BatchNorm2d, nn.BatchNorm1d)) for m in plain.modules())


def test_dropout_and_batch_norm_act_only_in_training_mode():
    torch.manual_seed(0)
    x = torch.randn(8, 1, 32, 32)
    model = lenet_variant(batch_norm=True, dropout=0.5)
    model.eval()
    assert torch.equal(model(x), model(x))  # deterministic in evaluation mode
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout draws a new mask each call


def test_a_variant_trains():
    train.set_seed(0)
    x, y = data.mnist_tensors(train=False)
    model = lenet_variant(batch_norm=True)
    before = train.evaluate(model, (x[:500], y[:500]))
    train.train(model, (x[:1000], y[:1000]), epochs=2, batch_size=50, progress=False, device="cpu")
    assert train.evaluate(model, (x[:500], y[:500])).loss < before.loss


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: lenet_variant("gelu"), ValueError, ["activation", "'relu'", "'gelu'"]),
        (lambda: lenet_variant(pooling="min"), ValueError, ["pooling", "'trainable'", "'min'"]),
        (lambda: lenet_variant(activation=nn.ReLU), ValueError, ["activation"]),
        (lambda: lenet_variant(batch_norm=1), TypeError, ["batch_norm", "True or False"]),
        (lambda: lenet_variant(dropout=1.0), ValueError, ["dropout", "[0, 1)"]),
        (lambda: lenet_variant(dropout=-0.1), ValueError, ["dropout"]),
        (lambda: lenet_variant(dropout="0.5"), ValueError, ["dropout"]),
        (lambda: lenet_variant(dropout=True), ValueError, ["dropout"]),
        (lambda: lenet_variant()(torch.zeros(2, 1, 28, 28)), ValueError, ["LeNetVariant", "N×1×32×32", "pad them"]),
    ],
)
def test_lenet_variant_rejects_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# The chapter 6 checks
# ---------------------------------------------------------------------------


def good_batch_norm(x):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5)


def good_cross_entropy(logits, target):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(len(target)), target].mean()


def good_sgd_momentum_step(param, grad, buf, lr, momentum):
    new_buf = momentum * buf + grad
    return param - lr * new_buf, new_buf


RIGHT = {
    checks.batch_norm: good_batch_norm,
    checks.cross_entropy: good_cross_entropy,
    checks.sgd_momentum_step: good_sgd_momentum_step,
}

# Each wrong answer, with what its message must say.
WRONG = {
    checks.batch_norm: (lambda x: (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-5), "whole batch"),
    checks.cross_entropy: (lambda logits, target: -torch.log(torch.softmax(logits, 1)[torch.arange(len(target)), target]).mean(),
                           "exp overflows"),
    checks.sgd_momentum_step: (lambda param, grad, buf, lr, momentum: (
        param - (momentum * buf + lr * grad), momentum * buf + lr * grad), "includes the learning rate"),
}


def test_pytorchs_own_functions_pass():
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


@pytest.mark.parametrize(
    "check, wrong, words",
    [
        (checks.batch_norm, lambda x: F.layer_norm(x, x.shape[1:]), "layer normalisation"),
        (checks.batch_norm, lambda x: (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
            x.var((0, 2, 3), keepdim=True) + 1e-5), "unbiased variance"),
        (checks.batch_norm, lambda x: (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5), "and position"),
        (checks.batch_norm, lambda x: (x - x.mean((0, 2, 3), keepdim=True)) / x.std(
            (0, 2, 3), unbiased=False, keepdim=True), "missing eps"),
        (checks.batch_norm, lambda x: x[0], "returned shape"),
        (checks.cross_entropy, lambda logits, target: F.cross_entropy(logits, target, reduction="sum"), "sum over the batch"),
        (checks.cross_entropy, lambda logits, target: -F.cross_entropy(logits, target), "minus the log-probability"),
        (checks.cross_entropy, lambda logits, target: F.cross_entropy(logits, target, reduction="none"),
         "expected one number"),
        (checks.cross_entropy, lambda logits, target: "2.5", "expected a number"),
        (checks.sgd_momentum_step, lambda param, grad, buf, lr, momentum: (
            param - lr * (momentum * buf + (1 - momentum) * grad), momentum * buf + (1 - momentum) * grad), "damped"),
        (checks.sgd_momentum_step, lambda param, grad, buf, lr, momentum: (
            param - lr * buf, momentum * buf + grad), "old buffer"),
        (checks.sgd_momentum_step, lambda param, grad, buf, lr, momentum: param - lr * (momentum * buf + grad),
         "expected a pair"),
    ],
)
def test_common_mistakes_are_named(check, wrong, words):
    result = check(wrong)
    assert not result.passed and words in result.message, result.message


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_the_learners_inputs_cannot_spoil_the_reference(check):
    def in_place(*args, **kwargs):
        answer = RIGHT[check](*args, **kwargs)
        for value in list(args) + list(kwargs.values()):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                value.zero_()
        return answer

    assert check(in_place).passed


@pytest.mark.parametrize("check", list(RIGHT), ids=lambda c: c.__name__)
def test_passing_something_that_is_not_a_function_is_a_clear_error(check):
    with pytest.raises(TypeError, match="fn must be your function"):
        check(5)
