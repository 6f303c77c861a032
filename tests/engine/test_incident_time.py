"""`incident_at: random`: uniform within `window` before now (FORMAT.md), the same all day for one seed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from drsim.drills import incident_time
from drsim.errors import UsageError
from drsim.model.documents import Drill
from drsim.model.types import parse_instant

TODAY = date(2026, 11, 25)


def drill(**keys: object) -> Drill:
    body = {"apiVersion": "drsim/v1", "kind": "Drill", "metadata": {"name": "d"}, "runbook": "r", "estate": "e", "plan": "p"}
    return Drill.model_validate({**body, "incident_at": "random", **keys})


@given(seed=st.integers(min_value=0, max_value=2**63 - 1), window_days=st.integers(min_value=2, max_value=365))
def test_a_random_incident_lies_within_the_window_before_every_moment_of_today(seed: int, window_days: int) -> None:
    at = incident_time(drill(window=f"{window_days}d"), seed, today=TODAY)
    midnight = datetime(2026, 11, 25, tzinfo=UTC)
    for now in (midnight, midnight + timedelta(hours=23, minutes=59, seconds=59)):
        assert now - timedelta(days=window_days) <= at <= now
    assert at == incident_time(drill(window=f"{window_days}d"), seed, today=TODAY)


@given(seed=st.integers(min_value=0, max_value=2**63 - 1))
def test_a_random_incident_with_window_end_spans_the_whole_window(seed: int) -> None:
    end = datetime(2026, 10, 1, 12, tzinfo=UTC)
    at = incident_time(drill(window="7d", window_end="2026-10-01T12:00:00Z"), seed)
    assert end - timedelta(days=7) <= at <= end


def test_different_seeds_draw_different_times() -> None:
    times = {incident_time(drill(window="30d"), seed, today=TODAY) for seed in range(20)}
    assert len(times) == 20


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"incident_at": "0001-01-01T00:00:00Z"}, "outside the years drsim simulates (1970 to 2199)"),
        ({"incident_at": "9999-12-31T23:59:59Z"}, "outside the years drsim simulates (1970 to 2199)"),
        ({"window": "3000d", "window_end": "1975-01-01T00:00:00Z"}, "the 3000d window before it starts on 1966-10-15"),
    ],
)
def test_times_drsim_cannot_simulate_are_refused(keys: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        drill(**keys)


def test_a_command_line_time_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--incident-at: 0001-01-01T00:00:00\+00:00 is outside"):
        parse_instant("0001-01-01T00:00:00Z", "--incident-at")
    assert parse_instant("2026-11-20T15:00:00+01:00", "--at") == datetime(2026, 11, 20, 14, tzinfo=UTC)
