"""How drsim shows a duration to people (drsim.times.duration): never better than it is."""

from __future__ import annotations

import pytest

from drsim.times import duration


@pytest.mark.parametrize(
    ("seconds", "up", "down", "exact"),
    [
        (None, "—", "—", "—"),
        (0, "0s", "0s", "0s"),
        (0.4, "1s", "0s", "0s"),
        (290, "4m 50s", "4m 50s", "4m 50s"),
        (300.0000001, "5m 00s", "5m 00s", "5m 00s"),  # float noise below a microsecond is no second more
        (3599.2, "1h 00m", "59m 59s", "59m 59s"),
        (6 * 3600, "6h 00m", "6h 00m", "6h 00m"),
        (6 * 3600 + 30, "6h 01m", "6h 00m", "6h 00m 30s"),
        (11 * 3600 + 59 * 60 + 10, "12h 00m", "11h 59m", "11h 59m 10s"),
        (86400 + 1800, "1d 01h", "1d 00h", "1d 00h 30m"),
        (-3700, "-1h 02m", "-1h 01m", "-1h 01m 40s"),
    ],
)
def test_a_shown_duration_never_reads_better_than_it_is(seconds: float | None, up: str, down: str, exact: str) -> None:
    assert (duration(seconds), duration(seconds, "down"), duration(seconds, "exact")) == (up, down, exact)


@pytest.mark.parametrize("objective", [60, 900, 3600, 21600, 86400, 5430])
@pytest.mark.parametrize("over", [0.000002, 0.4, 1, 29, 59, 61, 3599])
def test_a_measure_over_its_objective_is_shown_over_it(objective: int, over: float) -> None:
    """A measure that missed (greater than its objective) is never shown equal to or under it."""

    def seconds(text: str) -> int:
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return sum(int(part[:-1]) * units[part[-1]] for part in text.split())

    assert seconds(duration(objective + over)) > seconds(duration(objective, "exact"))
