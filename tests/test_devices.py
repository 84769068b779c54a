"""Every public helper runs on a device other than the CPU (the device smoke test, issue 29).

No GPU runs the tests, so this runs each helper on a fake device instead (``tests/fake_device.py``): its
tensors say they are on ``meta`` but hold real data on the CPU, and mixing them with CPU tensors raises as
CUDA does. A helper that leaves a tensor on the CPU, or draws on a CPU generator for the device, fails here
the way it would fail on a GPU. The chapters' and the benchmark's real GPU run is ``tools/gpu_check.sh``.

To add a helper: write a function of the device that calls it (models and data moved to the device, and
CPU data where the helper promises to move it), decorated with ``@on_device("module.name", ...)`` naming
the public helpers it covers. It must run, or raise the course's own error given as ``raises=``: never a
device mismatch. ``test_every_public_helper_is_run_on_a_device`` fails for a public helper of a module that
uses torch and is in neither ``SMOKE`` nor ``NO_TENSORS``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import re

import matplotlib.pyplot as plt
import pytest
import torch
from fake_device import DEVICE, DeviceMismatch, OnDevice, fake_device, is_mismatch

import lenet_helpers
from lenet_helpers import (backprop, conv, counting, data, evaluation, experiments, export, fast_sdlm, inside, layers,
                           models, modules, plots, pool, sdlm, tracing, train, widgets)

#: {test name: (function of the device, names of the public helpers it covers, expected error or None)}
SMOKE: dict = {}


def on_device(*covers: str, raises: tuple | None = None):
    """Register a smoke test: a function of the device that calls the public helpers ``covers`` ("module.name").

    ``raises``: (exception type, regex of its message) when the helper cannot run on a device and says so
    clearly; None when it must run.
    """
    def register(function):
        SMOKE[function.__name__] = (function, covers, raises)
        return function
    return register


#: Public callables that take no tensor and no model (numbers, file names, settings): nothing to move.
NO_TENSORS = {
    "conv.conv_output_size", "pool.pool_output_size",
    "counting.conv_counts", "counting.partial_conv_counts", "counting.subsampling_counts", "counting.pool_counts",
    "counting.linear_counts", "counting.rbf_counts", "counting.lenet5_table",
    "tracing.operation_name",  # the name of a function
    "layers.rbf_codes",  # makes the CPU constant that EuclideanRBF registers as a buffer (moved with the model)
    "data.normalization", "data.prepare_mnist", "data.read_idx",
    "train.device", "train.set_seed",
    "evaluation.loss_function",  # gives the model's loss function; train and evaluate run it on the device
    "sdlm.paper_eta", "sdlm.paper_schedule", "experiments.t_quantile",
    "results.results_path", "results.devices", "results.bench_results", "results.experiment_path",
    "results.experiment_results",
    "inside.receptive_field", "inside.trained_record",
    "plots.Figure", "plots.plot_history", "plots.plot_error_per_pass",  # tables of numbers
    "widgets.ConvExplorer", "widgets.PoolExplorer", "widgets.grid_values",  # small integer grids, in the browser
    # the in-browser trainer: the browser trains; its digits are packed from the files, and PyTorch's speed beside
    # it is measured on the same CPU
    "widgets.TrainInBrowser", "widgets.trainable_networks", "widgets.pytorch_speed",
    "export.training_digits", "export.pack_digits", "export.digits_script",
}
#: Packages whose device tests live in a file of their own: the self-checks run learner code on a fake accelerator
#: there (tests/test_checks_devices.py), with the mistakes a GPU would raise.
ELSEWHERE = {"lenet_helpers.checks": "test_checks_devices.py"}

torch.manual_seed(0)
X, Y = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))  # CPU data: some helpers promise to move it


def here(*tensors):
    """The CPU copies of tensors on the device (for comparing with a CPU run)."""
    return [t.cpu() for t in tensors]


def assert_on(dev, *tensors):
    for t in tensors:
        assert t.device == dev, f"a result is on {t.device}, not on the model's device {dev}"


# ---------------------------------------------------------------------------
# Chapters 1–3: convolution, pooling and counting from scratch
# ---------------------------------------------------------------------------


@on_device("conv.corr2d", "conv.corr2d_multi_in", "conv.corr2d_multi_in_out", "pool.pool2d")
def run_conv_and_pool(dev):
    x, k = torch.randn(2, 5, 5), torch.randn(2, 2, 3, 3)
    expected = conv.corr2d_multi_in_out(x, k, padding=1), pool.pool2d(x, 2), pool.pool2d(x[0], 3, "avg", 1, 1)
    got = (conv.corr2d_multi_in_out(x.to(dev), k.to(dev), padding=1), pool.pool2d(x.to(dev), 2),
           pool.pool2d(x[0].to(dev), 3, "avg", 1, 1))
    assert_on(dev, *got)
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(here(*got), expected))
    assert_on(dev, conv.corr2d(x[0].to(dev), k[0, 0].to(dev)), conv.corr2d_multi_in(x.to(dev), k[0].to(dev)))


@on_device("counting.count_parameters", "counting.count_connections", "counting.count_table", "counting.count_macs",
           "tracing.trace", "tracing.Trace", "tracing.Step")
def run_counting(dev):
    model = models.LeNet5().to(dev)
    assert counting.count_parameters(model) == 60_000
    assert counting.count_connections(model, (1, 32, 32)) == counting.count_connections(models.LeNet5(), (1, 32, 32))
    assert counting.count_macs(model, (1, 32, 32)) == counting.count_macs(models.LeNet5(), (1, 32, 32))
    assert len(counting.count_table(model, (1, 32, 32))) > 0
    steps = tracing.trace(model, (1, 32, 32)).steps
    assert steps and all(isinstance(step, tracing.Step) for step in steps)


# ---------------------------------------------------------------------------
# Layers and models
# ---------------------------------------------------------------------------


@on_device("layers.squash", "layers.Squash", "layers.Subsampling", "layers.PartialConv2d", "layers.EuclideanRBF",
           "layers.map_loss", "layers.uniform_fan_in_")
def run_layers(dev):
    x = X[:2].to(dev)
    maps = layers.Subsampling(1).to(dev)(layers.Squash()(layers.squash(x)))
    c3 = layers.PartialConv2d(layers.C3_TABLE).to(dev)
    layers.uniform_fan_in_(c3.weight, c3.fan_in()[c3.out_index].view(-1, 1, 1))
    out = c3(torch.randn(2, 6, 14, 14).to(dev))
    rbf = layers.EuclideanRBF(layers.rbf_codes()).to(dev)
    penalties = rbf(torch.randn(2, 84).to(dev))
    loss = layers.map_loss(penalties, Y[:2].to(dev))
    assert_on(dev, maps, out, penalties, loss)
    loss.item()


@on_device("backprop.squash_backward", "backprop.conv_backward_input", "backprop.conv_backward_weight",
           "backprop.conv_backward_bias", "backprop.subsampling_backward", "backprop.partial_conv_backward",
           "backprop.linear_backward", "backprop.rbf_backward", "backprop.map_loss_backward",
           "backprop.lenet5_gradients", "backprop.numerical_gradient", "backprop.relative_error",
           "backprop.gradient_check")
def run_backprop(dev):
    model = models.LeNet5().to(dev)
    x, y = X[:2].to(dev), Y[:2].to(dev)
    loss, grads = backprop.lenet5_gradients(model, x, y)
    g = torch.randn(2, 6, 28, 28).to(dev)
    dx = backprop.conv_backward_input(g, model.C1.conv.weight)
    dw, db = backprop.conv_backward_weight(x, g), backprop.conv_backward_bias(g)
    s = backprop.subsampling_backward(g, model.S2.subsample.weight, torch.randn(2, 6, 14, 14).to(dev))
    c3 = backprop.partial_conv_backward(torch.randn(2, 6, 14, 14).to(dev), model.C3.conv.weight, layers.C3_TABLE,
                                        torch.randn(2, 16, 10, 10).to(dev))
    f6 = backprop.linear_backward(torch.randn(2, 120).to(dev), model.F6.linear.weight, torch.randn(2, 84).to(dev))
    penalties = torch.rand(2, 10).to(dev)
    rbf = backprop.rbf_backward(torch.randn(2, 84).to(dev), model.output.centers, backprop.map_loss_backward(penalties, y))
    sq = backprop.squash_backward(g, g)
    v = torch.tensor([0.5, -1.0]).to(dev)
    check = backprop.gradient_check(lambda t: (t ** 3).sum(), v, 3 * v ** 2)
    numeric = backprop.numerical_gradient(lambda t: (t ** 2).sum(), v.double())
    assert_on(dev, loss, *grads.values(), dx, dw, db, *s, *c3, *f6, rbf, sq, numeric)
    assert check.passed and backprop.relative_error(numeric, 2 * v.double()) < 1e-6


@on_device("models.LeNet5", "models.LeNet5Modern", "models.LeNetD2L", "models.LeNetVariant", "models.lenet_variant",
           "models.MLP", "models.trace_shapes", "models.layer_calls", "models.layer_outputs", "models.describe", "modules.describe",
           "modules.layer_words", "modules.device_of", "modules.evaluating")
def run_models(dev):
    variants = [models.lenet_variant(a, p, batch_norm=True, dropout=0.5)
                for a, p in zip(models.VARIANT_ACTIVATIONS, models.VARIANT_POOLINGS * 3)]
    for model in [models.LeNet5(), models.LeNet5Modern(), models.LeNetD2L(), models.LeNetVariant(), models.MLP(),
                  *variants]:
        model.to(dev)
        assert modules.device_of(model) == dev
        x = torch.randn(2, *model.input_size)
        with modules.evaluating(model):
            output = model(x.to(dev))
        loss = model.loss(output, Y[:2].to(dev))
        loss.backward()
        assert_on(dev, output, loss, model.predict(x), *models.layer_outputs(model, x).values())
        assert_on(dev, *(out for _name, _layer, out in models.layer_calls(model, x)))
        assert len(models.trace_shapes(model, model.input_size)) == len(model.trace())
        assert [models.describe(m) for m in model.children()] == [modules.describe(m) for m in model.children()]
        assert all(modules.layer_words(m) for m in model.children())


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@on_device("data.mnist_tensors", "data.load_mnist", "data.batches", "data.batch_source", "data.split_validation",
           "data.mnist_style")
def run_data(dev):
    images, labels = data.mnist_tensors(train=False, device=dev)
    assert_on(dev, images, labels)
    (xt, yt), (xv, yv) = data.split_validation(images[:100], labels[:100], 20)
    assert_on(dev, xt, yt, xv, yv)
    for xb, yb in data.batches(xv, yv, 8, generator=torch.Generator().manual_seed(0)):
        assert_on(dev, xb, yb)
    source, n = data.batch_source((X, Y), 8, dev)  # CPU tensors, moved once
    assert n == 2 and all(xb.device == yb.device == dev for xb, yb in source())
    subset = torch.utils.data.Subset(data.load_mnist(train=False), range(16))  # a Dataset, on the CPU
    train.train(models.LeNet5Modern(), subset, device=dev, batch_size=8, progress=False)
    style = data.mnist_style((images[0, 0] > 0).float())
    assert style is not None


# ---------------------------------------------------------------------------
# Training, evaluation, experiments
# ---------------------------------------------------------------------------


@on_device("train.train", "train.evaluate", "evaluation.predictions", "evaluation.class_scores", "evaluation.error_rate",
           "evaluation.count_errors")
def run_training(dev):
    for make, channels_last in ((models.LeNet5Modern, None), (models.LeNet5, True), (models.MLP, False)):
        model = make()
        history = train.train(model, (X, Y), device=dev, batch_size=8, test_data=(X, Y), progress=False,
                              channels_last=channels_last)
        assert modules.device_of(model) == dev and len(history) == 1
        assert train.evaluate(model, (X, Y)).total == train.evaluate(model, (X.to(dev), Y.to(dev))).total == 16
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        train.train(model, torch.utils.data.TensorDataset(X, Y), optimizer=optimizer, device=dev, batch_size=8,
                    scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1), progress=False)
        predicted, labels = evaluation.predictions(model, (X, Y))
        assert predicted.device.type == labels.device.type == "cpu"  # as documented: ready for plotting
        with torch.no_grad():
            assert_on(dev, evaluation.class_scores(model, model(X.to(dev))))
            assert_on(dev, evaluation.count_errors(evaluation.class_scores(model, model(X.to(dev))), Y.to(dev)))
        assert evaluation.error_rate(model, (X, Y)) == train.evaluate(model, (X, Y)).error
    # A given optimizer with a state from before train(), used again after it (fused where the device has it)
    model = models.LeNet5Modern().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), fused=True if dev.type in ("cpu", "cuda") else None)
    for _ in range(3):
        optimizer.zero_grad()
        model.loss(model(X[:8].to(dev)), Y[:8].to(dev)).backward()
        optimizer.step()
        train.train(model, (X, Y), optimizer=optimizer, device=dev, batch_size=8, progress=False,
                    channels_last=True)


@on_device("experiments.compare", "experiments.shift", "experiments.RandomShifts", "experiments.errors_under_shift",
           "experiments.paired_difference")
def run_experiments(dev):
    runs = experiments.compare({"relu": models.lenet_variant, "sgd": (models.LeNet5, lambda p: torch.optim.SGD(p, 0.01))},
                               (X, Y), (X, Y), device=dev, batch_size=8, measure=lambda m: m(X[:1].to(dev)).device)
    assert [run.measured for run in runs] == [dev, dev]
    d = experiments.paired_difference(torch.tensor([1.0, 2.0, 3.0]).to(dev), [torch.tensor(0.5).to(dev), 1.0, 2.5])
    assert d.n == 3 and abs(d.mean - 2 / 3) < 1e-6
    x = X.to(dev)
    assert_on(dev, experiments.shift(x, 1, -2), experiments.shift(x, torch.ones(16, dtype=torch.long), 0))
    assert torch.equal(experiments.shift(x, 2, 1).cpu(), experiments.shift(X, 2, 1))
    train.train(models.lenet_variant(), experiments.RandomShifts(x, Y.to(dev), batch_size=8), device=dev, progress=False)
    model = models.lenet_variant().to(dev)
    assert experiments.errors_under_shift(model, (X, Y), shifts=(0, 2)) == experiments.errors_under_shift(
        model, (x, Y.to(dev)), shifts=(0, 2))


# ---------------------------------------------------------------------------
# The paper's SDLM
# ---------------------------------------------------------------------------


@on_device("sdlm.gauss_newton_diagonal", "sdlm.SDLM")
def run_sdlm(dev):
    model = models.LeNet5().to(dev)
    h = sdlm.gauss_newton_diagonal(model, X, Y)
    assert_on(dev, *h.values())
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-9) for a, b in
               zip(here(*h.values()), sdlm.gauss_newton_diagonal(model.cpu(), X, Y).values()))
    model.to(dev)
    optimizer = sdlm.SDLM.from_model(model)
    optimizer.set_curvature(sdlm.gauss_newton_diagonal(models.LeNet5(), X, Y))  # h computed on the CPU
    optimizer.estimate(model, X.to(dev), Y.to(dev))
    train.train(model, (X, Y), optimizer=optimizer, device=dev, batch_size=8, progress=False)
    assert_on(dev, *optimizer.step_sizes().values())
    sdlm.gauss_newton_diagonal(models.LeNet5Modern().to(dev), X, Y)


@on_device("fast_sdlm.PatternSDLM", "fast_sdlm.train_per_pattern", "fast_sdlm.eblearn_init", "fast_sdlm.error_rate")
def run_fast_sdlm(dev):
    model = fast_sdlm.eblearn_init(models.LeNet5().to(dev), torch.Generator().manual_seed(0))
    trainer = fast_sdlm.PatternSDLM(model)
    trainer.estimate(X, Y)
    trainer.step(X[0], 3)
    trainer.step(X[1].to(dev), Y[1].to(dev))
    trainer.train_pass(X.to(dev), Y.to(dev), order=torch.arange(4))
    trainer.train_pass(X, Y)
    trainer.copy_to()
    assert_on(dev, trainer.theta, *trainer.parameters().values(), *trainer.curvature().values(),
              *trainer.step_sizes().values())
    assert 0 <= fast_sdlm.error_rate(model, X, Y) <= 1
    history = fast_sdlm.train_per_pattern(model, (X, Y), passes=1, samples=4, eval_data={"val": (X[:8], Y[:8])})
    assert modules.device_of(model) == dev and len(history) == 1
    fast_sdlm.train_per_pattern(model, (X.to(dev), Y.to(dev)), passes=1, samples=4, train_error=False)


# ---------------------------------------------------------------------------
# Figures and widgets
# ---------------------------------------------------------------------------


@on_device("plots.show_images", "plots.show_kernels", "plots.show_feature_maps", "evaluation.confusion_matrix",
           "plots.plot_confusion_matrix", "plots.plot_c3_table", "plots.animate_correlation",
           "plots.draw_architecture", "plots.show_rbf_codes")
def run_plots(dev):
    model = models.LeNet5().to(dev)
    x, y = X.to(dev), Y.to(dev)
    try:
        plots.show_images(x[:4], y[:4], model.predict(x[:4]))
        plots.show_kernels(model.C1.conv.weight)
        plots.show_feature_maps(model.activations(x[:1])["C1"][0])
        plots.plot_confusion_matrix(evaluation.confusion_matrix(y, model.predict(x)))
        plots.plot_c3_table(layers.C3_TABLE.to(dev))
        plots.animate_correlation(x[0, 0, :5, :5], model.C1.conv.weight[0, 0, :3, :3].detach())
        plots.draw_architecture(model)
        plots.show_rbf_codes(model.output.centers)
    finally:
        plt.close("all")


@on_device("export.export_model", "export.load_exported", "export.model_input", "widgets.DrawDigit")
def run_widgets(dev):
    model = models.LeNet5().to(dev)
    spec, tensors = export.export_model(model, "LeNet-5")
    assert all(t.device.type == "cpu" for t in tensors.values())  # for the browser
    export.load_exported(model, spec, torch.cat([t.flatten() for t in tensors.values()]))
    assert modules.device_of(model) == dev
    model_input = export.model_input(torch.rand(28, 28).to(dev), spec)
    assert_on(dev, model_input)
    pad = widgets.DrawDigit({"LeNet-5": model}, digits=(torch.rand(3, 28, 28).to(dev), Y[:3].to(dev)))
    assert pad.forward(torch.rand(28, 28)).device.type == "cpu"


@on_device("inside.load_trained", "inside.receptive_fields", "inside.top_patches", "inside.margins",
           "inside.rejection_curve", "inside.occlusion_map", "inside.distort", "inside.robustness")
def run_inside(dev):
    model = (inside.load_trained("LeNet5", device=dev) if (inside.RESULTS_DIR / inside.TRAINED["LeNet5"]).is_file()
             else models.LeNet5().to(dev))
    x, y = X[:12].to(dev), Y[:12].to(dev)
    assert inside.receptive_fields(model)["C5"].size == 32
    top = inside.top_patches(model, "C3", x, k=3)
    assert top.patches.shape == (16, 3, 1, 14, 14) and top.patches.device.type == "cpu"
    predicted, margin = inside.margins(model, x)
    assert predicted.device.type == margin.device.type == "cpu"
    assert len(inside.rejection_curve(margin, predicted == y.cpu(), [0, 0.5])) == 2
    assert inside.occlusion_map(model, x[0], 3).shape == (13, 13)
    moved = inside.distort(x, shift=(1, 0), rotation=5, scale=1.1, noise=0.1)
    assert_on(dev, moved)
    assert len(inside.robustness(model, x, y, "rotation", [0, 10])) == 2


# ---------------------------------------------------------------------------
# The runner, the coverage check, and the fake device itself
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["fake", "cuda"])
@pytest.mark.parametrize("name", list(SMOKE))
def test_runs_on_a_device(name, device):
    """On the fake device everywhere; on a CUDA GPU too where there is one (tools/gpu_check.sh)."""
    function, covers, raises = SMOKE[name]
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: tools/gpu_check.sh runs these on one")
    on = fake_device() if device == "fake" else contextlib.nullcontext(torch.device("cuda", torch.cuda.current_device()))
    with on as dev:
        try:
            function(dev)
        except Exception as error:
            if is_mismatch(error):
                raise AssertionError(f"{', '.join(covers)}: a device mismatch, as a GPU would raise: {error}") from error
            if raises is None or not isinstance(error, raises[0]) or not re.search(raises[1], str(error)):
                raise
        else:
            assert raises is None, f"{name} was expected to raise {raises}"


def _public_helpers():
    """{"module.name": object} for every public callable of every lenet_helpers module that uses torch."""
    found = {}
    for info in pkgutil.iter_modules(lenet_helpers.__path__, "lenet_helpers."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or info.name in ELSEWHERE:
            continue
        module = importlib.import_module(info.name)
        if getattr(module, "torch", None) is not torch:
            continue
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if not callable(value) or (inspect.isclass(value) and issubclass(value, (tuple, BaseException))):
                continue  # constants, records (NamedTuples) and errors
            found[f"{info.name.removeprefix('lenet_helpers.')}.{name}"] = value
    return found


def test_every_public_helper_is_run_on_a_device():
    helpers = _public_helpers()
    named = {name for _, covers, _ in SMOKE.values() for name in covers} | NO_TENSORS
    unknown = sorted(named - set(helpers))
    assert not unknown, f"SMOKE or NO_TENSORS name helpers that are not public (moved or renamed?): {unknown}"
    covered = {id(helpers[name]) for name in named}  # a re-exported helper (models.squash) is covered once
    missing = sorted(name for name, value in helpers.items() if id(value) not in covered)
    assert not missing, f"public helpers never run on a device: add them to a @on_device test above: {missing}"


def test_the_fake_device_computes_what_the_cpu_computes():
    torch.manual_seed(0)
    model, x = models.LeNet5Modern(), torch.randn(4, 1, 32, 32)
    expected = model(x)
    expected.sum().backward()
    grad = model.C1[0].weight.grad.clone()
    model.zero_grad()
    with fake_device() as dev:
        model.to(dev)
        out = model(x.to(dev))
        out.sum().backward()
        assert isinstance(out, OnDevice) and out.device == DEVICE == dev
        assert torch.equal(out.cpu(), expected.detach()) and torch.equal(model.C1[0].weight.grad.cpu(), grad)
        assert out.sum().item() == pytest.approx(expected.sum().item()) and len(out.tolist()) == 4
        model.cpu()
    assert type(model.C1[0].weight.data) is torch.Tensor  # back on the CPU, plain tensors


@pytest.mark.parametrize("mix, allowed", [
    (lambda d: torch.ones(3, device=d) + torch.ones(3), False),
    (lambda d: torch.ones(2, 3, device=d) @ torch.ones(3, 2), False),
    (lambda d: torch.rand(3, generator=torch.Generator(), device=d), False),  # CUDA wants a CUDA generator
    (lambda d: torch.ones(3, device=d).numpy(), False),
    (lambda d: torch.ones(3, device=d) * torch.tensor(2.0), True),  # a 0-d CPU tensor is a scalar
    (lambda d: torch.ones(3, device=d).copy_(torch.ones(3)), True),
    (lambda d: torch.ones(3).copy_(torch.ones(3, device=d)), True),
    (lambda d: torch.arange(5.0).to(d)[torch.tensor([0, 2])], True),  # CPU indices into a device tensor
    (lambda d: torch.ones(3, device=d).to("cpu") + torch.ones(3), True),
])
def test_the_fake_device_refuses_what_cuda_refuses(mix, allowed):
    with fake_device() as dev:
        if allowed:
            mix(dev)
        else:
            with pytest.raises((DeviceMismatch, TypeError)) as info:
                mix(dev)
            assert is_mismatch(info.value) or "numpy" in str(info.value)


def test_the_fake_device_refuses_a_fused_optimizer_state_in_another_layout():
    """CUDA's fused Adam refuses moments laid out unlike their parameters (the CPU's computes wrong steps)."""
    with fake_device() as dev:
        param = torch.randn(2, 3, 4, 4, device=dev)
        state = [torch.zeros(2, 3, 4, 4, device=dev).contiguous(memory_format=torch.channels_last)]
        args = ([param], [torch.ones_like(param)], state, [torch.zeros_like(param)], [], [torch.zeros((), device=dev)])
        with pytest.raises(RuntimeError, match="memory layout"):
            torch._fused_adam_(*args, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, amsgrad=False,
                               maximize=False)
