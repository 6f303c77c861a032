"""report.md and report.html from run directories: the golden Markdown, escaping, large drills, trends."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from report_fixtures import shop_run, synthetic_run, with_leftover, write_run

from drsim.drills import render_reports, rerender
from drsim.errors import UsageError
from drsim.report import render_run
from drsim.report.view import GROUP_ABOVE
from drsim.store import HistoryStore

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = "DRSIM_REGENERATE_GOLDEN"
XSS = "<script>alert(1)</script>"


CONTROLS = ("iso27001-2022:A.5.30", "soc2:A1.3", "dora:Art.12", "acme:BC-7")


def test_report_md_matches_the_golden_file(shop_dir: Path) -> None:
    """Regenerate with DRSIM_REGENERATE_GOLDEN=1 after an intended change, and review the diff."""
    render_run(shop_dir, ("md",), controls=CONTROLS)
    text = (shop_dir / "report.md").read_text(encoding="utf-8")
    golden = GOLDEN / "shop-asr.report.md"
    if os.environ.get(REGENERATE):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_rendering_twice_gives_the_same_bytes(shop_dir: Path) -> None:
    first = {p.name: p.read_bytes() for p in render_run(shop_dir)}
    second = {p.name: p.read_bytes() for p in render_run(shop_dir)}
    assert first == second
    assert set(first) == {"report.md", "report.html", "timeline.svg"}


def test_report_shows_verdicts_missed_objective_and_retry(shop_dir: Path) -> None:
    render_run(shop_dir, ("md",), controls=CONTROLS)
    text = (shop_dir / "report.md").read_text(encoding="utf-8")
    assert "**Status: FAILED.** 1 objective(s) missed (crm RPO)." in text
    assert "| crm | RPO | 1h 00m | 19h 57m | **over by 18h 57m** | **MISSED** |" in text  # 19h 56m 30s, rounded up
    assert "| shop | RTO | 2h 00m | 45m 12s | 1h 14m to spare | met |" in text
    assert (
        "| db | sql-01 | 1 | T+10m 05s | ThrottledError: ARM throttled the request; retry after 12s | retried; a later attempt succeeded |"
        in text
    )
    assert "| restore | crm-01 | 2026-11-19 18:04:00Z | 19h 56m | AppConsistent | vault | centralus | crm-01-20261119 |" in text
    assert "**Not in drsim's control mapping, so not evidenced here:** acme:BC-7." in text


def test_html_is_one_self_contained_file_without_script(shop_dir: Path) -> None:
    render_run(shop_dir, ("html",))
    html = (shop_dir / "report.html").read_text(encoding="utf-8")
    assert not (shop_dir / "report.md").exists()
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", html), "only in-page links"
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    assert html.count("<svg") == 1 and "@media print" in html
    assert "Content-Security-Policy" in html


def test_html_ids_are_unique_with_both_charts_inline(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    render_reports(write_run(tmp_path / "q3", *shop_run(run_id="q3")), ("html",), store)
    run = write_run(tmp_path / "q4", *shop_run())
    render_reports(run, ("html",), store)
    html = (run / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert html.count("<svg") == 2 and len(ids) == len(set(ids))
    for target in re.findall(r'(?:href="#|url\(#)([^")]+)', html):
        assert target in ids, f"dangling in-page reference #{target}"


@pytest.mark.parametrize("vm_prefix", [XSS, "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "a|b *c* _d_ `e` $f$ ~g~ &amp;"])
def test_user_names_are_escaped_in_md_html_and_svg(tmp_path: Path, vm_prefix: str) -> None:
    result, events = shop_run(vm_prefix=vm_prefix)
    run = write_run(tmp_path / "run", result, events)
    render_run(run)
    md = (run / "report.md").read_text(encoding="utf-8")
    html = (run / "report.html").read_text(encoding="utf-8")
    svg = (run / "timeline.svg").read_text(encoding="utf-8")
    for text in (md, html, svg):
        assert "<script" not in text and "<img" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", md), "a Markdown link was formed"
    assert "<a " not in html.replace('<a href="#', ""), "only the in-page links of the table of contents"
    # every row of the RPO table keeps its 7 cells: a name cannot split a Markdown table
    rows = [line for line in md.splitlines() if line.startswith("| ") and "sql-01 | shop |" in line]
    assert rows and all(line.count(" | ") == 6 for line in rows)


def test_xss_vm_name_reaches_readers_as_text(tmp_path: Path) -> None:
    result, events = shop_run(vm_prefix=XSS)
    run = write_run(tmp_path / "run", result, events)
    render_run(run)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;sql-01" in md
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;sql-01" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;sql-01" in (run / "timeline.svg").read_text(encoding="utf-8")


def test_a_large_drill_groups_tables_and_chart_by_step(tmp_path: Path) -> None:
    result, events = synthetic_run(GROUP_ABOVE // 3 + 50, inconsistent_every=40, failed_every=60)
    run = write_run(tmp_path / "run", result, events)
    render_run(run)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert len(result.tasks) > GROUP_ABOVE
    assert f"{len(result.tasks)} tasks in 5 steps; one row per step." in md
    assert "| clone | snapshot.clone | 150 | 148 | **2** | 0 |" in md
    assert "vm-00000" not in md.split("## Tasks")[1].split("### Failed attempts")[0]
    assert "VMs that need attention" in md and "| vm-00039 | fleet |" in md
    assert "| CrashConsistent | snapshot | centralus | 148 |" in md
    svg = (run / "timeline.svg").read_text(encoding="utf-8")
    assert "clone (150 tasks, 2 failed)" in svg and "vm-00001" not in svg


def test_leftovers_are_listed_with_their_cost(tmp_path: Path) -> None:
    result, events = with_leftover(*shop_run(), "web-01-test")
    run = write_run(tmp_path / "run", result, events)
    render_run(run, ("md",))
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "**Status: ERROR.** 1 objective(s) missed (crm RPO); 1 resource(s) left behind after cleanup." in md
    assert "Cleanup **incomplete**: 8 resources created by the drill, 7 deleted" in md
    assert "| web-01-test | Microsoft.Compute/virtualMachines | centralus | USD 12.10 |" in md


def test_trend_compares_runs_of_the_same_series(tmp_path: Path) -> None:
    store_path = tmp_path / "history.sqlite"
    q3 = write_run(tmp_path / "q3", *shop_run(run_id="20260820-140000-s42", drill="2026-q3-shop-asr", rpo_sql_s=600.0))
    q4 = write_run(tmp_path / "q4", *shop_run())
    render_reports(q3, ("md",), store_path)
    written = render_reports(q4, ("md", "html"), store_path)
    md = (q4 / "report.md").read_text(encoding="utf-8")
    assert "| 20260820-140000-s42 | simulated | 2026-q3-shop-asr |" in md
    assert "| 20261120-140000-s42 (this run) | simulated | 2026-q4-shop-asr |" in md
    assert "1 earlier run of this drill series on record: 0 real (0 passed), the only operating evidence among them; 1 simulated" in md
    assert q4 / "trend.svg" in written and "![Trend" in md
    assert "2026-q3-shop-asr 2026-11-20 (simulated)" in (q4 / "trend.svg").read_text(encoding="utf-8"), "each run's kind on the chart"
    assert (q4 / "report.html").read_text(encoding="utf-8").count("<svg") == 2
    with HistoryStore(store_path) as store:
        assert [r.run_id for r in store.runs()] == ["20260820-140000-s42", "20261120-140000-s42"]
    render_run(q4, ("md",))  # without a store the trend, and its chart, are gone
    assert not (q4 / "trend.svg").exists()


def test_unknown_format_is_a_usage_error(shop_dir: Path) -> None:
    with pytest.raises(UsageError, match="md, html"):
        render_run(shop_dir, ("pdf",))


def test_rerender_refuses_to_break_a_signature_without_a_key(shop_dir: Path) -> None:
    (shop_dir / "manifest.sig").write_text("{}")
    with pytest.raises(UsageError, match="--sign-key"):
        rerender(shop_dir, ("md",), None, None)
    assert not (shop_dir / "report.md").exists()
