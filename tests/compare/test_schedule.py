"""Trial schedule: incident times and seeds depend on (seed, trial) only, uniformly over the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from drsim.compare.trials import TrialChunk, chunks, trial_spec

START = datetime(2026, 10, 2, tzinfo=UTC)
WINDOW = timedelta(days=30)


@given(st.integers(0, 2**63 - 1), st.integers(0, 10**6))
def test_a_trial_is_a_whole_second_inside_the_window_with_a_valid_seed(seed: int, trial: int) -> None:
    spec = trial_spec(seed, trial, START, WINDOW)
    assert START <= spec.incident_at < START + WINDOW
    assert spec.incident_at.microsecond == 0
    assert 0 <= spec.seed <= 2**63 - 1
    assert spec == trial_spec(seed, trial, START, WINDOW)


def test_trials_differ_from_each_other_and_between_seeds() -> None:
    specs = [trial_spec(7, k, START, WINDOW) for k in range(50)]
    assert len({s.incident_at for s in specs}) == 50
    assert len({s.seed for s in specs}) == 50
    assert trial_spec(8, 0, START, WINDOW) != specs[0]


def test_incident_times_cover_the_window_uniformly() -> None:
    offsets = [(trial_spec(3, k, START, WINDOW).incident_at - START) / WINDOW for k in range(4000)]
    tenths = [sum(1 for f in offsets if i / 10 <= f < (i + 1) / 10) for i in range(10)]
    # 400 expected per tenth; a binomial standard deviation is about 19.
    assert all(320 < count < 480 for count in tenths), tenths


@given(st.integers(1, 5000), st.integers(1, 64))
def test_chunks_cover_every_trial_once_in_order(trials: int, workers: int) -> None:
    found = chunks(trials, workers)
    assert [k for chunk in found for k in chunk.trials] == list(range(trials))
    assert all(len(chunk) >= 1 for chunk in found)
    assert len(found) <= max(workers * 8, -(-trials // 100))


def test_chunks_are_a_few_per_worker() -> None:
    assert chunks(1000, 2) == [TrialChunk(k, min(1000, k + 63)) for k in range(0, 1000, 63)]
    assert chunks(100_000, 2)[0] == TrialChunk(0, 100)  # never more than 100 trials per task
    assert chunks(3, 8) == [TrialChunk(0, 1), TrialChunk(1, 2), TrialChunk(2, 3)]
