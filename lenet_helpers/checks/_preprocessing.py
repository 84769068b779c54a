"""What learners get wrong preparing MNIST as the paper did (pad to 32×32, background −0.1, ink 1.175): the mistakes
that chapter 5's ``paper_normalization`` and the capstone's ``paper_inputs`` both recognise."""

from __future__ import annotations

import torch.nn.functional as F

from ..language import _
from ._core import Mistake

_STANDARD = _("uses MNIST's mean/std standardisation, (x − 0.1307) / 0.3081, the tutorials' choice: the paper maps "
              "the background to −0.1 and the ink to 1.175")


def pad(images):
    """N×28×28 digits with 2 pixels of 0 on every side: N×32×32."""
    return F.pad(images, (2, 2, 2, 2), value=0.0)


def paper_mistakes(section) -> list[Mistake]:
    """The mistakes learners make preparing the digits as the paper did, each explained in ``section``."""
    from .. import data as _data

    low, high = _data.PAPER_BACKGROUND, _data.PAPER_FOREGROUND
    return [
        Mistake(_("pads with 0 after scaling: the padding is background, −0.1 once scaled (pad first, then scale)"),
                section, lambda images: pad(low + (high - low) * images)),
        Mistake(_STANDARD, section, lambda images: (pad(images) - _data.MNIST_MEAN) / _data.MNIST_STD),
        Mistake(_STANDARD, section, lambda images: pad((images - _data.MNIST_MEAN) / _data.MNIST_STD)),
        Mistake(_("maps x to −0.1 + 1.175·x, which sends the ink to 1.075: the scale is 1.175 − (−0.1) = 1.275"),
                section, lambda images: low + high * pad(images)),
        Mistake(_("forgets the padding: LeNet-5 reads 32×32 images, the 28×28 digit with 2 pixels of background on "
                  "every side"), section, lambda images: low + (high - low) * images),
        Mistake(_("pads 4 pixels on one side of each dimension: pad 2 on every side, so that the digit stays centred"),
                section, lambda images: low + (high - low) * F.pad(images, (0, 4, 0, 4))),
    ]
