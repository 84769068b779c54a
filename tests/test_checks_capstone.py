"""The self-checks of chapter 7 (the capstone): the right answers and the typical wrong ones that test_checks.py runs."""

from lenet_helpers import checks  # noqa: F401

RIGHT = {}

# A wrong answer may come with words the message must contain: checks.x: (wrong, "words").
WRONG = {}
