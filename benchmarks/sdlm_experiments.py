"""Per-pattern SDLM on the faithful LeNet-5: one configuration per run, chosen on the validation split.

Each run trains ``models.LeNet5`` with :func:`lenet_helpers.fast_sdlm.train_per_pattern` on 55,000 of
MNIST's 60,000 training images (``data.split_validation(…, 5000, seed=0)`` holds out the other 5,000)
and prints, after every pass, the error on the training patterns, the validation split and the test
set. A JSON line with the whole history is appended to ``--results`` (default
``experiments-logs/results.jsonl``). Settings are compared on the validation error; the test error
is only read for the configuration finally chosen.

Single-threaded on purpose (the paper's per-pattern updates are sequential; a second thread buys
nothing at this size). Examples::

    python benchmarks/sdlm_experiments.py --name literal --init paper
    python benchmarks/sdlm_experiments.py --name eblearn-hold1 --init eblearn --hold-after 1 --seed 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lenet_helpers import data, models, sdlm  # noqa: E402
from lenet_helpers.fast_sdlm import PatternSDLM, eblearn_init, train_per_pattern  # noqa: E402
from lenet_helpers.sdlm import PAPER_MU  # noqa: E402

VALIDATION_SEED = 0


def load(device: torch.device):
    """(train 55,000, validation 5,000, test 10,000), each (images N×1×32×32, labels N), the paper's levels."""
    images, labels = data.mnist_tensors(ROOT / "data", train=True, normalize="paper")
    train, validation = data.split_validation(images, labels, 5000, seed=VALIDATION_SEED)
    test = data.mnist_tensors(ROOT / "data", train=False, normalize="paper")
    return tuple((x.to(device), y.to(device)) for x, y in (train, validation, test))


def run(config: dict, splits, device: torch.device, log=print) -> dict:
    """Train one configuration; return the config with its per-pass history."""
    train, validation, test = splits
    torch.manual_seed(config["seed"])
    model = models.LeNet5()
    if config["init"] == "eblearn":
        eblearn_init(model, torch.Generator().manual_seed(config["seed"]))
    model = model.to(device)
    start = time.perf_counter()
    try:
        history = train_per_pattern(
            model, train, passes=config["passes"], eval_data={"validation": validation, "test": test},
            eta_scale=config["eta_scale"], mu=config["mu"], j=config["j"],
            hold_curvature_after=config["hold_after"], curvature_floor=config["h_floor"], seed=config["seed"],
            compile=config.get("compile", False), train_error=config.get("train_error", True), log=log)
        failure = None
    except FloatingPointError as error:  # diverged: keep what was measured before
        history, failure = getattr(error, "history", []), str(error)
    if config.get("save"):
        torch.save(model.state_dict(), config["save"])
    return config | {
        "failure": failure,
        "seconds": time.perf_counter() - start,
        "train_error_per_pass": [r.train_error for r in history],
        "train_error_running_per_pass": [r.running_train_error for r in history],
        "validation_error_per_pass": [r.errors["validation"] for r in history],
        "test_error_per_pass": [r.errors["test"] for r in history],
        "eta_per_pass": [r.eta for r in history],
        "seconds_per_pass": [r.seconds for r in history],
        "step_range_per_pass": [[r.step_min, r.step_max] for r in history],
    }


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def step_timing(dev: torch.device, patterns: int = 2000, old_patterns: int = 300) -> dict:
    """ms per pattern of one SDLM update: the fast trainer (eager, and compiled when it compiles) against
    sdlm.SDLM with autograd, on the same patterns; wall clock and CPU time of this process."""
    images, labels = data.mnist_tensors(ROOT / "data", train=True, normalize="paper")
    images, labels = images[:patterns].to(dev), labels[:patterns].to(dev)

    def timed(run, n):
        sync(dev)
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        sync(dev)
        return {"wall_ms": 1000 * (time.perf_counter() - wall) / n, "cpu_ms": 1000 * (time.process_time() - cpu) / n}

    out = {"device": dev.type, "threads": torch.get_num_threads()}
    for name, compile_ in (("fast_eager", False), ("fast_compiled", True)):
        trainer = PatternSDLM(eblearn_init(models.LeNet5(), torch.Generator().manual_seed(0)).to(dev), compile=compile_)
        trainer.estimate(images[:500], labels[:500])
        trainer.eta = 1e-5
        trainer.train_pass(images[:200], labels[:200])  # warm-up (and compilation)
        out[name] = timed(lambda: trainer.train_pass(images, labels), patterns)
    model = eblearn_init(models.LeNet5(), torch.Generator().manual_seed(0)).to(dev)
    optimizer = sdlm.SDLM.from_model(model, lr=1e-5)
    optimizer.estimate(model, images[:500], labels[:500])

    def old():
        for i in range(old_patterns):
            loss = model.loss(model(images[i : i + 1]), labels[i : i + 1])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    old()
    out["sdlm_autograd"] = timed(old, old_patterns)
    return out


def table(path: Path) -> str:
    """The runs of a results file as a Markdown table: settings, then errors after the last pass (in %)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "validation_error_per_pass" in r]
    head = ("| run | init | η × | h | j | μ | seed | passes | validation | test | training on the fly (pass 19) "
            "| minutes |\n|" + "---|" * 12)
    lines = [head]
    for r in rows:
        val, test, running = r["validation_error_per_pass"], r["test_error_per_pass"], r.get("train_error_running_per_pass", [])
        h = "every pass" if r["hold_after"] is None else f"pass {r['hold_after']}'s"
        if r.get("h_floor"):
            h += f", floor {r['h_floor']}"
        fly = f"{100 * running[18]:.2f}" if len(running) >= 19 else "–"
        lines.append(f"| {r['name']} | {r['init']} | {r['eta_scale']} | {h} | {r['j']} | {r['mu']} | {r['seed']} "
                     f"| {len(val)} | {100 * val[-1]:.2f} | {100 * test[-1]:.2f} | {fly} | {r['seconds'] / 60:.0f} |")
    groups = {}
    for r in rows:
        groups.setdefault(r["name"], []).append(r)
    lines += ["", "| run | seeds | validation: median [min–max] | test: median [min–max] |", "|---|---|---|---|"]
    for name, runs in groups.items():
        if len(runs) < 2:
            continue
        cells = []
        for key in ("validation_error_per_pass", "test_error_per_pass"):
            finals = sorted(100 * r[key][-1] for r in runs)
            cells.append(f"{statistics.median(finals):.2f} [{finals[0]:.2f}–{finals[-1]:.2f}]")
        lines.append(f"| {name} | {', '.join(str(r['seed']) for r in runs)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", help="a label for this configuration")
    parser.add_argument("--table", action="store_true", help="print the runs of --results as a table, and stop")
    parser.add_argument("--timing", action="store_true", help="only time one update (fast eager, compiled, sdlm.SDLM)")
    parser.add_argument("--init", choices=["paper", "eblearn"], default="paper",
                        help="paper: uniform ±2.4/F_i (LeNet5's own); eblearn: ±1/√F_i, biases 0, subsampling 0.5")
    parser.add_argument("--eta-scale", type=float, default=1.0, help="factor on the paper's η schedule (the global learning rate)")
    parser.add_argument("--hold-after", type=int, default=None, help="keep the h of this pass from then on")
    parser.add_argument("--h-floor", type=float, default=0.0, help="use max(h, floor)")
    parser.add_argument("--mu", type=float, default=PAPER_MU)
    parser.add_argument("--j", type=float, default=0.1, help="the MAP loss's constant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eager", action="store_true", help="do not torch.compile the step (slower)")
    parser.add_argument("--no-train-error", action="store_true",
                        help="skip the error on all training images after each pass (keep the one measured on the fly)")
    parser.add_argument("--results", default=str(ROOT / "experiments-logs" / "results.jsonl"))
    args = parser.parse_args()
    if args.table:
        print(table(Path(args.results)))
        return
    if not args.name:
        parser.error("--name is required to run a configuration")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.timing:
        record = {"name": args.name, "timing": step_timing(device)}
        print(json.dumps(record), flush=True)
        with Path(args.results).open("a") as f:
            f.write(json.dumps(record) + "\n")
        return
    config = {"name": args.name, "init": args.init, "eta_scale": args.eta_scale, "hold_after": args.hold_after,
              "h_floor": args.h_floor, "mu": args.mu, "j": args.j, "seed": args.seed, "passes": args.passes,
              "compile": not args.eager, "train_error": not args.no_train_error}
    print(json.dumps(config), flush=True)
    config["save"] = str(Path(args.results).parent / f"{args.name}-s{args.seed}.pt")  # the trained weights
    record = run(config, load(device), device, log=lambda line: print(line, flush=True))
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")
    final = record["validation_error_per_pass"][-1] if record["validation_error_per_pass"] else None
    print(f"done: {args.name} seed {args.seed}: validation {final}, {record['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
