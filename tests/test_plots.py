import pytest
import torch

from lenet_helpers import models, plots
from lenet_helpers.train import EpochStats


def is_png(figure) -> bool:
    return figure._repr_png_().startswith(b"\x89PNG")


def test_every_picture_is_a_figure_that_shows_itself():
    history = [EpochStats(e, 1 / e, 0.1 / e, 1.2 / e, 0.12 / e, float(e)) for e in (1, 2, 3)]
    figures = [
        plots.show_images(torch.rand(12, 1, 32, 32), labels=list(range(12)), predictions=[0] * 12),
        plots.show_images(models.rbf_codes().view(10, 12, 7)),
        plots.plot_history(history),
        plots.plot_history([row._asdict() for row in history]),
        plots.show_kernels(torch.randn(6, 1, 5, 5)),
        plots.show_kernels(models.PartialConv2d(models.C3_TABLE).dense_weight().detach()),
        plots.show_feature_maps(torch.rand(1, 16, 10, 10)),
        plots.show_feature_maps(torch.rand(120, 1, 1), title="C5"),
        plots.show_feature_maps(torch.rand(84)),
        plots.plot_confusion_matrix(torch.randint(0, 50, (10, 10))),
        plots.plot_c3_table(),
        plots.plot_c3_table(torch.ones(3, 4, dtype=torch.bool)),
    ]
    for fig in figures:
        assert isinstance(fig, plots.Figure)
        assert is_png(fig)


def test_grid_layout():
    assert len(plots.show_images(torch.rand(20, 28, 28), ncols=10).axes) == 20
    assert len(plots.show_kernels(torch.randn(16, 6, 5, 5)).axes) == 96


def test_wrong_predictions_are_red():
    fig = plots.show_images(torch.rand(2, 28, 28), labels=[1, 2], predictions=[1, 3])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["1→1", "2→3"]
    assert fig.axes[1].title.get_color() == "tab:red"


def test_confusion_matrix():
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 2, 0])
    cm = plots.confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.sum() == len(y_true) and cm.trace() == 4


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: plots.show_images(torch.rand(28, 28)), ValueError, ["images", "N×H×W"]),
        (lambda: plots.show_images(torch.rand(2, 3, 28, 28)), ValueError, ["images", "one channel"]),
        (lambda: plots.show_images(torch.rand(2, 28, 28), labels=[1]), ValueError, ["labels", "one entry per image"]),
        (lambda: plots.show_images(torch.rand(0, 28, 28)), ValueError, ["images", "at least one"]),
        (lambda: plots.show_images(torch.rand(2, 28, 28), ncols=0), ValueError, ["ncols"]),
        (lambda: plots.plot_history([]), ValueError, ["history"]),
        (lambda: plots.plot_history([{"epoch": 1, "loss": 0.5}]), ValueError, ["history", "train_loss"]),
        (lambda: plots.show_kernels(torch.randn(5, 5)), ValueError, ["weight", "Cout×Cin×kh×kw"]),
        (lambda: plots.show_feature_maps(torch.rand(2, 6, 5, 5)), ValueError, ["maps", "one image"]),
        (lambda: plots.confusion_matrix(torch.tensor([0, 1]), torch.tensor([0])), ValueError, ["same length"]),
        (lambda: plots.confusion_matrix(torch.tensor([0, 10]), torch.tensor([0, 1])), ValueError, ["y_true", "0..9"]),
        (lambda: plots.confusion_matrix(torch.tensor([0.0]), torch.tensor([0])), TypeError, ["y_true", "integer"]),
        (lambda: plots.plot_confusion_matrix(torch.zeros(3, 4)), ValueError, ["matrix", "square"]),
        (lambda: plots.plot_confusion_matrix(torch.zeros(3, 3), class_names=["a"]), ValueError, ["class_names"]),
        (lambda: plots.plot_c3_table(torch.ones(6)), ValueError, ["table", "2-D"]),
    ],
)
def test_plots_reject_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_animate_correlation_has_one_frame_per_output_cell_and_plays_without_a_kernel():
    X = torch.arange(25.0).reshape(5, 5)
    anim = plots.animate_correlation(X, torch.ones(3, 3), padding=1, stride=2)
    assert anim.frames == 9
    page = anim._repr_html_()
    assert page.count("data:image/png;base64,") == 9 and "<script" in page
    assert "https://" not in page and 'class="fa' not in page  # no CDN stylesheet, no icon font
    assert "frames" in repr(anim)


def test_animate_correlation_rejects_bad_input():
    with pytest.raises(ValueError, match="X must be a 2-D tensor"):
        plots.animate_correlation(torch.zeros(1, 3, 3), torch.ones(2, 2))
    with pytest.raises(ValueError, match="too many frames"):
        plots.animate_correlation(torch.zeros(20, 20), torch.ones(3, 3))
    with pytest.raises(ValueError, match="K covers 3 cells"):
        plots.animate_correlation(torch.zeros(2, 2), torch.ones(3, 3))


# ---------------------------------------------------------------------------
# The paper's Figure 5
# ---------------------------------------------------------------------------


def figure5_runs():
    return [
        {"seed": 0, "test_error_per_pass": [0.030, 0.012, 0.010], "train_error_per_pass": [0.050, 0.010, 0.005],
         "train_error_running_per_pass": [0.080, 0.015, 0.006]},
        {"seed": 1, "test_error_per_pass": [0.040, 0.014, 0.011], "train_error_per_pass": [0.060, 0.020, 0.006],
         "train_error_running_per_pass": [0.090, 0.025, 0.007]},
        {"seed": 2, "test_error_per_pass": [0.020, 0.016, 0.009, 0.009], "train_error_per_pass": [0.040, 0.030, 0.004, 0.004],
         "train_error_running_per_pass": [0.070, 0.035, 0.005, 0.005]},
    ]


def test_plot_passes_median_band_and_paper_points():
    runs = figure5_runs()
    for given in (runs, {"runs": runs}, {"faithful_sdlm": {"runs": runs}, "device": "cpu"}):
        fig = plots.plot_passes(given)
        assert is_png(fig)
        ax = fig.axes[0]
        train, test, star = ax.lines  # two medians, then the paper's training point
        assert list(train.get_xdata()) == [1, 2, 3]  # the shortest run sets the number of passes
        assert [round(v, 6) for v in test.get_ydata()] == [3.0, 1.4, 1.0]  # median of the seeds, in %
        assert [round(v, 6) for v in train.get_ydata()] == [8.0, 2.5, 0.6]  # on the fly, as the paper's figure
        assert (star.get_xdata()[0], star.get_ydata()[0]) == (19, 0.35)
        assert len(ax.collections) == 3  # two min–max bands and the paper's test line
        band = ax.collections[1].get_paths()[0].vertices[:, 1]
        assert round(band.max(), 6) == 4.0 and round(band.min(), 6) == 0.9  # the test band spans the seeds
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("0.95%" in t for t in labels) and any("0.35%" in t for t in labels)
    after = plots.plot_passes(runs, train="after").axes[0].lines[0]
    assert [round(v, 6) for v in after.get_ydata()] == [5.0, 2.0, 0.5]
    single = plots.plot_passes(runs[:1], key="faithful_modern")
    assert len(single.axes[0].collections) == 1  # one run: no band


def test_plot_passes_errors():
    with pytest.raises(ValueError, match="results"):
        plots.plot_passes({"device": "cpu"})
    with pytest.raises(ValueError, match="results"):
        plots.plot_passes([])
    with pytest.raises(ValueError, match="test_error_per_pass"):
        plots.plot_passes([{"train_error_per_pass": [0.1]}])
    with pytest.raises(ValueError, match="train"):
        plots.plot_passes(figure5_runs(), train="during")
