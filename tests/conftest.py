from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# The from-scratch code is plain Python loops: keep examples small, and never fail on timing.
settings.register_profile("course", max_examples=60, deadline=None)
settings.load_profile("course")


@pytest.fixture(scope="session")
def root() -> Path:
    """The course checkout."""
    return ROOT
