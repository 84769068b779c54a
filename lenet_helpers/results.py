"""The course's measured results: what `make bench` wrote on a real machine, shipped with the package.

Some figures take too long to compute while a page is built (20 passes of the paper's training, three
seeds). ``make bench`` (``benchmarks/bench.py``) measures them and writes
``lenet_helpers/results/bench-<device>.json``; the file is committed, and installed with the package,
so a chapter reads the same figures on the website, on Colab and on a learner's machine.

Example:
    >>> "cpu" in devices()
    True
    >>> bench_results("cpu")["device"]
    'cpu'
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ._validate import check_choice

__all__ = ["PAPER", "RESULTS_DIR", "BENCH_DEVICES", "EXPERIMENTS", "results_path", "devices", "bench_results",
           "experiment_path", "experiment_results"]

#: What the paper reports about LeNet-5's training and results (Sec. III-B; boosted LeNet-4, Sec. III-C), to show beside
#: the course's measurements. Error rates in percent.
PAPER = {
    "passes": 20,  # passes through the 60,000 training images (Sec. III-B)
    "test_error_pct": 0.95,  # LeNet-5 without distortions (Sec. III-B)
    "test_error_settles_after_passes": 10,  # the test error settles after about 10 passes
    "train_error_pct": 0.35,  # training error ...
    "train_error_after_passes": 19,  # ... after 19 passes
    "distorted_test_error_pct": 0.8,  # with 540,000 affine-distorted training images added
    "boosted_lenet4_test_error_pct": 0.7,  # boosted LeNet-4 (Sec. III-C)
    "training_days": (2, 3),  # CPU time of the 20 passes ...
    "training_cpu": "a 200 MHz R10000",  # ... on this processor
    "multiply_accumulates": 401_000,  # per character, about (Fig. 11)
}

#: The folder `make bench` writes into, inside the package (so the wheel carries it).
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: The devices `make bench` can write results for.
BENCH_DEVICES = ("cpu", "cuda", "mps")

#: The experiments `make bench` runs at full strength beside its headline figures, each in a file of its own:
#: chapter 6's comparisons (benchmarks/since1998.py) and the backprop chapter's epoch, trained with the hand-written
#: backward pass and with autograd (benchmarks/backprop_epoch.py).
EXPERIMENTS = ("since1998", "backprop")


def results_path(device="cpu") -> Path:
    """Where the results for ``device`` are (or will be written): ``RESULTS_DIR/bench-<device>.json``.

    Example:
        >>> results_path("cuda").name
        'bench-cuda.json'
    """
    if isinstance(device, torch.device):
        device = device.type
    check_choice(device, "device", BENCH_DEVICES)
    return RESULTS_DIR / f"bench-{device}.json"


def devices() -> list[str]:
    """The devices that have results, in the order of :data:`BENCH_DEVICES`.

    Example:
        >>> set(devices()) <= set(BENCH_DEVICES)
        True
    """
    return [d for d in BENCH_DEVICES if results_path(d).is_file()]


def bench_results(device="cpu") -> dict:
    """The results of `make bench` for a device, as a dict.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"mps"`` (or a ``torch.device``): the machine the
            benchmark ran on.

    Returns:
        The parsed JSON: the machine (``device_name``, ``torch``, ``date``, …), the course
        and reference loops (``modern_time_to_target_s``, ``speedup``, …) and the faithful
        LeNet-5's runs (``faithful_sdlm``, ``faithful_modern``, …).

    Raises:
        FileNotFoundError: there are no results for that device (``make bench`` has not been run
            on one), naming the file and the devices that have results.
        ValueError: the file is not a JSON object.

    Example:
        >>> results = bench_results("cpu")
        >>> results["device"], "speedup" in results
        ('cpu', True)
    """
    path = results_path(device)
    if not path.is_file():
        have = ", ".join(devices()) or "none"
        raise FileNotFoundError(
            f"no benchmark results for device {path.stem.removeprefix('bench-')!r}: {path} does not exist "
            f"(devices with results: {have}). Run `make bench` on such a machine "
            f"(python benchmarks/bench.py --device {path.stem.removeprefix('bench-')}) to create it."
        )
    text = path.read_text(encoding="utf-8")
    try:
        results = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); run `make bench` again to rewrite it") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path} must hold a JSON object (what `make bench` writes), got {type(results).__name__}")
    return results


def experiment_path(name: str, device="cpu") -> Path:
    """Where the results of the experiment ``name`` on ``device`` are: ``RESULTS_DIR/<name>-<device>.json``.

    Example:
        >>> experiment_path("since1998").name
        'since1998-cpu.json'
    """
    check_choice(name, "name", EXPERIMENTS)
    if isinstance(device, torch.device):
        device = device.type
    check_choice(device, "device", BENCH_DEVICES)
    return RESULTS_DIR / f"{name}-{device}.json"


def experiment_results(name: str, device="cpu") -> dict:
    """The results of one of `make bench`'s full-strength experiments (:data:`EXPERIMENTS`), as a dict.

    ``"since1998"`` holds chapter 6's runs: ``settings`` (the protocol), ``arms`` (what each set-up
    is) and ``runs``, one per (set-up, seed), each with its validation error after every epoch and
    the measurements made after training. ``"backprop"`` holds the backprop chapter's epoch:
    ``settings``, the ``selection`` of the learning rate and batch size, the ``chosen`` ones and
    ``runs``, one per seed, each with the validation error of the hand-written loop and of autograd's
    every few steps and their times.

    Raises:
        FileNotFoundError: the experiment has not been run on that device, naming the command that runs it.

    Example:
        >>> results = experiment_results("since1998")
        >>> sorted(results)[:3]
        ['arms', 'machine', 'runs']
    """
    path = experiment_path(name, device)
    device = path.stem.rsplit("-", 1)[1]
    if not path.is_file():
        raise FileNotFoundError(
            f"no results of the experiment {name!r} for device {device!r}: {path} does not exist. Run "
            f"`make bench BENCH_ARGS=\"--only {name}\"` on such a machine to create it."
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); run `make bench` again to rewrite it") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(results).__name__}")
    return results
