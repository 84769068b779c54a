"""The explorers, from Python: settings, computed sizes, values, validation, and what the browser receives."""

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
