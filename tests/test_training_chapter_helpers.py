"""Chapter 5's helpers: predictions of a whole test set, the benchmark's results file, and the self-checks
of its exercises."""

import json
import os

import pytest
import torch
import torch.nn.functional as F

from lenet_helpers import checks, data, models, plots, train

# ---------------------------------------------------------------------------
# train.predictions
# ---------------------------------------------------------------------------


def test_predictions_use_each_models_decision_rule_and_cover_every_image():
    torch.manual_seed(0)
    x, y = torch.randn(23, 1, 32, 32), torch.randint(0, 10, (23,))
    for model in (models.LeNet5(), models.LeNet5Modern()):
        model.train()
        predicted, labels = train.predictions(model, (x, y), batch_size=5)  # batches of 5, the last one of 3
        assert predicted.dtype == labels.dtype == torch.int64 and predicted.shape == labels.shape == (23,)
        assert torch.equal(labels, y)
        with torch.no_grad():
            model.eval()
            assert torch.equal(predicted, model.scores(model(x)).argmax(dim=1))
        # the mode is restored, and the error agrees with evaluate()
        assert (predicted != labels).float().mean().item() == pytest.approx(train.evaluate(model, (x, y)).error)


def test_predictions_restore_the_models_mode():
    model = models.LeNet5Modern()
    model.train()
    train.predictions(model, (torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)))
    assert model.training
    model.eval()
    train.predictions(model, (torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)))
    assert not model.training


def test_predictions_accept_a_dataset_and_feed_the_confusion_matrix():
    test_set = data.load_mnist(train=False)
    subset = torch.utils.data.Subset(test_set, range(50))
    predicted, labels = train.predictions(models.LeNet5(), subset, batch_size=20)
    assert labels.tolist() == test_set.targets[:50].tolist()
    matrix = plots.confusion_matrix(labels, predicted)
    assert matrix.sum() == 50 and torch.equal(matrix.sum(dim=1), torch.bincount(labels, minlength=10))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: train.predictions("model", (torch.zeros(1, 1, 32, 32), torch.zeros(1))), TypeError, "model"),
        (lambda: train.predictions(models.LeNet5(), (torch.zeros(1, 1, 32, 32), torch.zeros(1)), batch_size=0),
         ValueError, "batch_size"),
        (lambda: train.predictions(models.LeNet5(), "images"), TypeError, "data"),
        (lambda: train.predictions(models.LeNet5(), (torch.zeros(0, 1, 32, 32), torch.zeros(0))), ValueError,
         "at least one"),
    ],
)
def test_predictions_reject_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ---------------------------------------------------------------------------
# train.bench_results
# ---------------------------------------------------------------------------

RESULTS = {"device": "cpu", "device_name": "a test CPU", "torch": "2.0", "date": "2026-01-01T00:00:00+00:00",
           "speedup": 3.5, "faithful_sdlm_test_error_pct": None, "faithful_modern_test_error_pct": 0.9}


def write_results(folder, device="cpu", results=RESULTS):
    (folder / "results").mkdir(exist_ok=True)
    path = folder / "results" / f"bench-{device}.json"
    path.write_text(json.dumps(results))
    return path


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """An empty current folder, a course checkout without results, and a download address that has no file."""
    work, checkout, published = tmp_path / "work", tmp_path / "checkout", tmp_path / "published"
    for folder in (work, checkout / "lenet_helpers", published):
        folder.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(train, "_CHECKOUT", checkout)
    monkeypatch.setattr(train, "BENCH_RESULTS_URL", published.as_uri())  # file:// stands in for the network
    return work, checkout, published


def test_bench_results_reads_the_file_in_the_current_folder_first(nowhere):
    work, checkout, _ = nowhere
    write_results(work)
    write_results(checkout, results={**RESULTS, "device_name": "the checkout's"})
    assert train.bench_results("cpu") == RESULTS
    assert train.bench_results(torch.device("cpu")) == RESULTS  # a torch.device names its type


def test_bench_results_finds_the_file_in_the_course_checkout(nowhere):
    work, checkout, _ = nowhere
    write_results(checkout, "cuda")
    assert train.bench_results("cuda")["device_name"] == "a test CPU"
    (work / "sub").mkdir()
    os.chdir(work / "sub")  # from any folder, as a notebook in chapters/
    assert train.bench_results("cuda") == RESULTS


def test_bench_results_downloads_the_published_file_when_there_is_no_local_one(nowhere):
    _, _, published = nowhere
    (published / "bench-cpu.json").write_text(json.dumps(RESULTS))
    assert train.bench_results("cpu") == RESULTS
    with pytest.raises(FileNotFoundError, match="download=False"):
        train.bench_results("cpu", download=False)


def test_the_download_address_is_the_course_repository_in_the_config(root):
    """If the course moves (repository: in _config.yml), train.BENCH_RESULTS_URL must move with it."""
    import yaml

    repository = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    owner_and_name = repository["url"].removeprefix("https://github.com/").rstrip("/")
    expected = f"https://raw.githubusercontent.com/{owner_and_name}/{repository['branch']}/results"
    assert train.BENCH_RESULTS_URL == expected, "update BENCH_RESULTS_URL in lenet_helpers/train.py"


def test_no_results_anywhere_is_a_clear_error_naming_both_places(nowhere):
    work, checkout, published = nowhere
    with pytest.raises(FileNotFoundError) as raised:
        train.bench_results("cpu")
    message = str(raised.value)
    assert str(work / "results" / "bench-cpu.json") in message
    assert str(checkout / "results" / "bench-cpu.json") in message
    assert f"{published.as_uri()}/bench-cpu.json" in message and "failed" in message
    assert "make bench" in message


def test_a_broken_results_file_is_a_clear_error(nowhere):
    work, _, _ = nowhere
    write_results(work)
    (work / "results" / "bench-cpu.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        train.bench_results("cpu")
    (work / "results" / "bench-cpu.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        train.bench_results("cpu")


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"device": "gpu"}, ValueError, "device must be one of 'cpu', 'cuda', 'mps'"),
        ({"device": 0}, ValueError, "device"),
        ({"device": "cpu", "download": "yes"}, TypeError, "download"),
        ({"device": "cpu", "timeout": 0}, ValueError, "timeout"),
    ],
)
def test_bench_results_rejects_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        train.bench_results(**kwargs)


# ---------------------------------------------------------------------------
# The self-checks of chapter 5
# ---------------------------------------------------------------------------


def confusion_loop(y_true, y_pred, num_classes):
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        matrix[t, p] += 1
    return matrix


RIGHT = {
    checks.paper_normalization: lambda images: F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1,
    checks.error_rate: lambda scores, labels: float((scores.argmax(dim=1) != labels).sum()) / len(labels),
    checks.confusion_matrix: confusion_loop,
}

WRONG = {
    checks.paper_normalization: lambda images: F.pad(images * 1.275 - 0.1, (2, 2, 2, 2)),  # pads with 0, not -0.1
    checks.error_rate: lambda scores, labels: (scores.argmax(dim=1) == labels).float().mean(),  # the accuracy
    checks.confusion_matrix: lambda y_true, y_pred, num_classes: confusion_loop(y_pred, y_true, num_classes),
}


def test_the_references_are_the_courses_own_code():
    # the paper's preprocessing is what data.mnist_tensors does to the real digits
    from torchvision.datasets import MNIST

    raw = data.prepare_mnist().parent.parent
    digits = MNIST(str(raw), train=False, download=False).data[:16].float() / 255
    expected, _ = data.mnist_tensors(train=False)
    assert torch.allclose(RIGHT[checks.paper_normalization](digits), expected[:16, 0], atol=1e-5)
    # the confusion matrix is plots.confusion_matrix, the error rate is evaluate()'s
    assert checks.confusion_matrix(plots.confusion_matrix).passed
    torch.manual_seed(0)
    x, y = torch.randn(40, 1, 32, 32), torch.randint(0, 10, (40,))
    model = models.LeNet5()
    with torch.no_grad():
        scores = model.scores(model(x))
    assert RIGHT[checks.error_rate](scores, y) == pytest.approx(train.evaluate(model, (x, y)).error)


def test_other_mistakes_are_recognised():
    standard = checks.paper_normalization(
        lambda images: F.pad((images - data.MNIST_MEAN) / data.MNIST_STD, (2, 2, 2, 2), value=-data.MNIST_MEAN / data.MNIST_STD))
    assert not standard.passed and "standardisation" in standard.message
    no_padding = checks.paper_normalization(lambda images: images * 1.275 - 0.1)
    assert not no_padding.passed and "expected (2, 32, 32)" in no_padding.message
    for wrong, words in ((lambda scores, labels: 100 * (scores.argmax(1) != labels).float().mean(), "percentage"),
                         (lambda scores, labels: (scores.argmin(1) != labels).float().mean(), "argmin"),
                         (lambda scores, labels: (scores.argmax(1) != labels).sum(), "number of mistakes")):
        result = checks.error_rate(wrong)
        assert not result.passed and words in result.message, result.message
    too_small = checks.confusion_matrix(
        lambda y_true, y_pred, num_classes: confusion_loop(y_true, y_pred, int(max(y_true.max(), y_pred.max())) + 1))
    assert not too_small.passed and "returned shape" in too_small.message


def test_the_learners_inputs_cannot_spoil_the_reference():
    def vandal(images):
        images.fill_(7.0)  # changes its own copy only
        return F.pad(images, (2, 2, 2, 2)) * 1.275 - 0.1

    assert not checks.paper_normalization(vandal).passed
    assert checks.paper_normalization(RIGHT[checks.paper_normalization]).passed


def test_passing_something_that_is_not_a_function_is_a_clear_error():
    for check in RIGHT:
        with pytest.raises(TypeError, match="pass the function itself"):
            check(0.5)
