"""Choose the in-browser trainer's default learning rate and batch size (lenet_helpers.widgets.TrainInBrowser).

The page trains on the first 6,000 MNIST training digits with SGD (momentum 0.9) for a budget of digits; this
script trains the same networks the same way in PyTorch (the browser's arithmetic is checked against PyTorch's in
tests/test_train_js.py) and measures the error on 10,000 validation digits: MNIST's training digits 50,000 to
59,999, which the page does not ship. The test digits are not read. Each setting runs with several seeds; the
table (benchmarks/browser-defaults.md) gives the median and the range.

    python benchmarks/browser_defaults.py [--budget 48000] [--seeds 0 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lenet_helpers import data, export, models, widgets  # noqa: E402

GRID = {
    "LeNet5Modern": {"lr": [0.005, 0.01, 0.02, 0.04], "batch": [8, 16, 32]},
    "LeNet-5 (1998)": {"lr": [0.0005, 0.001, 0.002, 0.003], "batch": [8, 16, 32]},
}
MAKE = {"LeNet5Modern": models.LeNet5Modern, "LeNet-5 (1998)": models.LeNet5}


def run(name: str, lr: float, batch: int, seed: int, budget: int, train, validation) -> dict:
    (x, y), (xv, yv) = train, validation
    torch.manual_seed(seed)
    model = MAKE[name]()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=widgets.TRAIN_MOMENTUM)
    generator = torch.Generator().manual_seed(seed)
    seen, start = 0, time.perf_counter()
    while seen < budget:
        for xb, yb in data.batches(x, y, batch, generator=generator):
            if len(yb) < batch:
                continue  # the browser's batches are all full
            loss = model.loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += batch
            if seen >= budget:
                break
    seconds = time.perf_counter() - start
    with torch.no_grad():
        wrong = sum((model.predict(xv[i:i + 1000]) != yv[i:i + 1000]).sum().item() for i in range(0, len(yv), 1000))
    finite = all(torch.isfinite(p).all() for p in model.parameters())
    return {"validation_error_pct": 100 * wrong / len(yv) if finite else 100.0, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=48_000, help="training digits seen (default 48,000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "browser-defaults.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = data.mnist_tensors(train=True, normalize="paper", size=32)
    n = export.TRAIN_DIGITS
    train, validation = (images[:n], labels[:n]), (images[50_000:], labels[50_000:])
    rows = []
    for name, grid in GRID.items():
        for lr, batch in itertools.product(grid["lr"], grid["batch"]):
            errors = []
            for seed in args.seeds:
                r = run(name, lr, batch, seed, args.budget, train, validation)
                errors.append(r["validation_error_pct"])
                print(f"{name} lr {lr} batch {batch} seed {seed}: {r['validation_error_pct']:.2f}% "
                      f"({r['seconds']:.0f} s)", flush=True)
            rows.append((name, lr, batch, errors))
    lines = [
        "# The in-browser trainer's defaults (benchmarks/browser_defaults.py)",
        "",
        f"SGD with momentum {widgets.TRAIN_MOMENTUM} on MNIST's first {n:,} training digits, {args.budget:,} digits "
        f"seen; error on the 10,000 validation digits 50,000–59,999 of the training set (the test digits are not "
        f"read), seeds {', '.join(map(str, args.seeds))}, in percent: median [min–max].",
        "",
        "| network | learning rate | batch | validation error |",
        "|---|---|---|---|",
    ]
    for name, lr, batch, errors in rows:
        lines.append(f"| {name} | {lr} | {batch} | {statistics.median(errors):.2f} [{min(errors):.2f}–{max(errors):.2f}] |")
    best = {}
    for name, lr, batch, errors in rows:
        if name not in best or statistics.median(errors) < statistics.median(best[name][2]):
            best[name] = (lr, batch, errors)
    lines += ["", "Lowest median validation error:", ""]
    lines += [f"- {name}: learning rate {lr}, batch {batch} ({statistics.median(e):.2f}%)" for name, (lr, batch, e) in best.items()]
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
