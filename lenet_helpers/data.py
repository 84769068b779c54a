"""MNIST, prepared the way LeNet-5 saw it (Sec. III-A of the paper).

MNIST (LeCun, Cortes and Burges) has 60,000 training and 10,000 test digits,
28×28 grey levels. LeNet-5 takes 32×32 inputs, so the digits are padded with
background, and pixel values are mapped so that the background is −0.1 and the
foreground 1.175 (mean near 0, variance near 1). The other common choice is to
standardise with MNIST's mean 0.1307 and standard deviation 0.3081.

Two ways to load it:

* :func:`load_mnist` gives a ``torchvision.datasets.MNIST`` dataset whose
  transform pads and normalises each image (use it with a ``DataLoader``);
* :func:`mnist_tensors` gives the whole set as two tensors, already padded and
  normalised, for fast in-memory training (:func:`batches` iterates over them).

The course carries the four original files, gzip-compressed, in
``data/MNIST/raw/``. The loader decompresses them when needed and checks every
file against the published MD5, so a damaged file is an error, never a
silently wrong dataset. Where the files are absent (on Colab, say) it
downloads them through torchvision.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import zlib
from pathlib import Path
import math
from typing import Iterator, NamedTuple

import torch

from ._validate import check_choice, check_device, check_int, check_tensor

__all__ = [
    "MNIST_FILES",
    "PAPER_BACKGROUND",
    "PAPER_FOREGROUND",
    "MNIST_MEAN",
    "MNIST_STD",
    "DataIntegrityError",
    "normalization",
    "prepare_mnist",
    "load_mnist",
    "read_idx",
    "mnist_tensors",
    "batches",
    "batch_source",
    "VALIDATION_SIZE",
    "split_validation",
    "MnistStyle",
    "mnist_style",
]

#: The four MNIST files and the published MD5 of each, uncompressed.
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

PAPER_BACKGROUND = -0.1  #: value of a background (white) pixel in the paper (Sec. II-B)
PAPER_FOREGROUND = 1.175  #: value of a foreground (black) pixel in the paper
MNIST_MEAN = 0.1307  #: mean of MNIST's training pixels scaled to [0, 1]
MNIST_STD = 0.3081  #: their standard deviation

NORMALIZATIONS = ("paper", "standard", "none")

# The course checkout this package was installed from (editable install); None when installed from a wheel.
_CHECKOUT = Path(__file__).resolve().parent.parent


class DataIntegrityError(RuntimeError):
    """A data file is damaged or is not the file it claims to be."""


def normalization(normalize: str = "paper") -> tuple[float, float]:
    """The (mean, std) that maps pixels in [0, 1] to the chosen scale: x -> (x - mean) / std.

    * ``"paper"``: background 0 -> −0.1, foreground 1 -> 1.175, as in LeNet-5;
    * ``"standard"``: MNIST's mean 0.1307 and standard deviation 0.3081;
    * ``"none"``: pixels stay in [0, 1].

    Example:
        >>> mean, std = normalization("paper")
        >>> round((0 - mean) / std, 6), round((1 - mean) / std, 6)
        (-0.1, 1.175)
    """
    check_choice(normalize, "normalize", NORMALIZATIONS)
    if normalize == "paper":
        std = 1.0 / (PAPER_FOREGROUND - PAPER_BACKGROUND)
        return -PAPER_BACKGROUND * std, std
    if normalize == "standard":
        return MNIST_MEAN, MNIST_STD
    return 0.0, 1.0


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[str, tuple[int, int]] = {}  # path -> (size, mtime) of files whose MD5 was checked


def _verify(path: Path, expected_md5: str) -> None:
    stat = path.stat()
    if _verified.get(str(path)) == (stat.st_size, stat.st_mtime_ns):
        return
    actual = _md5(path)
    if actual != expected_md5:
        raise DataIntegrityError(
            f"{path} is damaged or not the MNIST file it should be: its MD5 is {actual}, expected {expected_md5}. "
            f"Delete it; the loader will then recreate it from {path.name}.gz (or download it)."
        )
    _verified[str(path)] = (stat.st_size, stat.st_mtime_ns)


def _decompress(gz_path: Path, target: Path, expected_md5: str) -> None:
    """Decompress ``gz_path`` to ``target`` (atomically), checking the result's MD5. The temporary file is this
    process's own, so that processes decompressing at the same time (the test workers and the book's notebooks)
    do not write into one another's file."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        with gzip.open(gz_path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (OSError, EOFError, zlib.error) as e:
        tmp.unlink(missing_ok=True)
        raise DataIntegrityError(f"{gz_path} is not a readable gzip file ({e}). Replace it with a good copy.") from None
    actual = _md5(tmp)
    if actual != expected_md5:
        tmp.unlink()
        raise DataIntegrityError(
            f"{gz_path} decompresses to the wrong data: MD5 {actual}, expected {expected_md5} for {target.name}. "
            "Replace it with a good copy."
        )
    os.replace(tmp, target)


def _resolve_root(root) -> Path:
    """Where MNIST lives: ``root`` itself if it holds MNIST/raw; a relative root is also looked up in the course checkout."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or pathlib.Path), got {type(root).__name__}")
    root = Path(root)
    if (root / "MNIST" / "raw").is_dir() or root.is_absolute():
        return root
    in_checkout = _CHECKOUT / root
    if (in_checkout / "MNIST" / "raw").is_dir() and (_CHECKOUT / "lenet_helpers").is_dir():
        return in_checkout
    return root


def prepare_mnist(root="data", download: bool = True) -> Path:
    """Make sure the four MNIST files are in ``root/MNIST/raw``, uncompressed and intact; return that folder.

    Each missing file is decompressed from its ``.gz`` copy when there is one.
    If files are still missing and ``download`` is true, torchvision downloads
    them. Every file is then checked against its published MD5.

    A relative ``root`` is looked up in the current folder first, then in the
    course checkout this package was installed from, so notebooks in
    ``chapters/`` find the repository's ``data/``.

    Raises:
        FileNotFoundError: the files are missing and could not be downloaded.
        DataIntegrityError: a file is damaged.

    Example:
        >>> prepare_mnist().name
        'raw'
    """
    raw = _resolve_root(root) / "MNIST" / "raw"
    missing = []
    for name, md5 in MNIST_FILES.items():
        path, gz = raw / name, raw / (name + ".gz")
        if not path.exists() and gz.exists():
            _decompress(gz, path, md5)
        if not path.exists():
            missing.append(name)
    reason = "download=False"
    if missing and download:
        from torchvision.datasets import MNIST

        try:
            for train in (True, False):
                MNIST(str(raw.parent.parent), train=train, download=True)
        except Exception as e:  # torchvision raises RuntimeError, URLError, … depending on what failed
            reason = f"downloading them failed: {e}"
        missing = [name for name in MNIST_FILES if not (raw / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"MNIST files missing from {raw}: {', '.join(missing)} ({reason}). "
            "Copy the four files MNIST/raw/*-ubyte.gz from the course repository's data/ folder "
            f"into {raw}, or pass root= a folder that has them, or connect to the internet so torchvision can download them."
        )
    for name, md5 in MNIST_FILES.items():
        _verify(raw / name, md5)
    return raw


def _pad_for(size: int) -> int:
    size = check_int(size, "size", minimum=28)
    if (size - 28) % 2:
        raise ValueError(f"size must be 28 plus an even number (the digit is padded equally on each side), got {size}")
    return (size - 28) // 2


def _checked(root, train, normalize, size, download) -> tuple[str, float, float, int]:
    """The checks load_mnist and mnist_tensors share: return MNIST's root folder, mean, std and padding."""
    if not isinstance(train, bool):
        raise TypeError(f"train must be True (training set) or False (test set), got {train!r}")
    mean, std = normalization(normalize)
    pad = _pad_for(size)
    raw = prepare_mnist(root, download=download)
    return str(raw.parent.parent), mean, std, pad


def load_mnist(root="data", train: bool = True, *, normalize: str = "paper", size: int = 32, download: bool = True):
    """MNIST as a ``torchvision.datasets.MNIST`` dataset: each item is (image, label).

    Shapes:
        image: 1×size×size float tensor (28×28 digit padded with background), label: int.

    Args:
        root: folder holding ``MNIST/raw`` (see :func:`prepare_mnist`).
        train: the 60,000 training images if true, else the 10,000 test images.
        normalize: ``"paper"`` (background −0.1, foreground 1.175), ``"standard"``
            (mean 0.1307, std 0.3081) or ``"none"`` (pixels in [0, 1]).
        size: 32 as in the paper, 28 for no padding.
        download: download the files through torchvision if they are missing.

    Example:
        >>> test_set = load_mnist(train=False)
        >>> image, label = test_set[0]
        >>> image.shape, label
        (torch.Size([1, 32, 32]), 7)
    """
    from torchvision import transforms
    from torchvision.datasets import MNIST

    folder, mean, std, pad = _checked(root, train, normalize, size, download)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Pad(pad, fill=0), transforms.Normalize((mean,), (std,))]
    )
    return MNIST(folder, train=train, transform=transform, download=False)


def read_idx(path) -> torch.Tensor:
    """The array in an IDX file, MNIST's format, as a uint8 tensor.

    An IDX file starts with two zero bytes, a type byte (0x08: unsigned bytes)
    and the number of dimensions, then one big-endian 32-bit size per dimension,
    then the values, row by row. Reading it directly spares the chapters the
    import of torchvision, which takes seconds.

    Shapes:
        images file: N×28×28; labels file: N.

    Example:
        >>> labels = read_idx(prepare_mnist() / "t10k-labels-idx1-ubyte")
        >>> labels.shape, labels[:5].tolist()
        (torch.Size([10000]), [7, 2, 1, 0, 4])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be the path of an IDX file (str or pathlib.Path), got {type(path).__name__}")
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise DataIntegrityError(f"{path} is not an IDX file of unsigned bytes: it starts with {data[:4]!r}, "
                                 "expected b'\\x00\\x00\\x08' and the number of dimensions")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    if len(shape) != ndim or len(data) - header != math.prod(shape):
        raise DataIntegrityError(f"{path} is truncated or damaged: its header announces {ndim} dimensions of sizes "
                                 f"{list(shape)}, and {len(data) - header:,} bytes of values follow")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(*shape)


def mnist_tensors(
    root="data", train: bool = True, *, normalize: str = "paper", size: int = 32, device=None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole of MNIST's training (or test) set as two tensors, padded and normalised.

    Same preprocessing as :func:`load_mnist`, done once for all images, so an
    epoch is just indexing into memory (on the GPU, if ``device`` is one).

    Shapes:
        images: N×1×size×size float32, labels: N int64 (N = 60,000 or 10,000).

    Example:
        >>> images, labels = mnist_tensors(train=False)
        >>> images.shape, labels[:5].tolist()
        (torch.Size([10000, 1, 32, 32]), [7, 2, 1, 0, 4])
        >>> round(images.min().item(), 3), round(images.max().item(), 3)
        (-0.1, 1.175)
    """
    folder, mean, std, pad = _checked(root, train, normalize, size, download)
    raw = Path(folder) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte").unsqueeze(1).float().div_(255)  # N×1×28×28 in [0, 1]
    images = torch.nn.functional.pad(images, (pad, pad, pad, pad), value=0.0)  # background is 0 before normalising
    images = images.sub_(mean).div_(std)
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte").long()
    if device is not None:
        images, labels = images.to(device), labels.to(device)
    return images, labels


def batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of in-memory tensors: one random permutation per pass, then slices.

    The last batch may be smaller. Batches stay on the tensors' device.

    Shapes:
        images: N×…, labels: N -> batches of (batch_size×…, batch_size).

    Example:
        >>> x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
        >>> [len(yb) for _, yb in batches(x, y, 4)]
        [4, 4, 2]
    """
    images = check_tensor(images, "images", ndim=(1, 2, 3, 4, 5))
    labels = check_tensor(labels, "labels", ndim=1, layout="one label per image")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    n = len(images)
    if shuffle:
        order = torch.randperm(n, generator=generator, device="cpu").to(images.device)
    else:
        order = None
    for start in range(0, n, batch_size):
        if order is None:
            yield images[start : start + batch_size], labels[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield images[idx], labels[idx]


def batch_source(data, batch_size: int, device, *, shuffle: bool = False, name: str = "data"):
    """Batches of (images, labels) from any kind of data, and how many there are (None if unknown).

    ``data`` is a pair of tensors (moved to ``device`` once, then sliced by
    :func:`batches`), a ``Dataset`` (read by a ``DataLoader`` of ``batch_size``)
    or a ``DataLoader`` or any iterable of batches (used as it is: its own batch
    size; its batches stay where it puts them). Returns a function that gives a
    fresh iterator for each pass, and the number of batches in a pass.
    ``name`` is the argument's name in error messages.

    Shapes:
        data: (images N×…, labels N) -> batches of (batch_size×…, batch_size).

    Example:
        >>> x, y = torch.zeros(10, 1, 32, 32), torch.arange(10)
        >>> source, n = batch_source((x, y), 4, "cpu")
        >>> n, [len(yb) for _, yb in source()]
        (3, [4, 4, 2])
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    dev = check_device(device)
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        images, labels = data[0].to(dev), data[1].to(dev)  # moved once, not per batch
        if len(images) != len(labels):
            raise ValueError(f"{name} must be (images, labels) of the same length, got {len(images)} and {len(labels)}")
        return (lambda: batches(images, labels, batch_size, shuffle=shuffle)), -(-len(labels) // batch_size)
    if isinstance(data, torch.utils.data.Dataset):
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, num_workers=0)
        return (lambda: iter(loader)), len(loader)
    if hasattr(data, "__iter__") and not isinstance(data, (torch.Tensor, str, bytes, dict)):
        # A DataLoader, or any iterable of (x, y) batches.
        return (lambda: iter(data)), (len(data) if hasattr(data, "__len__") else None)
    raise TypeError(
        f"{name} must be a pair of tensors (images, labels), a torch Dataset or a DataLoader, got {type(data).__name__}"
    )


VALIDATION_SIZE = 5000  #: images held out of MNIST's 60,000 training images to choose settings on


def split_validation(images: torch.Tensor, labels: torch.Tensor, size: int = VALIDATION_SIZE, *, seed: int = 0):
    """Hold out ``size`` training images, chosen at random, as a validation set.

    Settings (the number of passes, a dropout rate, a learning rate) are chosen on
    the validation set; the test set is kept for the one final measurement. The
    split depends only on ``seed``, not on the global random state, so every
    chapter and the benchmark hold out the same images.

    Shapes:
        images: N×…, labels: N -> ((N-size)×…, N-size), (size×…, size).

    Example:
        >>> x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
        >>> (train_x, train_y), (val_x, val_y) = split_validation(x, y, 3)
        >>> len(train_y), len(val_y), sorted(train_y.tolist() + val_y.tolist()) == list(range(10))
        (7, 3, True)
    """
    images = check_tensor(images, "images", ndim=(1, 2, 3, 4, 5))
    labels = check_tensor(labels, "labels", ndim=1, layout="one label per image")
    if len(images) != len(labels):
        raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
    size = check_int(size, "size", minimum=1)
    if size >= len(images):
        raise ValueError(f"size must be smaller than the number of images ({len(images)}), got {size}")
    seed = check_int(seed, "seed", minimum=0)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed)).to(images.device)
    held, kept = order[:size], order[size:]
    return (images[kept], labels[kept]), (images[held], labels[held])


# ---------------------------------------------------------------------------
# A new drawing, prepared the way MNIST's digits were
# ---------------------------------------------------------------------------

MNIST_BOX = 20  #: MNIST scaled each digit's bounding box to fit in 20×20, keeping the aspect ratio ...
MNIST_FIELD = 28  #: ... and placed it in a 28×28 field ...
MNIST_CENTRE = 14  #: ... with its centre of mass at pixel (14, 14) (measured on the test set: 14.0 ± 0.3)


class MnistStyle(NamedTuple):
    """The steps of :func:`mnist_style`, each one a picture the draw-a-digit widget shows."""

    box: tuple[int, int, int, int]  #: (top, left, height, width) of the ink's bounding box
    fitted: torch.Tensor  #: the box resampled so that its longer side is 20 pixels
    offset: tuple[int, int]  #: (top, left) where ``fitted`` is placed in the 28×28 field
    centre: tuple[float, float]  #: its centre of mass (row, column) in the 28×28 field
    digit: torch.Tensor  #: the 28×28 digit, ink in [0, 1]


def _coverage(n: int, m: int) -> torch.Tensor:
    """m×n: the share of target cell i (of m) that source cell k (of n) covers."""
    step = n / m
    rows = torch.zeros(m, n, dtype=torch.float64)
    for i in range(m):
        a, b = i * step, (i + 1) * step
        for k in range(math.floor(a), min(n, math.ceil(b))):
            overlap = min(b, k + 1) - max(a, k)
            if overlap > 0:
                rows[i, k] = overlap / step
    return rows


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def mnist_style(ink) -> MnistStyle | None:
    """Prepare a drawing the way MNIST's digits were prepared (LeCun, Cortes and Burges).

    1. crop to the bounding box of the ink (every pixel > 0);
    2. resample it by area averaging so that its longer side is 20 pixels, keeping the aspect ratio
       (the grey levels at the edges come from this anti-aliasing);
    3. place it in a 28×28 field so that its centre of mass falls on pixel (14, 14), rounded to whole
       pixels and kept inside the field.

    The draw-a-digit widget runs the same arithmetic in the browser (``static/draw.js``, ``mnistStyle``);
    the tests check that the two agree.

    Shapes:
        ink: H×W, values in [0, 1] (1 = full ink) -> ``MnistStyle`` with ``digit`` 28×28 (float64),
        or None when there is no ink at all.

    Example:
        >>> ink = torch.zeros(100, 100)
        >>> ink[10:90, 45:55] = 1.0                    # a tall bar: a "1"
        >>> steps = mnist_style(ink)
        >>> steps.box, tuple(steps.fitted.shape), steps.offset
        ((10, 45, 80, 10), (20, 3), (5, 13))
        >>> tuple(steps.digit.shape), [round(c, 1) for c in steps.centre]
        ((28, 28), [14.5, 14.0])
    """
    ink = check_tensor(ink, "ink", ndim=2, layout="H×W, ink in [0, 1]")
    if ink.numel() == 0:
        raise ValueError("ink must have at least one pixel, got an empty image")
    if not torch.isfinite(ink).all() or ink.min() < 0 or ink.max() > 1:
        raise ValueError(f"ink must hold values in [0, 1] (0 = paper, 1 = full ink), got values from "
                         f"{ink.min().item():g} to {ink.max().item():g}")
    ink = ink.detach().to("cpu", torch.float64)
    rows, cols = (ink > 0).any(dim=1).nonzero().flatten(), (ink > 0).any(dim=0).nonzero().flatten()
    if len(rows) == 0:
        return None
    top, left = int(rows[0]), int(cols[0])
    height, width = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
    crop = ink[top : top + height, left : left + width]
    scale = MNIST_BOX / max(height, width)
    fh, fw = max(1, _round_half_up(height * scale)), max(1, _round_half_up(width * scale))
    fitted = _coverage(height, fh) @ crop @ _coverage(width, fw).T
    mass = fitted.sum().item()
    cy = (fitted.sum(dim=1) * torch.arange(fh, dtype=torch.float64)).sum().item() / mass
    cx = (fitted.sum(dim=0) * torch.arange(fw, dtype=torch.float64)).sum().item() / mass
    oy = min(max(_round_half_up(MNIST_CENTRE - cy), 0), MNIST_FIELD - fh)
    ox = min(max(_round_half_up(MNIST_CENTRE - cx), 0), MNIST_FIELD - fw)
    digit = torch.zeros(MNIST_FIELD, MNIST_FIELD, dtype=torch.float64)
    digit[oy : oy + fh, ox : ox + fw] = fitted.clamp(0, 1)
    return MnistStyle((top, left, height, width), fitted, (oy, ox), (oy + cy, ox + cx), digit)
