"""Self-checks for the exercises: call one on your own answer and see at once whether it is right.

Each check runs your function on cases you have not seen, compares it with the
course's reference implementation, and returns a :class:`CheckResult`. In a
notebook the result shows itself (put the call on the last line of a cell); in a
script, ``print`` it. A check never raises because of *your* code: if your
function raises, returns the wrong type or the wrong value, changes its inputs
in place or returns float64 where the inputs are float32, the result says so.
Where it recognises a mistake learners often make, it names the mistake and the
section of the lesson that explains it; otherwise it shows the first case that
failed, with a hint. ``checks.hint(name)`` (or failing again) gives more help, one
step at a time; the full solution stays in the folded solution cell. A function
that still raises ``NotImplementedError`` is reported as not done yet.

The checks call your function by position, so its parameters may have any names,
and the messages call it by its own name. They speak the package's language
(:func:`lenet_helpers.language.set_language`).

One module per chapter (``checks.conv`` for chapter 1, ``checks.pool`` for chapter 2, …); every
check is available here as ``checks.<name>``. The checks of each chapter:
"""

from __future__ import annotations

from . import answers, backprop, capstone, conv, counting, inside, lenet5, modern, pool, training
from ._core import CheckResult, hint
from .answers import *  # noqa: F401,F403
from .backprop import *  # noqa: F401,F403
from .capstone import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .counting import *  # noqa: F401,F403
from .inside import *  # noqa: F401,F403
from .lenet5 import *  # noqa: F401,F403
from .modern import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403

_MODULES = (conv, pool, counting, lenet5, training, backprop, modern, capstone, inside, answers)

__all__ = ["CheckResult", "hint"] + [name for module in _MODULES for name in module.__all__]

# The table of every check, from the chapters' own tables (each module's docstring).
__doc__ += "\n" + "\n".join(f"{module.__doc__.splitlines()[0]}\n\n" + module.__doc__.split("\n", 2)[2].strip() + "\n"
                              for module in _MODULES if module.__all__) + """
Example:
    >>> def my_output_size(n, k, p=0, s=1, d=1):
    ...     return (n + 2 * p - d * (k - 1) - 1) // s + 1
    >>> result = conv_output_size(my_output_size)
    >>> result.passed
    True
    >>> def one_side(n, k, p=0, s=1, d=1):
    ...     return (n + p - d * (k - 1) - 1) // s + 1
    >>> print(conv_output_size(one_side))
    ✗ conv_output_size, 9 of 14 hidden cases pass: one_side pads one side only: padding adds p cells on each side, so the padded input has n + 2p cells.
      See chapter 1, “Padding, stride and dilation”.
      More help: checks.hint("conv_output_size").
"""