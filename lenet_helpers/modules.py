"""Two small tools for any ``nn.Module``: where its weights are, and evaluation mode for a moment.

* :func:`device_of` — the device of a module's parameters (or buffers), CPU for a module with none;
* :func:`describe` — a short description of a layer, as the course's tables show it;
* :func:`evaluating` — a context manager that puts a module in evaluation mode (dropout off, batch
  normalisation using its running statistics) and gives it back in the mode it was in.

Example:
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    >>> device_of(model).type
    'cpu'
    >>> with evaluating(model):
    ...     model.training
    False
    >>> model.training
    True
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NamedTuple

import torch
from torch import nn

from . import _unchecked
from ._validate import check_module
from .language import Message, _
from .layers import EuclideanRBF, PartialConv2d, Squash, Subsampling

__all__ = ["device_of", "evaluating", "describe", "layer_words", "LayerWords"]


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer; ``cpu`` if it has neither.

    Example:
        >>> device_of(nn.Linear(3, 1))
        device(type='cpu')
    """
    return _unchecked.device_of(check_module(module, "module"))


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode inside the ``with`` block, then the mode ``module`` had before, even after an error.

    Example:
        >>> model = nn.Dropout(0.5).train()
        >>> with evaluating(model) as m:
        ...     m.training
        False
        >>> model.training
        True
    """
    with _unchecked.evaluating(check_module(module, "module")):
        yield module


def describe(module: nn.Module) -> str:
    """A short human description of a layer, e.g. ``"conv 5×5, 1→6 + scaled tanh"``, in the package's language.

    It is a :class:`~lenet_helpers.language.Phrase`: a ``str`` that the course's tables and figures can still show in
    another language.

    Example:
        >>> describe(nn.Sequential(nn.Conv2d(1, 6, 5), Squash()))
        'conv 5×5, 1→6 + scaled tanh'
        >>> describe(nn.MaxPool2d(2)).render("zh_CN")
        '最大汇聚 2×2'
    """
    return Message(" + ").join(words.text for words in layer_words(module)).phrase()


class LayerWords(NamedTuple):
    """What one layer does, in words (messages of the package): ``text`` as :func:`describe` says it
    ("conv 5×5, 1→6, padding 2"), and, for a diagram, ``what`` ("conv 5×5") and short ``details`` ("pad 2",
    "stride 2", "Table I")."""

    text: Message
    what: Message
    details: tuple = ()


def layer_words(module: nn.Module) -> list[LayerWords]:
    """The words of :func:`describe`, one :class:`LayerWords` per layer (several for an ``nn.Sequential``).

    Example:
        >>> [str(w.what) for w in layer_words(nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU()))]
        ['conv 5×5', 'ReLU']
    """
    if isinstance(module, nn.Sequential):
        return [words for m in module for words in layer_words(m)]
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        what = _("conv {size}").format(size=f"{kh}×{kw}")
        said, short = [], []
        if module.padding not in ((0, 0), "valid"):
            padding = module.padding[0] if isinstance(module.padding, tuple) else module.padding
            said.append(_("padding {padding}").format(padding=padding))
            short.append(_("pad {padding}").format(padding=padding))
        if module.stride != (1, 1):
            said.append(_("stride {stride}").format(stride=module.stride[0]))
            short.append(said[-1])
        if module.dilation != (1, 1):
            said.append(_("dilation {dilation}").format(dilation=module.dilation[0]))
            short.append(said[-1])
        if module.groups > 1:
            said.append(_("depthwise") if module.groups == module.in_channels
                        else _("{groups} groups").format(groups=module.groups))
            short.append(said[-1])
        text = _(", ").join([what, f"{module.in_channels}→{module.out_channels}", *said])
        return [LayerWords(text, what, tuple(short))]
    named = type(module).__name__  # a chapter's own version of a course layer (chapter 4 writes them) is described alike
    if isinstance(module, PartialConv2d) or (named == "PartialConv2d" and hasattr(module, "table")):
        k = module.kernel_size
        text = _("conv {size}, {channels} (Table I)").format(size=f"{k}×{k}",
                                                            channels=f"{module.in_channels}→{module.out_channels}")
        return [LayerWords(text, _("conv {size}").format(size=f"{k}×{k}"), (_("Table I"),))]
    if isinstance(module, Subsampling) or (named == "Subsampling" and hasattr(module, "kernel_size")):
        k = module.kernel_size
        return [LayerWords(_("subsampling {size} (trainable)").format(size=f"{k}×{k}"),
                           _("subsampling {size}").format(size=f"{k}×{k}"))]
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = _first(module.kernel_size)
        what = (_("max pool {size}") if isinstance(module, nn.MaxPool2d) else _("avg pool {size}")).format(
            size=f"{k}×{k}")
        said = []
        stride, padding = _first(module.stride), _first(module.padding)
        if stride not in (None, k):
            said.append(_("stride {stride}").format(stride=stride))
        if padding:
            said.append(_("padding {padding}").format(padding=padding))
        return [LayerWords(_(", ").join([what, *said]) if said else what, what, tuple(said))]
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,) * 2
        size = "×".join("any" if s is None else str(s) for s in size)
        what = (_("adaptive max pool to {size}") if isinstance(module, nn.AdaptiveMaxPool2d)
                else _("adaptive avg pool to {size}")).format(size=size)
        return [LayerWords(what, what)]
    if isinstance(module, nn.Linear):
        what = _("linear {size}").format(size=f"{module.in_features}→{module.out_features}")
        return [LayerWords(what, what)]
    if isinstance(module, EuclideanRBF) or (named == "EuclideanRBF" and hasattr(module, "centers")):
        what = _("Euclidean RBF {size}").format(size=f"{module.centers.shape[1]}→{module.centers.shape[0]}")
        return [LayerWords(what, what)]
    names = {Squash: _("scaled tanh"), nn.Flatten: _("flatten"), nn.BatchNorm2d: _("batch norm"),
             nn.Dropout: _("dropout")}
    plain = {nn.ReLU: "ReLU", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU6: "ReLU6", nn.Hardswish: "hardswish",
             nn.SiLU: "SiLU", nn.GELU: "GELU", nn.Softmax: "softmax",
             nn.LogSoftmax: "log-softmax"}  # the functions' own names, in any language
    if named == "Squash":
        return [LayerWords(_("scaled tanh"), _("scaled tanh"))]
    what = names.get(type(module)) or Message(plain.get(type(module), named))
    return [LayerWords(what, what)]


def _first(value):
    """The first of a pair, or the value itself: kernel sizes, strides and paddings as a table shows them."""
    return value[0] if isinstance(value, (tuple, list)) else value
