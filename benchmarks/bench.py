"""`make bench`: the course's headline numbers, measured side by side in one run on this machine.

1. Time to 98.5% accuracy (TARGET_ACCURACY) on the validation split (5,000 of the 60,000 training images, held out;
   trained on the other 55,000) for LeNet5Modern: the course's loop (whole-dataset tensors, fused Adam, a
   one-cycle schedule, batches of 128) against a plain pytorch/examples-style loop (torchvision MNIST with
   ToTensor/Normalize transforms, DataLoader of 64 shuffled images, Adam at 1e-3, evaluation once per epoch).
2. Throughput of both loops (images per second, forward + backward + step), and each of the four factors that
   differ between them alone (loop_ablation): the throughput of every combination of batch size, fused Adam
   and data path, and the epochs to the target of every combination of batch size and schedule.
3. The faithful LeNet5 on the paper's protocol (no distortions, the paper's preprocessing, RBF output
   and MAP loss, 20 passes), trained (a) with the paper's SDLM, one pattern per update, on 55,000
   training images (the other 5,000 are the validation split its settings were chosen on), with the
   departures the selection chose (sdlm_departures), single-threaded; training, validation and test error after
   every pass (the paper's Figure 5) and the time of one update; (b) with AdamW, its learning rate and
   weight decay chosen on the validation split (adamw-selection.jsonl), on the same 55,000 images;
   validation and test error after every pass.
4. How long a clean build of the whole book takes, and a re-run with nothing changed; then, in fresh clones, `make
   book` followed by `make test`, and `make test` alone, each as a ratio to the notebooks' execution time measured
   in the same run (make_test_ratios).
5. The in-browser trainer (lenet_helpers.widgets.TrainInBrowser): its training speed in headless Chromium,
   digits per second, beside PyTorch's on the same CPU for the same network and batch size, and their ratio.

Accuracy figures are the median of three seeds. Everything is written to lenet_helpers/results/bench-<device>.json
(shipped with the package, so the chapters read it on the website, on Colab and locally).

    python benchmarks/bench.py [--device cpu|cuda] [--seeds 0 1 2] [--skip-book] [--skip-faithful]
    python benchmarks/bench.py --only sdlm      # one section; the file keeps the others' figures
    python benchmarks/bench.py --only browser   # the in-browser trainer against PyTorch
    python benchmarks/bench.py --only inside    # the trained networks the chapter "Inside" opens (inside_weights.py)
    python benchmarks/bench.py --only backprop  # one epoch trained by hand and with autograd (backprop_epoch.py)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lenet_helpers import data, models, train  # noqa: E402
from lenet_helpers import sdlm  # noqa: E402
from lenet_helpers.results import PAPER, results_path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sdlm_experiments  # noqa: E402  (the per-pattern SDLM runs: benchmarks/sdlm_experiments.py)
import since1998  # noqa: E402  (chapter 6's experiments at full strength: benchmarks/since1998.py)
import inside_weights  # noqa: E402  (the trained networks of the chapter "Inside": benchmarks/inside_weights.py)
import backprop_epoch  # noqa: E402  (the backprop chapter's epoch: benchmarks/backprop_epoch.py)

#: The accuracy on the validation split that "time to target" is measured to. It was 99%, measured on the test set;
#: measured on the validation split (issue 22), no run of the first 5-seed run (2026-12-06, this host) reached 99%
#: within its planned epochs (the course's loop ended its 2 epochs at 1.04-1.42% validation error, the reference loop
#: its 8 at 1.18-1.66%), so the target became 98.5%, which every run reaches.
TARGET_ACCURACY = 0.985
KEYS = ["device", "modern_time_to_target_s", "reference_time_to_target_s", "speedup", "modern_img_per_s",
        "reference_img_per_s", "faithful_sdlm_test_error_pct", "faithful_sdlm_train_error_pct",
        "faithful_sdlm_ms_per_pattern", "faithful_modern_test_error_pct",
        "book_clean_build_s", "book_rebuild_s", "book_editions_s", "book_execution_s", "fresh_clone_book_s", "make_test_s",
        "browser_vs_pytorch"]
PAPER_ERROR_PCT = 0.95


def log(*args) -> None:
    print(*args, flush=True)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def machine(dev: torch.device) -> dict:
    """since1998.machine's description of the device, with the CPU, the GPU, torchvision and the date."""
    info = since1998.machine(dev)
    cpu = info["device_name"] if dev.type != "cuda" else since1998.cpu_name()
    return info | {"cpu": cpu, "gpu": info["device_name"] if dev.type == "cuda" else None,
                   "torchvision": torchvision.__version__,
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


# ---------------------------------------------------------------------------
# 1–2. LeNet5Modern to TARGET_ACCURACY on the validation split: the course's loop, the reference loop, and each factor alone
# ---------------------------------------------------------------------------

COURSE = {"batch_size": 128, "max_lr": 8e-3, "epochs": 2}
#: The four things that differ between the two loops, and each loop's choice (the ablation changes one at a time)
FACTORS = {"batch_size": (128, 64), "fused_adam": (True, False), "data": ("tensors", "DataLoader"),
           "schedule": ("one-cycle", "constant")}
REFERENCE_LR, REFERENCE_MAX_EPOCHS = 1e-3, 8


def validation_indices():
    """The 55,000 training and 5,000 validation indices of data.split_validation (seed 0), for a torchvision dataset."""
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(0))
    return order[5000:], order[:5000]


def reference_loader(batch_size: int, dev: torch.device):
    """The reference loop's data: torchvision's MNIST, transformed image by image, in a shuffled DataLoader."""
    transform = transforms.Compose([
        transforms.Pad(2),  # LeNet-5 takes 32×32
        transforms.ToTensor(),
        transforms.Normalize((data.MNIST_MEAN,), (data.MNIST_STD,)),
    ])
    root = data.prepare_mnist(ROOT / "data").parent.parent  # torchvision wants the folder above MNIST/
    train_set = torchvision.datasets.MNIST(root, train=True, download=False, transform=transform)
    kept, _ = validation_indices()
    kwargs = {"num_workers": 1, "pin_memory": True} if dev.type == "cuda" else {}
    return torch.utils.data.DataLoader(torch.utils.data.Subset(train_set, kept.tolist()), batch_size=batch_size,
                                       shuffle=True, **kwargs)


def standard_splits(dev: torch.device):
    """(train 55,000, validation 5,000) as tensors on the device, the standard scaling (as the reference loop's)."""
    images, labels = data.mnist_tensors(ROOT / "data", train=True, normalize="standard")
    kept, held = validation_indices()
    return (images[kept].to(dev), labels[kept].to(dev)), (images[held].to(dev), labels[held].to(dev))


def loop_run(seed: int, dev: torch.device, splits, *, batch_size, fused_adam, data_path, schedule,
             max_epochs=REFERENCE_MAX_EPOCHS) -> dict:
    """LeNet5Modern trained with one choice of each factor, the validation error after every epoch: a one-cycle
    schedule for its planned COURSE['epochs'], a constant rate for ``max_epochs``; the time to TARGET_ACCURACY on
    validation is the training time (evaluation excluded) up to the first epoch that reaches it. With
    data_path="DataLoader" the reference loop's data goes through the same loop (train.train)."""
    (xtr, ytr), validation = splits
    train.set_seed(seed)
    model = models.LeNet5Modern().to(dev)
    one_cycle = schedule == "one-cycle"
    lr = COURSE["max_lr"] if one_cycle else REFERENCE_LR
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused_adam)
    train_data = (xtr, ytr) if data_path == "tensors" else reference_loader(batch_size, dev)
    epochs = COURSE["epochs"] if one_cycle else max_epochs
    steps = epochs * -(-len(ytr) // batch_size)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.25)
                 if one_cycle else None)
    # one call of train.train for the whole run (a passed-in fused Adam is then never switched between layouts)
    history = train.train(model, train_data, epochs=epochs, optimizer=optimizer, scheduler=scheduler,
                          batch_size=batch_size, test_data=validation, device=dev, progress=False)
    errors = [row.test_error for row in history]
    seconds = [history[0].seconds] + [b.seconds - a.seconds for a, b in zip(history, history[1:])]
    return {"seed": seed, "validation_error_per_epoch": errors, "seconds_per_epoch": seconds,
            **to_target(errors, seconds), "img_per_s": len(ytr) / statistics.median(seconds)}


def to_target(errors, seconds, target: float | None = None) -> dict:
    """{"epochs_to_target", "time_to_target_s"} of a run from its validation error and training seconds per epoch:
    the first epoch whose accuracy reaches ``target`` (default TARGET_ACCURACY), and the training time up to its end
    (None: never reached).

        >>> to_target([0.03, 0.014, 0.012], [4.0, 4.0, 4.0])
        {'epochs_to_target': 2, 'time_to_target_s': 8.0}
    """
    target = TARGET_ACCURACY if target is None else target
    first = next((i for i, e in enumerate(errors) if e <= 1 - target + 1e-12), None)
    return {"epochs_to_target": None if first is None else first + 1,
            "time_to_target_s": None if first is None else sum(seconds[: first + 1])}


def course_run(seed: int, dev: torch.device, splits) -> dict:
    """The course's loop: train.train on whole-dataset tensors, fused Adam with a one-cycle schedule, batches of 128."""
    return loop_run(seed, dev, splits, batch_size=COURSE["batch_size"], fused_adam=dev.type in ("cpu", "cuda"),
                    data_path="tensors", schedule="one-cycle")


def reference_run(seed: int, dev: torch.device, splits) -> dict:
    """The plain pytorch/examples loop, as most tutorials write it, on the same model: torchvision's dataset in a
    DataLoader of 64 shuffled images, Adam (not fused) at a constant 0.001, the validation error after each epoch."""
    return loop_run(seed, dev, splits, batch_size=64, fused_adam=False, data_path="DataLoader", schedule="constant")


def throughput(dev: torch.device, splits, *, batch_size, fused_adam, data_path, steps=150, repeats=3) -> dict:
    """Images per second of training steps (forward, loss, backward, Adam) with one choice of each factor that
    matters for speed: the best of ``repeats`` timings of ``steps`` steps, after a warm-up (wall clock, synchronised
    on a GPU), and the CPU time of this process for the same steps."""
    (xtr, ytr), _ = splits
    train.set_seed(0)
    model = models.LeNet5Modern().to(dev)
    if dev.type in ("cpu", "cuda"):
        model.to(memory_format=torch.channels_last)  # as train.train does
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused_adam)
    source = (lambda: data.batches(xtr, ytr, batch_size)) if data_path == "tensors" else (
        lambda: iter(reference_loader(batch_size, dev)))

    def run(n):
        done = 0
        for x, y in source():
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            loss = model.loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == n:
                return

    run(10)  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        sync(dev)
        wall, cpu = time.perf_counter(), time.process_time()
        run(steps)
        sync(dev)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    images = steps * batch_size
    return {"batch_size": batch_size, "fused_adam": fused_adam, "data": data_path,
            "img_per_s": images / min(walls), "img_per_cpu_s": images / min(cpus)}


def loop_ablation(dev: torch.device, seeds, splits) -> dict:
    """Each factor alone: the throughput of every (batch size, fused Adam, data path), and the epochs to the target
    on validation of every (batch size, schedule), the two things each factor can change. Fused or plain Adam and
    tensors or a DataLoader compute the same updates on the same images (in another order, or rounded otherwise),
    so they change the time of an epoch, not the number of epochs; those runs use tensors and fused Adam."""
    import itertools

    speeds = []
    for batch_size, fused, path in itertools.product(FACTORS["batch_size"], FACTORS["fused_adam"], FACTORS["data"]):
        speeds.append(throughput(dev, splits, batch_size=batch_size, fused_adam=fused and dev.type in ("cpu", "cuda"),
                                 data_path=path))
        log(f"  throughput, batch {batch_size}, fused {fused}, {path}: {speeds[-1]['img_per_s']:,.0f} img/s")
    epochs = []
    for batch_size, schedule in itertools.product(FACTORS["batch_size"], FACTORS["schedule"]):
        for seed in seeds:
            run = loop_run(seed, dev, splits, batch_size=batch_size, fused_adam=dev.type in ("cpu", "cuda"),
                           data_path="tensors", schedule=schedule)
            epochs.append({"batch_size": batch_size, "schedule": schedule} | run)
            log(f"  epochs to {100 * TARGET_ACCURACY:g}%, batch {batch_size}, {schedule}, seed {seed}: {run['epochs_to_target']} "
                f"({[round(100 * e, 2) for e in run['validation_error_per_epoch']]})")
    return {"factors": {k: list(v) for k, v in FACTORS.items()}, "throughput": speeds, "epochs": epochs,
            "load_average": os.getloadavg(), "note": "throughput: best of 3 timings of 150 steps; epochs: tensors, "
            f"fused Adam, validation error after each epoch; one-cycle runs its planned {COURSE['epochs']} epochs, "
            f"constant {REFERENCE_MAX_EPOCHS}"}


# ---------------------------------------------------------------------------
# 3. The faithful LeNet5 on the paper's protocol
# ---------------------------------------------------------------------------

FAITHFUL = {"passes": 20, "modern_optimizer": "AdamW", "modern_batch": 64, "modern_schedule": "one-cycle, 15% warm-up"}

# (a) The paper's method, as the paper ran it: one pattern, one update. benchmarks/sdlm_experiments.py --selection
# chose the departures on the validation split (its record: benchmarks/sdlm-experiments.jsonl); the trainer is
# lenet_helpers.fast_sdlm.


def sdlm_config() -> dict:
    """The configuration the selection chose (sdlm_experiments.selection_plan), as sdlm_experiments.run takes it."""
    _, chosen = sdlm_experiments.selection_plan()
    if chosen is None:
        raise RuntimeError("the SDLM selection is not complete: run benchmarks/sdlm_experiments.py --selection first")
    candidate = next(c for c in sdlm_experiments.SELECTION if c["name"] == chosen)
    return sdlm_experiments.DEFAULTS | candidate | {"compile": True}


def sdlm_departures(config: dict) -> list:
    """The departures from the paper of ``config``, one sentence each, with the validation errors behind them."""
    finals = {c["name"]: sdlm_experiments.final_validation(sdlm_experiments.RESULTS, c["name"]).get(0)
              for c in sdlm_experiments.SELECTION}

    def pct(name):
        return "not run" if finals.get(name) is None else f"{100 * finals[name]:.2f}%"

    sentences = []
    if config["init"] == "eblearn":
        sentences.append(
            "The initial weights are uniform in ±1/√F_i, with biases 0 and subsampling coefficients 0.5 (the "
            "initialisation of EBLearn, the C++ library of LeCun's group), not in ±2.4/F_i: with the paper's range and "
            f"the paper's η, the network ends the 20 passes at {pct('literal')} validation error (it saturates C5 "
            f"within the first patterns); with the paper's range and η × 0.1 it learns, to {pct('literal-eta0.1')}; "
            f"EBLearn's initialisation with η × {config['eta_scale']:g} reaches {pct(config['name'])} "
            "(seed 0), and gives the first-pass step sizes the paper reports.")
    if config["eta_scale"] != 1:
        sentences.append(
            f"Every η of the paper's schedule is multiplied by {config['eta_scale']:g} (the schedule's shape, its "
            f"ratios from pass to pass, is the paper's): with the paper's own values the run ends at {pct('eblearn')} "
            "validation error (seed 0), against the lowest median of the candidates for the scaled schedule.")
    if config["hold_after"] is not None:
        sentences.append(f"The curvature h is estimated before passes 1 to {config['hold_after']} only, then kept.")
    sentences.append("The network trains on 55,000 of the 60,000 training images: the other 5,000 are the validation "
                     "split on which these settings were chosen, the test set being used only for the final measurement.")
    return sentences


def sdlm_records(path: Path = sdlm_experiments.RESULTS) -> dict:
    """The SDLM runs that chose the settings and looked for the cause of η × 0.2 (benchmarks/sdlm-experiments.jsonl),
    as the chapter reads them: validation errors only."""
    keep = ("name", "seed", "init", "eta_scale", "hold_after", "mu", "j", "curvature_scale", "curvature_loss",
            "curvature_reduction", "rbf_curvature", "passes", "validation_error_per_pass", "train_error_running_per_pass",
            "step_range_per_pass", "cpu_seconds", "failure")
    raw = sdlm_experiments.records(path)
    plan, chosen = sdlm_experiments.selection_plan(path)
    causes = sdlm_experiments.causes_plan()
    return {"selection": [{k: r.get(k) for k in keep} for r in raw if any(sdlm_experiments.same_run(r, c) for c in plan)],
            "chosen": chosen,
            "selection_rule": f"stage 1: every candidate with seed 0; stage 2: the {sdlm_experiments.FINALISTS} with the "
                              "lowest validation error after pass 20, with seeds 1 and 2; chosen: the lowest median of "
                              "the three seeds",
            "causes": [{k: r.get(k) for k in keep} for r in raw if any(sdlm_experiments.covers(r, c) for c in causes)],
            "cause_passes": sdlm_experiments.CAUSE_PASSES, "cause_seeds": list(sdlm_experiments.CAUSE_SEEDS),
            "cause_plan": [{"name": c["name"], "why": c["why"]} for c in sdlm_experiments.CAUSES]}


def faithful_sdlm(seed: int, dev: torch.device, splits, passes: int) -> dict:
    """(a) The paper's method: per-pattern SDLM (lenet_helpers.fast_sdlm), μ = 0.02, the curvature estimated
    on 500 patterns, the paper's η schedule, the departures the selection chose; errors after every pass."""
    record = sdlm_experiments.run(sdlm_config() | {"name": "bench", "seed": seed, "passes": passes}, splits, dev,
                                  log=lambda line: log(f"    seed {seed} {line}"), test=True)
    n = len(splits[0][1])
    return {"seed": seed, "test_error_per_pass": record["test_error_per_pass"],
            "train_error_per_pass": record["train_error_per_pass"],
            "train_error_running_per_pass": record["train_error_running_per_pass"],
            "validation_error_per_pass": record["validation_error_per_pass"],
            "seconds": sum(record["seconds_per_pass"]), "seconds_total": record["seconds"],
            "wall_ms_per_pattern": 1000 * statistics.median(record["seconds_per_pass"]) / n,  # the pass's wall clock
            "step_range_per_pass": record["step_range_per_pass"], "failure": record["failure"]}


def sdlm_figure5(runs: list) -> dict:
    """Figure 5 of the paper from the runs: training and test error after each pass, median and range of the seeds
    (training error both after each pass and on the fly during it, as the paper's figure measures it)."""
    out = {"passes": list(range(1, min(len(r["test_error_per_pass"]) for r in runs) + 1))}
    for key in ("train_error", "train_error_running", "validation_error", "test_error"):
        columns = list(zip(*(r[f"{key}_per_pass"] for r in runs)))
        out[key] = {"median": [statistics.median(c) for c in columns], "min": [min(c) for c in columns],
                    "max": [max(c) for c in columns]}
    out["paper"] = PAPER
    return out


#: (b) AdamW's candidates, each trained on the 55,000 images with seed 0 and judged on the validation split alone
#: (benchmarks/adamw-selection.jsonl records them); the one with the lowest validation error after the last pass is
#: trained with every seed and measured once on the test set.
ADAMW_CANDIDATES = [{"max_lr": lr, "weight_decay": wd} for lr in (1e-3, 2e-3, 4e-3) for wd in (0.0, 0.05)]
ADAMW_SELECTION = Path(__file__).resolve().parent / "adamw-selection.jsonl"


def faithful_modern(seed: int, dev: torch.device, splits, passes: int, max_lr: float, weight_decay: float,
                    test: bool) -> dict:
    """(b) A modern optimiser on the same network and loss: AdamW (Adam with decoupled weight decay),
    one-cycle schedule, batches of 64, on the 55,000 training images; the validation error after every pass,
    and with ``test=True`` (the configuration chosen) the test error too."""
    (xtr, ytr), validation, test_set = splits
    train.set_seed(seed)
    model = models.LeNet5().to(dev)
    batch = FAITHFUL["modern_batch"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    steps = passes * -(-len(ytr) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps, pct_start=0.15)
    tests = []

    def measure_test(epoch):  # called before each epoch: the previous one has ended (after the last, below)
        if test and epoch > 1:
            tests.append(train.evaluate(model, test_set).error)

    start_cpu = time.process_time()
    history = train.train(model, (xtr, ytr), epochs=passes, optimizer=optimizer, scheduler=schedule,
                          batch_size=batch, test_data=validation, device=dev, progress=False, before_epoch=measure_test)
    measure_test(passes + 1)
    return {"seed": seed, "max_lr": max_lr, "weight_decay": weight_decay, "passes": passes,
            "validation_error_per_pass": [r.test_error for r in history],
            "train_error_per_pass": [r.train_error for r in history],  # as training went
            **({"test_error_per_pass": tests} if test else {}),
            "seconds": history[-1].seconds, "cpu_seconds": time.process_time() - start_cpu}


def adamw_selection(dev: torch.device, splits, passes: int) -> tuple:
    """Every candidate of ADAMW_CANDIDATES not yet recorded, seed 0, validation only; returns (records, chosen)."""
    path = ADAMW_SELECTION
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    for candidate in ADAMW_CANDIDATES:
        if any(r["max_lr"] == candidate["max_lr"] and r["weight_decay"] == candidate["weight_decay"]
               and r["passes"] == passes for r in records):
            continue
        record = faithful_modern(0, dev, splits, passes, candidate["max_lr"], candidate["weight_decay"], test=False)
        log(f"  AdamW candidate {candidate}: validation {[round(100 * e, 2) for e in record['validation_error_per_pass']]}")
        records.append(record)
        with path.open("a") as f:
            f.write(json.dumps(record) + "\n")
    records = [r for r in records if r["passes"] == passes]
    chosen = min(records, key=lambda r: r["validation_error_per_pass"][-1])
    return records, {"max_lr": chosen["max_lr"], "weight_decay": chosen["weight_decay"]}


# ---------------------------------------------------------------------------
# 4. The whole book
# ---------------------------------------------------------------------------


EXECUTED = re.compile(r"chapters/(\S+)\.ipynb: Executed notebook in ([0-9.]+) seconds")


EDITION_TIME = re.compile(r"^edition (\S+): ([0-9.]+) s$", re.M)


def book_build_times() -> dict:
    """A clean build of the book, both editions (empty execution cache), then a re-run with nothing changed; the
    seconds each notebook took to execute in the clean build, from jupyter-book's log, and each edition's build
    time (tools/editions.py prints them)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, str(ROOT / "tools" / "editions.py"), "build", "--path-output", out]
        times, logs = [], []
        for _ in range(2):  # clean (empty cache), then unchanged
            start = time.perf_counter()
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            logs.append(result.stdout + result.stderr)
            if result.returncode != 0:
                raise RuntimeError("the book build failed:\n" + logs[-1][-4000:])
    chapters = {name: round(float(seconds), 2) for name, seconds in EXECUTED.findall(logs[0])}
    editions = {run: {language: float(seconds) for language, seconds in EDITION_TIME.findall(log)}
                for run, log in zip(("clean", "unchanged"), logs)}
    return {"book_clean_build_s": times[0], "book_rebuild_s": times[1], "book_editions_s": editions,
            "book_execution_s": {"total": round(sum(chapters.values()), 2), "chapters": chapters}}


def timed_make(target: str, folder: Path, env: dict | None = None) -> tuple[float, str]:
    """Run `make target` in ``folder``: its wall time in seconds, and its output."""
    start = time.perf_counter()
    result = subprocess.run(["make", target], cwd=folder, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"make {target} failed in {folder}:\n" + (result.stdout + result.stderr)[-4000:])
    return seconds, result.stdout + result.stderr


DURATION = re.compile(r"^([0-9.]+)s (setup|call|teardown) +(\S+)$", re.M)


def make_test(folder: Path, env: dict | None = None) -> dict:
    """`make test` in ``folder``: its wall time, and pytest's list of the slowest steps (where the time goes; a
    test's setup includes the fixtures it is the first to need, the book build say)."""
    seconds, output = timed_make("test", folder, (env or os.environ) | {"PYTEST_ADDOPTS": "--durations=30"})
    slowest = [{"seconds": float(t), "when": when, "test": name} for t, when, name in DURATION.findall(output)]
    return {"seconds": seconds, "slowest": slowest}


#: Issue 24's targets for `make test`: its time as a multiple of the notebooks' execution time, from the same run
MAKE_TEST_TARGETS = {"after_book": 2.2, "fresh_clone": 3.5}


def fresh_clones() -> dict:
    """What a new user waits for, in fresh clones of this checkout's HEAD (a new .venv, the npm packages, empty uv,
    pip and npm download caches): `make book` then `make test` in one clone (``fresh_clone_book_s``,
    ``make_test_after_book_s``: the test run may reuse what `make book` left), and `make test` alone in another
    (``make_test_s``)."""
    with tempfile.TemporaryDirectory() as tmp:

        def clone(name):
            folder = Path(tmp) / name
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder)], check=True)
            return folder, os.environ | {"UV_CACHE_DIR": f"{tmp}/{name}-uv", "PIP_CACHE_DIR": f"{tmp}/{name}-pip",
                                         "npm_config_cache": f"{tmp}/{name}-npm"}

        folder, env = clone("after-book")
        book_s = timed_make("book", folder, env)[0]
        log(f"  make book in a fresh clone: {book_s:.0f} s")
        after = make_test(folder, env)
        log(f"  make test after it: {after['seconds']:.0f} s")
        folder, env = clone("alone")
        alone = make_test(folder, env)
        log(f"  make test in a fresh clone: {alone['seconds']:.0f} s")
    return {"fresh_clone_book_s": book_s, "make_test_after_book_s": after["seconds"],
            "make_test_after_book_slowest": after["slowest"], "make_test_s": alone["seconds"],
            "make_test_slowest": alone["slowest"]}


# ---------------------------------------------------------------------------
# 5. The in-browser trainer against PyTorch
# ---------------------------------------------------------------------------

BROWSER_DIGITS = 9600  # digits each network trains on in Chromium for the speed figure (a few seconds)


def trainer_page(folder: Path) -> Path:
    """A page that renders the in-browser trainer as the website does (the widget's code, the shipped digits, no
    kernel), without building the book: the widget's state and code, handed to it the way anywidget does."""
    from lenet_helpers import export, widgets

    trainer = widgets.TrainInBrowser()
    state = {key: value for key, value in trainer.get_state().items() if not key.startswith("_")}
    (folder / export.DIGITS_SCRIPT).write_text(export.digits_script(), encoding="utf-8")
    page = folder / "index.html"
    page.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>trainer</title>
<meta name="lenet-training-digits" content="{export.DIGITS_SCRIPT}"><style>{trainer._css}</style></head>
<body><main><div id="widget"></div></main><script type="module">
const state = {json.dumps(state)};
const url = URL.createObjectURL(new Blob([{json.dumps(trainer._esm)}], {{type: "text/javascript"}}));
const widget = (await import(url)).default;
const model = {{get: (key) => state[key], set() {{}}, save_changes() {{}}, send() {{ throw new Error("no kernel"); }},
               on() {{}}}};
widget.render({{model, el: document.getElementById("widget")}});
</script></body></html>""", encoding="utf-8")
    return page


def browser_training(digits: int = BROWSER_DIGITS) -> dict:
    """Each network trained by the page in headless Chromium (the system's, as the tests use it) for ``digits``
    digits with its default settings, its speed (digits per second of training) beside PyTorch's on this CPU
    (widgets.pytorch_speed: same network, batch size, optimiser and digits), and their ratio."""
    sys.path.insert(0, str(ROOT / "tests"))
    import browser  # noqa: E402  (tests/browser.py: the system's Chromium, a local server)

    from lenet_helpers import widgets

    found = {}
    with tempfile.TemporaryDirectory() as tmp, browser.browser() as chromium:
        page_file = trainer_page(Path(tmp))
        with browser.serve(page_file.parent) as base:
            context = chromium.new_context()
            page = context.new_page()
            page.goto(base + page_file.name)
            version = chromium.version
            for name, choice in widgets.TRAINABLE.items():
                page.wait_for_function("() => { const r = document.querySelector('.lenet-train'); return r && r.lenet "
                                       "&& r.dataset.status !== 'loading' && r.lenet.state().error !== null; }",
                                       timeout=120_000)
                page.select_option("select[name=network]", name)
                page.wait_for_function("n => { const s = document.querySelector('.lenet-train').lenet.state(); "
                                       "return s.network === n && s.seen === 0 && s.error !== null; }", arg=name,
                                       timeout=120_000)
                page.evaluate("n => document.querySelector('.lenet-train').lenet.start({until: n})", digits)
                page.wait_for_function("() => document.querySelector('.lenet-train').dataset.status === 'paused'",
                                       timeout=1_200_000)
                state = page.evaluate("() => document.querySelector('.lenet-train').lenet.state()")
                js = state["seen"] / state["seconds"]
                # PyTorch's best on this CPU: its default threads, or one thread (faster on a busy machine, where
                # threads wait for each other); the ratio is taken against the faster, so it is never flattered
                torch_speed = widgets.pytorch_speed(name, choice["batch"], seconds=5.0)
                one_thread = widgets.pytorch_speed(name, choice["batch"], seconds=5.0, threads=1)
                best = max(torch_speed, one_thread)
                found[name] = {"batch": choice["batch"], "lr": choice["lr"], "digits": state["seen"],
                               "browser_digits_per_s": js, "pytorch_digits_per_s": torch_speed,
                               "pytorch_threads": torch.get_num_threads(), "pytorch_one_thread_digits_per_s": one_thread,
                               "ratio": js / torch_speed, "pytorch_best_digits_per_s": best, "ratio_to_best": js / best,
                               "load_average": list(os.getloadavg())}
                log(f"  {name}: browser {js:,.0f} digits/s, PyTorch {torch_speed:,.0f} digits/s on "
                    f"{torch.get_num_threads()} threads, {one_thread:,.0f} on one (ratio to the faster "
                    f"{js / best:.2f}); load average {found[name]['load_average'][0]:.1f}")
            context.close()
    cpu = machine(torch.device("cpu"))
    return {"machine": f"{cpu['cpu']}, {cpu['cpu_threads']} threads", "chromium": version, "date": cpu["date"],
            "networks": found}


# ---------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if there is a GPU)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--passes", type=int, default=FAITHFUL["passes"])
    parser.add_argument("--skip-book", action="store_true")
    parser.add_argument("--skip-loops", action="store_true", help="skip the LeNet5Modern time-to-target comparison")
    parser.add_argument("--skip-faithful", action="store_true")
    parser.add_argument("--skip-sdlm", action="store_true", help="train the faithful model with the modern optimiser only")
    parser.add_argument("--skip-adam", action="store_true", help="train the faithful model with SDLM only")
    parser.add_argument("--skip-browser", action="store_true", help="skip the in-browser trainer against PyTorch")
    parser.add_argument("--only", choices=["loops", "sdlm", "adam", "book", "browser", "since1998", "inside",
                                           "backprop"],
                        default=None,
                        help="run one section; the others keep the figures already in the results file "
                             "(since1998: chapter 6's experiments, into results/since1998-<device>.json; inside: "
                             "the trained networks of the chapter 'Inside', into results/inside*.pt and inside.json; "
                             "backprop: the backprop chapter's epoch, into results/backprop-<device>.json)")
    parser.add_argument("--output", default=None, help="default: lenet_helpers/results/bench-<device>.json")
    parser.add_argument("--refresh-sdlm-records", action="store_true",
                        help="only copy the SDLM selection and cause runs (benchmarks/sdlm-experiments.jsonl) into the "
                             "results file, next to the runs already there")
    args = parser.parse_args()
    if args.refresh_sdlm_records:
        out = Path(args.output) if args.output else results_path(args.device or train.device().type)
        results = json.loads(out.read_text())
        results["faithful_sdlm"].update(sdlm_records())
        out.write_text(json.dumps(results, indent=2) + "\n")
        log(f"SDLM records copied into {out}")
        return
    if args.only is not None:
        args.skip_loops, args.skip_book = args.only != "loops", args.only != "book"
        args.skip_sdlm, args.skip_adam = args.only != "sdlm", args.only != "adam"
        args.skip_faithful = args.only not in ("sdlm", "adam")
        args.skip_browser = args.only != "browser"
    dev = torch.device(args.device) if args.device else train.device()
    if args.only == "since1998":  # its own results file, written run by run (benchmarks/since1998.py)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # batches of 64 on a network this small: one thread is as fast
        try:
            path = since1998.run_all(dev, list(since1998.ARMS), list(since1998.SEEDS), log=log)
        finally:
            torch.set_num_threads(threads)
        log(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return
    if args.only == "inside":  # the chapter's trained networks, on the CPU (benchmarks/inside_weights.py)
        path = inside_weights.run(log=log)
        log(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return
    if args.only == "backprop":  # its own results file, written run by run (benchmarks/backprop_epoch.py)
        path = backprop_epoch.run_all(dev, log=log)
        log(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return
    results = machine(dev)
    log(f"make bench on {results['device_name']} ({dev.type}), torch {results['torch']}, seeds {args.seeds}")

    # 1–2: the two loops, side by side, seed by seed, to the target on the validation split; then each factor alone
    if not args.skip_loops:
        splits = standard_splits(dev)
        course, reference = [], []
        for seed in args.seeds:
            reference.append(reference_run(seed, dev, splits))
            course.append(course_run(seed, dev, splits))
            log(f"  seed {seed}: course {course[-1]['time_to_target_s']} s, reference {reference[-1]['time_to_target_s']} s")
        results["target_accuracy"] = TARGET_ACCURACY
        results["course_loop"] = {"settings": COURSE | {"measured_on": "validation (5,000 images held out of 60,000)"},
                                  "runs": course}
        results["reference_loop"] = {"settings": {"batch_size": 64, "optimizer": "Adam", "lr": REFERENCE_LR,
                                                  "data": "torchvision MNIST, Pad(2) + ToTensor + Normalize",
                                                  "measured_on": "validation (5,000 images held out of 60,000)"},
                                     "runs": reference}
        results["modern_time_to_target_s"] = median(r["time_to_target_s"] for r in course)
        results["reference_time_to_target_s"] = median(r["time_to_target_s"] for r in reference)
        results["speedup"] = (results["reference_time_to_target_s"] / results["modern_time_to_target_s"]
                              if results["modern_time_to_target_s"] and results["reference_time_to_target_s"] else None)
        results["modern_img_per_s"] = median(r["img_per_s"] for r in course)
        results["reference_img_per_s"] = median(r["img_per_s"] for r in reference)
        results["loop_ablation"] = loop_ablation(dev, args.seeds, splits)

    # 3: the faithful network. (a) SDLM, one pattern at a time, single-threaded (a second thread only adds
    # overhead at this size), on the 55,000/5,000 split the settings were chosen on
    if not (args.skip_faithful or args.skip_sdlm):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            splits = sdlm_experiments.load(dev)
            runs_sdlm = []
            for seed in args.seeds:
                runs_sdlm.append(faithful_sdlm(seed, dev, splits, args.passes))
                log(f"  faithful SDLM seed {seed}: {[round(100 * e, 2) for e in runs_sdlm[-1]['test_error_per_pass']]}")
            timing = sdlm_experiments.step_timing(dev)
        finally:
            torch.set_num_threads(threads)
        config = sdlm_config()
        settings = {"passes": args.passes, "sdlm_batch": 1, "sdlm_chosen": config["name"], "sdlm_loss": "MAP (eq. 9) of one pattern",
                    "sdlm_eta": "the paper's schedule", "sdlm_eta_scale": config["eta_scale"],
                    "sdlm_mu": config["mu"], "sdlm_j": config["j"],
                    "sdlm_hessian_samples": sdlm.PAPER_SAMPLES, "sdlm_init": config["init"],
                    "sdlm_hold_curvature_after": config["hold_after"],
                    "sdlm_curvature_floor": config["h_floor"], "sdlm_compile": config["compile"],
                    "sdlm_threads": 1, "train_images": len(splits[0][1]), "validation_images": len(splits[1][1]),
                    "validation_split": f"data.split_validation(images, labels, 5000, seed={sdlm_experiments.VALIDATION_SEED})",
                    "departures": sdlm_departures(config)}
        results["faithful_sdlm"] = {"settings": settings, "runs": runs_sdlm, "figure5": sdlm_figure5(runs_sdlm),
                                    "step_timing": timing, "machine": machine(dev) | {"cpu_threads": 1}, **sdlm_records()}
        results["faithful_sdlm_test_error_pct"] = 100 * median(r["test_error_per_pass"][-1] for r in runs_sdlm)
        # the training error as the paper's Figure 5 measures it: on the fly, during pass 19 (or the last)
        pass19 = min(19, args.passes) - 1
        results["faithful_sdlm_train_error_pct"] = 100 * median(r["train_error_running_per_pass"][pass19] for r in runs_sdlm)
        # one update of the step the runs used: on a CPU the CPU time of this process (other work on the machine does
        # not inflate it), on a GPU the wall clock with the device synchronised (the CPU only queues the work there)
        step = timing["fast_compiled" if config["compile"] else "fast_eager"]
        results["faithful_sdlm_ms_per_pattern"] = step["cpu_ms"] if dev.type == "cpu" else step["wall_ms"]
        results["faithful_sdlm_ms_per_pattern_clock"] = "CPU time" if dev.type == "cpu" else "wall clock, synchronised"
    else:
        results["faithful_sdlm_test_error_pct"] = None

    # (b) a modern optimiser on the same network: its settings chosen on validation, then every seed, test once
    if not (args.skip_faithful or args.skip_adam):
        splits = sdlm_experiments.load(dev)  # the same 55,000 / 5,000 / 10,000 as SDLM's
        candidates, chosen = adamw_selection(dev, splits, args.passes)
        runs_modern = []
        for seed in args.seeds:
            runs_modern.append(faithful_modern(seed, dev, splits, args.passes, chosen["max_lr"], chosen["weight_decay"],
                                               test=True))
            log(f"  faithful AdamW seed {seed}: validation "
                f"{[round(100 * e, 2) for e in runs_modern[-1]['validation_error_per_pass']]}")
        settings = FAITHFUL | {"passes": args.passes, "modern_max_lr": chosen["max_lr"],
                               "modern_weight_decay": chosen["weight_decay"], "train_images": len(splits[0][1]),
                               "chosen_on": "the validation error after the last pass, seed 0 (adamw-selection.jsonl)",
                               "candidates": ADAMW_CANDIDATES}
        results["faithful_modern"] = {"settings": settings, "runs": runs_modern,
                                      "selection": [{k: r[k] for k in ("max_lr", "weight_decay", "validation_error_per_pass")}
                                                    for r in candidates]}
        results["faithful_modern_test_error_pct"] = 100 * median(r["test_error_per_pass"][-1] for r in runs_modern)
    else:
        results["faithful_modern_test_error_pct"] = None

    # 5: the in-browser trainer (before the book: it is quick)
    if not args.skip_browser:
        results["browser_training"] = browser_training()
        # the slower network's ratio to PyTorch's best on this CPU (default threads or one, whichever is faster)
        ratios = [r["ratio_to_best"] for r in results["browser_training"]["networks"].values()]
        results["browser_vs_pytorch"] = min(ratios)

    # 4: the book
    if not args.skip_book:
        results.update(book_build_times())
        log(f"  book: clean build {results['book_clean_build_s']:.0f} s, notebooks {results['book_execution_s']}")
        results.update(fresh_clones())
        execution = results["book_execution_s"]["total"]  # issue 24's targets: ratios to it, from this same run
        results["make_test_ratios"] = {"after_book": results["make_test_after_book_s"] / execution,
                                       "fresh_clone": results["make_test_s"] / execution,
                                       "targets": MAKE_TEST_TARGETS}
    else:
        results["book_clean_build_s"] = results["book_rebuild_s"] = None

    out = Path(args.output) if args.output else results_path(dev.type)
    out.parent.mkdir(parents=True, exist_ok=True)
    for key in KEYS:
        results.setdefault(key, None)
    if out.exists():  # a section skipped this time keeps the figures of the last run that measured it
        previous = json.loads(out.read_text())
        skipped = {"faithful": args.skip_faithful or args.skip_adam, "sdlm": args.skip_faithful or args.skip_sdlm, "book": args.skip_book,
                   "loops": args.skip_loops, "browser": args.skip_browser}
        keys = {"loops": ["target_accuracy", "course_loop", "reference_loop", "modern_time_to_target_s", "reference_time_to_target_s", "speedup",
                          "modern_img_per_s", "reference_img_per_s", "loop_ablation"], "faithful": ["faithful_modern", "faithful_modern_test_error_pct"],
                "sdlm": ["faithful_sdlm", "faithful_sdlm_test_error_pct", "faithful_sdlm_train_error_pct",
                         "faithful_sdlm_ms_per_pattern", "faithful_sdlm_ms_per_pattern_clock"],
                "browser": ["browser_training", "browser_vs_pytorch"],
                "book": ["book_clean_build_s", "book_rebuild_s", "book_editions_s", "book_execution_s", "fresh_clone_book_s",
                         "make_test_s", "make_test_slowest", "make_test_after_book_s", "make_test_after_book_slowest",
                         "make_test_ratios"]}
        for section, names in keys.items():
            if skipped[section]:
                for name in names:
                    if previous.get(name) is not None:
                        results[name] = previous[name]
                        results.setdefault("carried_over", []).append(name)
    out.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    log(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def report(r: dict) -> None:
    r = {key: r.get(key) for key in KEYS} | r

    def fmt(v, unit=""):
        return "n/a" if v is None else (f"{v:,.2f}{unit}" if isinstance(v, float) else f"{v}{unit}")

    rows = [
        (f"LeNet5Modern to {100 * TARGET_ACCURACY:g}%, course loop", fmt(r["modern_time_to_target_s"], " s"), "≤ 5 s on a 2-core CPU, ≤ 1 s on one GPU"),
        (f"LeNet5Modern to {100 * TARGET_ACCURACY:g}%, reference loop", fmt(r["reference_time_to_target_s"], " s"), ""),
        ("speed-up (reference / course)", fmt(r["speedup"], "×"), "≥ 2.5×"),
        ("throughput, course loop", fmt(r["modern_img_per_s"], " img/s"), ""),
        ("throughput, reference loop", fmt(r["reference_img_per_s"], " img/s"), ""),
        ("faithful LeNet5, SDLM, 20 passes", fmt(r["faithful_sdlm_test_error_pct"], " %"), f"≤ {PAPER_ERROR_PCT} %"),
        ("  its training error, on the fly, pass 19", fmt(r["faithful_sdlm_train_error_pct"], " %"), "0.35 % (paper)"),
        (f"  SDLM update, one pattern, {r.get('faithful_sdlm_ms_per_pattern_clock') or 'CPU time'}",
         fmt(r["faithful_sdlm_ms_per_pattern"], " ms"), "≤ 0.5 ms on one core"),
        ("faithful LeNet5, AdamW, 20 passes", fmt(r["faithful_modern_test_error_pct"], " %"), f"≤ {PAPER_ERROR_PCT} %"),
        ("book, clean build", fmt(r["book_clean_build_s"], " s"), "< 480 s"),
        ("book, unchanged re-run", fmt(r["book_rebuild_s"], " s"), "< 30 s"),
        ("notebook execution, whole book", fmt((r["book_execution_s"] or {}).get("total"), " s"), "≤ 180 s"),
        ("make book in a fresh clone", fmt(r["fresh_clone_book_s"], " s"), "≤ 210 s"),
        ("make test in a fresh clone", fmt(r["make_test_s"], " s"),
         f"≤ {MAKE_TEST_TARGETS['fresh_clone']} × notebook execution"),
        ("make test after make book", fmt(r.get("make_test_after_book_s"), " s"),
         f"≤ {MAKE_TEST_TARGETS['after_book']} × notebook execution"),
        ("in-browser trainer / PyTorch, digits/s", fmt(r["browser_vs_pytorch"], "×"), "≥ 0.1× (the slower network)"),
    ]
    width = max(len(a) for a, _, _ in rows)
    log(f"\n{'measure':<{width}}  {'result':>16}  target ({r['device_name']})")
    for name, value, target in rows:
        log(f"{name:<{width}}  {value:>16}  {target}")


if __name__ == "__main__":
    main()
