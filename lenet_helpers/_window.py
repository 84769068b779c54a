"""A sliding window's geometry, which convolution (:mod:`lenet_helpers.conv`) and pooling (:mod:`lenet_helpers.pool`)
share: whether the window fits in the padded input, and how many positions it takes. For values their public entry
has checked."""

from __future__ import annotations


def check_window_fits(n: int, k: int, p: int, d: int = 1, *, kernel: str, image: str, dim: str = "") -> None:
    """Raise a ValueError naming ``kernel`` if a (dilated) window of size k does not fit in n + 2p cells."""
    span = d * (k - 1) + 1  # how many input cells the window covers
    if span > n + 2 * p:
        along = f" along {dim}" if dim else ""
        dilated = f" (size {k}, dilation {d})" if d > 1 else ""
        raise ValueError(
            f"{kernel} covers {span} cells{dilated}{along}, more than the padded {image}: "
            f"{n} + 2*padding = {n + 2 * p}. Expected a window no larger than the padded input."
        )


def output_length(n: int, k: int, p: int, s: int, d: int) -> int:
    """floor((n + 2p - d(k - 1) - 1) / s) + 1 along one dimension."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1
