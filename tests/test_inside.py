"""lenet_helpers.inside: receptive fields, top patches, margins, rejection, occlusion, distortions, the saved networks."""

import math

import pytest
import torch

from lenet_helpers import inside, models


@pytest.fixture(scope="module")
def lenet():
    torch.manual_seed(0)
    return models.LeNet5().eval()


def test_receptive_field_grows_by_the_kernel_times_the_jump():
    assert inside.receptive_field([]) == (1, 1)
    assert inside.receptive_field([(5, 1)]) == (5, 1)
    assert inside.receptive_field([(3, 2), (3, 2)]) == (3 + 2 * 2, 4)
    assert inside.receptive_field([[5, 1], [2, 2], [5, 1], [2, 2], [5, 1]]).size == 32


@pytest.mark.parametrize("bad, match", [("C1", "list of"), ([(5,)], r"layers\[0\] must be a"), ([(0, 1)], "kernel"),
                                        ([(5, 1.5)], "stride")])
def test_receptive_field_rejects_bad_layers(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        inside.receptive_field(bad)


def test_receptive_fields_are_read_from_the_layers_of_each_model():
    faithful = inside.receptive_fields(models.LeNet5())
    modern = inside.receptive_fields(models.LeNet5Modern())
    assert list(faithful) == ["C1", "S2", "C3", "S4", "C5"] and faithful == modern
    assert faithful["C3"] == (14, 2) and faithful["S4"] == (16, 4) and faithful["C5"] == (32, 4)


def test_top_patches_are_the_inputs_under_the_largest_units(lenet):
    torch.manual_seed(1)
    x = torch.randn(30, 1, 32, 32)
    top = inside.top_patches(lenet, "C3", x, k=4)
    c3 = lenet.activations(x)["C3"]
    for m in (0, 7, 15):
        best = c3[:, m].flatten(1).max(dim=1).values
        assert torch.allclose(top.values[m], best.topk(4).values)
        assert len(set(top.images[m].tolist())) == 4  # each image once per map
        n, r, c = top.images[m, 0].item(), top.rows[m, 0].item(), top.cols[m, 0].item()
        assert c3[n, m, r, c] == top.values[m, 0]
        assert torch.equal(top.patches[m, 0], x[n, :, 2 * r:2 * r + 14, 2 * c:2 * c + 14])
    whole = inside.top_patches(lenet, "C5", x, k=2)
    assert whole.patches.shape == (120, 2, 1, 32, 32) and torch.equal(whole.patches[0, 0], x[whole.images[0, 0]])


def test_top_patches_rejects_bad_arguments(lenet):
    with pytest.raises(ValueError, match="layer must be a layer of the model with feature maps"):
        inside.top_patches(lenet, "F6", torch.zeros(10, 1, 32, 32))
    with pytest.raises(ValueError, match="at least k = 9"):
        inside.top_patches(lenet, "C1", torch.zeros(3, 1, 32, 32))
    with pytest.raises(ValueError, match="images must be a 4-D"):
        inside.top_patches(lenet, "C1", torch.zeros(32, 32))


def test_margins_are_the_gap_between_the_two_smallest_penalties(lenet):
    x = torch.randn(5, 1, 32, 32)
    predicted, margin = inside.margins(lenet, x)
    penalties = lenet(x).detach()
    two = penalties.topk(2, dim=1, largest=False)
    assert torch.equal(predicted, two.indices[:, 0]) and torch.allclose(margin, two.values[:, 1] - two.values[:, 0])


def test_rejection_curve():
    margin = torch.tensor([0.3, 0.1, 5.0, 2.0, 0.2])
    correct = torch.tensor([True, False, True, True, False])
    assert inside.rejection_curve(margin, correct, [0.0, 0.2, 0.4, 0.8]) == pytest.approx([0.4, 0.25, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"shares must be numbers in \[0, 1\)"):
        inside.rejection_curve(margin, correct, [1.0])
    with pytest.raises(ValueError, match="same length"):
        inside.rejection_curve(margin, correct[:3], [0.1])


def test_occlusion_map_covers_each_square_in_turn(lenet):
    torch.manual_seed(2)
    image = torch.randn(1, 32, 32)
    heat = inside.occlusion_map(lenet, image, 4, patch=8, stride=4)
    assert heat.shape == (7, 7)
    covered = image.clone()
    covered[:, 4:12, 8:16] = inside.BACKGROUND
    scores = -lenet(covered[None]).detach()[0]
    assert heat[1, 2].item() == pytest.approx((scores[4] - torch.cat([scores[:4], scores[5:]]).max()).item(), abs=1e-5)
    with pytest.raises(ValueError, match="label must be a class"):
        inside.occlusion_map(lenet, image, 10)
    with pytest.raises(ValueError, match="patch must fit"):
        inside.occlusion_map(lenet, image, 1, patch=40)


def test_distort_moves_scales_turns_and_adds_noise():
    x = torch.full((1, 1, 32, 32), inside.BACKGROUND)
    x[0, 0, 8, 16] = 1.0
    assert torch.equal(inside.distort(x), x)
    down = inside.distort(x, shift=(0, 3))
    assert down[0, 0, 11, 16].item() == pytest.approx(1.0) and down[0, 0, 8, 16].item() == pytest.approx(inside.BACKGROUND)
    turned = inside.distort(x, rotation=90)  # about the centre (15.5, 15.5): the top becomes the left
    row, col = divmod(int(turned.flatten().argmax()), 32)
    assert abs(row - 15.5) <= 1 and col < 10
    assert inside.distort(x, scale=0.5).max() < 1.0  # a one-pixel dot shrinks and fades
    noisy = inside.distort(x, noise=0.5, seed=3)
    assert torch.equal(noisy, inside.distort(x, noise=0.5, seed=3)) and math.isclose((noisy - x).std().item(), 0.5, rel_tol=0.1)
    empty = inside.distort(torch.full((2, 1, 32, 32), inside.BACKGROUND), shift=(5, 5), rotation=30)
    assert torch.allclose(empty, torch.full_like(empty, inside.BACKGROUND), atol=1e-6)  # outside is background
    with pytest.raises(ValueError, match="shift must be a pair"):
        inside.distort(x, shift=3)
    with pytest.raises(ValueError, match="scale must be > 0"):
        inside.distort(x, scale=0)


def test_robustness_averages_over_directions(lenet):
    torch.manual_seed(3)
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 10, (6,))
    errors = inside.robustness(lenet, x, y, "shift", [0, 2])
    plain = (lenet.predict(x) != y).float().mean().item()
    assert errors[0] == pytest.approx(plain)
    moved = torch.cat([inside.distort(x, shift=d) for d in ((2, 0), (-2, 0), (0, 2), (0, -2))])
    assert errors[1] == pytest.approx((lenet.predict(moved) != y.repeat(4)).float().mean().item())
    with pytest.raises(ValueError, match="kind must be one of"):
        inside.robustness(lenet, x, y, "blur", [1])
    with pytest.raises(ValueError, match="one label per image"):
        inside.robustness(lenet, x, y[:2], "noise", [0.1])
    with pytest.raises(TypeError, match="strengths must be a list of numbers"):
        inside.robustness(lenet, x, y, "shift", 2)
    with pytest.raises(TypeError, match="strengths must be a list of numbers"):
        inside.robustness(lenet, x, y, "rotation", ["10"])
    with pytest.raises(ValueError, match="strengths must be > 0 for 'scale'"):
        inside.robustness(lenet, x, y, "scale", [1.0, 0])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        inside.robustness("lenet", x, y, "shift", [1])


def test_bad_arguments_are_named(lenet):
    x = torch.zeros(4, 1, 32, 32)
    with pytest.raises(TypeError, match="fill must be a number"):
        inside.occlusion_map(lenet, x[0], 3, fill="black")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        inside.occlusion_map(None, x[0], 3)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        inside.margins(lenet.state_dict(), x)
    with pytest.raises(ValueError, match="images must be a 4-D tensor"):
        inside.margins(lenet, x[0])
    with pytest.raises(ValueError, match="device must be a torch.device"):
        inside.load_trained("LeNet5", device="gpu0")


def test_a_model_is_checked_once_per_call(module_checks, lenet):
    """The public entry checks the model; the receptive fields, outputs and scores inside it trust it."""
    from lenet_helpers import evaluation

    calls = module_checks(inside, models, evaluation)
    x, y = torch.zeros(9, 1, 32, 32), torch.zeros(9, dtype=torch.long)
    for call in (lambda: inside.top_patches(lenet, "C3", x), lambda: inside.margins(lenet, x),
                 lambda: inside.occlusion_map(lenet, x[0], 3), lambda: inside.receptive_fields(lenet),
                 lambda: inside.robustness(lenet, x, y, "noise", [0.1, 0.2])):
        calls.clear()
        call()
        assert calls == ["model"]


def test_load_trained_names_the_command_when_the_weights_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(inside, "RESULTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r'make bench BENCH_ARGS="--only inside"'):
        inside.load_trained("LeNet5")
    with pytest.raises(FileNotFoundError, match="--only inside"):
        inside.trained_record()
    with pytest.raises(ValueError, match="name must be one of"):
        inside.load_trained("LeNet6")


@pytest.mark.skipif(not (inside.RESULTS_DIR / inside.TRAINED["LeNet5"]).is_file(), reason="weights not made yet")
def test_the_saved_networks_load_and_match_their_record():
    record = inside.trained_record()
    for name in inside.TRAINED:
        model = inside.load_trained(name)
        assert not model.training and type(model).__name__ == name
        assert record["networks"][name]["weights"] == inside.TRAINED[name]
        assert "test_error" in record["networks"][name]
