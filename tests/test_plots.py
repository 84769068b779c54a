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


def test_plot_history_names_the_held_out_set_and_draws_the_training_error_after_each_epoch():
    history = [EpochStats(e, 1 / e, 0.1 / e, 1.2 / e, 0.12 / e, float(e)) for e in (1, 2, 3)]
    fig = plots.plot_history(history, evaluated_on="validation", train_error_after_epoch=[0.05, 0.03, 0.02])
    loss, error = fig.axes
    assert [line.get_label() for line in loss.lines] == ["train (during the epoch)", "validation"]
    assert [line.get_label() for line in error.lines] == ["train (during the epoch)", "train (after the epoch)",
                                                          "validation"]
    assert list(error.lines[1].get_ydata()) == pytest.approx([5, 3, 2])
    assert error.get_yscale() == "linear"  # 2% to 12%: less than a factor of ten
    wide = [EpochStats(e, 1 / e, 0.3 / e ** 3, 1.2 / e, 0.02 / e, float(e)) for e in (1, 2, 3)]
    assert plots.plot_history(wide).axes[1].get_yscale() == "log"  # 0.7% to 30%
    assert [line.get_label() for line in plots.plot_history(history).axes[1].lines] == ["train", "test"]
    with pytest.raises(ValueError, match="train_error_after_epoch must have one error per epoch"):
        plots.plot_history(history, train_error_after_epoch=[0.1])
    with pytest.raises(ValueError, match="evaluated_on"):
        plots.plot_history(history, evaluated_on="")


def test_plot_error_per_pass_draws_the_median_the_range_and_the_papers_points():
    from lenet_helpers.results import PAPER, bench_results

    runs = [{"test_error_per_pass": [0.05, 0.02, 0.01], "train_error_per_pass": [0.1, 0.02, 0.004]},
            {"test_error_per_pass": [0.03, 0.02, 0.012], "train_error_per_pass": [0.2, 0.03, 0.006]},
            {"test_error_per_pass": [0.04, 0.01, 0.011], "train_error_per_pass": [0.3, 0.01, 0.005]}]
    fig = plots.plot_error_per_pass(runs, paper=PAPER, title="three runs")
    ax = fig.axes[0]
    test, training = ax.lines[:2]
    assert list(test.get_ydata()) == pytest.approx([4, 2, 1.1]) and list(training.get_ydata()) == pytest.approx([20, 2, 0.5])
    assert len(ax.collections) >= 2  # the range of each curve
    labels = [line.get_label() for line in ax.lines]
    assert f"paper: test error {PAPER['test_error_pct']}%" in labels
    star = ax.lines[labels.index(f"paper: training error {PAPER['train_error_pct']}% after "
                                 f"{PAPER['train_error_after_passes']} passes")]
    assert list(star.get_xdata()) == [PAPER["train_error_after_passes"]]
    assert is_png(fig)
    one = plots.plot_error_per_pass([{"test_error_per_pass": [0.1, 0.05]}])  # no training curve, no paper
    assert [line.get_label() for line in one.axes[0].lines] == ["test error (one run)"]
    assert is_png(plots.plot_error_per_pass(bench_results("cpu")["faithful_modern"]["runs"], paper=PAPER))


def test_plot_error_per_pass_draws_the_training_error_during_each_pass_as_figure_5():
    from lenet_helpers.results import PAPER

    runs = [{"test_error_per_pass": [0.05, 0.02], "train_error_per_pass": [0.04, 0.01],
             "train_error_running_per_pass": [0.1, 0.03]},
            {"test_error_per_pass": [0.03, 0.02], "train_error_per_pass": [0.02, 0.01],
             "train_error_running_per_pass": [0.2, 0.05]}]
    fig = plots.plot_error_per_pass(runs, paper=PAPER, train="during")
    training = fig.axes[0].lines[1]
    assert training.get_label().startswith("training error during each pass")
    assert list(training.get_ydata()) == pytest.approx([15, 4])  # the median of the errors during each pass
    with pytest.raises(ValueError, match="train must be 'after'"):
        plots.plot_error_per_pass(runs, train="running")


@pytest.mark.parametrize("runs, words", [
    ([], "non-empty list"),
    ([{"train_error_per_pass": [0.1]}], "test_error_per_pass"),
    ([{"test_error_per_pass": [0.1, 0.05]}, {"test_error_per_pass": [0.1]}], "same number of passes"),
    ([{"test_error_per_pass": [0.1, 0.05], "train_error_per_pass": [0.2]}], "same number of passes"),
])
def test_plot_error_per_pass_rejects_bad_runs(runs, words):
    with pytest.raises(ValueError, match=words):
        plots.plot_error_per_pass(runs)


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


def test_animate_correlation_says_what_it_shows():
    """The player is lenet_helpers.player's (tests/test_player.py); its image's alt text says what the correlation
    animation shows, down to the output's values."""
    anim = plots.animate_correlation(torch.arange(25.0).reshape(5, 5), torch.ones(3, 3), padding=1, stride=2)
    assert f'alt="{anim.alt}"' in anim.html
    assert "3×3 kernel" in anim.alt and "5×5 input" in anim.alt and "padded with zeros to 7×7" in anim.alt
    assert "12, 27, 24; 63, 108, 81; 72, 117, 84" in anim.alt  # the output, as torch computes it:
    expected = torch.nn.functional.conv2d(torch.arange(25.0).view(1, 1, 5, 5), torch.ones(1, 1, 3, 3), padding=1, stride=2)
    assert expected.flatten().int().tolist() == [12, 27, 24, 63, 108, 81, 72, 117, 84]


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



# ---------------------------------------------------------------------------
# Words in the reader's language, and alt texts
# ---------------------------------------------------------------------------


def test_the_figures_words_follow_the_language():
    from lenet_helpers.language import using

    history = [EpochStats(e, 1 / e, 0.1 / e, 1.2 / e, 0.12 / e, float(e)) for e in (1, 2, 3)]
    with using("zh_CN"):
        fig = plots.plot_history(history, evaluated_on="validation")
        confusion = plots.plot_confusion_matrix(torch.eye(3, dtype=torch.long))
        diagram = plots.draw_architecture(models.LeNet5())
    assert fig.axes[0].get_xlabel() == "迭代周期" and [line.get_label() for line in fig.axes[1].lines] == ["训练", "验证"]
    assert (confusion.axes[0].get_xlabel(), confusion.axes[0].get_ylabel()) == ("预测类别", "真实类别")
    texts = [t.get_text() for t in diagram.axes[0].texts]
    assert "卷积 5×5\n缩放的 tanh" in texts and "卷积 5×5\n表 I\n缩放的 tanh" in texts
    english = [t.get_text() for t in plots.draw_architecture(models.LeNet5()).axes[0].texts]
    assert "conv 5×5\nscaled tanh" in english and "subsampling\n2×2\nscaled tanh" in english


def test_every_figure_says_what_it_shows_in_both_languages():
    from lenet_helpers import language

    history = [EpochStats(e, 1 / e, 0.1 / e, 1.2 / e, 0.012 * (4 - e), float(e)) for e in (1, 2, 3)]
    cases = [
        (plots.show_images(torch.rand(3, 28, 28), labels=[7, 2, 1]), "3 images of digits, labelled 7, 2, 1",
         "3 张手写数字图像，标签依次为 7, 2, 1"),
        (plots.show_images(torch.rand(2, 28, 28), labels=[7, 2], predictions=[7, 3]), "7→7, 2→3; 1 wrong", "7→7, 2→3"),
        (plots.plot_history(history), "after epoch 3, test error 1.20%", "第 3 个迭代周期后，测试错误率为 1.20%"),
        (plots.show_kernels(torch.randn(6, 1, 5, 5)), "6 kernels of 5×5", "6 个 5×5 的卷积核"),
        (plots.show_feature_maps(torch.rand(16, 10, 10), title="C3"), "C3: 16 feature maps of 10×10",
         "C3：16 个 10×10 的特征映射"),
        (plots.plot_confusion_matrix(torch.tensor([[5, 2], [0, 3]])), "8 right (the diagonal), 2 wrong; the most "
         "frequent mistake: 0 taken for 1, 2 times", "最常见的错误是把 0 认成 1，共 2 次"),
        (plots.plot_c3_table(), "Table I of the paper. A table of 6 S2 maps", "论文的表 I。"),
        (plots.draw_architecture(models.LeNet5()), "input 1×32×32, C1 6×28×28", "输入 1×32×32，C1 6×28×28"),
        (plots.show_rbf_codes(), "10 codes as 12×7 bitmaps", "10 个编码画成 12×7 的位图"),
    ]
    for fig, english, chinese in cases:
        alt_en, alt_zh = language.alt_text(fig, "en"), language.alt_text(fig, "zh_CN")
        assert english in alt_en, alt_en
        assert chinese in alt_zh, alt_zh


def test_on_the_website_the_animation_has_a_player_in_each_language(monkeypatch):
    monkeypatch.setenv("LENET_BILINGUAL", "1")
    anim = plots.animate_correlation(torch.arange(9.0).reshape(3, 3), torch.ones(2, 2))
    english, chinese = anim.html.split('<div lang="zh-CN" data-lenet-lang="zh_CN">')
    assert english.startswith('<div lang="en" data-lenet-lang="en">')
    assert english.count("data:image/png;base64,") == chinese.count("data:image/png;base64,") == 4
    assert 'aria-label="Play"' in english and 'aria-label="播放"' in chinese and ">往返</label>" in chinese
    assert 'alt="动画，共 4 帧：2×2 的卷积核在 3×3 的输入上滑动' in chinese
    assert anim.alt.startswith("Animation, 4 frames")
    monkeypatch.delenv("LENET_BILINGUAL")
    assert "data-lenet-lang" not in plots.animate_correlation(torch.arange(9.0).reshape(3, 3), torch.ones(2, 2)).html
