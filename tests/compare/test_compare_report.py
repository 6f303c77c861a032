"""Report and charts from hand-made frames: content, escaping, self-containment, identical bytes for identical frames."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from drsim.compare.analysis import per_trial_worst, rank_candidates, summarize, trials_frame
from drsim.compare.charts import cost_scatter_chart, ecdf_chart
from drsim.compare.failures import FAILURE_COLUMNS
from drsim.compare.inputs import prepare
from drsim.compare.report import human_duration, money, percent, report_context, write_report
from drsim.compare.trials import AppOutcome, TrialOutcome

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"
NAMES = ["daily", "enhanced-4h", "asr", "daily-crr"]


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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


def test_values_are_written_as_drill_reports_write_them() -> None:
    assert [human_duration(v) for v in (42.0, 750.0, 11100.0, 93600.0, float("inf"), float("nan"), None)] == [
        "42s",
        "12m 30s",
        "3h 05m",
        "1d 02h",
        "never",
        "—",
        "—",
    ]
    assert [percent(v) for v in (0.95, float("nan"))] == ["95.0 %", "—"]
    assert [money(v) for v in (17.3015, 0.004, None)] == ["USD 17.30", "< USD 0.01", "—"]


def test_charts_are_svg_with_prefixed_ids_and_repeat_byte_for_byte() -> None:
    trials, ranking, _ = frames()
    worst = per_trial_worst(trials)
    chart = ecdf_chart(worst, "rto_s", NAMES, "RTO", "ecdf-rto")
    assert chart.svg.startswith("<?xml") and chart.inline.startswith("<svg")
    assert "daily-crr (1 of 10 not recovered)" in chart.inline
    assert all(i.startswith("ecdf-rto-") for i in re.findall(r' id="([^"]+)"', chart.inline))
    assert ecdf_chart(worst, "rto_s", NAMES, "RTO", "ecdf-rto") == chart
    scatter = cost_scatter_chart(ranking, NAMES, "cost")
    assert scatter == cost_scatter_chart(ranking, NAMES, "cost")
    assert "Pareto front" in scatter.inline


def test_report_files(tmp_path: Path) -> None:
    trials, ranking, summary = frames()
    inputs = prepare(COMPARISON, trials=10, overrides=["asr.plan.rules[0].site_recovery.app_consistent_every=2h"])
    failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    written = write_report(report_context(inputs, trials, summary, ranking, failures), tmp_path)
    assert sorted(p.name for p in written) == ["cost-vs-p95.svg", "ecdf-rpo.svg", "ecdf-rto.svg", "report.html", "report.md"]
    markdown = (tmp_path / "report.md").read_text()
    assert "Best: **asr**" in markdown
    assert (
        "| 1 | asr | 100.0 % | 0.0 % | yes | USD 45.00 | USD 2.50 | 51m 30s | 2h 01m | yes |" in markdown
    )  # p95 RPO 2h 00m 30s, rounded up
    # Values are escaped for Markdown: the override's brackets cannot start a link.
    assert "--set asr.plan.rules\\[0\\].site\\_recovery.app\\_consistent\\_every=2h" in markdown
    assert "ending 2026-11-01T00:00:00Z" in markdown and "today 00:00 UTC was used" not in markdown
    assert "![ECDF of RTO per candidate](ecdf-rto.svg)" in markdown
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3
    assert len(set(re.findall(r' id="([^"]+)"', html))) == len(re.findall(r' id="([^"]+)"', html))  # ids unique on the page
    assert not re.search(r"<(script|link|img)\b", html)
    assert not re.search(r"(src|href)=\"https?:", html)
    again = tmp_path / "again"
    again.mkdir()
    write_report(report_context(inputs, trials, summary, ranking, failures), again)
    for name in ("report.html", "report.md", "ecdf-rto.svg"):
        assert (again / name).read_bytes() == (tmp_path / name).read_bytes()
