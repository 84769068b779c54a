"""The explorers, from Python: settings, computed sizes, values, validation, and what the browser receives."""

import base64
import json
import shutil
import subprocess

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lenet_helpers import conv, pool, widgets


def test_conv_explorer_output_size_follows_the_settings():
    e = widgets.ConvExplorer(n=7, kernel_size=3, padding=1, stride=2)
    assert e.output_size == conv.conv_output_size(7, 3, padding=1, stride=2) == 4
    e.stride, e.dilation = 1, 2
    assert e.output_size == conv.conv_output_size(7, 3, padding=1, stride=1, dilation=2)


@given(n=st.integers(1, 32), k=st.integers(1, 7), p=st.integers(0, 4), s=st.integers(1, 4), d=st.integers(1, 3))
def test_conv_explorer_agrees_with_pytorch(n, k, p, s, d):
    e = widgets.ConvExplorer(n=n, kernel_size=k, padding=p, stride=s, dilation=d)
    if n + 2 * p < d * (k - 1) + 1:
        assert e.output_size == 0  # the window does not fit: the explorer says so instead of failing
    else:
        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s, dilation=d)
        assert e.output_size == out.shape[-1]


@given(n=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 4), seed=st.integers(0, 1000),
       mode=st.sampled_from(["max", "avg"]), data=st.data())
def test_pool_explorer_output_matches_pytorch(n, k, s, seed, mode, data):
    p = data.draw(st.integers(0, k // 2))
    e = widgets.PoolExplorer(n=n, pool_size=k, stride=s, padding=p, mode=mode, seed=seed)
    if n + 2 * p < k:
        assert e.output_size == 0
        return
    X = torch.tensor(e.values, dtype=torch.float32)[None, None]
    layer = torch.nn.MaxPool2d(k, s, p) if mode == "max" else torch.nn.AvgPool2d(k, s, p)
    expected = layer(X)[0, 0]
    assert e.output_size == expected.shape[-1]
    torch.testing.assert_close(e.output(), expected)


def test_pool_explorer_values_are_digits_and_follow_n_and_seed():
    e = widgets.PoolExplorer(n=5, seed=3)
    assert len(e.values) == 5 and all(len(row) == 5 and all(0 <= v <= 9 for v in row) for row in e.values)
    e.n = 8
    assert len(e.values) == 8 and e.values[:5] != [] and e.values == widgets.grid_values(8, 3)
    e.seed = 4
    assert e.values == widgets.grid_values(8, 4) != widgets.grid_values(8, 3)


def test_position_is_reset_when_the_output_shrinks():
    e = widgets.ConvExplorer(n=10, kernel_size=3)
    e.position = 60
    e.kernel_size = 7
    assert e.output_size == 4 and e.position == 0


def test_pool_explorer_with_no_output_says_why():
    e = widgets.PoolExplorer(n=2, pool_size=3, padding=0)
    assert e.output_size == 0
    with pytest.raises(ValueError, match="no output"):
        e.output()


@pytest.mark.parametrize("make, match", [
    (lambda: widgets.ConvExplorer(n=0), "n must be a positive integer"),
    (lambda: widgets.ConvExplorer(kernel_size=2.5), "kernel_size must be an integer"),
    (lambda: widgets.ConvExplorer(stride=9), "stride must be at most 4"),
    (lambda: widgets.ConvExplorer(padding=-1), "padding must be a non-negative integer"),
    (lambda: widgets.PoolExplorer(mode="min"), "mode must be one of 'max', 'avg'"),
    (lambda: widgets.PoolExplorer(pool_size=2, padding=2), "padding must be at most half the window"),
])
def test_bad_settings_are_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_setting_a_bad_value_from_python_is_refused():
    e = widgets.PoolExplorer()
    with pytest.raises(Exception, match="mode must be one of"):
        e.mode = "median"
    with pytest.raises(Exception, match="kernel_size"):
        widgets.ConvExplorer().kernel_size = 0


def test_the_browser_receives_the_front_end_and_the_settings():
    e = widgets.ConvExplorer(n=9, kernel_size=5)
    state = e.get_state()
    assert state["_esm"].rstrip().endswith("export default { render };")
    assert ".lenet-explorer" in state["_css"]
    assert state["kind"] == "conv" and state["n"] == 9 and state["output_size"] == 5
    assert state["_model_module"] == "anywidget"
    json.dumps(state)  # the state is plain JSON, as saved in the notebook for the static page
    bundle = e._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data


def test_repr_names_the_settings():
    assert repr(widgets.ConvExplorer(n=32, kernel_size=5)) == (
        "ConvExplorer(n=32, kernel_size=5, padding=0, stride=1, dilation=1) -> output 28×28")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the front end's arithmetic")
def test_the_front_end_computes_the_same_grid_and_sizes():
    """Run explorer.js's own functions in Node and compare with Python."""
    source = widgets._ESM.replace("export default { render };", "")
    script = source + """
const grids = [0, 7, 123456].map((seed) => Array.from({length: 12}, (_, i) => Array.from({length: 12}, (_, j) => gridValue(i, j, seed))));
const sizes = [];
for (let n = 1; n <= 12; n++) for (let k = 1; k <= 5; k++) for (let p = 0; p <= 2; p++) for (let s = 1; s <= 3; s++) for (let d = 1; d <= 2; d++)
  sizes.push([n, k, p, s, d, outputLength(n, k, p, s, d)]);
console.log(JSON.stringify({grids, sizes}));
"""
    result = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    assert found["grids"] == [widgets.grid_values(12, seed) for seed in (0, 7, 123456)]
    for n, k, p, s, d, out in found["sizes"]:
        fits = n + 2 * p >= d * (k - 1) + 1
        assert out == (conv.conv_output_size(n, k, padding=p, stride=s, dilation=d) if fits else 0)


# ---------------------------------------------------------------------------
# DrawDigit: the export, the preprocessing and the forward pass the browser runs
# ---------------------------------------------------------------------------

from lenet_helpers import data, export, models  # noqa: E402

DRAW_JS = widgets._STATIC / "draw.js"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the widget's JavaScript")


def run_draw_js(script: str, payload: dict, tmp_path) -> dict:
    """Run ``script`` in Node with draw.js's exports as ``d`` and ``payload`` (JSON) as ``input``."""
    (tmp_path / "input.json").write_text(json.dumps(payload))
    source = (f"import * as d from {json.dumps(DRAW_JS.as_uri())};\n"
              f"import {{ readFileSync }} from 'node:fs';\n"
              f"const input = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'input.json'))}, 'utf8'));\n"
              + script)
    result = subprocess.run(["node", "--input-type=module", "-e", source], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def trained_like(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The model with random weights of a realistic size (the initialisation, plus noise)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def stroke_image(points, size=140, width=9.0) -> torch.Tensor:
    """A polyline drawn with a round pen: ink 1 within ``width/2`` of a segment, anti-aliased over one pixel."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    distance = torch.full((size, size), float("inf"), dtype=torch.float64)
    for (y0, x0), (y1, x1) in zip(points, points[1:]):
        dy, dx = y1 - y0, x1 - x0
        t = (((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-9)).clamp(0, 1)
        distance = torch.minimum(distance, torch.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx)))
    return (width / 2 + 0.5 - distance).clamp(0, 1)


STROKES = {
    "one": [(20, 70), (120, 72)],
    "seven": [(25, 30), (25, 110), (120, 55)],
    "zero": [(20, 70), (40, 40), (80, 35), (115, 60), (100, 100), (60, 110), (25, 95), (20, 70)],
    "dot": [(60, 60), (61, 61)],
    "dash": [(70, 10), (72, 130)],
}


def test_mnist_style_makes_mnist_like_digits():
    for name, points in STROKES.items():
        steps = data.mnist_style(stroke_image(points))
        assert max(steps.fitted.shape) == 20, name                       # the longer side fits 20 pixels
        assert steps.digit.shape == (28, 28) and 0 <= steps.digit.min() and steps.digit.max() <= 1
        assert abs(steps.centre[0] - 14) <= 0.5 and abs(steps.centre[1] - 14) <= 0.5, (name, steps.centre)
        assert torch.isclose(steps.digit.sum(), steps.fitted.sum())       # nothing fell off the field
    tall = data.mnist_style(stroke_image(STROKES["one"]))
    assert tall.fitted.shape[0] == 20 and tall.fitted.shape[1] < 6        # aspect ratio kept: a thin "1"
    assert data.mnist_style(torch.zeros(30, 30)) is None


def test_mnist_style_redoes_mnist_on_mnist_digits():
    """MNIST's own digits are already prepared: preparing them again changes them only a little."""
    images, _ = data.mnist_tensors(train=False, normalize="none", size=28)
    for image in images[:50, 0]:
        again = data.mnist_style(image).digit.float()
        assert (again - image).abs().mean() < 0.05


@pytest.mark.parametrize("ink, match", [
    (torch.zeros(3), "ink must be a 2-D"),
    (torch.full((4, 4), 2.0), r"ink must hold values in \[0, 1\]"),
    (torch.full((4, 4), -0.1), r"ink must hold values in \[0, 1\]"),
    ("image", "ink must be a tensor"),
])
def test_mnist_style_bad_input_is_a_clear_error(ink, match):
    with pytest.raises((TypeError, ValueError), match=match):
        data.mnist_style(ink)


def test_draw_digit_embeds_models_and_digits_and_checks_its_inputs():
    images, labels = data.mnist_tensors(train=False, normalize="none", size=28)
    pad = widgets.DrawDigit({"a": models.LeNet5(), "b": models.LeNet5Modern()}, digits=(images[:10], labels[:10]))
    assert [s["name"] for s in pad.specs] == ["a", "b"] and pad.model_name == "a"
    assert pad.digit_labels == labels[:10].tolist()
    params = sum(sum(p.numel() for p in m.parameters()) for m in (models.LeNet5(), models.LeNet5Modern()))
    assert len(base64.b64decode(pad.weights)) == 4 * (params + 840)   # float32; the RBF centres ride along
    assert pad.page_bytes == len(pad.weights) + len(pad.digits)
    pad.model_name = "b"
    with pytest.raises(ValueError, match="model_name must be one of"):
        pad.model_name = "c"
    with pytest.raises(ValueError, match="nothing drawn yet"):
        pad.forward()
    with pytest.raises(TypeError, match="models must be a non-empty dict"):
        widgets.DrawDigit({})
    with pytest.raises(ValueError, match="digits images must be N×28×28"):
        widgets.DrawDigit({"a": models.LeNet5()}, digits=(torch.zeros(2, 32, 32), [0, 1]))
    with pytest.raises(ValueError, match="one label per image"):
        widgets.DrawDigit({"a": models.LeNet5()}, digits=(images[:3], labels[:2]))
    colour = models.LeNet5Modern()
    colour.input_size = (3, 32, 32)
    with pytest.raises(ValueError, match=r"models\['a'\] must take 1×N×N grey images"):
        widgets.DrawDigit({"a": colour})
    with pytest.raises(ValueError, match=r"models\['a'\] has no weights"):
        widgets.DrawDigit({"a": torch.nn.Sequential(torch.nn.Flatten())})


@needs_node
def test_the_browser_preprocessing_matches_python(tmp_path):
    images = {name: stroke_image(points) for name, points in STROKES.items()}
    torch.manual_seed(0)
    blob = torch.zeros(60, 90, dtype=torch.float64)
    blob[10:25, 5:80] = torch.rand(15, 75)                              # wide, ragged, grey ink
    images["blob"] = blob
    payload = {name: {"h": im.shape[0], "w": im.shape[1], "ink": im.flatten().tolist()} for name, im in images.items()}
    found = run_draw_js("""
const out = {};
for (const [name, im] of Object.entries(input)) {
  const s = d.mnistStyle(im.ink, im.h, im.w);
  out[name] = {box: [s.box.top, s.box.left, s.box.height, s.box.width], offset: [s.top, s.left], centre: s.centre,
               fitted: [s.fittedHeight, s.fittedWidth], digit: Array.from(s.digit)};
}
out.empty = d.mnistStyle(new Float64Array(100), 10, 10);
console.log(JSON.stringify(out));
""", payload, tmp_path)
    assert found.pop("empty") is None
    for name, image in images.items():
        steps = data.mnist_style(image)
        js = found[name]
        assert tuple(js["box"]) == steps.box and tuple(js["offset"]) == steps.offset, name
        assert tuple(js["fitted"]) == tuple(steps.fitted.shape), name
        assert js["centre"] == pytest.approx(list(steps.centre), abs=1e-9)
        assert torch.allclose(torch.tensor(js["digit"], dtype=torch.float64).view(28, 28), steps.digit, atol=1e-9), name


@needs_node
@pytest.mark.parametrize("make", [models.LeNet5, models.LeNet5Modern, models.LeNetD2L,
                                  lambda: models.lenet_variant("tanh", "avg", dropout=0.3)])
def test_the_browser_forward_pass_matches_pytorch(make, tmp_path):
    """Every layer's output and every score, for 20 MNIST digits, against PyTorch in float64."""
    model = trained_like(make(), seed=2)
    size = model.input_size[1]
    spec, tensors = export.export_model(model, "m", input_size=size)
    flat = torch.cat([t.flatten() for t in tensors.values()])
    images, labels = data.mnist_tensors(train=False, normalize="none", size=28)
    digits = images[:20, 0]
    found = run_draw_js("""
const weights = d.decodeWeights(input.weights);
const out = input.digits.map((digit) => {
  const r = d.forward(input.spec, weights, d.toInput(digit, input.spec.input));
  return {layers: Object.fromEntries(r.layers.map((l) => [l.name, Array.from(l.data)])), output: r.output,
          prediction: r.prediction};
});
console.log(JSON.stringify(out));
""", {"spec": spec, "weights": base64.b64encode(flat.numpy().tobytes()).decode(),
      "digits": digits.flatten(1).tolist()}, tmp_path)
    reference = model.double()
    x = export.model_input(digits.double(), spec)
    with torch.no_grad():
        expected = models.layer_outputs(reference, x)
        predicted = reference.predict(x)
    for i, js in enumerate(found):
        for name, values in expected.items():
            assert torch.allclose(torch.tensor(js["layers"][name], dtype=torch.float64), values[i].flatten(),
                                  atol=1e-9, rtol=1e-9), (i, name)
        assert js["prediction"] == predicted[i].item()


@needs_node
@pytest.mark.parametrize("name", ["explorer.js", "draw.js", "train.js"])
def test_every_word_of_a_widget_is_in_its_text_dictionary(name):
    """Each widget keeps the words it shows in one dict, TEXT (so that a translation replaces one dict): every
    text("key") and TEXT.key the code uses is there, and every entry is used."""
    import re

    source = (widgets._STATIC / name).read_text(encoding="utf-8")
    runnable = source.replace("export default { render };", "").replace('"./draw.js"', json.dumps(DRAW_JS.as_uri()))
    found = subprocess.run(["node", "--input-type=module", "-e", runnable + "\nconsole.log(JSON.stringify(TEXT));"],
                           capture_output=True, text=True, check=True)
    keys = set(json.loads(found.stdout))
    used = set(re.findall(r'\btext\("(\w+)"', source)) | set(re.findall(r"\bTEXT\.(\w+)", source))
    dynamic = {"explorer.js": {"n", "kernel_size", "pool_size", "padding", "stride", "dilation", "max", "avg",
                               "convFormula", "poolFormula", "lostOne", "lostMany", "pooledMax", "pooledAvg",
                               "pooledAvgPadded", "inputPadded", "input", "previous", "next", "play", "pause"},
               "draw.js": {"crop", "fitted", "digit", "input", "maps", "values", "heading", "headingShape",
                           "reads", "readsTest"},
               "train.js": {"seen", "passes", "steps", "speed", "error"}}[name]  # TEXT[key], or text(a ? "x" : "y")
    assert used | dynamic <= keys, f"{name}: used but not in TEXT: {(used | dynamic) - keys}"
    assert keys <= used | dynamic, f"{name}: in TEXT but never used: {keys - used - dynamic}"


# ---------------------------------------------------------------------------
# TrainInBrowser: what the page receives, what comes back, the digits the kernel sends
# ---------------------------------------------------------------------------


def test_the_trainer_receives_its_networks_and_the_compared_ones():
    trainer = widgets.TrainInBrowser(compare={"LeNet5Modern": models.LeNet5Modern()}, network="LeNet-5 (1998)", seed=3)
    assert trainer.network == "LeNet-5 (1998)" and trainer.seed == 3 and trainer.eval_every == export.TRAIN_DIGITS
    names = [n["name"] for n in trainer.networks]
    assert names == list(widgets.TRAINABLE)
    faithful = trainer.networks[1]
    assert faithful["init"] == "paper" and faithful["momentum"] == widgets.TRAIN_MOMENTUM
    assert faithful["lr"] in faithful["lrs"] and faithful["batch"] in faithful["batches"]
    assert set(faithful["buffers"]) == {"output.centers"} and len(faithful["buffers"]["output.centers"]) == 840
    assert [s["name"] for s in trainer.specs] == ["LeNet5Modern"]
    assert len(base64.b64decode(trainer.weights)) == 4 * sum(p.numel() for p in models.LeNet5Modern().parameters())
    state = trainer.get_state()
    json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")})
    assert state["_esm"].startswith("import widget from \"data:text/javascript;base64,")
    assert ".lenet-train-controls" in state["_css"] and ".lenet-draw-pad" in state["_css"]
    assert repr(trainer) == "TrainInBrowser('LeNet-5 (1998)', 0 digits seen)"
    trainer.network = "LeNet5Modern"
    with pytest.raises(Exception, match="network must be one of"):
        trainer.network = "AlexNet"


@pytest.mark.parametrize("make, match", [
    (lambda: widgets.TrainInBrowser(network="LeNet"), "network must be one of 'LeNet5Modern', 'LeNet-5 \\(1998\\)'"),
    (lambda: widgets.TrainInBrowser(seed=-1), "seed must be a non-negative integer"),
    (lambda: widgets.TrainInBrowser(eval_every=0), "eval_every must be a positive integer"),
    (lambda: widgets.TrainInBrowser(compare=[models.LeNet5()]), "compare must be a non-empty dict"),
    (lambda: widgets.TrainInBrowser(compare={"x": torch.nn.Sequential(torch.nn.Flatten())}), r"compare\['x'\] has no weights"),
    (lambda: widgets.pytorch_speed("LeNet5Modern", 0), "batch_size must be a positive integer"),
    (lambda: widgets.pytorch_speed("LeNet5Modern", seconds=0), "seconds must be a finite positive number"),
])
def test_the_trainer_says_what_is_wrong(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_what_the_browser_sends_back_is_a_pytorch_model():
    """The kernel answers the widget's request for digits with the pack; the weights the browser sends back load
    into the network it trained."""
    trainer = widgets.TrainInBrowser()
    with pytest.raises(ValueError, match="nothing trained yet"):
        trainer.model()
    sent = []
    trainer.send = lambda content, buffers=None: sent.append((content, buffers))
    trainer._answer(trainer, {"request": "digits"}, [])
    trainer._answer(trainer, {"something": "else"}, [])
    (header, buffers), = sent
    assert header["digits"] == export.pack_digits()[0] and buffers == [export.pack_digits()[1]]
    model = trained_like(models.LeNet5Modern(), seed=8)
    spec, tensors = export.export_model(model, "LeNet5Modern")
    trainer.trained = base64.b64encode(torch.cat([t.flatten() for t in tensors.values()]).numpy().tobytes()).decode()
    trainer.test_error, trainer.digits_seen = 0.25, 1600
    mine = trainer.model()
    assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), model.state_dict().values()))
    assert not mine.training and repr(trainer) == "TrainInBrowser('LeNet5Modern', 1,600 digits seen, held-out error 25.00%)"
