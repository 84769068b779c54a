"""The paper's own layers (LeCun, Bottou, Bengio and Haffner, 1998, Sec. II-B and Appendix A).

What LeNet-5 has that a modern network does not, each a small ``nn.Module`` or function:

* :func:`squash` / :class:`Squash` — the scaled tanh f(a) = 1.7159·tanh(2a/3);
* :class:`Subsampling` — S2 and S4: a 2×2 window sum times a trainable coefficient, plus a
  trainable bias;
* :data:`TABLE_I` / :data:`C3_TABLE` and :class:`PartialConv2d` — C3, whose maps each see only
  the S2 maps Table I lists;
* :data:`RBF_BITMAPS`, :func:`rbf_codes` and :class:`EuclideanRBF` — the output layer: ten
  Euclidean radial basis function units with fixed ±1 codes drawn as 7×12 bitmaps;
* :func:`map_loss` — the MAP criterion of eq. (9);
* :func:`uniform_fan_in_` — the paper's initialisation, uniform in ±2.4/F_i.

:mod:`lenet_helpers.models` assembles them into :class:`~lenet_helpers.models.LeNet5`
(and re-exports every name here, so ``models.Squash`` is ``layers.Squash``).

Example:
    >>> x = torch.zeros(2, 6, 28, 28)
    >>> Subsampling(6)(x).shape
    torch.Size([2, 6, 14, 14])
"""

from __future__ import annotations


import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_int, check_positive, check_tensor, shape_of

__all__ = [
    "SQUASH_A",
    "SQUASH_S",
    "squash",
    "Squash",
    "uniform_fan_in_",
    "Subsampling",
    "TABLE_I",
    "C3_TABLE",
    "PartialConv2d",
    "RBF_BITMAPS",
    "rbf_codes",
    "EuclideanRBF",
    "map_loss",
]

# ---------------------------------------------------------------------------
# The squashing function (Sec. II-B, eq. 6; its constants: Appendix A)
# ---------------------------------------------------------------------------

SQUASH_A = 1.7159  #: amplitude A of f(a) = A·tanh(S·a)
SQUASH_S = 2.0 / 3.0  #: slope S; with A = 1.7159, f(1) = 1 and f(-1) = -1


def squash(a: torch.Tensor) -> torch.Tensor:
    """The paper's sigmoid: f(a) = A·tanh(S·a), A = 1.7159, S = 2/3 (so f(±1) = ±1).

    Example:
        >>> squash(torch.tensor([0.0, 1.0]))
        tensor([0.0000, 1.0000])
    """
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"a must be a tensor, got {type(a).__name__}")
    return SQUASH_A * torch.tanh(SQUASH_S * a)


class Squash(nn.Module):
    """:func:`squash` as a layer. Shape: any -> the same."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return squash(a)


def _check_maps(x, channels: int, layer: str) -> None:
    """Raise a clear error unless x is a batch of ``channels`` feature maps, N×C×H×W."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{layer} expects x of shape N×{channels}×H×W, got {shape_of(x)}")


def uniform_fan_in_(tensor: torch.Tensor, fan_in) -> None:
    """The paper's initialisation (Appendix A): uniform in ±2.4/F_i, F_i the unit's fan-in, in place.

    ``fan_in`` is a number, or a tensor that broadcasts against ``tensor``
    (one fan-in per output unit).

    Example:
        >>> w = torch.empty(6, 1, 5, 5)
        >>> uniform_fan_in_(w, 25)
        >>> bool(w.abs().max() <= 2.4 / 25)
        True
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a tensor, got {type(tensor).__name__}")
    with torch.no_grad():
        bound = 2.4 / torch.as_tensor(fan_in, dtype=tensor.dtype, device=tensor.device)
        tensor.uniform_(-1.0, 1.0).mul_(bound)


# ---------------------------------------------------------------------------
# S2 and S4: trainable subsampling (Sec. II-B)
# ---------------------------------------------------------------------------


class Subsampling(nn.Module):
    """LeNet-5's S2/S4: each output adds the inputs of a non-overlapping window,
    multiplies the sum by a trainable coefficient and adds a trainable bias,
    one coefficient and one bias per feature map. (The squashing comes after.)

    Shapes:
        input: N×C×H×W -> output: N×C×(H/k)×(W/k). Parameters: ``weight`` (C), ``bias`` (C).

    Example:
        >>> s2 = Subsampling(6)
        >>> s2(torch.zeros(1, 6, 28, 28)).shape
        torch.Size([1, 6, 14, 14])
    """

    def __init__(self, channels: int, kernel_size: int = 2):
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.weight = nn.Parameter(torch.empty(self.channels))
        self.bias = nn.Parameter(torch.empty(self.channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.kernel_size**2
        uniform_fan_in_(self.weight, fan_in)
        uniform_fan_in_(self.bias, fan_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_maps(x, self.channels, "Subsampling")
        window_sum = F.avg_pool2d(x, self.kernel_size, divisor_override=1)  # divisor 1: a sum, not a mean
        return window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}"


# ---------------------------------------------------------------------------
# C3: a partially connected convolution (Table I)
# ---------------------------------------------------------------------------

#: Table I of the paper: an X where S2 map (row) feeds C3 map (column).
TABLE_I = """
     0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
0    X . . . X X X . . X X  X  X  .  X  X
1    X X . . . X X X . . X  X  X  X  .  X
2    X X X . . . X X X . .  X  .  X  X  X
3    . X X X . . X X X X .  .  X  .  X  X
4    . . X X X . . X X X X  .  X  X  .  X
5    . . . X X X . . X X X  X  .  X  X  X
"""


def _parse_table(text: str) -> torch.Tensor:
    rows = [line.split()[1:] for line in text.strip().splitlines()[1:]]
    return torch.tensor([[cell == "X" for cell in row] for row in rows])


#: Table I as a boolean tensor, 6 S2 maps × 16 C3 maps.
C3_TABLE = _parse_table(TABLE_I)


class PartialConv2d(nn.Module):
    """A convolution in which each output map sees only some input maps (C3, via Table I).

    Only the connected kernels exist as parameters: ``weight`` holds one kh×kw
    kernel per X in the table, so ``weight.numel()`` counts exactly the
    trainable weights. The forward pass scatters them into a dense
    Cout×Cin×kh×kw kernel (zeros where the table has no X) and convolves.

    Shapes:
        table: Cin×Cout booleans. input: N×Cin×H×W -> output: N×Cout×(H-k+1)×(W-k+1).

    Example:
        >>> c3 = PartialConv2d(C3_TABLE, kernel_size=5)
        >>> c3.weight.numel() + c3.bias.numel()   # 60 kernels of 25 weights, plus 16 biases
        1516
    """

    def __init__(self, table, kernel_size: int = 5):
        super().__init__()
        table = torch.as_tensor(table)
        if table.ndim != 2:
            raise ValueError(f"table must be a 2-D in_channels×out_channels table, got shape {tuple(table.shape)}")
        table = table.bool()
        unfed = (~table.any(dim=0)).nonzero().flatten().tolist()
        if unfed:
            raise ValueError(f"table must connect every output map to at least one input map; maps {unfed} have none")
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.in_channels, self.out_channels = table.shape
        self.register_buffer("table", table.clone())
        out_index, in_index = table.t().nonzero(as_tuple=True)  # kernels ordered by output map
        self.register_buffer("in_index", in_index)
        self.register_buffer("out_index", out_index)
        k = self.kernel_size
        self.weight = nn.Parameter(torch.empty(len(in_index), k, k))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        self.reset_parameters()

    def fan_in(self) -> torch.Tensor:
        """Inputs per output unit, one number per output map: (input maps it sees) × kh × kw."""
        return self.table.sum(dim=0) * self.kernel_size**2

    def reset_parameters(self) -> None:
        fan_in = self.fan_in()
        uniform_fan_in_(self.weight, fan_in[self.out_index].view(-1, 1, 1))
        uniform_fan_in_(self.bias, fan_in)

    def dense_weight(self) -> torch.Tensor:
        """The full Cout×Cin×kh×kw kernel, zero where Table I has no connection."""
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        dense[self.out_index, self.in_index] = self.weight
        return dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_maps(x, self.in_channels, "PartialConv2d")
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, connections={len(self.in_index)}"


# ---------------------------------------------------------------------------
# The output layer: Euclidean RBF units with fixed 7×12 bitmaps (Sec. II-B, Fig. 3)
# ---------------------------------------------------------------------------

#: The stylised digits the ten RBF units compare F6 with: 7 wide × 12 tall,
#: '#' is +1 and '.' is -1. The paper shows them only as a picture (Fig. 3);
#: these are drawn in its style, with the glyph in the top ten rows.
RBF_BITMAPS = {
    0: """
..###..
.##.##.
##...##
##...##
##...##
##...##
##...##
##...##
.##.##.
..###..
.......
.......""",
    1: """
...##..
..###..
.####..
...##..
...##..
...##..
...##..
...##..
...##..
.######
.......
.......""",
    2: """
.#####.
##...##
.....##
.....##
....##.
...##..
..##...
.##....
##.....
#######
.......
.......""",
    3: """
#######
.....##
....##.
...##..
..####.
.....##
.....##
.....##
##...##
.#####.
.......
.......""",
    4: """
....##.
...###.
..####.
.##.##.
##..##.
##..##.
#######
....##.
....##.
....##.
.......
.......""",
    5: """
#######
##.....
##.....
######.
.....##
.....##
.....##
.....##
##...##
.#####.
.......
.......""",
    6: """
..####.
.##....
##.....
##.....
######.
##...##
##...##
##...##
##...##
.#####.
.......
.......""",
    7: """
#######
.....##
.....##
....##.
...##..
...##..
..##...
..##...
..##...
..##...
.......
.......""",
    8: """
.#####.
##...##
##...##
##...##
.#####.
##...##
##...##
##...##
##...##
.#####.
.......
.......""",
    9: """
.#####.
##...##
##...##
##...##
##...##
.######
.....##
.....##
....##.
.####..
.......
.......""",
}


def rbf_codes() -> torch.Tensor:
    """The ten RBF parameter vectors: a 10×84 tensor of ±1, row i the bitmap of digit i read row by row.

    ``rbf_codes().view(10, 12, 7)`` gives them back as images.

    Example:
        >>> rbf_codes().shape
        torch.Size([10, 84])
    """
    codes = []
    for digit in range(10):
        rows = RBF_BITMAPS[digit].strip().splitlines()
        assert len(rows) == 12 and all(len(r) == 7 for r in rows), f"bitmap of {digit} must be 12 rows of 7"
        codes.append([1.0 if c == "#" else -1.0 for row in rows for c in row])
    return torch.tensor(codes)


class EuclideanRBF(nn.Module):
    """Euclidean radial basis function units: y_i = Σ_j (x_j − w_ij)², one per class.

    The centres ``w`` are fixed (a buffer, not a parameter), so the layer has no
    trainable parameters. The output is a *penalty*: the smaller y_i, the better
    the input matches class i.

    Shapes:
        centers: classes×features. input: N×features -> output: N×classes.

    Example:
        >>> rbf = EuclideanRBF(rbf_codes())
        >>> rbf(rbf_codes()[3:4]).argmin().item()   # the code of 3 is closest to itself
        3
    """

    def __init__(self, centers: torch.Tensor):
        super().__init__()
        centers = check_tensor(centers, "centers", ndim=2, layout="classes×features")
        self.register_buffer("centers", centers.clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.centers.shape[1]
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != features:
            raise ValueError(f"EuclideanRBF expects x of shape N×{features}, got {shape_of(x)}")
        return ((x.unsqueeze(1) - self.centers) ** 2).sum(dim=2)

    def extra_repr(self) -> str:
        return f"in_features={self.centers.shape[1]}, out_features={self.centers.shape[0]}"


def map_loss(penalties: torch.Tensor, target: torch.Tensor, j: float = 0.1) -> torch.Tensor:
    """The paper's MAP criterion, eq. (9): mean over the batch of y_D + log(e^(−j) + Σ_i e^(−y_i)).

    The first term pulls down the penalty of the correct class D; the second
    pushes up the penalties of the others, so the RBF centres cannot all be
    matched at once (with eq. (8) alone the network could collapse). The
    constant j > 0 acts as a "rubbish" class; the paper gives no value, 0.1 is usual.

    Shapes:
        penalties: N×classes (RBF outputs), target: N class indices -> a scalar.

    Example:
        >>> y = torch.tensor([[0.0, 50.0], [50.0, 0.0]])   # both right, by a wide margin
        >>> round(map_loss(y, torch.tensor([0, 1])).item(), 4)   # log(1 + e^-0.1): the lowest it can go
        0.6444
    """
    penalties = check_tensor(penalties, "penalties", ndim=2, layout="N×classes")
    target = check_tensor(target, "target", ndim=1, layout="N class indices")
    if target.shape[0] != penalties.shape[0]:
        raise ValueError(f"target must have one label per row of penalties: {target.shape[0]} labels, {penalties.shape[0]} rows")
    if target.is_floating_point():
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    j = check_positive(j, "j")
    correct = penalties.gather(1, target.long().unsqueeze(1)).squeeze(1)
    rubbish = torch.full_like(penalties[:, :1], -float(j))
    competition = torch.logsumexp(torch.cat([-penalties, rubbish], dim=1), dim=1)
    return (correct + competition).mean()
