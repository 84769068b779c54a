"""Inside a trained LeNet-5: what its units respond to, how sure it is, and where it breaks.

The chapter "Inside the trained network" opens the networks that ``make bench BENCH_ARGS="--only inside"``
(``benchmarks/inside_weights.py``) trained once and saved in ``lenet_helpers/results/``. This module keeps the
code the chapter writes:

* :func:`load_trained` and :func:`trained_record`: the saved networks and what their training measured;
* :func:`receptive_field` and :func:`receptive_fields`: the input window a unit of each layer sees, computed from
  the kernels and strides;
* :func:`top_patches`: the input patches that make each feature map respond most;
* :func:`margins` and :func:`rejection_curve`: how sure the network is, and the error left when the least sure
  digits are rejected;
* :func:`occlusion_map`: what covering each patch of a digit does to the network's answer;
* :func:`distort` and :func:`robustness`: Sec. III-E's shifts, scalings, rotations and noise, and the error they
  cause.

Example:
    >>> from lenet_helpers import models
    >>> receptive_fields(models.LeNet5())["C3"]
    Field(size=14, jump=2)
"""

from __future__ import annotations

import json
import numbers
from collections import OrderedDict
from typing import NamedTuple, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import _unchecked
from ._validate import check_device, check_int, check_module, check_tensor
from .evaluation import class_scores
from .layers import PartialConv2d, Subsampling
from .results import RESULTS_DIR

__all__ = ["TRAINED", "BACKGROUND", "DISTORTIONS", "Field", "TopPatches", "trained_record", "load_trained",
           "receptive_field", "receptive_fields", "top_patches", "margins", "rejection_curve", "occlusion_map",
           "distort", "robustness"]

#: The networks `make bench BENCH_ARGS="--only inside"` trains, and the file each one's weights are in.
TRAINED = {"LeNet5": "inside-LeNet5.pt", "LeNet5Modern": "inside-LeNet5Modern.pt"}
RECORD = "inside.json"
MAKE_IT = 'make bench BENCH_ARGS="--only inside"'
#: The background level of the paper's scaling (Sec. II-B): what a covered or uncovered pixel becomes.
BACKGROUND = -0.1
#: The distortions :func:`robustness` applies, and the unit of each one's strength.
DISTORTIONS = {"shift": "pixels", "scale": "factor", "rotation": "degrees", "noise": "standard deviation"}


# ---------------------------------------------------------------------------
# The saved networks
# ---------------------------------------------------------------------------


def _missing(path) -> FileNotFoundError:
    return FileNotFoundError(f"{path} does not exist: the trained networks are made once by `{MAKE_IT}` "
                             "(a few CPU minutes), which writes them into lenet_helpers/results/")


def trained_record() -> dict:
    """What the training of the saved networks measured: settings, validation error per pass, test error.

    Raises:
        FileNotFoundError: the networks have not been trained yet, naming the command that trains them.

    Example:
        >>> sorted(trained_record()["networks"]) if (RESULTS_DIR / RECORD).is_file() else ['LeNet5', 'LeNet5Modern']
        ['LeNet5', 'LeNet5Modern']
    """
    path = RESULTS_DIR / RECORD
    if not path.is_file():
        raise _missing(path)
    return json.loads(path.read_text(encoding="utf-8"))


def load_trained(name: str = "LeNet5", device="cpu") -> nn.Module:
    """The trained network ``name`` (``"LeNet5"`` or ``"LeNet5Modern"``), its saved weights loaded, in eval mode.

    Raises:
        ValueError: ``name`` is not one of :data:`TRAINED`.
        FileNotFoundError: the weights have not been made yet, naming the command that makes them.

    Example:
        >>> model = load_trained("LeNet5") if (RESULTS_DIR / TRAINED["LeNet5"]).is_file() else None
        >>> model is None or sum(p.numel() for p in model.parameters()) == 60_000
        True
    """
    from . import models

    if name not in TRAINED:
        raise ValueError(f"name must be one of {', '.join(map(repr, TRAINED))}, got {name!r}")
    device = check_device(device)
    path = RESULTS_DIR / TRAINED[name]
    if not path.is_file():
        raise _missing(path)
    model = getattr(models, name)()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.to(device).eval()


# ---------------------------------------------------------------------------
# Receptive fields
# ---------------------------------------------------------------------------


class Field(NamedTuple):
    """The input window of a unit: ``size`` pixels on a side, and ``jump``, the input pixels between the windows of
    two neighbouring units of the same map."""

    size: int
    jump: int


def receptive_field(layers: Sequence) -> Field:
    """The receptive field of a unit after ``layers``, a list of ``(kernel, stride)`` pairs, input side first.

    Each layer widens the window by ``(kernel - 1)`` times the jump so far, then multiplies the jump by its stride:
    ``size += (k - 1) * jump; jump *= s``, starting from one pixel, ``size = jump = 1``.

    Example:
        >>> receptive_field([(5, 1), (2, 2), (5, 1)])     # C1, S2, C3
        Field(size=14, jump=2)
        >>> receptive_field([(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)]).size   # C5: the whole 32×32 input
        32
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of (kernel, stride) pairs, got {type(layers).__name__}")
    size = jump = 1
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(f"layers[{i}] must be a (kernel, stride) pair, got {layer!r}")
        k = check_int(layer[0], f"layers[{i}]'s kernel", minimum=1)
        s = check_int(layer[1], f"layers[{i}]'s stride", minimum=1)
        size += (k - 1) * jump
        jump *= s
    return Field(size, jump)


def _window(module: nn.Module):
    """The (kernel, stride) of a module that slides a window over its maps, or None."""

    def first(v):
        return int(v[0] if isinstance(v, (tuple, list)) else v)

    if isinstance(module, nn.Conv2d):
        return first(module.kernel_size), first(module.stride)
    if isinstance(module, PartialConv2d):  # C3: stride 1
        return module.kernel_size, 1
    if isinstance(module, Subsampling):  # S2, S4: the windows do not overlap
        return module.kernel_size, module.kernel_size
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return first(module.kernel_size), first(module.stride or module.kernel_size)
    return None


def receptive_fields(model: nn.Module) -> "OrderedDict[str, Field]":
    """The receptive field of a unit of each top-level layer of ``model`` that has maps, from its windows.

    Walks the layers in order, reads the kernel and stride of every convolution and pooling inside each, and
    applies :func:`receptive_field`; a layer without windows (F6, the output) ends the list.

    Example:
        >>> from lenet_helpers import models
        >>> {name: field.size for name, field in receptive_fields(models.LeNet5()).items()}
        {'C1': 5, 'S2': 6, 'C3': 14, 'S4': 16, 'C5': 32}
    """
    return _fields(check_module(model))


def _fields(model: nn.Module) -> "OrderedDict[str, Field]":
    """:func:`receptive_fields` of a model its caller has checked."""
    so_far, fields = [], OrderedDict()
    for name, layer in model.named_children():
        windows = [w for m in layer.modules() if (w := _window(m)) is not None]
        if not windows:
            break
        so_far += windows
        fields[name] = receptive_field(so_far)
    return fields


# ---------------------------------------------------------------------------
# What a map responds to
# ---------------------------------------------------------------------------


class TopPatches(NamedTuple):
    """For each map of a layer, the ``k`` images that make it respond most, and where."""

    values: torch.Tensor  # maps×k: the map's largest response in each of those images
    images: torch.Tensor  # maps×k: their indices
    rows: torch.Tensor  # maps×k: the row of the responding unit in the map
    cols: torch.Tensor  # maps×k: its column
    patches: torch.Tensor  # maps×k×C×size×size: the input patch that unit sees
    field: Field


def _outputs(model, images, batch_size=500):
    """Every top-level layer's output for ``images``, in chunks, on the CPU (model and images checked by the caller)."""
    dev = _unchecked.device_of(model)
    with torch.no_grad():
        chunks = [_unchecked.layer_calls(model, images[i:i + batch_size].to(dev))
                  for i in range(0, len(images), batch_size)]
    return {name: torch.cat([c[n][2] for c in chunks]).cpu() for n, (name, _layer, _out) in enumerate(chunks[0])}


def top_patches(model: nn.Module, layer: str, images: torch.Tensor, k: int = 9) -> TopPatches:
    """The ``k`` images of ``images`` in which each map of ``layer`` responds most, and the patch it sees in each.

    For every image the map's largest unit is found; the ``k`` images with the largest of these are kept (so each
    image appears at most once per map), and each unit's receptive field (:func:`receptive_fields`) is cut out of
    the input. For C5, whose units see the whole 32×32 input, the patch is the whole image.

    Shapes: images N×C×H×W (N >= k) -> values, images, rows, cols maps×k; patches maps×k×C×size×size.

    Example:
        >>> from lenet_helpers import models
        >>> top = top_patches(models.LeNet5(), "C3", torch.randn(20, 1, 32, 32), k=9)
        >>> tuple(top.patches.shape), top.field
        ((16, 9, 1, 14, 14), Field(size=14, jump=2))
    """
    check_module(model)
    images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
    k = check_int(k, "k", minimum=1)
    fields = _fields(model)
    if layer not in fields:
        raise ValueError(f"layer must be a layer of the model with feature maps, one of {', '.join(fields)}; "
                         f"got {layer!r}")
    if len(images) < k:
        raise ValueError(f"images must hold at least k = {k} images, got {len(images)}")
    with _unchecked.evaluating(model):
        maps = _outputs(model, images)[layer]  # N×M×H×W
    n, m, h, w = maps.shape
    best, where = maps.flatten(2).max(dim=2)  # N×M: each image's largest unit in each map
    values, chosen = best.t().topk(k, dim=1)  # M×k
    where = where.t().gather(1, chosen)
    rows, cols = where // w, where % w
    field = fields[layer]
    size, jump = field
    patches = torch.stack([torch.stack([images[n_, :, r * jump:r * jump + size, c_ * jump:c_ * jump + size].cpu()
                                        for n_, r, c_ in zip(chosen[j].tolist(), rows[j].tolist(), cols[j].tolist())])
                           for j in range(m)])
    return TopPatches(values, chosen, rows, cols, patches, field)


# ---------------------------------------------------------------------------
# How sure it is
# ---------------------------------------------------------------------------


def _scores(model, images, batch_size=1000):
    """The model's class scores for ``images``, N×classes on the CPU (model and images checked by the caller)."""
    dev = _unchecked.device_of(model)
    with _unchecked.evaluating(model), torch.no_grad():
        return torch.cat([class_scores(model, model(images[i:i + batch_size].to(dev))).cpu()
                          for i in range(0, len(images), batch_size)])


def margins(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted class of each image and its margin: its score minus the runner-up's (>= 0).

    The scores are the model's own (:func:`lenet_helpers.evaluation.class_scores`): for ``LeNet5`` minus the RBF
    penalties, so the margin is the second smallest penalty minus the smallest.

    Shapes: images N×C×H×W -> (predicted N, margin N), on the CPU.

    Example:
        >>> from lenet_helpers import models
        >>> predicted, margin = margins(models.LeNet5(), torch.zeros(3, 1, 32, 32))
        >>> predicted.shape, bool((margin >= 0).all())
        (torch.Size([3]), True)
    """
    check_module(model)
    images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
    top2 = _scores(model, images).topk(2, dim=1)
    return top2.indices[:, 0], top2.values[:, 0] - top2.values[:, 1]


def rejection_curve(margin: torch.Tensor, correct: torch.Tensor, shares: Sequence[float]) -> list[float]:
    """The error on the digits kept when the share ``s`` with the smallest margins is rejected, for each ``s``.

    ``floor(s · N)`` digits are rejected (ties broken by position); the error is the share of mistakes among the
    rest. A reading machine sends the rejected digits to a person.

    Shapes: margin N, correct N (booleans) -> one error per share.

    Example:
        >>> rejection_curve(torch.tensor([0.1, 2.0, 3.0, 0.5]), torch.tensor([False, True, True, False]), [0, 0.5])
        [0.5, 0.0]
    """
    margin = check_tensor(margin, "margin", ndim=1, layout="N")
    if isinstance(correct, torch.Tensor) and correct.dtype == torch.bool:
        correct = correct.long()
    correct = check_tensor(correct, "correct", ndim=1, layout="N")
    if len(margin) != len(correct) or len(margin) == 0:
        raise ValueError(f"margin and correct must have the same length, at least 1; got {len(margin)} and "
                         f"{len(correct)}")
    order = torch.sort(margin.detach().cpu(), stable=True).indices
    wrong = ~correct.detach().cpu().bool()[order]
    out = []
    for share in shares:
        if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 <= share < 1:
            raise ValueError(f"shares must be numbers in [0, 1), got {share!r}")
        rejected = int(share * len(margin))
        out.append(wrong[rejected:].float().mean().item())
    return out


# ---------------------------------------------------------------------------
# Why it got a digit wrong
# ---------------------------------------------------------------------------


def occlusion_map(model: nn.Module, image: torch.Tensor, label: int, *, patch: int = 8, stride: int = 2,
                  fill: float = BACKGROUND) -> torch.Tensor:
    """The margin of class ``label`` with each ``patch``×``patch`` square of ``image`` covered by ``fill``.

    The margin of a class is its score minus the best score of the other classes: positive where the network,
    with that square covered, answers ``label``. Squares start every ``stride`` pixels.

    Shapes: image C×H×W -> ((H - patch)//stride + 1)×((W - patch)//stride + 1), on the CPU.

    Example:
        >>> from lenet_helpers import models
        >>> occlusion_map(models.LeNet5(), torch.zeros(1, 32, 32), 3).shape
        torch.Size([13, 13])
    """
    check_module(model)
    image = check_tensor(image, "image", ndim=3, layout="C×H×W")
    label = check_int(label, "label", minimum=0)
    patch = check_int(patch, "patch", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real):
        raise TypeError(f"fill must be a number (the value of a covered pixel), got {fill!r}")
    c, h, w = image.shape
    if patch > min(h, w):
        raise ValueError(f"patch must fit in the image ({h}×{w}), got {patch}")
    rows, cols = range(0, h - patch + 1, stride), range(0, w - patch + 1, stride)
    covered = image.detach().cpu().repeat(len(rows) * len(cols), 1, 1, 1)
    for n, (i, j) in enumerate((i, j) for i in rows for j in cols):
        covered[n, :, i:i + patch, j:j + patch] = fill
    scores = _scores(model, covered)
    if label >= scores.shape[1]:
        raise ValueError(f"label must be a class of the model, 0 to {scores.shape[1] - 1}; got {label}")
    others = scores.clone()
    others[:, label] = float("-inf")
    return (scores[:, label] - others.max(dim=1).values).reshape(len(rows), len(cols))


# ---------------------------------------------------------------------------
# Sec. III-E: distortions and noise
# ---------------------------------------------------------------------------


def distort(images: torch.Tensor, *, shift=(0.0, 0.0), scale: float = 1.0, rotation: float = 0.0,
            noise: float = 0.0, background: float = BACKGROUND, seed: int = 0) -> torch.Tensor:
    """``images`` moved by ``shift`` = (right, down) pixels, scaled by ``scale`` and turned by ``rotation`` degrees
    (counter-clockwise) about their centre, with Gaussian noise of standard deviation ``noise`` added.

    The transformation is bilinear (``F.grid_sample``); pixels that come from outside the image are
    ``background``. The noise is drawn from a generator seeded with ``seed``.

    Shapes: images N×C×H×W -> N×C×H×W.

    Example:
        >>> x = torch.full((1, 1, 32, 32), BACKGROUND); x[0, 0, 10, 10] = 1.175
        >>> moved = distort(x, shift=(2, 0))
        >>> [int(i) for i in (moved[0, 0] == moved.max()).nonzero()[0]]
        [10, 12]
    """
    images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
    if not (isinstance(shift, (tuple, list)) and len(shift) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in shift)):
        raise ValueError(f"shift must be a pair of numbers (right, down), in pixels; got {shift!r}")
    for name, value in (("scale", scale), ("rotation", rotation), ("noise", noise), ("background", background)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {value!r}")
    if not scale > 0 or noise < 0:
        raise ValueError(f"scale must be > 0 and noise >= 0, got scale={scale!r}, noise={noise!r}")
    seed = check_int(seed, "seed", minimum=0)
    return _distort(images, shift, scale, rotation, noise, background, seed)


def _distort(images, shift=(0.0, 0.0), scale=1.0, rotation=0.0, noise=0.0, background=BACKGROUND, seed=0):
    """:func:`distort` of arguments its caller has checked."""
    n, c, h, w = images.shape
    out = images.float()
    if tuple(shift) != (0, 0) or scale != 1 or rotation != 0:
        angle = torch.tensor(float(rotation)).deg2rad()
        cos, sin = torch.cos(angle).item(), torch.sin(angle).item()
        # output pixel q samples the input at A (q - t): A undoes the rotation (y points down) and the scaling
        a = torch.tensor([[cos, -sin], [sin, cos]]) / scale
        t = torch.tensor([2 * shift[0] / w, 2 * shift[1] / h])
        theta = torch.cat([a, (-a @ t)[:, None]], dim=1).to(images.device, torch.float32)
        grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, h, w], align_corners=False)
        out = F.grid_sample(out - background, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False) + background
    if noise > 0:
        g = torch.Generator().manual_seed(seed)
        out = out + noise * torch.randn(out.shape, generator=g).to(out.device)
    return out.to(images.dtype)


def robustness(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str,
               strengths: Sequence[float]) -> list[float]:
    """The error of ``model`` on ``images`` distorted by each of ``strengths`` of one ``kind`` (:data:`DISTORTIONS`).

    ``"shift"``: every digit moved by s pixels left, right, up and down (the error is over the four);
    ``"scale"``: scaled by s; ``"rotation"``: turned by +s and −s degrees (over both); ``"noise"``: Gaussian noise
    of standard deviation s (seed 0).

    Shapes: images N×C×H×W, labels N -> one error per strength.

    Example:
        >>> from lenet_helpers import models
        >>> errors = robustness(models.LeNet5(), torch.zeros(4, 1, 32, 32), torch.zeros(4, dtype=torch.long),
        ...                     "shift", [0, 2])
        >>> len(errors)
        2
    """
    check_module(model)
    images = check_tensor(images, "images", ndim=4, layout="N×C×H×W")
    labels = check_tensor(labels, "labels", ndim=1, layout="N")
    if len(labels) != len(images):
        raise ValueError(f"labels must have one label per image: {len(images)} images, {len(labels)} labels")
    if kind not in DISTORTIONS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, DISTORTIONS))}, got {kind!r}")
    if isinstance(strengths, (str, bytes)) or not isinstance(strengths, Sequence) or not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool) for s in strengths):
        raise TypeError(f"strengths must be a list of numbers ({DISTORTIONS[kind]}), got {strengths!r}")
    if (kind == "scale" and not all(s > 0 for s in strengths)) or (kind == "noise" and not all(s >= 0 for s in strengths)):
        raise ValueError(f"strengths must be {'> 0' if kind == 'scale' else '>= 0'} for {kind!r}, got {strengths!r}")
    labels = labels.cpu()
    versions = []  # every distorted copy of the batch, for every strength: one pass through the network for all
    for s in strengths:
        if kind == "shift":
            versions.append([_distort(images, shift=d) for d in ((s, 0), (-s, 0), (0, s), (0, -s))])
        elif kind == "scale":
            versions.append([_distort(images, scale=s)])
        elif kind == "rotation":
            versions.append([_distort(images, rotation=s), _distort(images, rotation=-s)])
        else:
            versions.append([_distort(images, noise=s)])
    if not versions:
        return []
    wrong = _scores(model, torch.cat([v for group in versions for v in group])).argmax(dim=1) != labels.repeat(
        sum(len(group) for group in versions))
    errors, start = [], 0
    for group in versions:
        n = len(group) * len(labels)
        errors.append(wrong[start:start + n].float().mean().item())
        start += n
    return errors
