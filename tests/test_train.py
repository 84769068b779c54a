import pytest
import torch

from lenet_helpers import data, models, train


@pytest.fixture(scope="module")
def small_mnist():
    """2,000 training and 1,000 test digits, for runs of a few seconds."""
    x, y = data.mnist_tensors(train=True)
    xt, yt = data.mnist_tensors(train=False)
    return (x[:2000], y[:2000]), (xt[:1000], yt[:1000])


def test_device_is_cuda_when_cuda_is_available(monkeypatch):
    """Checked without a GPU: device() must pick CUDA whenever PyTorch reports it, else MPS, else the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: True)
        assert train.device() == torch.device("mps")
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert train.device() == torch.device("cpu")


def test_the_device_picked_on_this_machine_computes():
    """Whatever device() picks here (the CPU in CI, CUDA under tools/gpu_check.sh) takes tensors and computes."""
    dev = train.device()
    assert isinstance(dev, torch.device)
    x = torch.arange(6.0, device=dev).view(2, 3)
    assert (x @ x.T).cpu().tolist() == [[5.0, 14.0], [14.0, 50.0]]


def test_set_seed_makes_runs_repeatable(small_mnist):
    runs = []
    for _ in range(2):
        train.set_seed(123)
        model = models.LeNet5Modern()
        history = train.train(model, small_mnist[0], epochs=1, batch_size=100, progress=False, device="cpu")
        runs.append((history[-1].train_loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_a_short_training_run_lowers_the_loss(small_mnist):
    train.set_seed(0)
    model = models.LeNet5Modern()
    before = train.evaluate(model, small_mnist[1])
    history = train.train(model, small_mnist[0], test_data=small_mnist[1], epochs=3, batch_size=50, progress=False)
    losses = [row.train_loss for row in history]
    assert losses[0] > losses[1] > losses[2]
    assert history[-1].test_loss < before.loss
    assert history[-1].test_error < 0.2 < before.error
    assert [row.epoch for row in history] == [1, 2, 3]
    assert history[0].seconds < history[1].seconds < history[2].seconds


def test_the_faithful_model_trains_with_its_map_loss(small_mnist):
    train.set_seed(0)
    model = models.LeNet5()
    history = train.train(model, small_mnist[0], epochs=2, batch_size=20, progress=False)
    assert history[1].train_loss < history[0].train_loss
    result = train.evaluate(model, small_mnist[1])
    assert result.total == 1000 and result.error < 0.5
    # the loss reported is the model's own: the MAP criterion
    x, y = small_mnist[1]
    with torch.no_grad():
        expected = models.map_loss(model(x.to(train.device())), y.to(train.device())).item()
    assert result.loss == pytest.approx(expected, rel=1e-4)


def test_evaluate_counts_errors_exactly():
    class Constant(torch.nn.Module):  # always answers class 3
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float() + self.p

    y = torch.tensor([3, 3, 1, 2, 3])
    result = train.evaluate(Constant(), (torch.zeros(5, 1, 4, 4), y), batch_size=2)
    assert result.total == 5
    assert result.accuracy == pytest.approx(3 / 5) and result.error == pytest.approx(2 / 5)


def test_train_accepts_datasets_and_loaders(small_mnist):
    x, y = small_mnist[0]
    dataset = torch.utils.data.TensorDataset(x[:256], y[:256])
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
    for train_data in (dataset, loader):
        history = train.train(models.LeNet5Modern(), train_data, test_data=dataset, epochs=1, progress=False)
        assert history[0].test_error is not None
    mnist_subset = torch.utils.data.Subset(data.load_mnist(train=False), range(128))
    assert train.train(models.LeNet5Modern(), mnist_subset, epochs=1, progress=False)[0].epoch == 1


def test_hooks_scheduler_and_progress(small_mnist, capsys):
    x, y = small_mnist[0]
    model = models.LeNet5Modern()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = []
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: steps.append(step) or 1.0)
    epochs_seen = []
    train.train(model, (x[:300], y[:300]), epochs=2, batch_size=100, optimizer=optimizer, scheduler=scheduler,
                before_epoch=epochs_seen.append, progress=True)
    assert epochs_seen == [1, 2]
    assert len(steps) == 1 + 2 * 3  # LambdaLR calls once at creation, then once per batch
    assert "epoch 2/2" in capsys.readouterr().err  # tqdm's bar, in a terminal


def test_history_prints_as_a_table(small_mnist):
    history = train.train(models.LeNet5Modern(), (small_mnist[0][0][:100], small_mnist[0][1][:100]), progress=False)
    assert "train loss" in str(history)
    assert history.to_dicts()[0]["epoch"] == 1


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda m, d: train.train(m, d, epochs=0), ValueError, ["epochs", "positive"]),
        (lambda m, d: train.train(m, d, batch_size=0), ValueError, ["batch_size", "positive"]),
        (lambda m, d: train.train(m, d, epochs=1.5), TypeError, ["epochs", "integer"]),
        (lambda m, d: train.train(m, d, optimizer="adam"), TypeError, ["optimizer", "torch.optim.Optimizer"]),
        (lambda m, d: train.train(m, d, lr=0), ValueError, ["lr", "positive"]),
        (lambda m, d: train.train(m, "mnist"), TypeError, ["train_data", "pair of tensors"]),
        (lambda m, d: train.train(m, d[0]), TypeError, ["train_data"]),
        (lambda m, d: train.train(m, (d[0], d[1][:5])), ValueError, ["train_data", "same length"]),
        (lambda m, d: train.train(m, d, loss_fn=3), TypeError, ["loss_fn"]),
        (lambda m, d: train.train(m, d, before_epoch=3), TypeError, ["before_epoch"]),
        (lambda m, d: train.train("model", d), TypeError, ["model", "nn.Module"]),
        (lambda m, d: train.evaluate(m, (d[0][:0], d[1][:0])), ValueError, ["data", "at least one"]),
        (lambda m, d: train.train(m, d, device="gpu0"), ValueError, ["device", "'cpu'"]),
        (lambda m, d: train.evaluate(m, d, device=3.5), ValueError, ["device"]),
        (lambda m, d: train.set_seed(-1), ValueError, ["seed"]),
        (lambda m, d: train.set_seed("0"), TypeError, ["seed", "integer"]),
    ],
)
def test_train_rejects_bad_input(call, error, words):
    d = (torch.zeros(10, 1, 32, 32), torch.zeros(10, dtype=torch.long))
    with pytest.raises(error) as info:
        call(models.LeNet5Modern(), d)
    for word in words:
        assert word in str(info.value)


def test_channels_last_training_gives_the_weights_back_in_the_usual_layout():
    """train() computes on channels_last weights (faster on CPUs) and restores the layout after."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 1, 32, 32), torch.randint(0, 10, (32,))
    runs = {}
    for channels_last in (True, False):
        train.set_seed(0)
        model = models.LeNet5Modern()
        history = train.train(model, (x, y), epochs=2, batch_size=8, progress=False, device="cpu",
                              channels_last=channels_last)
        assert all(p.is_contiguous() for p in model.parameters())
        model.C3.conv.weight.view(16, -1)  # a plain view works, as on any freshly made model
        runs[channels_last] = history[-1].train_loss
    assert runs[True] == pytest.approx(runs[False], rel=1e-3)  # the same training, up to rounding
    with pytest.raises(TypeError, match="channels_last must be True, False or None"):
        train.train(models.LeNet5Modern(), (x, y), progress=False, device="cpu", channels_last="yes")


@pytest.mark.parametrize("stepped_before", [False, True], ids=["a later step", "a step before train"])
def test_a_given_fused_optimizer_steps_right_around_channels_last_training(stepped_before):
    """Issue 29, item 3: train() switched the weights to channels_last and back, but not a given optimizer's state.

    PyTorch's fused Adam reads its moments as they lie in memory: on the CPU a state in the other layout gave
    updates 1.6e-3 off at lr 1e-3 (CUDA's fused kernel refuses it). Both ways round: a state made inside train
    (channels_last) used after it, and a state made before train (standard layout) used inside it. A plain Adam,
    which works element by element in any layout, takes the same steps as the reference.
    """
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
    runs = []
    for fused in (True, False):
        torch.manual_seed(1)
        model = models.LeNet5Modern()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused, foreach=False if not fused else None)

        def step():
            opt.zero_grad()
            model.loss(model(x[:16]), y[:16]).backward()
            opt.step()

        if stepped_before:
            step()
        train.set_seed(2)
        train.train(model, (x, y), optimizer=opt, batch_size=16, progress=False, device="cpu", channels_last=True)
        step()
        runs.append([p.detach().clone() for p in model.parameters()])
    assert max((a - b).abs().max().item() for a, b in zip(*runs)) < 1e-5  # rounding; a wrong step is ~1e-3 off
