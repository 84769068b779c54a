"""Self-checks for chapter 7, the capstone: LeNet-5 assembled and trained by the learner.

==============================  ===================================================
check                           your function
==============================  ===================================================
==============================  ===================================================
"""

from __future__ import annotations

__all__: list[str] = []
