"""The speed appendix (chapters/appendix_speed.ipynb) reads what benchmarks/bench.py writes: the cells that read the
results run, in both languages, on a file that bench.py's own code wrote (`--only loops`, on a few digits, in
seconds), with and without its loop_ablation, and on the committed file."""

import ast
import functools
import json
import sys

import pytest
import torch

from lenet_helpers import data, language, results

# The page's cells that read the results file, in order (the others time the data path on this machine)
CELLS = ["spd-02", "spd-04", "spd-06", "spd-07", "spd-ab-table", "spd-ab-words"]
COMMAND = 'make bench BENCH_ARGS="--only loops"'


@pytest.fixture(scope="module")
def cells(root):
    page = json.loads((root / "chapters" / "appendix_speed.ipynb").read_text(encoding="utf-8"))
    by_id = {cell["id"]: "".join(cell["source"]) for cell in page["cells"]}
    return [(name, by_id[name]) for name in CELLS]


def run_page(cells, folder, monkeypatch, capsys, language_code="en"):
    """Run the cells with ``folder`` as the results folder: (what they printed, the Markdown the last one showed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(results, "RESULTS_DIR", folder)
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: plt.close("all"))
    monkeypatch.delenv("LENET_BILINGUAL", raising=False)
    namespace, shown = {}, {}
    with language.using(language_code):
        for name, source in cells:
            tree = ast.parse(source)
            last = tree.body.pop() if isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, name, "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
                shown[name] = None if value is None else str(value)
    return capsys.readouterr().out, shown


@pytest.fixture(scope="module")
def written(root, tmp_path_factory):
    """bench.py --only loops on 512 digits, 5 seeds, runs of at most 2 epochs, every run reaching its target after one
    epoch (the target set to 0%): the text of the file it wrote."""
    sys.path.insert(0, str(root / "benchmarks"))
    import bench

    images, labels = data.mnist_tensors(train=True, normalize="standard")
    train, validation = (images[:512], labels[:512]), (images[-128:], labels[-128:])   # one-cycle needs 8 steps or more

    def loader(batch_size, dev):   # the reference loop's DataLoader, of the same few digits
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=batch_size, shuffle=True)

    out = tmp_path_factory.mktemp("bench") / "bench-cpu.json"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few digits: a second thread only waits, and beside the other test process, a lot
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench, "standard_splits", lambda dev: (train, validation))
        patch.setattr(bench, "reference_loader", loader)
        patch.setattr(bench, "throughput", functools.partial(bench.throughput, steps=2, repeats=1))
        patch.setattr(bench, "loop_run", functools.partial(bench.loop_run, max_epochs=2))
        patch.setattr(bench, "machine", lambda dev: {"device": "cpu", "device_name": "a test CPU", "cpu_threads": 2,
                                                     "torch": torch.__version__, "date": "2026-01-01T00:00:00+00:00"})
        patch.setattr(bench, "TARGET_ACCURACY", 0.0)
        patch.setattr(bench, "log", lambda *args: None)
        patch.setattr(sys, "argv", ["bench.py", "--only", "loops", "--device", "cpu", "--seeds", *"01234",
                                    "--output", str(out)])
        try:
            bench.main()
        finally:
            torch.set_num_threads(threads)
    return out.read_text()


@pytest.fixture
def measured(written):
    """What bench.py wrote, as a dict that a test may change, its target shown as the committed file's (98.5%)."""
    return json.loads(written) | {"target_accuracy": 0.985}


def write(folder, measured):
    folder.mkdir(exist_ok=True)
    (folder / "bench-cpu.json").write_text(json.dumps(measured))
    return folder


def test_the_ablation_table_and_its_words_come_from_the_file(cells, measured, tmp_path, monkeypatch, capsys):
    # a constant rate needs 2 to 4 more epochs than one cycle, seed by seed: the interval excludes 0
    for run in measured["loop_ablation"]["epochs"]:
        run["epochs_to_target"] = 1 if run["schedule"] == "one-cycle" else 1 + [2, 3, 2, 4, 3][run["seed"]]
    folder = write(tmp_path / "results", measured)
    printed, shown = run_page(cells, folder, monkeypatch, capsys)
    assert "98.5% accuracy on the validation images" in printed and "5 seed(s)" in printed
    assert "with a constant learning rate" in printed and "with tensors in memory" in printed
    assert "+2.8 [+1.8, +3.8]" in printed and "(same runs)" in printed and COMMAND not in printed
    words = shown["spd-ab-words"]
    assert "with a constant learning rate its time to 98.5% is multiplied by" in words
    assert "95% interval +1.8 to +3.8 over 5 seeds: clearly more epochs" in words
    assert "the same epochs in every one of the 5 seeds" in words  # batch size: 1 epoch either way
    printed, shown = run_page(cells, folder, monkeypatch, capsys, "zh_CN")
    assert "在验证图像上达到 98.5% 准确率" in printed and "改用固定学习率" in printed and "（同一组运行）" in printed
    assert "迭代周期数明显更多" in shown["spd-ab-words"] and "改用 DataLoader" in shown["spd-ab-words"]


def test_fewer_than_five_seeds_give_no_verdict(cells, measured, tmp_path, monkeypatch, capsys):
    ablation = measured["loop_ablation"]
    ablation["epochs"] = [run for run in ablation["epochs"] if run["seed"] < 3]
    for run in ablation["epochs"]:
        run["epochs_to_target"] = 1 if run["schedule"] == "one-cycle" else [3, 4, 3][run["seed"]]
    _, shown = run_page(cells, write(tmp_path / "results", measured), monkeypatch, capsys)
    assert "too few seeds for a verdict" in shown["spd-ab-words"] and "clearly" not in shown["spd-ab-words"]


def test_runs_that_never_reach_the_target_are_said_not_hidden(cells, measured, tmp_path, monkeypatch, capsys):
    for loop in ("course_loop", "reference_loop"):
        for run in measured[loop]["runs"]:
            run["time_to_target_s"] = run["epochs_to_target"] = None
    measured["modern_time_to_target_s"] = measured["reference_time_to_target_s"] = measured["speedup"] = None
    for run in measured["loop_ablation"]["epochs"]:
        if run["schedule"] == "constant" and run["seed"] == 2:
            run["epochs_to_target"] = None
    printed, shown = run_page(cells, write(tmp_path / "results", measured), monkeypatch, capsys)
    assert "0 of 5" in printed and "4/5" in printed
    assert "One of the loops did not reach 98.5%" in shown["spd-07"]
    assert "in 1 of 5 seeds a run did not reach 98.5%" in shown["spd-ab-words"]


@pytest.mark.parametrize("source", ["bench.py", "committed"])
def test_a_file_without_the_ablation_says_how_to_measure_it(cells, measured, tmp_path, monkeypatch, capsys, source):
    """Results from before the ablation (as committed until `--only loops` ran again): a note, in both languages."""
    older = measured if source == "bench.py" else results.bench_results("cpu")
    older.pop("loop_ablation", None)
    folder = write(tmp_path / "results", older)
    printed, shown = run_page(cells, folder, monkeypatch, capsys)
    assert f"does not measure each factor alone (it comes from an older benchmark). {COMMAND}" in printed
    assert shown["spd-ab-words"] is None and shown["spd-07"]
    printed, _ = run_page(cells, folder, monkeypatch, capsys, "zh_CN")
    assert f"这份结果文件没有逐个测量每个因素（它来自较早一次基准测试）。运行 {COMMAND}" in printed


def test_the_committed_results_show_on_the_page(cells, root, tmp_path, monkeypatch, capsys):
    folder = write(tmp_path / "results", results.bench_results("cpu"))
    printed, shown = run_page(cells, folder, monkeypatch, capsys)
    assert "course loop" in printed and shown["spd-07"]
    committed = results.bench_results("cpu")
    assert "loop_ablation" in committed, "the committed file measures each factor alone (make bench --only loops)"
    goal = f"{100 * committed['target_accuracy']:g}%"
    assert f"{goal} accuracy on the validation images" in printed and COMMAND not in printed
    assert shown["spd-ab-words"] and f"time to {goal}" in shown["spd-ab-words"]
