"""benchmarks/backprop_epoch.py, the backprop chapter's full epoch, on a few digits: the hand-written loop and autograd's
take the same steps, the curve holds what the page draws, and run_all chooses on validation and resumes."""

import json
import sys

import pytest
import torch

from lenet_helpers import data


@pytest.fixture(scope="module")
def bench(root):
    sys.path.insert(0, str(root / "benchmarks"))
    import backprop_epoch

    return backprop_epoch


@pytest.fixture(scope="module")
def tiny():
    images, labels = data.mnist_tensors(train=True)
    return (images[:96], labels[:96]), (images[-64:], labels[-64:])


def test_one_epoch_runs_both_loops_side_by_side(bench, tiny):
    run = bench.one_epoch(0, 0.01, 32, tiny, torch.device("cpu"), checkpoints=(2,))
    curve = run["curve"]
    assert curve["steps"] == [0, 2, 3] and curve["digits_seen"] == [0, 64, 96]
    assert curve["validation_error"]["hand"] == curve["validation_error"]["autograd"]
    assert curve["training_loss"]["hand"][0] is None and curve["training_loss"]["hand"][1] > 0
    assert curve["seconds"]["hand"][0] == 0 and curve["seconds"]["hand"][-1] == run["seconds"]["hand"] > 0
    assert curve["weight_difference"][0] == 0 and run["weight_difference"] < 1e-4  # float32 rounding only
    assert run["validation_error"]["hand"] == curve["validation_error"]["hand"][-1]


def test_run_all_chooses_on_validation_then_runs_every_seed_once(bench, tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "load", lambda dev: tiny)
    monkeypatch.setattr(bench, "CANDIDATES", [(0.003, 32), (0.01, 32)])
    monkeypatch.setattr(bench, "machine", lambda dev: {"device": dev.type, "device_name": "a test CPU"})
    path = tmp_path / "backprop-cpu.json"
    bench.run_all(torch.device("cpu"), seeds=(0, 1), log=lambda *a: None, path=path)
    results = json.loads(path.read_text())
    best = min(results["selection"], key=lambda r: r["validation_error"]["hand"])
    assert results["chosen"] == {"lr": best["lr"], "batch_size": 32}
    assert sorted(r["seed"] for r in results["runs"]) == [0, 1] and results["machine"]["threads"] == 1
    before = path.read_text()
    bench.run_all(torch.device("cpu"), seeds=(0, 1), log=lambda *a: None, path=path)  # nothing left to run
    assert json.loads(path.read_text())["runs"] == json.loads(before)["runs"]
