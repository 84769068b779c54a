"""results: the figures `make bench` measured, read from the package (so the wheel carries them)."""

import collections
import json

import pytest
import torch

from lenet_helpers import results

RESULTS = {"device": "cpu", "device_name": "a test CPU", "torch": "2.0", "date": "2026-01-01T00:00:00+00:00",
           "speedup": 3.5, "faithful_sdlm_test_error_pct": None, "faithful_modern_test_error_pct": 0.9}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty results folder in place of the package's."""
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    return tmp_path


def test_the_committed_cpu_results_are_in_the_package():
    path = results.results_path("cpu")
    assert path.parent.parent.name == "lenet_helpers" and path.is_file()
    measured = results.bench_results("cpu")
    assert measured["device"] == "cpu" and "modern_time_to_target_s" in measured and "faithful_sdlm" in measured
    assert "cpu" in results.devices()


def test_bench_results_reads_the_devices_file(folder):
    (folder / "bench-cuda.json").write_text(json.dumps(RESULTS))
    assert results.bench_results("cuda") == RESULTS
    assert results.bench_results(torch.device("cuda")) == RESULTS  # a torch.device names its type
    assert results.devices() == ["cuda"]


def test_missing_results_name_the_file_the_devices_that_have_some_and_make_bench(folder):
    (folder / "bench-cpu.json").write_text(json.dumps(RESULTS))
    with pytest.raises(FileNotFoundError) as info:
        results.bench_results("mps")
    message = str(info.value)
    assert "bench-mps.json" in message and "devices with results: cpu" in message and "make bench" in message


@pytest.mark.parametrize("text, words", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")])
def test_a_damaged_file_is_a_clear_error(folder, text, words):
    (folder / "bench-cpu.json").write_text(text)
    with pytest.raises(ValueError, match=words):
        results.bench_results("cpu")


@pytest.mark.parametrize("device", ["gpu", 3, None])
def test_bench_results_rejects_bad_devices(device):
    with pytest.raises((ValueError, TypeError), match="device"):
        results.bench_results(device)


def test_the_package_declares_its_results_as_package_data(root):
    pyproject = (root / "pyproject.toml").read_text()
    assert '"results/*.json"' in pyproject


def test_the_papers_figures_are_the_ones_sec_iii_reports():
    """The figures the pages show beside the measurements (Sec. III-B, III-C of the paper)."""
    paper = results.PAPER
    assert (paper["passes"], paper["test_error_pct"], paper["test_error_settles_after_passes"]) == (20, 0.95, 10)
    assert (paper["train_error_pct"], paper["train_error_after_passes"]) == (0.35, 19)
    assert (paper["distorted_test_error_pct"], paper["boosted_lenet4_test_error_pct"]) == (0.8, 0.7)
    assert paper["training_days"] == (2, 3) and "R10000" in paper["training_cpu"]
    assert paper["multiply_accumulates"] == 401_000


# ---------------------------------------------------------------------------
# The full-strength experiments (chapter 6's, benchmarks/since1998.py)
# ---------------------------------------------------------------------------


def test_the_committed_since1998_results_are_in_the_package():
    measured = results.experiment_results("since1998")
    assert set(measured) >= {"settings", "arms", "runs"}
    assert measured["settings"]["train_images"] == 55_000 and measured["settings"]["seeds"] == [0, 1, 2, 3, 4]
    for run in measured["runs"]:
        assert run["arm"] in measured["arms"] and run["seed"] in measured["settings"]["seeds"]
        assert len(run["validation_error_per_epoch"]) == measured["settings"]["epochs"]
        assert "test_error" not in run  # the comparisons are made on the validation images


def test_experiment_results_reads_its_file_and_names_the_command_that_makes_it(folder):
    (folder / "since1998-cuda.json").write_text(json.dumps({"runs": []}))
    assert results.experiment_results("since1998", torch.device("cuda")) == {"runs": []}
    with pytest.raises(FileNotFoundError) as info:
        results.experiment_results("since1998", "mps")
    assert "since1998-mps.json" in str(info.value) and "--only since1998" in str(info.value)
    (folder / "since1998-cpu.json").write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        results.experiment_results("since1998")


@pytest.mark.parametrize("name, device", [("speed", "cpu"), ("since1998", "gpu"), (None, "cpu")])
def test_experiment_path_rejects_unknown_experiments_and_devices(name, device):
    with pytest.raises((ValueError, TypeError)):
        results.experiment_path(name, device)


# ---------------------------------------------------------------------------
# The backprop chapter's epoch (benchmarks/backprop_epoch.py)
# ---------------------------------------------------------------------------


def test_the_committed_backprop_results_are_in_the_package():
    """One epoch by hand and with autograd, side by side: the selection, then every seed with the chosen settings, each
    with both loops' validation error after the same steps, and their times; no test error anywhere."""
    measured = results.experiment_results("backprop")
    settings = measured["settings"]
    assert settings["train_images"] == 55_000 and settings["validation_images"] == 5_000 and settings["epochs"] == 1
    assert {"device", "device_name", "torch", "date", "threads"} <= set(measured["machine"])
    candidates = {(c["lr"], c["batch_size"], c["schedule"]) for c in settings["candidates"]}
    runs_of = collections.defaultdict(list)
    for r in measured["selection"]:
        runs_of[(r["lr"], r["batch_size"], r["schedule"])].append(r)
    assert set(runs_of) == candidates
    assert all(sorted(r["seed"] for r in runs) == settings["selection_seeds"] for runs in runs_of.values())
    mean = {c: sum(r["validation_error"]["hand"] for r in runs) / len(runs) for c, runs in runs_of.items()}
    lr, batch_size, schedule = min(mean, key=mean.get)  # the smallest mean validation error
    best = {"lr": lr, "batch_size": batch_size, "schedule": schedule}
    assert measured["chosen"] == best
    assert measured["runs"] and {r["seed"] for r in measured["runs"]} <= set(settings["seeds"])
    steps = -(-settings["train_images"] // measured["chosen"]["batch_size"])
    for run in measured["runs"]:
        assert (run["lr"], run["batch_size"], run["schedule"]) == (best["lr"], best["batch_size"], best["schedule"])
        curve = run["curve"]
        assert curve["steps"][0] == 0 and curve["steps"][-1] == steps and curve["digits_seen"][-1] == 55_000
        for loop in ("hand", "autograd"):
            assert len(curve["validation_error"][loop]) == len(curve["seconds"][loop]) == len(curve["steps"])
            assert curve["validation_error"][loop][-1] == run["validation_error"][loop]
            assert run["seconds"][loop] > 0 and run["cpu_seconds"][loop] > 0
        assert 0 <= run["weight_difference"] < 1
    assert "test_error" not in json.dumps(measured)  # everything is measured on the validation digits


def test_the_backprop_page_trains_with_the_settings_the_benchmark_chose(root):
    """The page's live run uses the learning rate, batch size and schedule the benchmark chose on the validation
    digits."""
    chosen = results.experiment_results("backprop")["chosen"]
    page = json.loads((root / "chapters" / "backprop_by_hand.ipynb").read_text())
    source = "\n".join("".join(cell["source"]) for cell in page["cells"])
    assert f"LR, BATCH, SCHEDULE = {chosen['lr']}, {chosen['batch_size']}, {chosen['schedule']!r}" in source


def test_the_backprop_page_schedules_its_rate_as_the_benchmark_did(root):
    """The page's rate() (its own code, for the learner to read) gives the rate the benchmark's rate() gave, step by
    step, for every schedule the benchmark tried: the page trains as the runs it quotes trained."""
    import ast
    import sys

    sys.path.insert(0, str(root / "benchmarks"))
    import backprop_epoch

    page = json.loads((root / "chapters" / "backprop_by_hand.ipynb").read_text())
    source = next("".join(cell["source"]) for cell in page["cells"] if "def rate(" in "".join(cell["source"]))
    tree = ast.parse(source)
    keep = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "rate"
            or isinstance(node, ast.Assign) and "SCHEDULE" in ast.unparse(node.targets[0])]  # rate()'s defaults
    namespace = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "backprop page", "exec"), namespace)
    schedules = {schedule for _, _, schedule in backprop_epoch.CANDIDATES} | {"constant"}
    assert {"linear", "late-linear"} <= schedules
    for schedule in sorted(schedules):
        for steps in (10, 1719):
            for step in (0, 1, steps // 2 - 1, steps // 2, steps // 2 + 1, steps - 1):
                assert namespace["rate"](step, steps, 0.01, schedule) == pytest.approx(
                    backprop_epoch.rate(0.01, schedule, step, steps), rel=1e-12), (schedule, step, steps)
