"""`drsim due`: cadence (drill_every) and "changed since" the last passed real drill, through the CLI.
Runs executed against Azure are stood in for by program_kit.as_if_executed (CI cannot reach Azure)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from program_kit import as_if_executed, example_documents, run_drill

from drsim.cli import main

JSON = ("--format", "json")
STORE = "history.sqlite"
WEB_01 = "  - name: web-01\n    os: linux\n    size: "


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A copy of the example documents, the shop drilled every 90 days."""
    example_documents(tmp_path)
    estate = tmp_path / "drills" / "estates" / "contoso.yaml"
    text = estate.read_text()
    shop = "  - name: shop\n    vms: {app: shop}\n"
    text = text.replace(shop, shop + "    drill_every: 90d\n    critical: true\n")
    assert "drill_every: 90d" in text
    estate.write_text(text)
    return tmp_path


def _run(docs: Path, drill: str) -> Path:
    return run_drill(docs, drill, docs / "out")


_as_if_executed = as_if_executed


def _due(docs: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        ["due", "--estate", str(docs / "drills" / "estates" / "contoso.yaml"), "--store", str(docs / "out" / STORE), *args, *JSON],
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def _row(report: dict[str, Any], app: str, scenario: str | None) -> dict[str, Any]:
    (row,) = [r for r in report["rows"] if r["app"] == app and r["scenario"] == scenario]
    return row


def _at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_simulations_alone_leave_a_scheduled_app_overdue(docs: Path) -> None:
    _run(docs, "2026-q4-shop-asr")
    code, report = _due(docs)
    assert code == 1 and report["needs_action"]
    shop = _row(report, "shop", "region-outage")
    assert shop["critical"] and shop["drill_every_s"] == 90 * 86400
    assert shop["last_real"] is None and shop["last_simulated"]["verdict"] == "passed"
    assert shop["state"] == "overdue"  # a simulation evidences the design, never the cadence
    payroll = _row(report, "payroll", None)  # no drill_every, never drilled
    assert payroll["state"] == "not scheduled" and payroll["due"] is None


def test_a_passed_real_drill_sets_the_due_date_and_then_goes_overdue(docs: Path) -> None:
    _as_if_executed(_run(docs, "2026-q4-shop-asr"))
    code, report = _due(docs, "--at", _at(30))
    shop = _row(report, "shop", "region-outage")
    assert code == 0 and shop["state"] == "ok" and shop["changed_since"] == []
    assert shop["last_real"]["verdict"] == "passed" and shop["last_simulated"] is None
    performed = datetime.fromisoformat(shop["last_passed_real"]["performed"])
    assert datetime.fromisoformat(shop["due"]) == performed + timedelta(days=90)
    code, report = _due(docs, "--at", _at(91))
    assert code == 1 and _row(report, "shop", "region-outage")["state"] == "overdue"


def test_a_failed_real_drill_does_not_reset_the_cadence(docs: Path) -> None:
    # The backup drill misses its RPO (the runbook's header says so): a real run of it is a failed drill.
    _as_if_executed(_run(docs, "2026-q4-shop-backup"))
    code, report = _due(docs, "--at", _at(1))
    shop = _row(report, "shop", "accidental-delete")
    assert shop["last_real"]["verdict"] == "failed" and shop["last_passed_real"] is None
    assert code == 1 and shop["state"] == "overdue"


def test_an_emulated_run_counts_as_neither_real_nor_simulated(docs: Path) -> None:
    run_dir = _run(docs, "2026-q4-shop-asr")
    result = json.loads((run_dir / "result.json").read_text())
    result.update(provider="azure", simulated=False, emulated=True)
    (run_dir / "result.json").write_text(json.dumps(result))
    _code, report = _due(docs)
    shop = _row(report, "shop", "region-outage")
    assert shop["last_real"] is None and shop["last_simulated"] is None and shop["state"] == "overdue"


@pytest.mark.parametrize(
    ("document", "old", "new", "part", "shop_changes"),
    [
        # A shop VM grows: the shop's estate entry changed; payroll's did not.
        ("drills/estates/contoso.yaml", WEB_01 + "Standard_D2s_v5", WEB_01 + "Standard_D4s_v5", "estate", True),
        # A payroll VM grows: nothing of the shop changed.
        ("drills/estates/contoso.yaml", "size: Standard_E4s_v5", "size: Standard_E8s_v5", "estate", False),
        # The shop's protection rule changes (app-consistent points every 2h instead of 4h).
        ("drills/plans/asr-and-daily-backup.yaml", "app_consistent_every: 4h", "app_consistent_every: 2h", "plan", True),
        # Payroll's rule changes: the shop's rules did not.
        ("drills/plans/asr-and-daily-backup.yaml", "app_consistent_every: 1h", "app_consistent_every: 2h", "plan", False),
        # The runbook the drill ran changes.
        ("runbooks/shop-asr-region-failover.yaml", "rto: 2h", "rto: 3h", "runbook", True),
    ],
)
def test_changed_since_the_last_passed_real_drill(docs: Path, document: str, old: str, new: str, part: str, shop_changes: bool) -> None:
    _as_if_executed(_run(docs, "2026-q4-shop-asr"))
    path = docs / document
    text = path.read_text()
    assert old in text, (document, old)
    path.write_text(text.replace(old, new, 1))
    code, report = _due(docs, "--at", _at(1))
    shop = _row(report, "shop", "region-outage")
    if shop_changes:
        assert code == 1 and shop["state"] == "changed" and shop["changed_since"] == [part]
    else:
        assert code == 0 and shop["state"] == "ok" and shop["changed_since"] == []


def test_a_drill_document_that_is_gone_makes_the_change_unknown(docs: Path) -> None:
    _as_if_executed(_run(docs, "2026-q4-shop-asr"))
    (docs / "drills" / "2026-q4-shop-asr.yaml").unlink()
    code, report = _due(docs, "--at", _at(1))
    changed = _row(report, "shop", "region-outage")["changed_since"]
    assert code == 1 and [c.split(" ")[0] for c in changed] == ["plan", "runbook"]
    assert all("unknown" in c and "2026-q4-shop-asr.yaml" in c for c in changed)


def test_a_real_drill_whose_evidence_does_not_verify_is_not_counted(docs: Path) -> None:
    run_dir = _run(docs, "2026-q4-shop-asr")
    _as_if_executed(run_dir)
    (run_dir / "report.md").write_text("edited after sealing")
    code, report = _due(docs, "--at", _at(1))
    assert code == 1 and _row(report, "shop", None)["state"] == "overdue"
    assert any("does not verify" in note and "report.md: changed" in note for note in report["notes"])


def test_a_run_directory_that_is_gone_is_named_and_not_counted(docs: Path) -> None:
    run_dir = _run(docs, "2026-q4-shop-asr")
    shutil.rmtree(run_dir)
    _code, report = _due(docs)
    assert _row(report, "shop", None)["state"] == "overdue"
    assert any(str(run_dir) in note and "not counted" in note for note in report["notes"])


def test_the_table_fits_the_terminal(docs: Path) -> None:
    _run(docs, "2026-q4-shop-asr")
    for width in (80, 100, 140):
        result = CliRunner().invoke(
            main,
            ["due", "--estate", str(docs / "drills" / "estates" / "contoso.yaml"), "--store", str(docs / "out" / "history.sqlite")],
            env={"COLUMNS": str(width)},
        )
        assert result.exit_code == 1, result.output
        assert all(len(line) <= width for line in result.output.splitlines()), result.output
        assert "overdue" in result.output and "region-outage" in result.output and "needs action" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "yesterday"], "--at"),
        (["--store", "no-such.sqlite"], "no history store"),
    ],
)
def test_bad_input_is_refused_with_exit_2(docs: Path, args: list[str], message: str) -> None:
    _run(docs, "2026-q4-shop-asr")
    store = ["--store", str(docs / "out" / "history.sqlite")] if "--store" not in args else []
    result = CliRunner().invoke(main, ["due", "--estate", str(docs / "drills" / "estates" / "contoso.yaml"), *store, *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_bad_drill_every_names_the_file_and_line(docs: Path) -> None:
    estate = docs / "drills" / "estates" / "contoso.yaml"
    estate.write_text(estate.read_text().replace("drill_every: 90d", "drill_every: often"))
    result = CliRunner().invoke(main, ["due", "--estate", str(estate), "--store", str(docs / "none.sqlite")])
    assert result.exit_code == 2 and "contoso.yaml:" in result.output and "drill_every" in result.output
