"""decay()/accrue(): exponential decay with a half-life, independent of how time is cut."""

from __future__ import annotations

import math

import pytest

from hai_cli.scheduler import decay
from hai_cli.scheduler.fairshare import accrue


def test_half_life() -> None:
    assert decay(100.0, 3600.0, 3600.0) == pytest.approx(50.0)
    assert decay(100.0, 7200.0, 3600.0) == pytest.approx(25.0)
    assert decay(100.0, 0.0, 3600.0) == 100.0
    assert decay(100.0, -5.0, 3600.0) == 100.0
    assert decay(100.0, 1.0, 0.0) == 0.0


def test_accrue_is_step_independent() -> None:
    one = accrue(10.0, 4, 1000.0, 3600.0)
    many = 10.0
    for _ in range(10):
        many = accrue(many, 4, 100.0, 3600.0)
    assert one == pytest.approx(many)
    rate = math.log(2) / 3600.0
    assert accrue(0.0, 1, 1e9, 3600.0) == pytest.approx(1 / rate)  # the steady state
