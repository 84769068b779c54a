"""The trained networks the chapter "Inside the trained network" opens: trained once here, saved in the package.

A page that trains the faithful LeNet-5 to its best would take minutes; this script trains it once and saves its
weights (60,000 parameters: about 240 kB) into ``lenet_helpers/results/``, next to what it measured, so the chapter
loads them in a second (``lenet_helpers.inside.load_trained``). It trains two networks, on the paper's scaling
(background -0.1, ink 1.175, 32×32), on the 55,000 training digits of ``data.split_validation(images, labels, 5000,
seed=0)``:

* ``LeNet5``, the faithful network (squashing, trainable subsampling, Table I's C3, RBF output, the MAP loss of
  eq. 9), with AdamW on a one-cycle schedule in batches of 64: the learning rate and weight decay chapter 5's
  selection chose on the validation split (``bench-cpu.json``, ``faithful_modern.settings``), over ``PASSES`` passes
  (not the paper's 20: the whole run then takes a few CPU minutes on one thread);
* ``LeNet5Modern`` (ReLU, max pooling, cross-entropy), with Adam on a one-cycle schedule in batches of 128 for
  ``MODERN_EPOCHS`` epochs, its peak learning rate chosen among ``MODERN_CANDIDATES`` on the validation split.

The validation error is recorded after every pass; the test set is read once, for each network kept. Single-threaded
(on a network this small a second thread adds little), on the CPU.

    python benchmarks/inside_weights.py
    make bench BENCH_ARGS="--only inside"
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lenet_helpers import data, models, train  # noqa: E402
from lenet_helpers.results import RESULTS_DIR, bench_results  # noqa: E402

import since1998  # noqa: E402  (machine(): the device's description)

PASSES = 20
MODERN_EPOCHS = 4
MODERN_BATCH = 128
MODERN_CANDIDATES = (4e-3, 8e-3)
SEED = 0
#: the files written, in lenet_helpers/results/
WEIGHTS = {"LeNet5": "inside-LeNet5.pt", "LeNet5Modern": "inside-LeNet5Modern.pt"}
RECORD = "inside.json"


def splits():
    """(train 55,000, validation 5,000, test 10,000), each (images N×1×32×32, labels N), the paper's scaling."""
    images, labels = data.mnist_tensors(ROOT / "data", train=True, normalize="paper")
    train_set, validation = data.split_validation(images, labels, 5000, seed=0)
    test = data.mnist_tensors(ROOT / "data", train=False, normalize="paper")
    return train_set, validation, test


def faithful_settings() -> dict:
    """AdamW's learning rate and weight decay for the faithful network, as chapter 5's selection chose them."""
    modern = bench_results("cpu")["faithful_modern"]
    chosen = modern["settings"]
    chosen_on = ("chapter 5's AdamW selection on the validation split (bench-cpu.json, faithful_modern)"
                 if modern.get("selection") else
                 "chapter 5's AdamW settings as bench-cpu.json holds them (faithful_modern.settings), set before its "
                 "validation-only selection has run")
    return {"optimizer": "AdamW", "max_lr": chosen["modern_max_lr"], "weight_decay": chosen["modern_weight_decay"],
            "batch_size": chosen["modern_batch"], "schedule": "one-cycle, 15% warm-up", "passes": PASSES,
            "chosen_on": chosen_on}


def fit(model, train_set, validation, *, optimizer, batch_size, passes, max_lr, log):
    """Train ``model`` with a one-cycle schedule; the validation error after every pass and the CPU seconds."""
    steps = passes * -(-len(train_set[1]) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps, pct_start=0.15)
    start = time.process_time()
    history = train.train(model, train_set, epochs=passes, optimizer=optimizer, scheduler=schedule,
                          batch_size=batch_size, test_data=validation, device="cpu", progress=False,
                          before_epoch=lambda epoch: log(f"    pass {epoch}, {time.process_time() - start:.0f} CPU s so far"))
    errors = [r.test_error for r in history]
    log(f"    validation error per pass: {[round(100 * e, 2) for e in errors]}")
    return {"validation_error_per_pass": errors, "cpu_seconds": time.process_time() - start}


def run(log=print) -> Path:
    """Train both networks, save their weights and the record into lenet_helpers/results/; return the record's path."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_set, validation, test = splits()
        record = {"machine": since1998.machine(torch.device("cpu")) | {
                      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
                  "data": {"train_images": len(train_set[1]), "validation_images": len(validation[1]),
                           "validation_split": "data.split_validation(images, labels, 5000, seed=0)",
                           "scaling": "paper", "size": 32}, "seed": SEED, "networks": {}}

        settings = faithful_settings()
        log(f"LeNet5, AdamW {settings['max_lr']} / weight decay {settings['weight_decay']}, {PASSES} passes")
        train.set_seed(SEED)
        model = models.LeNet5()
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings["max_lr"], weight_decay=settings["weight_decay"])
        result = fit(model, train_set, validation, optimizer=optimizer, batch_size=settings["batch_size"],
                     passes=PASSES, max_lr=settings["max_lr"], log=log)
        faithful = {"settings": settings, **result, "test_error": train.evaluate(model, test).error,
                    "weights": WEIGHTS["LeNet5"]}
        torch.save(model.state_dict(), RESULTS_DIR / WEIGHTS["LeNet5"])
        record["networks"]["LeNet5"] = faithful

        candidates, best = [], None
        for max_lr in MODERN_CANDIDATES:
            log(f"LeNet5Modern, Adam one-cycle to {max_lr}, {MODERN_EPOCHS} epochs")
            train.set_seed(SEED)
            model = models.LeNet5Modern()
            optimizer = torch.optim.Adam(model.parameters(), lr=max_lr)
            result = fit(model, train_set, validation, optimizer=optimizer, batch_size=MODERN_BATCH,
                         passes=MODERN_EPOCHS, max_lr=max_lr, log=log)
            candidates.append({"max_lr": max_lr, **result})
            if best is None or result["validation_error_per_pass"][-1] < best[0]["validation_error_per_pass"][-1]:
                best = (candidates[-1], model)
        chosen, model = best
        modern_settings = {"optimizer": "Adam", "max_lr": chosen["max_lr"], "batch_size": MODERN_BATCH,
                           "schedule": "one-cycle, 15% warm-up", "passes": MODERN_EPOCHS,
                           "candidates": list(MODERN_CANDIDATES),
                           "chosen_on": "the lowest validation error after the last epoch, seed 0"}
        record["networks"]["LeNet5Modern"] = {
            "settings": modern_settings, "selection": candidates,
            "validation_error_per_pass": chosen["validation_error_per_pass"], "cpu_seconds": chosen["cpu_seconds"],
            "test_error": train.evaluate(model, test).error, "weights": WEIGHTS["LeNet5Modern"]}
        torch.save(model.state_dict(), RESULTS_DIR / WEIGHTS["LeNet5Modern"])
    finally:
        torch.set_num_threads(threads)
    path = RESULTS_DIR / RECORD
    path.write_text(json.dumps(record, indent=1) + "\n")
    for name, r in record["networks"].items():
        log(f"{name}: validation {100 * r['validation_error_per_pass'][-1]:.2f}%, test {100 * r['test_error']:.2f}%, "
            f"{r['cpu_seconds']:.0f} CPU s")
    return path


if __name__ == "__main__":
    print(f"written to {run(log=lambda *a: print(*a, flush=True))}")
