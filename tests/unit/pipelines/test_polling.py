"""Poll policy: long-poll plan within the budget; backoff bounded below, above and by the budget."""

from __future__ import annotations

import pytest
from etl_common import PollPolicy


def test_wait_grows_with_age_between_the_bounds() -> None:
    policy = PollPolicy(min_wait_seconds=2, max_wait_seconds=300, wait_ratio=0.05)
    assert policy.wait_seconds(elapsed=0, remaining=3600) == 2
    assert policy.wait_seconds(elapsed=600, remaining=3000) == 30
    assert policy.wait_seconds(elapsed=50_000, remaining=30_000) == 300


def test_wait_never_passes_the_time_budget() -> None:
    policy = PollPolicy()
    assert policy.wait_seconds(elapsed=3000, remaining=7.2) == 8
    assert policy.wait_seconds(elapsed=3000, remaining=-5) == 1


def test_long_poll_plan_fills_the_window_within_the_budget() -> None:
    policy = PollPolicy(long_poll_seconds=30, check_window_seconds=120)
    assert policy.long_poll_plan(remaining=1000) == [30, 30, 30, 30]
    assert policy.long_poll_plan(remaining=75) == [30, 30, 15]
    assert policy.long_poll_plan(remaining=0) == []


def test_settings_come_from_the_environment() -> None:
    policy = PollPolicy.from_env({"POLL_CHECK_WINDOW_SECONDS": "90", "POLL_MAX_WAIT_SECONDS": "120"})
    assert (policy.check_window_seconds, policy.max_wait_seconds, policy.long_poll_seconds) == (90, 120, 30)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"long_poll_seconds": 31}, "long_poll_seconds must be 1-30"),
        ({"check_window_seconds": 10}, "at least long_poll_seconds"),
        ({"min_wait_seconds": 10, "max_wait_seconds": 5}, "min_wait_seconds <= max_wait_seconds"),
        ({"wait_ratio": 0}, "wait_ratio"),
    ],
)
def test_bad_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PollPolicy(**settings)
