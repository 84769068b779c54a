"""The argument checks every public helper shares (lenet_helpers/_validate.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lenet_helpers import fast_sdlm, models, sdlm
from lenet_helpers._validate import check_positive


@pytest.mark.parametrize("value", [1, 0.02, 1e-12, np.float32(0.5), 10**6])
def test_check_positive_takes_finite_positive_numbers(value):
    result = check_positive(value, "mu")
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 0, 0.0, -0.0, -1, -1e-9, True, False, "0.1",
                                   None, torch.tensor(0.1), [0.1]])
def test_check_positive_refuses_what_is_not_a_finite_positive_number(value):
    with pytest.raises(ValueError, match=r"^lr must be a finite positive number, got "):
        check_positive(value, "lr")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0, -1, True, "0.1"])
def test_both_sdlm_optimizers_refuse_the_same_step_sizes(value):
    """sdlm.SDLM once took infinity where fast_sdlm refused it: both use the one check now."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    with pytest.raises(ValueError, match="lr must be a finite positive number"):
        sdlm.SDLM(net.named_parameters(), lr=value)
    with pytest.raises(ValueError, match="mu must be a finite positive number"):
        sdlm.SDLM.from_model(net, mu=value)
    with pytest.raises(ValueError, match="mu must be a finite positive number"):
        fast_sdlm.PatternSDLM(models.LeNet5(), mu=value)
    with pytest.raises(ValueError, match="j must be a finite positive number"):
        fast_sdlm.PatternSDLM(models.LeNet5(), j=value)
