"""experiments.compare: several set-ups trained from scratch on the same data, seed by seed."""

import pytest
import torch

from lenet_helpers import data, experiments, models, train
from lenet_helpers.models import lenet_variant



@pytest.fixture(scope="module")
def tiny_mnist():
    x, y = data.mnist_tensors(train=False)
    return (x[:300], y[:300]), (x[300:500], y[300:500])


def test_compare_gives_one_run_per_setup_and_seed(tiny_mnist):
    setups = {
        "relu": lenet_variant,
        "sigmoid + SGD": (lambda: lenet_variant("sigmoid"), lambda params: torch.optim.SGD(params, lr=0.01)),
    }
    runs = experiments.compare(setups, *tiny_mnist, seeds=(0, 1), epochs=2, batch_size=100, device="cpu")
    assert [(r.setup, r.seed) for r in runs] == [("relu", 0), ("relu", 1), ("sigmoid + SGD", 0), ("sigmoid + SGD", 1)]
    assert runs.columns == ("setup", "seed", "train_loss", "train_error", "test_error", "seconds", "measured", "history")
    assert all(len(r.history) == 2 and r.history[-1].test_error is None for r in runs)  # per epoch only when asked
    assert all(r.measured is None for r in runs)  # nothing measured unless asked
    assert all(0 <= r.test_error <= 1 and 0 <= r.train_error <= 1 and r.seconds > 0 for r in runs)
    assert "test error" in str(runs)
    assert runs[0].train_loss != runs[1].train_loss  # another seed, another run


def test_compare_is_repeatable_and_matches_a_hand_made_run(tiny_mnist):
    (x, y), test = tiny_mnist
    first = experiments.compare({"a": lenet_variant}, (x, y), test, seeds=(3,), batch_size=100, device="cpu")
    again = experiments.compare({"b": lenet_variant}, (x, y), test, seeds=(3,), batch_size=100, device="cpu")
    assert (first[0].train_loss, first[0].test_error) == (again[0].train_loss, again[0].test_error)
    train.set_seed(3)
    model = lenet_variant()
    # the batches: from a generator of their own, seeded with the run's seed
    order = list(data.batches(x, y, 100, generator=torch.Generator().manual_seed(3)))
    history = train.train(model, order, batch_size=100, progress=False, device="cpu")
    assert history[-1].train_loss == first[0].train_loss
    assert train.evaluate(model, test).error == first[0].test_error


def test_compare_uses_the_given_optimizer_and_lr(tiny_mnist):
    made = []

    def make_optimizer(params):
        made.append(torch.optim.SGD(params, lr=0.0))  # lr 0: nothing moves
        return made[-1]

    runs = experiments.compare({"frozen": (lenet_variant, make_optimizer)}, *tiny_mnist, seeds=(0, 1), device="cpu")
    assert len(made) == 2
    train.set_seed(0)
    untouched = train.evaluate(lenet_variant(), tiny_mnist[1])
    assert runs[0].test_error == untouched.error
    frozen_adam = experiments.compare({"adam lr tiny": lenet_variant}, *tiny_mnist, lr=1e-12, device="cpu")
    assert frozen_adam[0].test_error == untouched.error


def test_compare_measures_each_trained_model_when_asked(tiny_mnist):
    (x, y), test = tiny_mnist
    seen = []

    def measure(model):
        seen.append(model)
        return {"train": train.evaluate(model, (x, y)).error, "n": len(seen)}

    runs = experiments.compare({"a": lenet_variant}, (x, y), test, seeds=(3, 4), batch_size=100, device="cpu",
                               measure=measure)
    assert [r.measured["n"] for r in runs] == [1, 2] and len(seen) == 2
    train.set_seed(3)
    model = lenet_variant()
    train.train(model, list(data.batches(x, y, 100, generator=torch.Generator().manual_seed(3))), progress=False,
                device="cpu")
    assert runs[0].measured["train"] == train.evaluate(model, (x, y)).error  # measured on the trained model


def recorder(seen, name, draws):
    """A set-up that records the sum of every training batch it sees, after drawing ``draws`` random numbers
    before building its model (as a set-up with other layers would)."""

    def make():
        torch.rand(draws)
        model = lenet_variant()
        model.register_forward_pre_hook(lambda m, args: seen.setdefault(name, []).append(round(args[0].sum().item(), 3))
                                        if m.training else None)
        return model

    return make


@pytest.mark.parametrize("shifted", [False, True])
def test_compare_pairs_runs_by_seed_same_batches_whatever_the_model_draws(tiny_mnist, shifted):
    (x, y), test = tiny_mnist
    train_data = experiments.RandomShifts(x, y, max_shift=2, batch_size=100) if shifted else (x, y)
    seen = {}
    experiments.compare({"a": recorder(seen, "a", 0), "b": recorder(seen, "b", 1000)}, train_data, test, seeds=(0,),
                        epochs=2, batch_size=100, device="cpu")
    assert len(seen["a"]) == 2 * 3 and seen["a"] == seen["b"]  # the same batches (and shifts), epoch after epoch
    assert seen["a"][:3] != seen["a"][3:]  # a new order in every epoch
    other = {}
    experiments.compare({"a": recorder(other, "a", 0)}, train_data, test, seeds=(1,), epochs=1, batch_size=100,
                        device="cpu")
    assert other["a"] != seen["a"][:3]  # another seed, another order


def test_compare_schedules_the_learning_rate_and_measures_every_epoch(tiny_mnist):
    made = []

    def make_optimizer(params):
        made.append(torch.optim.Adam(params, lr=1e-3))
        return made[-1]

    runs = experiments.compare({"a": (lenet_variant, make_optimizer)}, *tiny_mnist, seeds=(0,), epochs=3,
                               batch_size=100, device="cpu", every_epoch=True,
                               scheduler=lambda o, n: torch.optim.lr_scheduler.CosineAnnealingLR(o, n))
    assert made[0].param_groups[0]["lr"] == pytest.approx(0, abs=1e-12)  # 9 steps of a cosine down to 0
    assert [row.epoch for row in runs[0].history] == [1, 2, 3]
    assert all(row.test_error is not None for row in runs[0].history)
    assert runs[0].history[-1].test_error == runs[0].test_error  # the same network on the same images (CPU)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, measure="error"), TypeError,
         ["measure", "function"]),
        (lambda d: experiments.compare({}, d, d), TypeError, ["setups", "non-empty"]),
        (lambda d: experiments.compare([lenet_variant], d, d), TypeError, ["setups", "dict"]),
        (lambda d: experiments.compare({1: lenet_variant}, d, d), TypeError, ["named by strings"]),
        (lambda d: experiments.compare({"a": models.LeNet5Modern()}, d, d), TypeError, ["setups['a']", "function"]),
        (lambda d: experiments.compare({"a": (models.LeNet5Modern(), torch.optim.Adam)}, d, d), TypeError, ["not a model"]),
        (lambda d: experiments.compare({"a": (lenet_variant,)}, d, d), TypeError, ["setups['a']", "pair"]),
        (lambda d: experiments.compare({"a": lambda: "model"}, d, d), TypeError, ["setups['a']()", "nn.Module"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, seeds=()), ValueError, ["seeds", "at least one"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, seeds=0), TypeError, ["seeds", "list"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, seeds=(-1,)), ValueError, ["seeds"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, None), ValueError, ["test_data"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, epochs=0), ValueError, ["epochs", "positive"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, device="gpu0"), ValueError, ["device"]),
        (lambda d: experiments.compare({"a": lenet_variant}, "mnist", d), TypeError, ["train_data"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, scheduler="cosine"), TypeError, ["scheduler", "function"]),
        (lambda d: experiments.compare({"a": lenet_variant}, d, d, every_epoch=1), TypeError, ["every_epoch"]),
    ],
)
def test_compare_rejects_bad_arguments(call, error, words):
    d = (torch.zeros(10, 1, 32, 32), torch.zeros(10, dtype=torch.long))
    with pytest.raises(error) as info:
        call(d)
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# paired_difference and t_quantile: is a difference between two set-ups real?
# ---------------------------------------------------------------------------

import math  # noqa: E402


@pytest.mark.parametrize("df, value", [(1, 12.706), (2, 4.303), (4, 2.776), (5, 2.571), (9, 2.262), (29, 2.045)])
def test_t_quantile_matches_the_tables(df, value):
    assert round(experiments.t_quantile(0.975, df), 3) == value
    assert experiments.t_quantile(0.025, df) == pytest.approx(-value, abs=1e-3)


def test_t_quantile_tends_to_the_normal_quantile():
    assert experiments.t_quantile(0.975, 2000) == pytest.approx(1.960, abs=2e-3)
    assert experiments.t_quantile(0.995, 4) == pytest.approx(4.604, abs=1e-3)


def test_paired_difference_is_the_paired_t_interval_by_hand():
    a, b = [1.10, 1.00, 1.25, 1.05, 1.20], [1.00, 0.95, 1.10, 1.00, 1.05]
    d = experiments.paired_difference(a, b)
    diffs = [x - y for x, y in zip(a, b)]
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in diffs) / 4)
    half = 2.7764451 * sd / math.sqrt(5)
    assert (d.n, d.confidence) == (5, 0.95)
    assert d.mean == pytest.approx(mean) and d.sd == pytest.approx(sd)
    assert (d.low, d.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert d.verdict == "higher"
    flipped = experiments.paired_difference(b, a)
    assert flipped.verdict == "lower" and flipped.mean == pytest.approx(-mean)
    assert experiments.paired_difference(a, b, confidence=0.99).high > d.high  # wider


def test_pairing_removes_what_the_seeds_share():
    # b = a + 0.1 exactly: the seeds differ by a lot, the pairs by nothing but 0.1
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    d = experiments.paired_difference([x + 0.1 for x in a], a)
    assert d.mean == pytest.approx(0.1) and d.sd == pytest.approx(0, abs=1e-12) and d.verdict == "higher"


def test_paired_difference_covers_the_true_difference_95_times_in_100():
    g = torch.Generator().manual_seed(0)
    trials, covered = 4000, 0
    for _ in range(trials):
        seeds = torch.randn(5, generator=g) * 3  # what each seed does to both set-ups
        a = seeds + 0.2 + 0.5 * torch.randn(5, generator=g)
        b = seeds + 0.5 * torch.randn(5, generator=g)
        d = experiments.paired_difference(a, b)
        covered += d.low <= 0.2 <= d.high
    assert 0.94 <= covered / trials <= 0.96


def test_paired_difference_accepts_dicts_of_seeds_tensors_and_0d_tensors():
    by_seed = experiments.paired_difference({0: 1.0, 1: 2.0, 2: 2.5}, {2: 2.0, 0: 1.0, 1: 1.5})
    assert by_seed.mean == pytest.approx((0 + 0.5 + 0.5) / 3)  # paired by seed, not by position
    as_tensors = experiments.paired_difference(torch.tensor([1.0, 2.0, 2.5]), [torch.tensor(1.0), 1.5, 2])
    assert as_tensors.mean == pytest.approx(by_seed.mean)


@pytest.mark.parametrize(
    "a, b, kwargs, error, words",
    [
        ([1.0, 2.0], [1.0], {}, ValueError, ["a and b", "paired"]),
        ([1.0], [2.0], {}, ValueError, ["at least 2"]),
        ({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0}, {}, ValueError, ["same seeds"]),
        ([1.0, "x"], [1.0, 2.0], {}, TypeError, ["a", "numbers"]),
        ([1.0, 2.0], [1.0, float("nan")], {}, TypeError, ["b", "finite"]),
        (1.0, [1.0, 2.0], {}, TypeError, ["a", "list of numbers"]),
        ([1.0, 2.0], [1.0, 2.0], {"confidence": 95}, ValueError, ["confidence", "0.95"]),
    ],
)
def test_paired_difference_rejects_bad_arguments(a, b, kwargs, error, words):
    with pytest.raises(error) as info:
        experiments.paired_difference(a, b, **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("p, df, error", [(0.0, 3, ValueError), (1.0, 3, ValueError), (0.9, 0, ValueError),
                                          (0.9, 2.5, TypeError)])
def test_t_quantile_rejects_bad_arguments(p, df, error):
    with pytest.raises(error):
        experiments.t_quantile(p, df)
