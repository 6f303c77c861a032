"""The timing, limit and price catalog: sources, distributions, calibration and its located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.cloud.sim import default_catalog, load_catalog
from drsim.cloud.sim.catalog import Fixed, Lognormal, Triangular, Uniform
from drsim.errors import DocumentError

CATALOG = default_catalog()


def test_every_catalog_entry_cites_its_source() -> None:
    entries = CATALOG.entries()
    assert len(entries) > 40
    for name, entry in entries.items():
        assert entry.source.strip(), name
        assert (
            "azure-facts.md" in entry.source
            or "azure-sdk-notes.md" in entry.source
            or "DESIGN.md" in entry.source
            or ("assumption" in entry.source)
        ), name


def test_the_catalog_has_a_version() -> None:
    assert CATALOG.version and CATALOG.label == CATALOG.version


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calibration.yaml"
    path.write_text(text)
    return path


def test_a_calibration_replaces_whole_entries_and_names_itself(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "calibration: drills-2026-q3\n"
        "backup:\n"
        "  restore_snapshot_tier: {dist: triangular, low: 15m, mode: 20m, high: 35m, source: 'our drills, 12 restores'}\n",
    )
    calibrated = load_catalog(path)
    entry = calibrated.backup.restore_snapshot_tier
    assert isinstance(entry, Triangular) and entry.mode == 1200 and entry.source == "our drills, 12 restores"
    assert calibrated.label == f"{CATALOG.version}+drills-2026-q3"
    assert calibrated.backup.schedule_jitter == CATALOG.backup.schedule_jitter


def test_a_bad_calibration_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "calibration: bad\n"
        "backup:\n"
        "  restore_snapshot_tier: {dist: lognormal, median: 20m, sigma: -1, source: x}\n"
        "  restore_speed: {dist: fixed, value: 1, source: y}\n"
        "compute:\n"
        "  vm_create_linux: {dist: gamma, low: 1, source: z}\n"
        "  vm_create_windows: {dist: uniform, low: 5m, high: 1m, source: z}\n"
        "networking: {}\n",
    )
    with pytest.raises(DocumentError) as raised:
        load_catalog(path)
    text = str(raised.value)
    assert f"{path}:8:1: unknown catalog section 'networking'" in text
    with pytest.raises(DocumentError) as raised:
        load_catalog(write(tmp_path, text_without_last_line(path)))
    found = [str(p) for p in raised.value.problems]
    assert any(":3:" in p and "sigma" in p for p in found)
    assert any(":4:3: unknown key 'restore_speed'" in p for p in found)
    assert any(":6:" in p and "unknown dist 'gamma'" in p for p in found)
    assert any(":7:" in p and "high must not be below low" in p for p in found)


def text_without_last_line(path: Path) -> str:
    return "".join(path.read_text().splitlines(keepends=True)[:-1])


def test_a_calibration_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="missing required key 'calibration'"):
        load_catalog(write(tmp_path, "backup: {}\n"))


def test_a_missing_calibration_file_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        load_catalog(tmp_path / "nope.yaml")


units = st.floats(min_value=0.0, max_value=1.0 - 1e-12)


@given(units, st.floats(0, 1e5), st.floats(0, 1e5))
def test_uniform_draws_stay_within_bounds(u: float, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert low <= Uniform(dist="uniform", low=low, high=high, source="t").sample(u) <= high


@given(units, st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1e4))
def test_triangular_draws_stay_within_bounds(u: float, a: float, b: float, c: float) -> None:
    low, mode, high = sorted((a, b, c))
    assert low - 1e-6 <= Triangular(dist="triangular", low=low, mode=mode, high=high, source="t").sample(u) <= high + 1e-6


@given(units, st.floats(1, 1e4), st.floats(0, 2))
def test_lognormal_draws_are_clipped_and_centred_on_the_median(u: float, median: float, sigma: float) -> None:
    dist = Lognormal(dist="lognormal", median=median, sigma=sigma, low=median / 10, high=median * 10, source="t")
    assert median / 10 <= dist.sample(u) <= median * 10
    assert dist.sample(0.5) == pytest.approx(median)


def test_fixed_is_fixed() -> None:
    assert Fixed(dist="fixed", value="5m", source="t").sample(0.99) == 300
