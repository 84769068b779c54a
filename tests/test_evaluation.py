"""evaluation.predictions: every prediction of a model, next to its label."""

import pytest
import torch

from lenet_helpers import data, evaluation, models, train



def test_predictions_use_each_models_decision_rule_and_cover_every_image():
    torch.manual_seed(0)
    x, y = torch.randn(23, 1, 32, 32), torch.randint(0, 10, (23,))
    for model in (models.LeNet5(), models.LeNet5Modern()):
        model.train()
        predicted, labels = evaluation.predictions(model, (x, y), batch_size=5)  # batches of 5, the last one of 3
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
    evaluation.predictions(model, (torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)))
    assert model.training
    model.eval()
    evaluation.predictions(model, (torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)))
    assert not model.training


def test_predictions_accept_a_dataset_and_feed_the_confusion_matrix():
    test_set = data.load_mnist(train=False)
    subset = torch.utils.data.Subset(test_set, range(50))
    predicted, labels = evaluation.predictions(models.LeNet5(), subset, batch_size=20)
    assert labels.tolist() == test_set.targets[:50].tolist()
    matrix = evaluation.confusion_matrix(labels, predicted)
    assert matrix.sum() == 50 and torch.equal(matrix.sum(dim=1), torch.bincount(labels, minlength=10))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: evaluation.predictions("model", (torch.zeros(1, 1, 32, 32), torch.zeros(1))), TypeError, "model"),
        (lambda: evaluation.predictions(models.LeNet5(), (torch.zeros(1, 1, 32, 32), torch.zeros(1)), batch_size=0),
         ValueError, "batch_size"),
        (lambda: evaluation.predictions(models.LeNet5(), "images"), TypeError, "data"),
        (lambda: evaluation.predictions(models.LeNet5(), (torch.zeros(0, 1, 32, 32), torch.zeros(0))), ValueError,
         "at least one"),
    ],
)
def test_predictions_reject_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_confusion_matrix_counts_each_true_and_predicted_pair():
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 2, 0])
    cm = evaluation.confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.sum() == len(y_true) and cm.trace() == 4


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: evaluation.confusion_matrix(torch.tensor([0, 1]), torch.tensor([0])), ValueError, ["same length"]),
        (lambda: evaluation.confusion_matrix(torch.tensor([0, 10]), torch.tensor([0, 1])), ValueError,
         ["y_true", "0..9"]),
        (lambda: evaluation.confusion_matrix(torch.tensor([0.0]), torch.tensor([0])), TypeError, ["y_true", "integer"]),
    ],
)
def test_confusion_matrix_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_class_scores_are_each_models_decision_rule():
    output = torch.tensor([[3.0, 0.5, 2.0], [0.1, 0.2, 0.0]])
    assert evaluation.class_scores(models.LeNet5(), output).argmax(dim=1).tolist() == [1, 2]  # smallest penalty
    assert evaluation.class_scores(models.LeNet5Modern(), output).argmax(dim=1).tolist() == [0, 1]  # largest logit
    assert evaluation.class_scores(torch.nn.Linear(2, 3), output) is output  # a plain module: the output


def test_the_error_rate_is_one_rule_everywhere():
    """evaluation.error_rate, train.evaluate, fast_sdlm.error_rate and train's running error count alike."""
    from lenet_helpers import fast_sdlm

    torch.manual_seed(0)
    x, y = torch.randn(23, 1, 32, 32), torch.randint(0, 10, (23,))
    for make in (models.LeNet5, models.LeNet5Modern):
        model = make().train()
        predicted, labels = evaluation.predictions(model, (x, y), batch_size=5)
        expected = (predicted != labels).float().mean().item()
        assert evaluation.error_rate(model, (x, y), batch_size=5) == pytest.approx(expected)
        assert train.evaluate(model, (x, y), batch_size=7).error == pytest.approx(expected)
        assert evaluation.evaluate(model, (x, y)) == train.evaluate(model, (x, y))
        assert model.training  # the mode is given back
    assert fast_sdlm.error_rate(model, x, y, batch_size=4) == evaluation.error_rate(model, (x, y))
    assert train.evaluate is evaluation.evaluate and train.Evaluation is evaluation.Evaluation


def test_count_errors_counts_on_the_device_and_penalties_count_negated():
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = torch.tensor([1, 1, 1])
    count = evaluation.count_errors(scores, labels)
    assert count.ndim == 0 and count.dtype == torch.long and count.item() == 1
    assert evaluation.count_errors(-scores, labels).item() == 2  # as penalties, the smallest wins


def test_error_rate_and_evaluate_reject_bad_input():
    x, y = torch.zeros(2, 1, 32, 32), torch.zeros(2, dtype=torch.long)
    for function in (evaluation.error_rate, evaluation.evaluate):
        with pytest.raises(TypeError, match="model"):
            function("model", (x, y))
        with pytest.raises(ValueError, match="batch_size"):
            function(models.LeNet5(), (x, y), batch_size=0)
        with pytest.raises(ValueError, match="device"):
            function(models.LeNet5(), (x, y), device="no such device")
        with pytest.raises(ValueError, match="at least one"):
            function(models.LeNet5(), (x[:0], y[:0]))
    with pytest.raises(TypeError, match="loss_fn"):
        evaluation.evaluate(models.LeNet5(), (x, y), loss_fn="mse")
