"""`incident_at: random`: uniform within `window` before now (FORMAT.md), the same all day for one seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from drsim.engine.run import incident_time
from drsim.model.documents import Drill

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
