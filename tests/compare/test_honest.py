"""Honest ranking and charts: a candidate that does not recover at p95 is never on the Pareto front nor Best;
coinciding lines stay visible and legends sit outside the data; the window end is in every output, and a fixed
--window-end gives byte-identical outputs on any day. Through the CLI where it runs a comparison."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from comparisons import WINDOW_END, comparison
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import drsim.cli
from drsim.cli import main
from drsim.compare.analysis import rank_candidates, trials_frame
from drsim.compare.charts import cost_scatter_figure, ecdf_figure
from drsim.compare.trials import AppOutcome, TrialOutcome

T0 = datetime(2026, 10, 1, tzinfo=UTC)
REGION_OUTAGE = "scenario: {incident: region-outage, region: eastus2}\nobjectives:\n  - {app: store, rto: 4h, rpo: 1h}\n"
CANDIDATES = [("daily", "daily.yaml", "restore.yaml"), ("asr", "asr.yaml", "asr-failover.yaml")]


def outcomes(name: str, rtos: list[float | None], *, objectives: bool = True) -> list[TrialOutcome]:
    met = (lambda rto: rto is not None) if objectives else (lambda rto: None)
    return [
        TrialOutcome(name, k, T0 + timedelta(hours=k), k, "passed" if rto else "failed", 1.0, (app(rto, met(rto)),))
        for k, rto in enumerate(rtos)
    ]


def app(rto: float | None, met: bool | None) -> AppOutcome:
    return AppOutcome("web", rto, None, None, None, met, None)


def test_a_candidate_that_does_not_recover_at_p95_is_neither_on_the_front_nor_qualifies() -> None:
    # `never`: recovers in no trial and its runbook sets no objective (so every objective counts as met).
    # `most`: recovers in 90 % of trials: its p95 is not reached. `slow`: always recovers, slowly, at a price.
    names = ["never", "most", "slow"]
    frame = trials_frame(
        outcomes("never", [None] * 20, objectives=False) + outcomes("most", [60.0] * 18 + [None] * 2) + outcomes("slow", [600.0] * 20),
        names,
    )
    ranking = rank_candidates(frame, {"never": 1.0, "most": 2.0, "slow": 50.0}, names, 20).set_index("candidate")
    assert ranking.loc["never", "all_met_share"] == 1.0  # no objective: all met, and yet ...
    assert not ranking.loc["never", "recovers"] and not ranking.loc["never", "qualifies"] and not ranking.loc["never", "pareto"]
    assert np.isinf(ranking.loc["most", "rto_p95_s"])
    assert not ranking.loc["most", "recovers"] and not ranking.loc["most", "pareto"]
    assert ranking.loc["slow", "recovers"] and ranking.loc["slow", "qualifies"] and ranking.loc["slow", "pareto"]
    assert ranking.loc["slow", "rank"] == 1


def test_through_the_cli_a_cheap_candidate_that_never_recovers_is_not_on_the_front(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = comparison(tmp_path, CANDIDATES, REGION_OUTAGE)
    result = CliRunner().invoke(main, ["compare", str(path), "--workers", "1", "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    ranking = {r["candidate"]: r for r in json.loads((out / "comparison.json").read_text())["ranking"]}
    daily = ranking["daily"]  # the cheapest, and never recovered: it used to be "on the front" for its cost
    assert daily["monthly_cost"] < ranking["asr"]["monthly_cost"]
    assert daily["rto_p95_s"] is None and not daily["recovers_at_p95"] and not daily["pareto"] and not daily["qualifies"]
    assert ranking["asr"]["pareto"]
    summary = pd.read_csv(out / "comparison.csv").set_index("candidate")
    assert not summary.loc["daily", "pareto"] and not summary.loc["daily", "recovers"]


def _overlaps(a, b) -> bool:  # type: ignore[no-untyped-def]
    return bool(a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)


def _legend_is_outside_every_axes(figure: Figure) -> None:
    FigureCanvasAgg(figure).draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    assert figure.legends, "a figure legend"
    for legend in figure.legends:
        box = legend.get_window_extent(renderer)
        for axes in figure.axes:
            assert not _overlaps(box, axes.get_window_extent(renderer)), "the legend sits on the data"
        assert axes.get_legend() is None


def test_coinciding_ecdf_lines_differ_in_style_and_markers_and_the_legend_is_outside() -> None:
    names = ["a", "b", "c"]
    same = [600.0 + 30 * k for k in range(40)]
    per_trial = trials_frame(outcomes("a", same) + outcomes("b", same) + outcomes("c", same), names)
    from drsim.compare.analysis import per_trial_worst

    worst = per_trial_worst(per_trial)
    figure = ecdf_figure(worst, "rto_s", names, "RTO", note=f"window ending {WINDOW_END}")
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == names
    assert all(np.array_equal(lines[0].get_xdata(), line.get_xdata()) for line in lines)  # they coincide ...
    assert len({line.get_linestyle() for line in lines}) == 3  # ... yet differ in dashes,
    assert len({line.get_marker() for line in lines}) == 3  # in markers,
    assert len({str(line.get_markevery()) for line in lines}) == 3  # and where the markers sit along the line
    assert all(line.get_marker() not in (None, "None", "") for line in lines)
    _legend_is_outside_every_axes(figure)
    assert WINDOW_END in figure.axes[0].get_title()


def test_the_cost_chart_has_a_marker_per_candidate_and_its_legend_below_the_plots() -> None:
    names = ["a", "b", "c"]
    frame = trials_frame(outcomes("a", [600.0] * 20) + outcomes("b", [600.0] * 20) + outcomes("c", [None] * 20), names)
    ranking = rank_candidates(frame, {"a": 10.0, "b": 10.0, "c": 5.0}, names, 20)
    figure = cost_scatter_figure(ranking, names, note=f"window ending {WINDOW_END}")
    markers = [collection.get_paths()[0] for collection in figure.axes[0].collections]
    assert len(markers) == 3 and len({tuple(map(tuple, m.vertices.round(3))) for m in markers}) == 3  # a, b coincide: shapes differ
    _legend_is_outside_every_axes(figure)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == ["a (Pareto front)", "b (Pareto front)", "c"]  # c never recovers: not on the front, however cheap
    assert "never" in [tick.get_text() for tick in figure.axes[0].get_yticklabels()]


def _compare(path: Path, out: Path, today: date, monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    monkeypatch.setattr(drsim.cli, "today_utc", lambda: today)
    result = CliRunner().invoke(main, ["compare", str(path), "--workers", "1", "--out", str(out), "--quiet", *extra])
    assert result.exit_code in (0, 1), result.output


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_fixed_window_end_gives_byte_identical_outputs_on_any_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = comparison(tmp_path, CANDIDATES, REGION_OUTAGE, window_end=False)
    out = tmp_path / "out"
    _compare(path, out, date(2026, 12, 2), monkeypatch, "--window-end", WINDOW_END)
    first = _files(out)
    _compare(path, out, date(2031, 7, 19), monkeypatch, "--window-end", WINDOW_END)
    assert _files(out) == first
    assert {"comparison.csv", "failures.csv", "trials.csv.gz", "comparison.json", "report.md", "report.html"} <= set(first)
    for name in ("ecdf-rto.svg", "ecdf-rpo.svg", "cost-vs-p95.svg"):
        svg = first[name].decode()
        assert "<metadata" not in svg and "dc:date" not in svg and "2026-12-02" not in svg  # no date embedded
        assert "Matplotlib" not in svg  # nor the creator's version, which changes with an upgrade


def test_without_any_window_end_the_day_decides_and_every_output_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = comparison(tmp_path, CANDIDATES, REGION_OUTAGE, window_end=False)
    _compare(path, tmp_path / "a", date(2026, 12, 2), monkeypatch)
    _compare(path, tmp_path / "b", date(2026, 12, 3), monkeypatch)
    a = pd.read_csv(tmp_path / "a" / "trials.csv.gz")
    b = pd.read_csv(tmp_path / "b" / "trials.csv.gz")
    assert (pd.to_datetime(b["incident_at"]) - pd.to_datetime(a["incident_at"]) == pd.Timedelta(days=1)).all()
    assert json.loads((tmp_path / "a" / "comparison.json").read_text())["window_end_defaulted"] is True
    assert "today 00:00 UTC was used" in (tmp_path / "a" / "report.md").read_text()


def test_the_window_end_is_written_in_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    _compare(comparison(tmp_path, CANDIDATES, REGION_OUTAGE), out, date(2026, 12, 2), monkeypatch)
    for name in ("comparison.csv", "failures.csv"):
        assert set(pd.read_csv(out / name)["window_end"]) == {WINDOW_END}, name
    assert set(pd.read_csv(out / "trials.csv.gz")["window_end"]) == {WINDOW_END}
    assert json.loads((out / "comparison.json").read_text())["window_end"] == WINDOW_END
    for name in ("report.md", "report.html", "ecdf-rto.svg", "ecdf-rpo.svg", "cost-vs-p95.svg", "replay/daily/drill.yaml"):
        assert WINDOW_END in (out / name).read_text(), name
    assert WINDOW_END in gzip.decompress((out / "trials.csv.gz").read_bytes()).decode()
