"""Fair share: users' node usage with exponential decay (a pure helper).

The reconciler and the simulator keep, per user, a number of node-seconds that decays with a
half-life; ``plan()`` orders tasks of equal priority by it (lower first).
"""

from __future__ import annotations

import math


def decay(usage: float, dt_s: float, half_life_s: float) -> float:
    """Return ``usage`` after ``dt_s`` seconds of exponential decay with ``half_life_s``.

    A non-positive ``dt_s`` leaves the value unchanged; a non-positive half-life forgets
    everything at once (usage becomes 0 after any positive time).
    """
    if dt_s <= 0:
        return usage
    if half_life_s <= 0:
        return 0.0
    return usage * math.pow(0.5, dt_s / half_life_s)


def accrue(usage: float, nodes: int, dt_s: float, half_life_s: float) -> float:
    """Decay ``usage`` over ``dt_s`` and add the node-seconds of ``nodes`` held meanwhile.

    The added amount is decayed too (integral of the decay over the interval), so the result
    does not depend on how the interval is cut into steps.
    """
    if dt_s <= 0:
        return usage
    decayed = decay(usage, dt_s, half_life_s)
    if nodes <= 0:
        return decayed
    if half_life_s <= 0:
        return 0.0
    rate = math.log(2) / half_life_s
    return decayed + nodes * (1.0 - math.exp(-rate * dt_s)) / rate
