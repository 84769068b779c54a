"""Stochastic diagonal Levenberg–Marquardt (lenet_helpers.sdlm): h by hand, exact Hessians, LeNet-5."""

import math

import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from lenet_helpers.models import SQUASH_A, SQUASH_S, EuclideanRBF, LeNet5, LeNet5Modern, LeNetD2L, PartialConv2d, Subsampling, Squash, map_loss
from lenet_helpers.sdlm import SDLM, gauss_newton_diagonal, paper_eta, paper_schedule


def f(a):  # the paper's squashing function
    return SQUASH_A * math.tanh(SQUASH_S * a)


def fprime(a):
    return SQUASH_A * SQUASH_S * (1 - math.tanh(SQUASH_S * a) ** 2)


def set_weights(module, weight, bias):
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        module.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


def tiny_net():
    """3 → Linear(3, 2) → squash → Linear(2, 1), with hand-picked weights."""
    net = nn.Sequential(nn.Linear(3, 2), Squash(), nn.Linear(2, 1))
    set_weights(net[0], [[0.1, -0.2, 0.3], [0.4, 0.0, -0.5]], [0.1, -0.1])
    set_weights(net[2], [[0.7, -0.6]], [0.2])
    return net


TINY_X = torch.tensor([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
TINY_T = torch.tensor([[0.3], [-0.2]])


def tiny_h_by_hand():
    """h for tiny_net on TINY_X, written out: s_y = 1 (loss ½(y − t)²), squared weights and slopes."""
    w1 = [[0.1, -0.2, 0.3], [0.4, 0.0, -0.5]]
    b1 = [0.1, -0.1]
    w2 = [0.7, -0.6]
    samples = [[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]]
    # sample 1: a = W1·x + b1 = [0.1 − 0.4 − 0.3 + 0.1, 0.4 + 0 + 0.5 − 0.1] = [−0.5, 0.8]
    # sample 2: a = [0.05 + 0.2 + 0.6 + 0.1, 0.2 + 0 − 1.0 − 0.1] = [0.95, −0.9]
    pre = [[-0.5, 0.8], [0.95, -0.9]]
    for x, a in zip(samples, pre):  # the arithmetic above, checked
        for i in range(2):
            assert math.isclose(sum(w1[i][k] * x[k] for k in range(3)) + b1[i], a[i], abs_tol=1e-12)
    h_w1 = [[0.0] * 3 for _ in range(2)]
    h_b1 = [0.0, 0.0]
    h_w2 = [0.0, 0.0]
    h_b2 = 0.0
    for x, a in zip(samples, pre):
        s_y = 1.0  # ∂²/∂y² of ½(y − t)²
        h_b2 += s_y
        for i in range(2):
            h_w2[i] += s_y * f(a[i]) ** 2  # s·(input)²
            s_z = w2[i] ** 2 * s_y  # back through the squared weight
            s_a = fprime(a[i]) ** 2 * s_z  # back through the squared slope
            h_b1[i] += s_a
            for k in range(3):
                h_w1[i][k] += s_a * x[k] ** 2
    n = len(samples)
    return {
        "0.weight": torch.tensor(h_w1) / n,
        "0.bias": torch.tensor(h_b1) / n,
        "2.weight": torch.tensor([h_w2]) / n,
        "2.bias": torch.tensor([h_b2]) / n,
    }


def assert_close_dicts(got, expected, **tol):
    assert list(got) == list(expected)
    for name in expected:
        assert got[name].shape == expected[name].shape, name
        torch.testing.assert_close(got[name], expected[name], **tol, msg=lambda m: f"{name}: {m}")


# ---------------------------------------------------------------------------
# h by hand
# ---------------------------------------------------------------------------


def test_tiny_network_by_hand():
    h = gauss_newton_diagonal(tiny_net(), TINY_X, TINY_T, loss="mse")
    assert_close_dicts(h, tiny_h_by_hand())
    # A few numbers, for the reader: h of the output bias is s_y = 1; of W2[0] the mean of f(a_0)².
    assert h["2.bias"].item() == pytest.approx(1.0)
    assert h["2.weight"][0, 0].item() == pytest.approx((f(-0.5) ** 2 + f(0.95) ** 2) / 2)


def test_step_sizes_and_step_match_hand():
    net = tiny_net()
    opt = SDLM(net.named_parameters(), lr=0.001, mu=0.02)
    opt.estimate(net, TINY_X, TINY_T, loss="mse")
    hand = tiny_h_by_hand()
    steps = opt.step_sizes()
    assert_close_dicts(steps, {name: 0.001 / (0.02 + h) for name, h in hand.items()})
    # One step: p ← p − ε_k·∂E/∂p, ε_k = η/(μ + h).
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    loss = 0.5 * ((net(TINY_X) - TINY_T) ** 2).sum(dim=1).mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    opt.step()
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.detach(), before[name] - steps[name] * grads[name])


def test_map_seed_by_hand():
    """Linear(2, 3) → EuclideanRBF with two classes: s_x from the MAP formula, written out."""
    linear = nn.Linear(2, 3)
    set_weights(linear, [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]], [0.1, 0.0, -0.2])
    centers = [[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]]
    net = nn.Sequential(linear, EuclideanRBF(torch.tensor(centers)))
    x = [0.7, -0.4]
    label = 1
    xf = [0.5 * 0.7 + 0.3 * 0.4 + 0.1, 0.2 * 0.7 - 0.8 * 0.4, -0.6 * 0.7 - 0.1 * 0.4 - 0.2]  # F6 outputs
    y = [sum((xf[k] - centers[i][k]) ** 2 for k in range(3)) for i in range(2)]
    z = math.exp(-0.1) + math.exp(-y[0]) + math.exp(-y[1])
    p = [math.exp(-y[i]) / z for i in range(2)]
    dE_dy = [(1.0 if i == label else 0.0) - p[i] for i in range(2)]
    s_x = [sum(2 * dE_dy[i] + p[i] * (1 - p[i]) * (2 * (xf[k] - centers[i][k])) ** 2 for i in range(2)) for k in range(3)]
    assert all(s > 0 for s in s_x)
    h = gauss_newton_diagonal(net, torch.tensor([x]), torch.tensor([label]))  # "auto" picks the MAP loss
    torch.testing.assert_close(h["0.weight"], torch.tensor([[s * x[0] ** 2, s * x[1] ** 2] for s in s_x]))
    torch.testing.assert_close(h["0.bias"], torch.tensor(s_x))
    # The seed's derivatives agree with autograd on the MAP loss: ∂E/∂y_i = δ − p_i, ∂²E/∂y_i² = p_i(1 − p_i).
    yt = torch.tensor([y], requires_grad=True)
    (g,) = torch.autograd.grad(map_loss(yt, torch.tensor([label])), yt, create_graph=True)
    torch.testing.assert_close(g[0], torch.tensor(dE_dy))
    second = [torch.autograd.grad(g[0, i], yt, retain_graph=True)[0][0, i].item() for i in range(2)]
    assert second == pytest.approx([q * (1 - q) for q in p], rel=1e-4)


def test_map_seed_options_ml_loss_rbf_curvature_and_sum():
    """The options that take the estimate apart: eq. (8)'s curvature, the RBF's own curvature dropped, a sum."""
    linear = nn.Linear(2, 3)
    set_weights(linear, [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]], [0.1, 0.0, -0.2])
    centers = [[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]]
    net = nn.Sequential(linear, EuclideanRBF(torch.tensor(centers)))
    x, label = torch.tensor([[0.7, -0.4], [0.1, 0.3]]), torch.tensor([1, 0])
    # loss="ml": E = y_D = Σ_k (x_k − c_Dk)², so ∂²E/∂x_k² = 2 exactly, and h of a bias is 2
    ml = gauss_newton_diagonal(net, x, label, loss="ml")
    torch.testing.assert_close(ml["0.bias"], torch.full((3,), 2.0))
    torch.testing.assert_close(ml["0.weight"], 2 * (x**2).mean(dim=0).expand(3, 2))
    # rbf_curvature=False keeps only Σ_i p_i(1 − p_i)(2(x_k − c_ik))², which is smaller here
    full = gauss_newton_diagonal(net, x, label)
    gauss_newton = gauss_newton_diagonal(net, x, label, rbf_curvature=False)
    xf = linear(x).detach()
    y = ((xf.unsqueeze(1) - torch.tensor(centers)) ** 2).sum(dim=2)
    p = torch.softmax(torch.cat([-y, torch.full((2, 1), -0.1)], dim=1), dim=1)[:, :2]
    second = torch.einsum("ni,nik->nk", p * (1 - p), (2 * (xf.unsqueeze(1) - torch.tensor(centers))) ** 2)
    torch.testing.assert_close(gauss_newton["0.bias"], second.mean(dim=0))
    assert (gauss_newton["0.bias"] < full["0.bias"]).all()
    # reduction="sum": N times the mean
    summed = gauss_newton_diagonal(net, x, label, reduction="sum")
    for name in full:
        torch.testing.assert_close(summed[name], 2 * full[name])
    with pytest.raises(ValueError, match="reduction"):
        gauss_newton_diagonal(net, x, label, reduction="max")
    with pytest.raises(TypeError, match="rbf_curvature"):
        gauss_newton_diagonal(net, x, label, rbf_curvature=1)
    with pytest.raises(ValueError, match="loss='ml'"):
        gauss_newton_diagonal(tiny_net(), TINY_X, torch.tensor([0, 0]), loss="ml")


def test_cross_entropy_seed_by_hand():
    linear = nn.Linear(2, 3)
    set_weights(linear, [[0.5, -0.3], [0.2, 0.8], [-0.6, 0.1]], [0.1, 0.0, -0.2])
    x = [0.7, -0.4]
    logits = [0.5 * 0.7 + 0.3 * 0.4 + 0.1, 0.2 * 0.7 - 0.8 * 0.4, -0.6 * 0.7 - 0.1 * 0.4 - 0.2]
    total = sum(math.exp(v) for v in logits)
    s = [math.exp(v) / total * (1 - math.exp(v) / total) for v in logits]  # p(1 − p)
    h = gauss_newton_diagonal(nn.Sequential(linear), torch.tensor([x]), torch.tensor([2]))
    torch.testing.assert_close(h["0.weight"], torch.tensor([[si * x[0] ** 2, si * x[1] ** 2] for si in s]))
    torch.testing.assert_close(h["0.bias"], torch.tensor(s))


# ---------------------------------------------------------------------------
# Exact Hessians where Gauss–Newton is exact
# ---------------------------------------------------------------------------


def hessian_diagonal(net, x, t):
    """The exact diagonal of the Hessian of mean_n ½‖net(x_n) − t_n‖², per parameter (double precision)."""
    params = {n: p.detach() for n, p in net.named_parameters()}
    out = {}
    for name, p in params.items():

        def loss(value, name=name):
            y = functional_call(net, {**params, name: value}, (x,))
            return 0.5 * ((y - t) ** 2).flatten(1).sum(dim=1).mean()

        hess = torch.autograd.functional.hessian(loss, p)
        out[name] = hess.reshape(p.numel(), p.numel()).diagonal().reshape(p.shape)
    return out


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), (5, 3)),  # one hidden linear layer
        (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1)), (4, 2, 5, 5)),  # a single convolution
    ],
)
def test_linear_network_gauss_newton_is_exact_hessian_diagonal(make, shape):
    torch.manual_seed(0)
    net = make().double()
    x = torch.randn(*shape, dtype=torch.float64)
    t = torch.randn_like(net(x))
    assert_close_dicts(gauss_newton_diagonal(net, x, t, loss="mse"), hessian_diagonal(net, x, t))


# ---------------------------------------------------------------------------
# Shared weights: convolution, subsampling, partial connections, pooling
# ---------------------------------------------------------------------------


def test_conv_weight_sharing_sums_over_positions():
    """1-channel conv 3×3 on 6×6 → squash → Linear(16, 1): h(w_kl) = Σ over positions of s·x²."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 1, 3), Squash(), nn.Flatten(), nn.Linear(16, 1)).double()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    h = gauss_newton_diagonal(net, x, torch.zeros(2, 1, dtype=torch.float64), loss="mse")
    w, b = net[0].weight.detach()[0, 0], net[0].bias.item()
    v = net[3].weight.detach()[0]
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected_bias = 0.0
    for n in range(2):
        for i in range(4):
            for j in range(4):
                a = (w * x[n, 0, i : i + 3, j : j + 3]).sum().item() + b
                s = fprime(a) ** 2 * v[4 * i + j].item() ** 2  # s_y = 1, squared weight, squared slope
                expected_bias += s
                for k in range(3):
                    for l in range(3):
                        expected[k, l] += s * x[n, 0, i + k, j + l].item() ** 2
    torch.testing.assert_close(h["0.weight"][0, 0], expected / 2)
    assert h["0.bias"].item() == pytest.approx(expected_bias / 2)


def test_subsampling_follows_the_window_sum_rule():
    """conv 3×3 (1→2) → squash → Subsampling(2) → squash → Linear(8, 1), checked with loops."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), Squash(), Subsampling(2), Squash(), nn.Flatten(), nn.Linear(8, 1)).double()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    h = gauss_newton_diagonal(net, x, torch.zeros(1, 1, dtype=torch.float64), loss="mse")
    with torch.no_grad():
        a1 = net[0](x)[0]  # 2×4×4
        z1 = net[1](a1)
    c, beta = net[2].weight.detach(), net[2].bias.detach()
    v = net[5].weight.detach()[0].view(2, 2, 2)
    h_c, h_beta = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    s_z1 = torch.zeros(2, 4, 4, dtype=torch.float64)
    for ch in range(2):
        for i in range(2):
            for j in range(2):
                window = z1[ch, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                a2 = c[ch] * window.sum() + beta[ch]
                s_a2 = fprime(a2.item()) ** 2 * v[ch, i, j].item() ** 2
                h_c[ch] += s_a2 * window.sum().item() ** 2  # the coefficient's input is the window sum
                h_beta[ch] += s_a2
                s_z1[ch, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = c[ch].item() ** 2 * s_a2  # each input: weight c
    torch.testing.assert_close(h["2.weight"], h_c)
    torch.testing.assert_close(h["2.bias"], h_beta)
    s_a1 = s_z1 * torch.tensor([[[fprime(a) ** 2 for a in row] for row in m] for m in a1.tolist()], dtype=torch.float64)
    expected = torch.zeros(2, 1, 3, 3, dtype=torch.float64)
    for ch in range(2):
        for i in range(4):
            for j in range(4):
                expected[ch, 0] += s_a1[ch, i, j] * x[0, 0, i : i + 3, j : j + 3] ** 2
    torch.testing.assert_close(h["0.weight"], expected)
    torch.testing.assert_close(h["0.bias"], s_a1.sum(dim=(1, 2)))


def test_partial_conv_only_connected_kernels_and_masked_paths_carry_nothing():
    # Input map 1 feeds no output map: the conv map behind it must get h = 0.
    table = torch.tensor([[True, True, True], [False, False, False], [True, False, True]])
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(1, 3, 2), Squash(), PartialConv2d(table, 2), Squash(), nn.Flatten(), nn.Linear(27, 1)).double()
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    h = gauss_newton_diagonal(net, x, torch.zeros(2, 1, dtype=torch.float64), loss="mse")
    partial = net[2]
    assert h["2.weight"].shape == partial.weight.shape == (5, 2, 2)  # only the 5 connected kernels exist
    assert torch.all(h["0.weight"][1] == 0) and h["0.bias"][1] == 0
    assert torch.all(h["0.weight"][[0, 2]] > 0)
    # Each connected kernel: Σ over positions of s·x², x the input map of that connection.
    with torch.no_grad():
        z1 = net[1](net[0](x))
        a2 = partial(z1)
    s_a2 = fprime_tensor(a2) ** 2 * net[5].weight.detach()[0].view(1, 3, 3, 3) ** 2
    for kernel, (out_map, in_map) in enumerate(zip(partial.out_index.tolist(), partial.in_index.tolist())):
        expected = torch.zeros(2, 2, dtype=torch.float64)
        for i in range(3):
            for j in range(3):
                expected += (s_a2[:, out_map, i, j].view(2, 1, 1) * z1[:, in_map, i : i + 2, j : j + 2] ** 2).sum(dim=0)
        torch.testing.assert_close(h["2.weight"][kernel], expected / 2)


def fprime_tensor(a):
    return SQUASH_A * SQUASH_S * (1 - torch.tanh(SQUASH_S * a) ** 2)


def test_pooling_layers():
    """Max pooling routes s to the winner; average pooling 2×2 sends s/16 (weights 1/4, squared) to each input."""
    torch.manual_seed(4)
    for pool, factor in ((nn.MaxPool2d(2), None), (nn.AvgPool2d(2), 1 / 16)):
        net = nn.Sequential(nn.Conv2d(1, 1, 1), pool, nn.Flatten(), nn.Linear(4, 1)).double()
        with torch.no_grad():
            net[0].weight.fill_(1.0)
            net[0].bias.zero_()
        x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
        h = gauss_newton_diagonal(net, x, torch.zeros(1, 1, dtype=torch.float64), loss="mse")
        v2 = net[3].weight.detach()[0].view(2, 2) ** 2
        expected = 0.0
        for i in range(2):
            for j in range(2):
                window = x[0, 0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                if factor is None:
                    expected += v2[i, j] * window.max() ** 2
                else:
                    expected += v2[i, j] * factor * (window**2).sum()
        assert h["0.weight"].item() == pytest.approx(expected.item())


# ---------------------------------------------------------------------------
# LeNet-5 end to end, and the other models
# ---------------------------------------------------------------------------


def mnist_like(n, seed):
    """n random 32×32 'digits' with the paper's levels (−0.1 background, 1.175 ink) and random labels."""
    g = torch.Generator().manual_seed(seed)
    ink = torch.rand(n, 1, 32, 32, generator=g) < 0.2
    return torch.where(ink, 1.175, -0.1), torch.randint(0, 10, (n,), generator=g)


def test_lenet5_end_to_end():
    torch.manual_seed(0)
    model = LeNet5()
    x, y = mnist_like(16, 0)
    h = gauss_newton_diagonal(model, x, y)
    assert list(h) == [n for n, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert h[name].shape == p.shape, name
        assert torch.isfinite(h[name]).all() and (h[name] >= 0).all(), name
        assert h[name].sum() > 0, name
    assert h["C3.conv.weight"].shape == (60, 5, 5)
    # The batch size changes nothing but memory.
    assert_close_dicts(gauss_newton_diagonal(model, x, y, batch_size=5), h, rtol=1e-4, atol=1e-7)
    assert not any(p.grad is not None for p in model.parameters())  # the model's gradients are left alone


def test_one_sdlm_step_reduces_the_map_loss_most_of_the_time():
    better = 0
    for seed in range(5):
        torch.manual_seed(seed)
        model = LeNet5()
        x, y = mnist_like(32, seed)
        opt = SDLM.from_model(model)  # η = 0.0005, μ = 0.02
        opt.estimate(model, x, y)
        loss = model.loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            better += model.loss(model(x), y).item() < loss.item()
    assert better >= 4


@pytest.mark.parametrize("make", [LeNet5Modern, LeNetD2L])
def test_modern_models_with_cross_entropy(make):
    torch.manual_seed(0)
    model = make()
    x = torch.randn(4, *model.input_size)
    h = gauss_newton_diagonal(model, x, torch.tensor([0, 1, 2, 3]))
    assert list(h) == [n for n, _ in model.named_parameters()]
    assert all(torch.isfinite(t).all() and (t >= 0).all() and t.shape == p.shape for t, p in zip(h.values(), model.parameters()))


# ---------------------------------------------------------------------------
# The schedule
# ---------------------------------------------------------------------------


def test_paper_eta_schedule():
    expected = [0.0005] * 2 + [0.0002] * 3 + [0.0001] * 3 + [0.00005] * 4 + [0.00001] * 2
    assert [paper_eta(k) for k in range(1, 15)] == expected
    assert paper_schedule(14) == expected
    assert len(paper_schedule()) == 20 and paper_schedule()[-1] == 0.00001


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_paper_eta_errors():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="pass_number"):
            paper_eta(bad)
    for bad in (1.5, "1", True):
        with pytest.raises(TypeError, match="pass_number"):
            paper_eta(bad)
    with pytest.raises(ValueError, match="passes"):
        paper_schedule(0)


def test_gauss_newton_diagonal_errors():
    net = tiny_net()
    with pytest.raises(TypeError, match="model"):
        gauss_newton_diagonal("net", TINY_X, TINY_T)
    with pytest.raises(TypeError, match="nn.Sequential"):
        gauss_newton_diagonal(nn.Linear(3, 1), TINY_X, TINY_T)
    with pytest.raises(TypeError, match="BatchNorm1d"):
        gauss_newton_diagonal(nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), TINY_X, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="images"):
        gauss_newton_diagonal(net, torch.ones(2, 3, dtype=torch.long), TINY_T, loss="mse")
    with pytest.raises(ValueError, match="images"):
        gauss_newton_diagonal(net, torch.ones(3), TINY_T, loss="mse")
    with pytest.raises(ValueError, match="labels"):
        gauss_newton_diagonal(net, TINY_X, TINY_T[:1], loss="mse")
    with pytest.raises(ValueError, match="labels"):
        gauss_newton_diagonal(net, TINY_X, torch.zeros(2, 3), loss="mse")
    with pytest.raises(ValueError, match="loss"):
        gauss_newton_diagonal(net, TINY_X, TINY_T, loss="hinge")
    with pytest.raises(ValueError, match="loss='map'"):
        gauss_newton_diagonal(net, TINY_X, torch.tensor([0, 0]), loss="map")
    with pytest.raises(ValueError, match="batch_size"):
        gauss_newton_diagonal(net, TINY_X, TINY_T, loss="mse", batch_size=0)
    with pytest.raises(ValueError, match="j"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(1, 1, 32, 32), torch.tensor([0]), j=0)
    with pytest.raises(ValueError, match="labels"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(1, 1, 32, 32), torch.tensor([10]))
    with pytest.raises(TypeError, match="labels"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(1, 1, 32, 32), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="map"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(1, 1, 32, 32), torch.tensor([1]), loss="cross_entropy")


def test_sdlm_errors():
    net = tiny_net()
    opt = SDLM.from_model(net)
    with pytest.raises(RuntimeError, match="estimate"):
        opt.step()
    with pytest.raises(RuntimeError, match="curvature"):
        opt.step_sizes()
    with pytest.raises(TypeError, match="named_parameters"):
        SDLM(net.parameters())
    with pytest.raises(TypeError, match="from_model"):
        SDLM(net)
    with pytest.raises(ValueError, match="lr"):
        SDLM(net.named_parameters(), lr=0)
    with pytest.raises(ValueError, match="mu"):
        SDLM(net.named_parameters(), mu=-1)
    with pytest.raises(TypeError, match="h"):
        opt.set_curvature([1.0])
    h = tiny_h_by_hand()
    with pytest.raises(ValueError, match="0.bias"):
        opt.set_curvature({k: v for k, v in h.items() if k != "0.bias"})
    with pytest.raises(ValueError, match="shape"):
        opt.set_curvature({**h, "0.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match="non-negative"):
        opt.set_curvature({**h, "0.bias": -torch.ones(2)})
    opt.set_curvature({**h, "other": torch.zeros(1)})  # extra entries are ignored
    assert set(opt.step_sizes()) == set(h)


def test_errors_from_the_model_and_labels_shape():
    with pytest.raises(ValueError, match="28×28"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="1-D"):
        gauss_newton_diagonal(LeNet5(), torch.zeros(2, 1, 32, 32), torch.tensor([[0], [1]]))


def test_param_groups_and_state_dict():
    def groups(net):
        return [{"params": net[0].named_parameters(prefix="0"), "lr": 0.01}, {"params": net[2].named_parameters(prefix="2")}]

    net = tiny_net()
    opt = SDLM(groups(net))
    h = opt.estimate(net, TINY_X, TINY_T, loss="mse")
    steps = opt.step_sizes()
    torch.testing.assert_close(steps["0.weight"], 0.01 / (0.02 + h["0.weight"]))
    torch.testing.assert_close(steps["2.weight"], 0.0005 / (0.02 + h["2.weight"]))
    # The curvature travels with the optimizer's state.
    again = SDLM(groups(tiny_net()))
    again.load_state_dict(opt.state_dict())
    assert_close_dicts(again.step_sizes(), steps)
    with pytest.raises(ValueError, match="lr"):
        SDLM([{"params": net.named_parameters(), "lr": -1.0}])
