"""Report and charts from hand-made frames: content, self-containment, identical bytes for identical frames."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drsim.compare.analysis import rank_candidates, summarize, trials_frame
from drsim.compare.charts import cost_scatter_svg, ecdf_svg
from drsim.compare.inputs import prepare
from drsim.compare.report import human_duration, report_context, write_report
from drsim.compare.trials import AppOutcome, TrialOutcome

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"
NAMES = ["daily", "enhanced-4h", "asr", "daily-crr"]


def frames() -> tuple:
    outcomes = []
    for k in range(10):
        at = datetime(2026, 10, 5, tzinfo=UTC) + timedelta(hours=7 * k)
        for i, name in enumerate(NAMES):
            rto = None if (name == "daily-crr" and k == 3) else 1800.0 + 600 * i + 10 * k
            apps = (AppOutcome("store", rto, 3600.0 * (4 - i) + k, 3600.0 * (4 - i), True, rto is not None, i >= 2),)
            outcomes.append(TrialOutcome(name, k, at, k, "passed", 0.5 + i, apps))
    trials = trials_frame(outcomes, NAMES)
    ranking = rank_candidates(trials, {"daily": 12.0, "enhanced-4h": 20.0, "asr": 45.0, "daily-crr": 18.0}, NAMES, 10)
    return trials, ranking, summarize(trials, ranking)


def test_human_durations() -> None:
    assert [human_duration(v) for v in (42.0, 750.0, 11100.0, 93600.0, float("inf"), float("nan"), None)] == [
        "42s", "12m30s", "3h05m", "26h00m", "never", "—", "—"]


def test_charts_are_svg_and_repeat_byte_for_byte() -> None:
    trials, ranking, _ = frames()
    from drsim.compare.analysis import per_trial_worst

    worst = per_trial_worst(trials)
    first = ecdf_svg(worst, "rto_s", NAMES, "RTO")
    assert first.startswith("<svg") and first.endswith("</svg>")
    assert "daily-crr (1 not recovered)" in first
    assert ecdf_svg(worst, "rto_s", NAMES, "RTO") == first
    scatter = cost_scatter_svg(ranking, NAMES)
    assert scatter == cost_scatter_svg(ranking, NAMES)
    assert "Pareto front" in scatter


def test_report_files(tmp_path: Path) -> None:
    trials, ranking, summary = frames()
    inputs = prepare(COMPARISON, trials=10, overrides=["asr.plan.rules[0].site_recovery.app_consistent_every=2h"])
    written = write_report(report_context(inputs, trials, summary, ranking), tmp_path)
    assert sorted(p.name for p in written) == ["cost-vs-p95.svg", "ecdf-rpo.svg", "ecdf-rto.svg", "report.html", "report.md"]
    markdown = (tmp_path / "report.md").read_text()
    assert "| 1 | asr | 100.0 % | yes | $45.00 | $2.50 |" in markdown
    assert "`--set asr.plan.rules[0].site_recovery.app_consistent_every=2h`" in markdown
    assert "ending 2026-11-01T00:00:00Z" in markdown and "today 00:00 UTC was used" not in markdown
    assert "![ECDF of RTO per candidate](ecdf-rto.svg)" in markdown
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3
    assert not re.search(r"<(script|link|img)\b", html)
    assert not re.search(r"(src|href)=\"https?:", html)
    again = tmp_path / "again"
    again.mkdir()
    write_report(report_context(inputs, trials, summary, ranking), again)
    assert (again / "report.html").read_bytes() == (tmp_path / "report.html").read_bytes()
