"""What the browser receives: a PyTorch model as simple operations with float32 weights, and MNIST digits packed.

The widgets run LeNet-5 in the reader's browser (``static/draw.js`` runs the forward pass, ``static/train.js``
trains it): :func:`export_model` turns a course model into a JSON-able description of its layers (convolution,
subsampling, pooling, fully connected, RBF, the activations) and a dict of its tensors; :func:`load_exported`
loads weights read back from a page into a model; :func:`model_input` prepares digits as the exported model takes
them, the Python twin of draw.js's ``toInput``. :func:`training_digits` is the fixed subset of MNIST the page
trains on, :func:`pack_digits` packs it compactly (uint8, gzip) and :func:`digits_script` makes the script the
website ships it in.

Example:
    >>> from lenet_helpers import models
    >>> spec, tensors = export_model(models.LeNet5Modern(), "LeNet5Modern")
    >>> [op["op"] for op in spec["layers"][0]["ops"]]
    ['conv', 'relu']
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json

import torch
import torch.nn as nn

from . import data as _data
from . import layers as _layers
from ._validate import check_int, check_module, check_tensor
from .language import Message, _

__all__ = ["export_model", "load_exported", "model_input", "TRAIN_DIGITS", "TEST_DIGITS", "training_digits",
           "pack_digits", "digits_script", "DIGITS_SCRIPT"]

_POOLS = {nn.MaxPool2d: "max", nn.AvgPool2d: "avg"}
_ELEMENTWISE = {_layers.Squash: "squash", nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
_IDENTITY = (nn.Dropout, nn.Identity)


def _int_of(value, what: str, name: str) -> int:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(set(pair)) != 1:
        raise ValueError(f"{name}: the browser's forward pass supports square {what} only, got {value}")
    return int(pair[0])


def _ops(module: nn.Module, name: str, tensors: dict) -> list:
    """The operations of one layer, in order, each naming the tensors it uses (state_dict keys)."""

    def ref(key: str, tensor: torch.Tensor) -> str:
        tensors[key] = tensor.detach().to("cpu", torch.float32).contiguous()
        return key

    if isinstance(module, nn.Sequential):
        return [op for child_name, child in module.named_children() for op in _ops(child, f"{name}.{child_name}", tensors)]
    if isinstance(module, _IDENTITY):
        return [{"op": "identity"}]
    for kind, op in _ELEMENTWISE.items():
        if type(module) is kind:
            return [{"op": op}]
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or module.bias is None or _int_of(module.dilation, "dilation", name) != 1 \
                or module.padding_mode != "zeros":
            raise ValueError(f"{name}: the browser's forward pass supports plain convolutions with a bias "
                             "(groups=1, dilation=1, zero padding)")
        cout, cin = module.out_channels, module.in_channels
        return [{"op": "conv", "weight": ref(f"{name}.weight", module.weight), "bias": ref(f"{name}.bias", module.bias),
                 "out": cout, "k": _int_of(module.kernel_size, "kernels", name),
                 "stride": _int_of(module.stride, "strides", name), "padding": _int_of(module.padding, "padding", name),
                 "outIndex": [o for o in range(cout) for _ in range(cin)], "inIndex": list(range(cin)) * cout}]
    if isinstance(module, _layers.PartialConv2d):  # only Table I's kernels: kernel n joins in_index[n] -> out_index[n]
        return [{"op": "conv", "weight": ref(f"{name}.weight", module.weight), "bias": ref(f"{name}.bias", module.bias),
                 "out": module.out_channels, "k": module.kernel_size, "stride": 1, "padding": 0,
                 "outIndex": module.out_index.tolist(), "inIndex": module.in_index.tolist()}]
    if isinstance(module, _layers.Subsampling):
        return [{"op": "subsample", "weight": ref(f"{name}.weight", module.weight),
                 "bias": ref(f"{name}.bias", module.bias), "k": module.kernel_size, "stride": module.kernel_size}]
    if type(module) in _POOLS:
        k = _int_of(module.kernel_size, "windows", name)
        stride = _int_of(module.stride if module.stride is not None else k, "strides", name)
        if _int_of(module.padding, "padding", name) != 0 or module.ceil_mode \
                or (isinstance(module, nn.MaxPool2d) and _int_of(module.dilation, "dilation", name) != 1):
            raise ValueError(f"{name}: the browser's forward pass supports pooling without padding, dilation or ceil_mode")
        return [{"op": _POOLS[type(module)], "k": k, "stride": stride}]
    if isinstance(module, nn.Flatten):
        return [{"op": "flatten"}]
    if isinstance(module, nn.Linear):
        if module.bias is None:
            raise ValueError(f"{name}: the browser's forward pass needs a bias in every nn.Linear")
        return [{"op": "linear", "weight": ref(f"{name}.weight", module.weight), "bias": ref(f"{name}.bias", module.bias),
                 "out": module.out_features}]
    if isinstance(module, _layers.EuclideanRBF):
        return [{"op": "rbf", "centers": ref(f"{name}.centers", module.centers), "out": module.centers.shape[0]}]
    raise TypeError(f"{name}: the browser's forward pass does not support {type(module).__name__} layers; it knows "
                    "Conv2d, PartialConv2d, Subsampling, MaxPool2d, AvgPool2d, Linear, Flatten, EuclideanRBF, "
                    "Squash, ReLU, Tanh, Sigmoid and Dropout")


# The words of the layers' headings in the DrawDigit widget (the rest of its words are in static/draw.js's TEXT).
_DESCRIBE_TEXT = {
    "conv": _("conv {kh}×{kw}, {cin}→{cout}"),
    "partial": _("conv {k}×{k} through Table I, {cin}→{cout}"),
    "subsampling": _("subsampling {k}×{k} (coefficient × sum + bias)"),
    "max pooling": _("max pooling {k}"), "avg pooling": _("avg pooling {k}"),
    "linear": _("fully connected {cin}→{cout}"),
    "rbf": _("Euclidean RBF with the fixed 7×12 codes"),
    "squash": _("squash"), "relu": _("relu"), "tanh": Message("tanh"), "sigmoid": Message("sigmoid"),
    "separator": _(", "),
}


def _describe(module: nn.Module) -> Message:
    """A few words for a layer's heading in the widget, e.g. "conv 5×5, 1→6, squash" (a message: said in English
    or Chinese)."""
    text, words = _DESCRIBE_TEXT, []
    for m in (module.children() if isinstance(module, nn.Sequential) else [module]):
        if isinstance(m, nn.Conv2d):
            words.append(text["conv"].format(kh=m.kernel_size[0], kw=m.kernel_size[1], cin=m.in_channels,
                                             cout=m.out_channels))
        elif isinstance(m, _layers.PartialConv2d):
            words.append(text["partial"].format(k=m.kernel_size, cin=m.in_channels, cout=m.out_channels))
        elif isinstance(m, _layers.Subsampling):
            words.append(text["subsampling"].format(k=m.kernel_size))
        elif type(m) in _POOLS:
            words.append(text[f"{_POOLS[type(m)]} pooling"].format(k=m.kernel_size))
        elif isinstance(m, nn.Linear):
            words.append(text["linear"].format(cin=m.in_features, cout=m.out_features))
        elif isinstance(m, _layers.EuclideanRBF):
            words.append(text["rbf"])
        elif type(m) in _ELEMENTWISE:
            words.append(text[_ELEMENTWISE[type(m)]])
    return text["separator"].join(words)


def _whats(what: Message) -> dict:
    """A layer's heading words in English (``what``) and Chinese (``what_zh``): the widget shows its page's."""
    return {"what": what.render("en"), "what_zh": what.render("zh_CN")}


def export_model(model: nn.Module, name: str, *, normalize: str = "paper", input_size: int = 32):
    """Describe a model for the browser: its layers as simple operations, and its tensors.

    Each top-level child of ``model`` (C1, S2, …, output for the course's models) becomes one
    named layer whose output the widget shows. The tensors are float32, in the order of
    ``tensors``; ``spec["tensors"][key]`` gives each one's offset and size in the concatenation.

    Returns:
        (spec, tensors): ``spec`` is a JSON-able dict (name, input size and normalisation, layers,
        output kind, tensor offsets); ``tensors`` maps state_dict keys to CPU float32 tensors.

    Example:
        >>> from lenet_helpers import models
        >>> spec, tensors = export_model(models.LeNet5(), "LeNet-5")
        >>> [layer["name"] for layer in spec["layers"]]
        ['C1', 'S2', 'C3', 'S4', 'C5', 'F6', 'output']
        >>> spec["output"], sum(t.numel() for t in tensors.values())   # 60,000 parameters + 840 RBF centres
        ('penalties', 60840)
    """
    model = check_module(model, "model")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string naming the model in the widget, got {name!r}")
    mean, std = _data.normalization(normalize)
    size = check_int(input_size, "input_size", minimum=28)
    if (size - 28) % 2:
        raise ValueError(f"input_size must be 28 plus an even number (the digit is padded equally), got {size}")
    children = list(model.named_children())
    if not children:
        raise ValueError("model must be made of named layers (an nn.Sequential such as models.LeNet5())")
    tensors: dict = {}
    parameters = {key for key, _ in model.named_parameters()}
    layers = [{"name": child_name, **_whats(_describe(child)), "ops": _ops(child, child_name, tensors)}
              for child_name, child in children]
    last = children[-1][1]
    spec = {"name": name, "input": {"size": size, "mean": mean, "std": std}, "layers": layers,
            "output": "penalties" if isinstance(last, _layers.EuclideanRBF) else "logits"}
    if isinstance(last, _layers.EuclideanRBF) and last.centers.shape[1] == 84:
        spec["codes"] = f"{children[-1][0]}.centers"  # drawn next to F6
    offset, spec["tensors"] = 0, {}
    for key, tensor in tensors.items():
        spec["tensors"][key] = {"offset": offset, "size": tensor.numel(), "shape": list(tensor.shape),
                                "parameter": key in parameters}  # trained; the RBF centres are a fixed buffer
        offset += tensor.numel()
    return spec, tensors


def load_exported(model: nn.Module, spec: dict, weights) -> nn.Module:
    """Load weights exported by :func:`export_model` (or read back from a page) into ``model``.

    ``weights`` is the float32 concatenation (of this model's tensors, or of several models', as in a
    :class:`~lenet_helpers.widgets.DrawDigit`): a 1-D tensor, bytes, or base64 text. Every tensor
    of ``spec`` must exist in ``model`` with the same shape; the model is returned.

    Example:
        >>> from lenet_helpers import models
        >>> spec, tensors = export_model(models.LeNet5(), "LeNet-5")
        >>> flat = torch.cat([t.flatten() for t in tensors.values()])
        >>> copy = load_exported(models.LeNet5(), spec, flat)
        >>> torch.equal(copy.F6.linear.weight, tensors["F6.linear.weight"])
        True
    """
    model = check_module(model, "model")
    if isinstance(weights, str):
        weights = base64.b64decode(weights)
    if isinstance(weights, (bytes, bytearray)):
        weights = torch.frombuffer(bytearray(weights), dtype=torch.float32)
    weights = check_tensor(weights, "weights", ndim=1, layout="the float32 concatenation of the exported tensors")
    state = model.state_dict()
    needed = max((t["offset"] + t["size"] for t in spec["tensors"].values()), default=0)
    if len(weights) < needed:
        raise ValueError(f"weights must hold the {needed} numbers the spec's offsets reach, got {len(weights)}")
    for key, where in spec["tensors"].items():
        if key not in state or list(state[key].shape) != where["shape"]:
            raise ValueError(f"the model has no tensor {key} of shape {tuple(where['shape'])}: is it the exported model?")
        with torch.no_grad():
            state[key].copy_(weights[where["offset"] : where["offset"] + where["size"]].view(where["shape"]))
    return model


def model_input(digits: torch.Tensor, spec: dict) -> torch.Tensor:
    """28×28 digits (ink in [0, 1]) as the exported model takes them: padded with background to
    ``spec["input"]["size"]`` and normalised, (x − mean) / std. The Python twin of draw.js's ``toInput``.

    Shapes:
        digits: 28×28 or N×28×28 -> N×1×size×size, same dtype.

    Example:
        >>> from lenet_helpers import models
        >>> spec, _ = export_model(models.LeNet5(), "LeNet-5")
        >>> x = model_input(torch.ones(28, 28), spec)
        >>> tuple(x.shape), round(x.min().item(), 3), round(x.max().item(), 3)
        ((1, 1, 32, 32), -0.1, 1.175)
    """
    digits = check_tensor(digits, "digits", ndim=(2, 3), layout="28×28 or N×28×28, ink in [0, 1]")
    if tuple(digits.shape[-2:]) != (28, 28):
        raise ValueError(f"digits must be 28×28 MNIST digits, got shape {tuple(digits.shape)}")
    pad = (spec["input"]["size"] - 28) // 2
    x = torch.nn.functional.pad(digits.reshape(-1, 1, 28, 28), (pad,) * 4)  # background is 0 before normalising
    return (x - spec["input"]["mean"]) / spec["input"]["std"]


# ---------------------------------------------------------------------------
# The digits the page trains on
# ---------------------------------------------------------------------------

TRAIN_DIGITS = 6000  #: the browser trains on MNIST's first 6,000 training digits ...
TEST_DIGITS = 1000  #: ... and counts its error on the first 1,000 test digits
DIGITS_SCRIPT = "lenet-training-digits.js"  #: the file the website ships them in (in its _static folder)
_PACK_FORMAT = 1


def training_digits(n_train: int = TRAIN_DIGITS, n_test: int = TEST_DIGITS, root="data"):
    """The digits the browser trains on: MNIST's first ``n_train`` training digits and first ``n_test`` test digits,
    as MNIST stores them (uint8 grey levels, 0 = background), read from the checked files in ``data/MNIST/raw``.

    Shapes:
        -> ((n_train×28×28 uint8, n_train uint8), (n_test×28×28 uint8, n_test uint8))

    Example:
        >>> (train_images, train_labels), (test_images, test_labels) = training_digits(100, 10)
        >>> tuple(train_images.shape), train_images.dtype, test_labels.tolist()
        ((100, 28, 28), torch.uint8, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    """
    n_train = check_int(n_train, "n_train", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    if n_train > 60_000 or n_test > 10_000:
        raise ValueError(f"MNIST has 60,000 training and 10,000 test digits, got n_train={n_train}, n_test={n_test}")
    raw = _data.prepare_mnist(root)
    return tuple((_data.read_idx(raw / f"{prefix}-images-idx3-ubyte")[:n], _data.read_idx(raw / f"{prefix}-labels-idx1-ubyte")[:n])
                 for prefix, n in (("train", n_train), ("t10k", n_test)))


@functools.lru_cache(maxsize=4)  # packing compresses 5.5 MB: once per process is enough
def pack_digits(n_train: int = TRAIN_DIGITS, n_test: int = TEST_DIGITS, root="data") -> tuple[dict, bytes]:
    """:func:`training_digits` packed for the browser: a header (JSON-able) and the gzip-compressed bytes of the
    training images, training labels, test images and test labels, one byte per pixel or label, in that order.

    The header records how many digits of each set, which ones, and the MD5 of the MNIST files they come from
    (``data.MNIST_FILES``, checked when the files are read) and of the uncompressed payload. The compression is
    deterministic (no time stamp), so the same digits always give the same bytes. The result is kept (treat
    the header as read-only).

    Example:
        >>> header, packed = pack_digits(100, 10)
        >>> header["train"], header["test"], len(gzip.decompress(packed)) == 110 * (28 * 28 + 1)
        (100, 10, True)
    """
    (train_images, train_labels), (test_images, test_labels) = training_digits(n_train, n_test, root)
    payload = b"".join(t.contiguous().numpy().tobytes() for t in (train_images, train_labels, test_images, test_labels))
    header = {
        "format": _PACK_FORMAT, "train": len(train_labels), "test": len(test_labels),
        "selection": f"the first {len(train_labels)} digits of train-images-idx3-ubyte and the first "
                     f"{len(test_labels)} of t10k-images-idx3-ubyte; uint8, 0 = background",
        "layout": "train images, train labels, test images, test labels",
        "source_md5": dict(_data.MNIST_FILES), "payload_md5": hashlib.md5(payload).hexdigest(),
    }
    return header, gzip.compress(payload, compresslevel=9, mtime=0)


def digits_script(n_train: int = TRAIN_DIGITS, n_test: int = TEST_DIGITS, root="data") -> str:
    """The JavaScript file the website ships the training digits in (``_static/lenet-training-digits.js``).

    A script, not a binary file, so that it loads from ``file://`` too, where a page may not fetch files: it
    sets ``window.lenetTrainingDigits`` to :func:`pack_digits`'s header with the packed bytes as base64 text
    (``gzip``). The website's extension ``_ext/training_digits.py`` writes it when the site is built.

    Example:
        >>> digits_script(10, 10).startswith("// MNIST digits for the in-browser trainer")
        True
    """
    header, packed = pack_digits(n_train, n_test, root)
    pack = header | {"gzip": base64.b64encode(packed).decode("ascii")}
    return ("// MNIST digits for the in-browser trainer (lenet_helpers.widgets.TrainInBrowser), written when the site "
            "was built by lenet_helpers.export.digits_script.\n"
            f"window.lenetTrainingDigits = {json.dumps(pack)};\n")
