"""Pictures the chapters draw: digits, training curves, kernels, feature maps, the confusion matrix, Table I, the
convolution as an animation (played by :mod:`lenet_helpers.player`).

Every function returns a matplotlib ``Figure``. In a notebook, a figure that is
the last expression of a cell is shown once (as a PNG); elsewhere, use
``fig.savefig(...)``. The figures are made without ``pyplot``'s global state,
so nothing is shown twice and nothing leaks between cells.

Their words (titles, axes, legends) are messages of the package, drawn in its language
(:mod:`lenet_helpers.language`), and each figure carries an alt text that says what it shows
(screen readers read it on the website, where every figure is drawn in both languages).
"""

from __future__ import annotations

import io
import math

import matplotlib
import matplotlib.figure
import matplotlib.ticker
import numpy as np
import torch

from ._validate import check_int, check_pair, check_tensor
from .language import Message, _, computed, in_any_language, set_alt, use_cjk_font, using
from .player import Animation

__all__ = [
    "Figure",
    "show_images",
    "plot_history",
    "plot_error_per_pass",
    "show_kernels",
    "show_feature_maps",
    "plot_confusion_matrix",
    "plot_c3_table",
    "animate_correlation",
    "draw_architecture",
    "show_rbf_codes",
]


class Figure(matplotlib.figure.Figure):
    """A matplotlib figure that shows itself in a notebook, with or without pyplot's inline backend."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _numpy(x, name: str, ndim, layout: str) -> np.ndarray:
    return check_tensor(x, name, ndim=ndim, layout=layout).detach().cpu().float().numpy()


def _grid(n: int, ncols: int, cell: float, extra_height: float = 0.0):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(ncols * cell, nrows * (cell + extra_height)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    return fig, axes


def show_images(images, labels=None, predictions=None, *, ncols: int = 10, cmap: str = "gray_r", size: float = 0.9) -> Figure:
    """A grid of images, titled with their labels (and predictions, red where wrong).

    Shapes:
        images: N×H×W or N×1×H×W; labels, predictions: N (optional).

    With the default colour map the foreground is dark on a light background,
    as the paper draws digits.

    Example:
        >>> fig = show_images(torch.rand(4, 28, 28), labels=[0, 1, 2, 3])
        >>> len(fig.axes)
        4
    """
    imgs = _numpy(images, "images", (3, 4), "N×H×W or N×1×H×W")
    if imgs.ndim == 4:
        if imgs.shape[1] != 1:
            raise ValueError(f"images must have one channel (N×1×H×W), got shape {imgs.shape}")
        imgs = imgs[:, 0]
    n = len(imgs)
    if n == 0:
        raise ValueError("images must hold at least one image, got none")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} must have one entry per image: {len(values)} for {n} images")
    ncols = check_int(ncols, "ncols", minimum=1)
    fig, axes = _grid(n, ncols, size, extra_height=0.3 if labels is not None else 0.0)
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        ax.imshow(img, cmap=cmap)
        if labels is not None:
            label = int(labels[i])
            if predictions is None:
                ax.set_title(str(label), fontsize=11)
            else:
                guess = int(predictions[i])
                ax.set_title(f"{label}→{guess}", fontsize=11, color="black" if guess == label else "tab:red")
    if labels is None:
        alt = _("{n} images").format(n=n)
    elif predictions is None:
        alt = _("{n} images of digits, labelled {labels}").format(n=n, labels=_listed(int(v) for v in labels))
    else:
        pairs = [(int(t), int(g)) for t, g in zip(labels, predictions)]
        wrong = [f"{t}→{g}" for t, g in pairs if t != g]
        alt = _("{n} digits, each titled with its label and the prediction (label→prediction): {pairs}; "
                "{wrong} wrong, in red").format(n=n, pairs=_listed(f"{t}→{g}" for t, g in pairs), wrong=len(wrong))
    return set_alt(fig, alt)


def _listed(values, most: int = 30) -> str:
    """Values joined by commas, the first ``most`` and an ellipsis (for an alt text)."""
    values = [str(v) for v in values]
    return ", ".join(values[:most]) + (", …" if len(values) > most else "")


def _column(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def plot_history(history, *, evaluated_on: str = "test", train_error_after_epoch=None) -> Figure:
    """Training curves: loss and error (%) per epoch, for the training set and, if measured, a held-out set.

    ``history`` is what :func:`lenet_helpers.train.train` returns (or a list of
    dicts with the same keys: epoch, train_loss, train_error, test_loss, test_error).

    Args:
        evaluated_on: what the ``test_*`` columns were measured on, for the legend:
            ``"test"``, or ``"validation"`` when ``train`` was given a validation set as
            ``test_data``.
        train_error_after_epoch: optionally, the training error (a fraction) measured
            after each epoch, in evaluation mode: drawn beside the error measured during
            the epoch, which the weights changed as it went.

    The error panel uses a log scale when its largest error is more than ten times its
    smallest, so that small errors stay readable next to a large first one.

    Example:
        >>> rows = [dict(epoch=e, train_loss=1 / e, train_error=0.1 / e, test_loss=None, test_error=None) for e in (1, 2, 3)]
        >>> len(plot_history(rows).axes)
        2
        >>> fig = plot_history(rows, train_error_after_epoch=[0.05, 0.03, 0.02])
        >>> [line.get_label() for line in fig.axes[1].lines]
        ['train (during the epoch)', 'train (after the epoch)']
    """
    if not isinstance(history, (list, tuple)) or not history:
        raise ValueError("history must be a non-empty list of epochs, as returned by train()")
    needed = ("epoch", "train_loss", "train_error", "test_loss", "test_error")
    for row in history:
        fields = row.keys() if isinstance(row, dict) else getattr(row, "_fields", ())
        missing = [name for name in needed if name not in fields]
        if missing:
            raise ValueError(f"history rows must have the fields {', '.join(needed)}; a row lacks {', '.join(missing)}")
    if not isinstance(evaluated_on, str) or not evaluated_on:
        raise ValueError(f"evaluated_on must name the held-out set, e.g. 'test' or 'validation', got {evaluated_on!r}")
    epochs = [_column(r, "epoch") for r in history]
    after = None
    if train_error_after_epoch is not None:
        after = [float(e) for e in train_error_after_epoch]
        if len(after) != len(history):
            raise ValueError(f"train_error_after_epoch must have one error per epoch ({len(history)}), got {len(after)}")
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax_loss, ax_err = fig.subplots(1, 2)
    train_label = str(_("train (during the epoch)") if after is not None else _("train"))
    held_out = _SETS.get(evaluated_on, Message(evaluated_on))
    for split, label, style in (("train", train_label, "-o"), ("test", str(held_out), "--s")):
        losses = [_column(r, f"{split}_loss") for r in history]
        errors = [_column(r, f"{split}_error") for r in history]
        if all(v is not None for v in losses):
            ax_loss.plot(epochs, losses, style, label=label, markersize=4)
        if all(v is not None for v in errors):
            ax_err.plot(epochs, [100 * e for e in errors], style, label=label, markersize=4)
        if split == "train" and after is not None:
            ax_err.plot(epochs, [100 * e for e in after], ":^", color="tab:green",
                        label=str(_("train (after the epoch)")), markersize=4)
    ax_loss.set(xlabel=str(_("epoch")), ylabel=str(_("loss")), title=str(_("loss")))
    ax_err.set(xlabel=str(_("epoch")), ylabel=str(_("error (%)")), title=str(_("error")))
    plotted = [v for line in ax_err.lines for v in line.get_ydata()]
    if plotted and min(plotted) > 0 and max(plotted) > 10 * min(plotted):
        import matplotlib.ticker

        ax_err.set(yscale="log", ylabel=str(_("error (%, log scale)")))
        ax_err.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax_err.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    for ax in (ax_loss, ax_err):
        ax.legend()
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    last = history[-1]
    if _column(last, "test_error") is not None:
        alt = _("Loss and error (%) per epoch on the training set and the {held_out} set; after epoch {epoch}, "
                "{held_out} error {error}, training error {train} (measured during the epoch)")
        alt = alt.format(held_out=held_out, epoch=_column(last, "epoch"),
                         error=f"{100 * _column(last, 'test_error'):.2f}%", train=f"{100 * _column(last, 'train_error'):.2f}%")
    else:
        alt = _("Loss and error (%) per epoch on the training set; after epoch {epoch}, training error {train} "
                "(measured during the epoch)").format(epoch=_column(last, "epoch"),
                                                      train=f"{100 * _column(last, 'train_error'):.2f}%")
    return set_alt(fig, alt)


# What plot_history's legend calls the held-out set (its evaluated_on); another name is written as given.
_SETS = {"test": _("test"), "validation": _("validation")}


def plot_error_per_pass(runs, *, paper=None, title: str | None = None, train: str = "after") -> Figure:
    """Test and training error after each pass, over several runs (seeds): the median and the range.

    ``runs`` is a list of dicts, each with ``test_error_per_pass`` and, optionally,
    ``train_error_per_pass`` (fractions, one per pass): the layout of the runs in the
    benchmark's results file (:func:`lenet_helpers.results.bench_results`). With
    ``train="during"`` the training error drawn is ``train_error_running_per_pass``
    instead: measured during each pass, every pattern classified just before the
    network learns from it, as the paper's Fig. 5 measures it. The errors
    are drawn in percent on a log scale. ``paper``, a dict such as
    :data:`lenet_helpers.results.PAPER`, adds what the paper reports: the test error
    (``test_error_pct``), the pass after which it settles
    (``test_error_settles_after_passes``) and the training error after a given pass
    (``train_error_pct``, ``train_error_after_passes``).

    Example:
        >>> runs = [{"test_error_per_pass": [0.05, 0.02, 0.012], "train_error_per_pass": [0.1, 0.02, 0.01]},
        ...         {"test_error_per_pass": [0.04, 0.02, 0.011], "train_error_per_pass": [0.09, 0.03, 0.008]}]
        >>> fig = plot_error_per_pass(runs, paper={"test_error_pct": 0.95})
        >>> [line.get_label() for line in fig.axes[0].lines][:3]
        ['test error (median of 2 runs)', 'training error (median of 2 runs)', 'paper: test error 0.95%']
    """
    import statistics

    import matplotlib.ticker

    if not isinstance(runs, (list, tuple)) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ValueError("runs must be a non-empty list of dicts with test_error_per_pass, as in the results file")
    if any("test_error_per_pass" not in r for r in runs):
        raise ValueError("every run must have test_error_per_pass (one error per pass)")
    if train not in ("after", "during"):
        raise ValueError(f"train must be 'after' (the training error after each pass) or 'during' (measured during "
                         f"each pass, as the paper's Fig. 5), got {train!r}")
    train_key = "train_error_per_pass" if train == "after" else "train_error_running_per_pass"
    passes = len(runs[0]["test_error_per_pass"])
    if passes == 0 or any(len(r[k]) != passes for r in runs for k in ("test_error_per_pass", train_key)
                          if k in r and r[k] is not None):
        raise ValueError("every run must have the same number of passes (at least one) in each of its curves")
    paper = dict(paper or {})
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    x = list(range(1, passes + 1))
    lowest = []
    finals = []
    training = _("training error") if train == "after" else _("training error during each pass")
    for key, name, colour in (("test_error_per_pass", _("test error"), "tab:blue"), (train_key, training, "tab:orange")):
        curves = [[100 * e for e in r[key]] for r in runs if r.get(key) is not None]
        if not curves:
            continue
        columns = list(zip(*curves))
        median = [statistics.median(c) for c in columns]
        which = _("median of {n} runs").format(n=len(curves)) if len(curves) > 1 else _("one run")
        ax.plot(x, median, "-o", color=colour, markersize=3, label=str(_("{name} ({which})").format(name=name, which=which)))
        finals.append(_("{name} {error}").format(name=name, error=f"{median[-1]:.2f}%"))
        if len(curves) > 1:
            ax.fill_between(x, [min(c) for c in columns], [max(c) for c in columns], color=colour, alpha=0.2,
                            linewidth=0)
        lowest.append(min(min(c) for c in columns))
    if "test_error_pct" in paper:
        ax.axhline(paper["test_error_pct"], color="tab:blue", linestyle="--", linewidth=1,
                   label=str(_("paper: test error {error}").format(error=f"{paper['test_error_pct']}%")))
        lowest.append(paper["test_error_pct"])
    if "train_error_pct" in paper and "train_error_after_passes" in paper:
        ax.plot([paper["train_error_after_passes"]], [paper["train_error_pct"]], "*", color="tab:red", markersize=11,
                label=str(_("paper: training error {error} after {passes} passes").format(
                    error=f"{paper['train_error_pct']}%", passes=paper["train_error_after_passes"])))
        lowest.append(paper["train_error_pct"])
    if "test_error_settles_after_passes" in paper:
        settled = paper["test_error_settles_after_passes"]
        ax.axvspan(settled, max(passes, settled) + 0.5, color="0.85", alpha=0.5, linewidth=0,
                   label=str(_("paper: test error settled (after about {passes} passes)").format(passes=settled)))
    ax.set(xlabel=str(_("pass through the training set")), ylabel=str(_("error (%, log scale)")), yscale="log",
           xlim=(0.5, passes + 0.5), title=title)
    ax.set_ylim(bottom=0.8 * min(lowest))
    ticks = [t for t in (0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 20, 50, 100) if t >= 0.8 * min(lowest)]
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    alt = _("Error (%, log scale) after each of {passes} passes through the training set, the median of {runs} "
            "runs and their range; after the last pass: {finals}").format(
        passes=passes, runs=len(runs), finals=_(", ").join(finals))
    if "test_error_pct" in paper:
        alt = alt + _("; the paper's test error: {error}").format(error=f"{paper['test_error_pct']}%")
    if title:
        alt = _("{title}. {description}").format(title=in_any_language(title), description=alt)
    return set_alt(fig, alt)


def show_kernels(weight, *, size: float = 0.8) -> Figure:
    """Convolution kernels as small images, blue negative, red positive, white zero.

    Shapes:
        weight: Cout×Cin×kh×kw (one row per output map, one column per input map) or Cout×kh×kw.

    Example:
        >>> fig = show_kernels(torch.randn(6, 1, 5, 5))   # C1's kernels
        >>> len(fig.axes)
        6
    """
    w = _numpy(weight, "weight", (3, 4), "Cout×Cin×kh×kw or Cout×kh×kw")
    if w.ndim == 3:
        w = w[:, None]
    cout, cin = w.shape[:2]
    limit = float(np.abs(w).max()) or 1.0
    if cin == 1:  # one row of kernels
        fig, axes = _grid(cout, cout, size)
        kernels = w[:, 0]
    else:
        fig, axes = _grid(cout * cin, cin, size)
        kernels = w.reshape(cout * cin, *w.shape[2:])
    for ax, k in zip(axes, kernels):
        ax.imshow(k, cmap="RdBu_r", vmin=-limit, vmax=limit)
    if cin == 1:
        alt = _("{n} kernels of {size} as small images: red positive, blue negative, white zero")
        alt = alt.format(n=cout, size=f"{w.shape[2]}×{w.shape[3]}")
    else:
        alt = _("{n} kernels of {size} as small images, {rows} rows of {cols}: red positive, blue negative, white zero")
        alt = alt.format(n=cout * cin, size=f"{w.shape[2]}×{w.shape[3]}", rows=cout, cols=cin)
    return set_alt(fig, alt)


def show_feature_maps(maps, *, ncols: int = 8, size: float = 1.0, title: str | None = None) -> Figure:
    """The feature maps of one image, one small image each; a vector is drawn as one strip.

    Shapes:
        maps: C×H×W, 1×C×H×W, or a vector C (e.g. F6's 84 units).

    Example:
        >>> len(show_feature_maps(torch.rand(6, 28, 28)).axes)
        6
    """
    m = _numpy(maps, "maps", (1, 2, 3, 4), "C×H×W, 1×C×H×W or C")
    if m.ndim == 4:
        if m.shape[0] != 1:
            raise ValueError(f"maps must be the maps of one image (1×C×H×W), got shape {m.shape}")
        m = m[0]
    if m.ndim == 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim == 2:
        raise ValueError(f"maps must be C×H×W or a vector, got shape {m.shape}")
    if m.ndim == 3 and m.shape[1:] == (1, 1):
        m = m[:, 0, 0]  # e.g. C5's 120 maps of 1×1: a vector
    if m.ndim == 1:
        fig = Figure(figsize=(min(12, 0.12 * len(m) + 1), 0.8), layout="constrained")
        ax = fig.subplots()
        ax.imshow(m[None, :], cmap="viridis", aspect="auto")
        ax.set_yticks([])
        ax.set_xlabel(str(_("unit")))
        alt = _("The values of {n} units as one strip of colours, from {low} (dark) to {high} (yellow)")
        alt = alt.format(n=len(m), low=f"{m.min():.3g}", high=f"{m.max():.3g}")
    else:
        ncols = check_int(ncols, "ncols", minimum=1)
        fig, axes = _grid(len(m), ncols, size)
        for ax, fmap in zip(axes, m):
            ax.imshow(fmap, cmap="viridis")
        alt = _("{n} feature maps of {size}, each as a small image, from {low} (dark) to {high} (yellow)")
        alt = alt.format(n=len(m), size=f"{m.shape[1]}×{m.shape[2]}", low=f"{m.min():.3g}", high=f"{m.max():.3g}")
    if title:
        fig.suptitle(title)
        alt = _("{title}: {description}").format(title=in_any_language(title), description=alt)
    return set_alt(fig, alt)


def plot_confusion_matrix(matrix, *, class_names=None) -> Figure:
    """The confusion matrix as a picture, with the count in each cell (rows: true class, columns: predicted).

    Example:
        >>> fig = plot_confusion_matrix(torch.eye(10, dtype=torch.long) * 100)
        >>> fig.axes[0].get_xlabel()
        'predicted'
    """
    m = _numpy(matrix, "matrix", 2, "classes×classes")
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (classes×classes), got shape {m.shape}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names must name all {k} classes, got {len(names)}")
    fig = Figure(figsize=(0.5 * k + 1.5, 0.5 * k + 1.2), layout="constrained")
    ax = fig.subplots()
    off_diagonal = m.copy()
    np.fill_diagonal(off_diagonal, 0)
    # Colour the mistakes, so they stand out; the diagonal is written in bold.
    ax.imshow(off_diagonal, cmap="Reds", vmin=0, vmax=max(off_diagonal.max(), 1))
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7, fontweight="bold" if i == j else None)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set(xlabel=str(_("predicted")), ylabel=str(_("true")))
    mistakes = int(off_diagonal.sum())
    alt = _("Confusion matrix of {n} images: rows the true class, columns the predicted one; {right} right (the "
            "diagonal), {wrong} wrong").format(n=int(m.sum()), right=int(np.trace(m)), wrong=mistakes)
    if mistakes:
        i, j = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
        alt = alt + _("; the most frequent mistake: {true} taken for {predicted}, {count} times").format(
            true=names[i], predicted=names[j], count=int(off_diagonal[i, j]))
    return set_alt(fig, alt)


def plot_c3_table(table=None) -> Figure:
    """Table I of the paper as a picture: which S2 maps (rows) feed each C3 map (columns).

    Columns are grouped as in the paper: 3 contiguous inputs, 4 contiguous,
    4 non-contiguous, all 6; the number under each column is its input count.

    Example:
        >>> fig = plot_c3_table()
        >>> fig.axes[0].get_ylabel()
        'S2 map'
    """
    from .layers import C3_TABLE

    t = C3_TABLE if table is None else torch.as_tensor(table)
    if t.ndim != 2:
        raise ValueError(f"table must be a 2-D S2-maps×C3-maps table, got shape {tuple(t.shape)}")
    t = t.bool().cpu().numpy()
    rows, cols = t.shape
    fig = Figure(figsize=(0.45 * cols + 1.5, 0.45 * rows + 1.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(t, cmap=matplotlib.colors.ListedColormap(["white", "#1f4e79"]), vmin=0, vmax=1)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="#999", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set(xlabel=str(_("C3 map")), ylabel=str(_("S2 map")))
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    for j, n in enumerate(t.sum(axis=0)):
        ax.text(j, rows - 0.2, str(int(n)), ha="center", va="top", fontsize=8)
    if table is None:  # the paper's grouping of the 16 maps
        for start, stop, label in ((0, 6, _("3 contiguous")), (6, 12, _("4 contiguous")),
                                   (12, 15, _("4 non-contig.")), (15, 16, _("all"))):
            if start:
                ax.axvline(start - 0.5, color="tab:red", linewidth=1.5)
            ax.text((start + stop - 1) / 2, rows + 0.6, str(label), ha="center", va="top", fontsize=8, color="tab:red")
    ax.set_ylim(rows + 1.2, -0.5)
    alt = _("A table of {rows} S2 maps (rows) by {cols} C3 maps (columns), a dark cell where the S2 map feeds the C3 "
            "map; inputs per C3 map: {counts}").format(rows=rows, cols=cols, counts=_listed(int(n) for n in t.sum(axis=0)))
    if table is None:
        alt = _("Table I of the paper. ") + alt
    return set_alt(fig, alt)


def animate_correlation(X, K, padding=0, stride=1, dilation=1, *, interval: int = 700) -> Animation:
    """The kernel's window sliding over the (padded) input, filling the output one cell at a time.

    Shapes:
        X: H×W input, K: kh×kw kernel; the output has the size of
        :func:`lenet_helpers.conv.conv_output_size`. Values are written in the
        cells when the grids are small enough to read.

    Each frame shows the window at one output position, the products it sums,
    and the output so far. ``interval`` is the time between frames in ms.

    Example:
        >>> X = torch.arange(9.0).reshape(3, 3)
        >>> K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> animate_correlation(X, K).frames        # one frame per output cell
        4
    """
    from .conv import corr2d

    interval = check_int(interval, "interval", minimum=1)
    Xt = check_tensor(X, "X", ndim=2, layout="H×W").detach().float().cpu()
    Kt = check_tensor(K, "K", ndim=2, layout="kh×kw").detach().float().cpu()
    Y = corr2d(Xt, Kt, padding=padding, stride=stride, dilation=dilation)
    ph, pw = check_pair(padding, "padding", minimum=0)
    sh, sw = check_pair(stride, "stride", minimum=1)
    dh, dw = check_pair(dilation, "dilation", minimum=1)
    Xp = torch.nn.functional.pad(Xt, (pw, pw, ph, ph)).numpy()
    k = Kt.numpy()
    y = Y.numpy()
    H, W = Xp.shape
    oh, ow = y.shape
    if oh * ow > 64:
        raise ValueError(f"the output has {oh}×{ow} cells, too many frames for an animation; use at most 64 output "
                         "cells (a smaller X, or a larger stride)")

    def player(language):
        with using(language):
            return _correlation_player(Xp, k, y, (ph, pw), (sh, sw), (dh, dw), interval)

    alt = _correlation_alt(Xt.shape, k.shape, (H, W), (sh, sw), (dh, dw), y, _fmt)
    return Animation.in_each_language(player, oh * ow, alt)


def _fmt(v) -> str:
    return f"{v:g}" if float(v).is_integer() else f"{v:.1f}"


def _correlation_player(Xp, k, y, padding, stride, dilation, interval) -> str:
    """matplotlib's HTML player of the animation, its words in the package's language."""
    import matplotlib.animation
    from matplotlib.patches import Rectangle

    from .language import get_language

    if get_language() != "en":
        use_cjk_font()
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    H, W = Xp.shape
    oh, ow = y.shape
    label = H <= 12 and W <= 12
    fmt = _fmt

    cell = 0.42
    fig = Figure(figsize=(cell * (W + k.shape[1] + ow) + 2.2, cell * max(H, 3) + 1.3))
    grid = fig.add_gridspec(1, 3, width_ratios=[W, k.shape[1] + 0.6, ow + 0.6], wspace=0.35)
    ax_x, ax_k, ax_y = (fig.add_subplot(grid[0, i]) for i in range(3))

    def draw_grid(ax, values, title, shade=None):
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-0.5, values.shape[1] - 0.5)
        ax.set_ylim(values.shape[0] - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        texts = {}
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                face = shade(i, j) if shade else "white"
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=face, edgecolor="#8c959f", linewidth=0.8))
                if label or ax is not ax_x:
                    texts[i, j] = ax.text(j, i, fmt(values[i, j]), ha="center", va="center", fontsize=9)
        return texts

    def padded(i, j):
        return "#d8dee4" if (i < ph or j < pw or i >= H - ph or j >= W - pw) else "white"

    draw_grid(ax_x, Xp, str(_("input (padded)") if ph or pw else _("input")), padded)
    draw_grid(ax_k, k, str(_("kernel")))
    out_texts = draw_grid(ax_y, y, str(_("output")))
    for t in out_texts.values():
        t.set_visible(False)
    taps = [ax_x.add_patch(Rectangle((0, 0), 1, 1, facecolor="#6cb6ff", alpha=0.55, edgecolor="none"))
            for _tap in range(k.size)]
    window = ax_x.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#0969da", linewidth=2.5))
    current = ax_y.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#f0883e", linewidth=2.5))
    caption = fig.text(0.5, 0.02, "", ha="center", fontsize=9)
    output_word = str(_("output"))

    def frame(t):
        i, j = divmod(t, ow)
        top, left = i * sh, j * sw
        for n, patch in enumerate(taps):
            a, b = divmod(n, k.shape[1])
            patch.set_xy((left + b * dw - 0.5, top + a * dh - 0.5))
        window.set_bounds(left - 0.5, top - 0.5, dw * (k.shape[1] - 1) + 1, dh * (k.shape[0] - 1) + 1)
        current.set_bounds(j - 0.5, i - 0.5, 1, 1)
        for (a, b), text_ in out_texts.items():
            text_.set_visible(a * ow + b <= t)
        terms = [f"{fmt(Xp[top + a * dh, left + b * dw])}·{fmt(k[a, b])}"
                 for a in range(k.shape[0]) for b in range(k.shape[1])]
        if len(terms) > 9:
            terms = terms[:4] + ["…"] + terms[-2:]
        caption.set_text(f"{output_word}[{i}, {j}] = " + " + ".join(terms) + f" = {fmt(y[i, j])}")
        return [*taps, window, current, caption, *out_texts.values()]

    frame(0)
    anim = matplotlib.animation.FuncAnimation(fig, frame, frames=oh * ow, interval=interval, blit=False)
    return anim.to_jshtml(default_mode="loop")


# The text that stands for the animation (its image's alt), messages of the package.
_CORRELATION_TEXT = {
    "alt": _("Animation, {frames} frames: a {kernel} kernel slides over a {input} input{padded}{stride}{dilation}. "
             "At each position the products of the kernel with the input cells under it are summed into one cell "
             "of the {output} output{values}."),
    "padded": _(", padded with zeros to {size}"),
    "stride": _(", {step} cells at a time"),
    "dilation": _(", its taps {step} cells apart"),
    "values": _(", which ends as: {rows}"),
    "pair": _("{down} down and {across} across"),
}


def _correlation_alt(input_shape, kernel_shape, padded_shape, stride, dilation, y, fmt) -> Message:
    words = _CORRELATION_TEXT

    def size(shape):
        return f"{shape[0]}×{shape[1]}"

    def pair(values):
        return str(values[0]) if values[0] == values[1] else words["pair"].format(down=values[0], across=values[1])

    rows = "; ".join(", ".join(fmt(v) for v in row) for row in y)
    return words["alt"].format(
        frames=y.size, kernel=size(kernel_shape), input=size(tuple(input_shape)), output=size(y.shape),
        padded=words["padded"].format(size=size(padded_shape)) if tuple(padded_shape) != tuple(input_shape) else "",
        stride=words["stride"].format(step=pair(stride)) if stride != (1, 1) else "",
        dilation=words["dilation"].format(step=pair(dilation)) if dilation != (1, 1) else "",
        values=words["values"].format(rows=rows) if y.size <= 25 else "")


# ---------------------------------------------------------------------------
# Chapter 4: the architecture and the RBF codes
# ---------------------------------------------------------------------------


def _arrow_label(module) -> Message:
    """What a layer does, in a few short lines: ``"conv 5×5\\nscaled tanh"`` for ``"conv 5×5, 1→6 + scaled tanh"``
    (the channels, the flattening and "trainable" left out), in any language."""
    import textwrap

    from .modules import layer_words

    parts = [words for words in layer_words(module) if not isinstance(words.what, Message) or
             words.what.render("en") != "flatten"]

    def lines(language):
        out = []
        for words in parts:
            out += textwrap.wrap(words.what.render(language), 11, break_long_words=False)
            out += [detail.render(language) for detail in words.details]
        return "\n".join(out)

    return computed(lines)


def draw_architecture(model, input_size=None, *, title: str | None = None) -> Figure:
    """The network as a block diagram, left to right, drawn from :func:`lenet_helpers.models.trace_shapes`.

    Each layer is drawn by the shape of its output: feature maps C×H×W as a
    stack of squares (the side of a square grows with H; one sheet per map, at
    most 8), a vector (C, or C×1×1) as a bar whose height grows with C. Above
    each block: the layer's name; below: its output shape; over the arrow that
    leads to it: what the layer does.

    Shapes:
        input_size: (C, H, W) of one image; defaults to ``model.input_size``
        (the course's models have one). The figure has one axes.

    Example:
        >>> from lenet_helpers.models import LeNet5
        >>> fig = draw_architecture(LeNet5(), (1, 32, 32))
        >>> texts = [t.get_text() for t in fig.axes[0].texts]
        >>> "C3" in texts and "16×10×10" in texts
        True
    """
    from matplotlib.patches import Rectangle

    from ._table import format_value
    from ._validate import check_input_size, check_module
    from .models import trace_shapes

    check_module(model)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    if input_size is None:
        if not hasattr(model, "input_size"):
            raise ValueError("input_size is needed for this model, e.g. draw_architecture(model, (1, 32, 32))")
        input_size = model.input_size
    size = check_input_size(input_size)
    rows = trace_shapes(model, size)
    layers = [None] + [module for _name, module in _called_layers(model, size)]

    def is_maps(shape):
        return len(shape) == 3 and shape[1] * shape[2] > 1

    def length(shape):  # a vector's number of units
        return int(np.prod(shape))

    largest_side = max((s[1] for s in (r.output_shape for r in rows) if is_maps(s)), default=1)
    longest = max((length(s) for s in (r.output_shape for r in rows) if not is_maps(s)), default=1)
    max_height, step, gap = 2.6, 0.09, 1.5
    blocks, x = [], 0.0
    for row in rows:
        shape = row.output_shape
        if is_maps(shape):
            side = 0.35 + (max_height - 0.35) * shape[1] / largest_side
            sheets = min(shape[0], 8)
            width = side + step * (sheets - 1)
            height = side + step * (sheets - 1)
        else:
            side, sheets = None, 1
            width, height = 0.28, 0.35 + (max_height - 0.35) * length(shape) / longest
        blocks.append((row, x, width, height, side, sheets))
        x += width + gap
    total_width = x - gap
    top = max(b[3] for b in blocks)

    fig = Figure(figsize=(min(8.0, 0.45 * total_width + 0.5), 2.6), layout="constrained")
    ax = fig.subplots()
    for i, (row, left, width, height, side, sheets) in enumerate(blocks):
        bottom = (top - height) / 2
        colour = "#dce9f5" if i == 0 else ("#fbe3c8" if side is None else "#cfe3d4")
        if side is None:
            ax.add_patch(Rectangle((left, bottom), width, height, facecolor=colour, edgecolor="#333", linewidth=0.8))
        else:
            for s in range(sheets):  # back sheet first, each one step down and to the right
                ax.add_patch(Rectangle((left + s * step, bottom + (sheets - 1 - s) * step), side, side,
                                       facecolor=colour, edgecolor="#333", linewidth=0.8))
        centre = left + width / 2
        ax.text(centre, top + 0.12, str(row.layer), ha="center", va="bottom", fontsize=9, fontweight="bold")
        ax.text(centre, bottom - 0.12, format_value(row.output_shape), ha="center", va="top", fontsize=8)
        if i:  # an arrow from the previous block, labelled with what this layer does
            prev_right = blocks[i - 1][1] + blocks[i - 1][2]
            ax.annotate("", xy=(left - 0.06, top / 2), xytext=(prev_right + 0.06, top / 2),
                        arrowprops=dict(arrowstyle="->", color="#666", linewidth=0.8))
            ax.text((prev_right + left) / 2, top / 2 + 0.1, str(_arrow_label(layers[i])), ha="center",
                    va="bottom", fontsize=6, color="#444", linespacing=1.1)
    ax.set_xlim(-0.3, total_width + 0.3)
    ax.set_ylim(-0.6, top + 0.55)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    shapes = _(", ").join(Message(row.layer if i else _("input"), " ", format_value(row.output_shape))
                          for i, row in enumerate(rows))
    alt = _("The network as a row of blocks, from the input on the left to the output on the right, each block "
            "drawn by the shape of its output: {shapes}").format(shapes=shapes)
    if title:
        alt = _("{title}. {description}").format(title=in_any_language(title), description=alt)
    return set_alt(fig, alt)


def _called_layers(model, size):
    """(name, layer) of each top-level layer call of ``model`` on one input of ``size``, in order."""
    from .models import layer_calls
    from .modules import evaluating

    with evaluating(model), torch.no_grad():
        return [(name, module) for name, module, _out in layer_calls(model, torch.zeros(1, *size))]


def show_rbf_codes(codes=None, *, shape=(12, 7), size: float = 0.7) -> Figure:
    """The fixed parameters of LeNet-5's RBF output units as pictures: one ±1 bitmap per class.

    +1 is drawn dark and −1 light, as the paper's Fig. 3 draws its bitmaps.

    Shapes:
        codes: classes×features, default :func:`lenet_helpers.models.rbf_codes` (10×84);
        each row is read row by row into a ``shape`` = (height, width) bitmap, (12, 7) by default.

    Example:
        >>> fig = show_rbf_codes()
        >>> len(fig.axes), fig.axes[3].get_title()
        (10, '3')
    """
    from .layers import rbf_codes

    c = rbf_codes() if codes is None else check_tensor(codes, "codes", ndim=2, layout="classes×features")
    c = c.detach().cpu().float()
    h, w = check_pair(shape, "shape", minimum=1)
    if c.shape[1] != h * w:
        raise ValueError(f"shape {h}×{w} has {h * w} cells, but each code has {c.shape[1]} values")
    if c.shape[0] == 0:
        raise ValueError("codes must hold at least one code, got none")
    fig, axes = _grid(c.shape[0], 10, size, extra_height=0.3)
    for i, (ax, code) in enumerate(zip(axes, c)):
        ax.imshow(code.view(h, w).numpy(), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title(str(i), fontsize=10)
        ax.set_axis_on()
        ax.set_xticks(np.arange(-0.5, w), minor=True)
        ax.set_yticks(np.arange(-0.5, h), minor=True)
        ax.grid(which="minor", color="#bbb", linewidth=0.4)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_xticks([])
        ax.set_yticks([])
    alt = _("{n} codes as {h}×{w} bitmaps, one per class from 0 to {last}: +1 dark, −1 light").format(
        n=c.shape[0], h=h, w=w, last=c.shape[0] - 1)
    return set_alt(fig, alt)
