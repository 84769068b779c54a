"""train.js, the in-browser trainer's arithmetic, run in Node and checked against PyTorch: the gradient of every
parameter against torch.autograd, a training step against torch.optim.SGD, the initialisations, the losses, the
error count, and the digits the website ships."""

import base64
import json
import shutil
import subprocess
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from lenet_helpers import data, export, models, widgets
from test_widgets import trained_like

TRAIN_JS = widgets._STATIC / "train.js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the widget's JavaScript")


def run_train_js(script: str, payload: dict, tmp_path) -> dict:
    """Run ``script`` in Node with train.js's exports as ``t`` and ``payload`` (JSON) as ``input``."""
    (tmp_path / "input.json").write_text(json.dumps(payload))
    source = (f"import * as t from {json.dumps(TRAIN_JS.as_uri())};\n"
              f"import {{ readFileSync }} from 'node:fs';\n"
              f"const input = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'input.json'))}, 'utf8'));\n"
              + script)
    result = subprocess.run(["node", "--input-type=module", "-e", source], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def small_strided():
    """Every operation the pad's forward pass knows that the course's networks leave out: a padded convolution with
    a stride, overlapping max pooling, average pooling, tanh, sigmoid, a dropout (identity at evaluation)."""
    net = nn.Sequential(OrderedDict(
        C1=nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 5, stride=2, padding=2), tanh=nn.Tanh())),
        S2=nn.MaxPool2d(3, stride=2),
        C3=nn.Sequential(OrderedDict(conv=nn.Conv2d(4, 6, 3, padding=1), sigmoid=nn.Sigmoid())),
        S4=nn.AvgPool2d(2),
        F5=nn.Sequential(OrderedDict(flatten=nn.Flatten(), drop=nn.Dropout(0.5), linear=nn.Linear(6 * 3 * 3, 10))),
    ))
    net.input_size = (1, 32, 32)
    return net


NETWORKS = {"LeNet5": models.LeNet5, "LeNet5Modern": models.LeNet5Modern, "LeNetD2L": models.LeNetD2L,
            "variant-squash-trainable": lambda: models.lenet_variant("squash", "trainable", dropout=0.3),
            "strided": small_strided}


def batch_of_digits(n: int = 8, start: int = 0):
    images, labels = export.training_digits(start + n, 10)[0]
    return images[start:], labels[start:]


def flat64(model) -> tuple[dict, torch.Tensor]:
    spec, tensors = export.export_model(model, "m", input_size=getattr(model, "input_size", (1, 32, 32))[1])
    state = model.state_dict()
    return spec, torch.cat([state[key].detach().double().flatten() for key in spec["tensors"]])


def js_batch_gradients(model, tmp_path):
    """train.js's batchGradients for ``model`` (float64) on batch_of_digits(): (spec, images, labels, its output)."""
    spec, weights = flat64(model)
    images, labels = batch_of_digits()
    found = run_train_js("""
const w = Float64Array.from(input.weights), g = new Float64Array(w.length);
const r = t.batchGradients(input.spec, w, Uint8Array.from(input.images), input.labels, [...input.labels.keys()], g);
console.log(JSON.stringify({loss: r.loss, grads: Array.from(g)}));
""", {"spec": spec, "weights": weights.tolist(), "images": images.flatten().tolist(), "labels": labels.tolist()},
        tmp_path)
    return spec, images, labels, found


def torch_loss(model, output, labels):
    return model.loss(output, labels) if hasattr(model, "loss") else nn.functional.cross_entropy(output, labels)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_gradient_of_every_parameter_matches_autograd(name, tmp_path):
    """For fixed weights and a fixed batch of 8 digits: the JavaScript backward pass against loss.backward(),
    every parameter tensor within 1e-4 relative (float64 on both sides)."""
    torch.manual_seed(3)
    model = trained_like(NETWORKS[name](), seed=4).double()
    spec, images, labels, found = js_batch_gradients(model, tmp_path)
    x = export.model_input(images.double() / 255, spec)
    loss = torch_loss(model, model(x), labels.long())
    loss.backward()
    assert found["loss"] == pytest.approx(loss.item(), rel=1e-9)
    grads = torch.tensor(found["grads"], dtype=torch.float64)
    parameters = dict(model.named_parameters())
    checked = 0
    for key, where in spec["tensors"].items():
        js = grads[where["offset"]:where["offset"] + where["size"]]
        if key not in parameters:
            assert not where["parameter"] and js.abs().max() == 0, f"{key} is fixed: it has no gradient"
            continue
        expected = parameters[key].grad.flatten()
        scale = expected.abs().max().clamp_min(1e-12)
        assert (js - expected).abs().max() / scale <= 1e-4, f"{name}: {key}"
        checked += 1
    assert checked == len(parameters)


@pytest.mark.parametrize("name", ["LeNet5", "LeNet5Modern"])
def test_a_training_step_is_a_pytorch_sgd_step(name, tmp_path):
    """Three steps of SGD with momentum 0.9 from the same weights on the same batches: after each, the JavaScript
    weights equal PyTorch's within 1e-5. (The first step has no momentum yet; the next ones do.)"""
    model = trained_like(NETWORKS[name](), seed=5).double()
    spec, weights = flat64(model)
    images, labels = batch_of_digits(24)
    lr = widgets.TRAINABLE["LeNet5Modern" if name == "LeNet5Modern" else "LeNet-5 (1998)"]["lr"]
    found = run_train_js("""
const w = Float64Array.from(input.weights), g = new Float64Array(w.length), v = new Float64Array(w.length);
const images = Uint8Array.from(input.images), after = [];
for (let step = 0; step < 3; step++) {
  const batch = Array.from({length: 8}, (_, i) => 8 * step + i);
  t.batchGradients(input.spec, w, images, input.labels, batch, g);
  t.sgdStep(input.spec, w, g, v, input.lr, input.momentum);
  after.push(Array.from(w));
}
console.log(JSON.stringify(after));
""", {"spec": spec, "weights": weights.tolist(), "images": images.flatten().tolist(), "labels": labels.tolist(),
      "lr": lr, "momentum": widgets.TRAIN_MOMENTUM}, tmp_path)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=widgets.TRAIN_MOMENTUM)
    x = export.model_input(images.double() / 255, spec)
    for step in range(3):
        batch = slice(8 * step, 8 * step + 8)
        loss = model.loss(model(x[batch]), labels[batch].long())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _, expected = flat64(model)
        js = torch.tensor(found[step], dtype=torch.float64)
        assert (js - expected).abs().max() <= 1e-5, f"{name}: step {step + 1}"
        assert not torch.equal(js, weights)  # it did move
    centres = spec["tensors"].get("output.centers")
    if centres:  # the RBF codes are not trained
        js = torch.tensor(found[-1], dtype=torch.float64)
        assert torch.equal(js[centres["offset"]:centres["offset"] + centres["size"]], models.rbf_codes().double().flatten())


def expected_bound(model, key: str, rule: str) -> torch.Tensor:
    """Python's bound for every number of the tensor ``key``: 2.4/F_i (the paper) or 1/√F_i (PyTorch)."""
    module_name, kind = key.rsplit(".", 1)
    module = model.get_submodule(module_name)
    if isinstance(module, models.PartialConv2d):
        fan_in = module.fan_in().double()
        fan = fan_in[module.out_index].view(-1, 1, 1).expand_as(module.weight) if kind == "weight" else fan_in
    elif isinstance(module, models.Subsampling):
        fan = torch.full_like(getattr(module, kind), module.kernel_size ** 2, dtype=torch.float64)
    else:
        fan_in = module.weight[0].numel()
        fan = torch.full(getattr(module, kind).shape, float(fan_in), dtype=torch.float64)
    return (2.4 / fan if rule == "paper" else 1 / fan.sqrt()).flatten()


@pytest.mark.parametrize("name", ["LeNet5Modern", "LeNet-5 (1998)"])
def test_a_fresh_network_is_drawn_as_pytorch_draws_it(name, tmp_path):
    """Every parameter uniform in ±2.4/F_i (the paper, for LeNet-5) or ±1/√F_i (PyTorch's default, for
    LeNet5Modern), F_i the fan-in of its unit; the RBF codes as given; a seed gives one network, another seed another."""
    network = next(n for n in widgets.trainable_networks() if n["name"] == name)
    found = run_train_js("""
const n = input.network;
const bounds = t.initBounds(n.spec, n.init);
const a = t.initialWeights(n.spec, n.init, 7, n.buffers), b = t.initialWeights(n.spec, n.init, 7, n.buffers);
const c = t.initialWeights(n.spec, n.init, 8, n.buffers);
console.log(JSON.stringify({bounds: Array.from(bounds), a: Array.from(a), same: a.every((v, i) => v === b[i]),
                            other: c.some((v, i) => v !== a[i])}));
""", {"network": network}, tmp_path)
    assert found["same"] and found["other"]
    model = widgets.TRAINABLE[name]["make"]()
    bounds, weights = torch.tensor(found["bounds"], dtype=torch.float64), torch.tensor(found["a"], dtype=torch.float64)
    for key, where in network["spec"]["tensors"].items():
        part = slice(where["offset"], where["offset"] + where["size"])
        if not where["parameter"]:
            assert torch.equal(weights[part], torch.tensor(network["buffers"][key], dtype=torch.float64))
            continue
        expected = expected_bound(model, key, network["init"])
        torch.testing.assert_close(bounds[part], expected, rtol=1e-12, atol=0)
        w = weights[part]
        assert (w.abs() <= expected).all(), key
        if w.numel() >= 100:  # uniform: it fills its interval
            assert (w.abs() / expected).max() > 0.9 and abs(w.mean() / expected.mean()) < 0.2, key


def test_the_losses_match_pytorch_even_far_from_the_answer(tmp_path):
    """MAP (eq. 9) on penalties and cross-entropy on logits: value, gradient and prediction, with outputs large
    enough to overflow a naive exp."""
    torch.manual_seed(0)
    outputs = torch.cat([torch.randn(4, 10, dtype=torch.float64) * 3, torch.rand(2, 10, dtype=torch.float64) * 900])
    labels = torch.tensor([0, 3, 9, 5, 2, 7])
    found = run_train_js("""
const out = {};
for (const kind of ["penalties", "logits"]) out[kind] = input.outputs.map((o, i) => {
  const r = t.lossGradient(kind, Float64Array.from(o), input.labels[i]);
  return {loss: r.loss, grad: Array.from(r.grad), prediction: r.prediction};
});
console.log(JSON.stringify(out));
""", {"outputs": outputs.tolist(), "labels": labels.tolist()}, tmp_path)
    for kind, loss_fn, predict in (("penalties", models.map_loss, lambda y: y.argmin()),
                                   ("logits", nn.functional.cross_entropy, lambda y: y.argmax())):
        for i, js in enumerate(found[kind]):
            y = outputs[i:i + 1].clone().requires_grad_()
            loss = loss_fn(y, labels[i:i + 1])
            loss.backward()
            assert js["loss"] == pytest.approx(loss.item(), rel=1e-12, abs=1e-12), (kind, i)
            torch.testing.assert_close(torch.tensor(js["grad"], dtype=torch.float64), y.grad[0], rtol=1e-10, atol=1e-12)
            assert js["prediction"] == predict(outputs[i]).item()


def test_the_error_count_is_pytorchs(tmp_path):
    model = trained_like(models.LeNet5(), seed=6)
    spec, tensors = export.export_model(model, "m")
    flat = torch.cat([t.flatten() for t in tensors.values()])
    (_, _), (images, labels) = export.training_digits(10, 200)
    found = run_train_js("""
const w = new Float32Array(Uint8Array.from(input.weights).buffer);
console.log(JSON.stringify(t.evaluate(input.spec, w, Uint8Array.from(input.images), input.labels)));
""", {"spec": spec, "weights": list(flat.numpy().tobytes()), "images": images.flatten().tolist(),
      "labels": labels.tolist()}, tmp_path)
    with torch.no_grad():
        wrong = (model.double().predict(export.model_input(images.double() / 255, spec)) != labels).sum().item()
    assert found == wrong


def test_a_run_learns_and_repeats_itself(tmp_path):
    """train.js's Run: 30 steps of 16 digits bring the faithful LeNet-5's training loss (MAP) down; the same seed
    gives the same run, step for step."""
    (images, labels), (test_images, test_labels) = export.training_digits(1000, 100)
    network = widgets.trainable_networks()[1]
    found = run_train_js("""
const d = {trainImages: Uint8Array.from(input.images), trainLabels: Uint8Array.from(input.labels),
           testImages: Uint8Array.from(input.testImages), testLabels: Uint8Array.from(input.testLabels)};
const runs = [0, 0].map(() => {
  const run = new t.Run(input.network, d, {seed: 3, lr: input.network.lr, batch: 16, momentum: 0.9});
  const losses = Array.from({length: 30}, () => run.step().loss);
  return {losses, seen: run.seen, steps: run.steps, error: run.testError()};
});
console.log(JSON.stringify(runs));
""", {"network": network, "images": images.flatten().tolist(), "labels": labels.tolist(),
      "testImages": test_images.flatten().tolist(), "testLabels": test_labels.tolist()}, tmp_path)
    first, again = found
    assert first == again
    assert first["steps"] == 30 and first["seen"] == 480
    early, late = sum(first["losses"][:5]) / 5, sum(first["losses"][-5:]) / 5
    assert late < 0.8 * early, first["losses"]
    assert 0 <= first["error"] <= 1


def test_the_browser_unpacks_the_digits_python_packs(tmp_path):
    header, packed = export.pack_digits(30, 7)
    found = run_train_js("""
const d = await t.unpackDigits(input.header, Uint8Array.from(Buffer.from(input.packed, "base64")));
console.log(JSON.stringify({train: Array.from(d.trainImages), trainLabels: Array.from(d.trainLabels),
                            test: Array.from(d.testImages), testLabels: Array.from(d.testLabels)}));
""", {"header": header, "packed": base64.b64encode(packed).decode()}, tmp_path)
    (train_images, train_labels), (test_images, test_labels) = export.training_digits(30, 7)
    assert found["train"] == train_images.flatten().tolist() and found["trainLabels"] == train_labels.tolist()
    assert found["test"] == test_images.flatten().tolist() and found["testLabels"] == test_labels.tolist()
    images, labels = data.mnist_tensors(train=True, normalize="none", size=28)
    assert torch.equal(train_images, (images[:30, 0] * 255).round().to(torch.uint8))


def test_the_javascript_backward_pass_is_the_backprop_chapters(tmp_path):
    """The faithful LeNet-5's gradients from train.js equal those of backprop.lenet5_gradients, the backward pass the
    page 'Backpropagation by hand' writes (the two pages say so, layer by layer), in float64."""
    from lenet_helpers import backprop

    torch.manual_seed(3)
    model = trained_like(models.LeNet5(), seed=4).double()
    spec, images, labels, found = js_batch_gradients(model, tmp_path)
    loss, grads = backprop.lenet5_gradients(model, export.model_input(images.double() / 255, spec), labels.long())
    assert found["loss"] == pytest.approx(loss.item(), rel=1e-12)
    js = torch.tensor(found["grads"], dtype=torch.float64)
    for name, grad in grads.items():
        where = spec["tensors"][name]
        assert backprop.relative_error(js[where["offset"]:where["offset"] + where["size"]], grad.flatten()) < 1e-12, name
    assert set(grads) == {key for key, where in spec["tensors"].items() if where["parameter"] is not False}
