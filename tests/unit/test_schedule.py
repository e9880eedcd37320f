"""The training schedule fitted to a time budget (``steps_within_budget``)."""

import pytest

from signals.models.transformer import BUDGET_MARGIN, steps_within_budget


def test_slow_steps_shorten_the_schedule_to_the_time_left() -> None:
    # 1 s a step, 1,000 s left of which 100 are reserved for validation
    total = steps_within_budget(500, 500.0, 1000.0, 5000, 100.0)
    assert total == 500 + int(1000 * (1 - BUDGET_MARGIN) - 100)


def test_fast_steps_keep_the_planned_schedule() -> None:
    assert steps_within_budget(500, 50.0, 10_000.0, 5000, 100.0) == 5000


def test_no_time_left_ends_after_the_next_step() -> None:
    assert steps_within_budget(500, 500.0, 50.0, 5000, 100.0) == 501
    assert steps_within_budget(500, 500.0, -5.0, 5000, 0.0) == 501


@pytest.mark.parametrize("seconds_per_step", [0.1, 0.3, 1.0, 3.0])
def test_the_fitted_schedule_ends_inside_the_budget(seconds_per_step: float) -> None:
    step, left, reserve = 400, 1200.0, 120.0
    total = steps_within_budget(step, step * seconds_per_step, left, 10_000, reserve)
    assert (total - step) * seconds_per_step + reserve <= left
