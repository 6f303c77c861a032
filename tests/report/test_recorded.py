"""Reading a run directory back: bad files give located problems (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_fixtures import at, shop_run, write_run

from drsim.cli import main
from drsim.errors import DocumentError, UsageError
from drsim.measure.events import FailureCategory, ResourceCreated, ResourceDeleted, RunFinished, TaskFailed, TaskRetrying
from drsim.model.types import Action
from drsim.report.recorded import read_run


def test_reads_the_engine_shaped_run(shop_dir: Path) -> None:
    run = read_run(shop_dir)
    assert run.run_id == "20261120-140000-s42" and run.chain.intact and not run.torn_tail
    assert [p.step for p in run.points] == ["db", "web", "web", "restore"]
    assert [(f.step, f.vm, f.attempt, f.final, f.retried_ok) for f in run.failures] == [("db", "sql-01", 1, False, True)]
    assert len(run.canary_checks) == 4 and set(run.measured) == {"crm", "shop"}
    assert run.cleanup is not None and run.cleanup.status == "done"


def test_result_json_syntax_error_is_located(shop_dir: Path) -> None:
    path = shop_dir / "result.json"
    path.write_text(path.read_text().replace('"seed": 42,', '"seed": 42'))
    with pytest.raises(DocumentError) as caught:
        read_run(shop_dir)
    (problem,) = caught.value.problems
    assert problem.path == str(path) and problem.line == 6 and "not valid JSON" in problem.message


def test_result_json_wrong_field_is_located_by_line_and_key(shop_dir: Path) -> None:
    path = shop_dir / "result.json"
    data = json.loads(path.read_text())
    data["apps"][1]["rto_s"] = "fast"
    data["tasks"][0]["started_at"] = "yesterday"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(DocumentError) as caught:
        read_run(shop_dir)
    (problem,) = caught.value.problems
    lines = path.read_text().splitlines()
    assert '"rto_s": "fast"' in lines[problem.line - 1] and problem.message.startswith("rto_s:")
    data["apps"][1]["rto_s"] = 1.0
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(DocumentError) as caught:
        read_run(shop_dir)
    (problem,) = caught.value.problems
    assert '"started_at": "yesterday"' in path.read_text().splitlines()[problem.line - 1]
    assert problem.message == "started_at: expected an ISO 8601 UTC time, got 'yesterday'"


def test_journal_problems_name_the_line(shop_dir: Path) -> None:
    path = shop_dir / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:5], '{"event": "task.exploded", "at": "2026-11-20T14:00:00Z"}\n', *lines[6:]]))
    with pytest.raises(DocumentError) as caught:
        read_run(shop_dir)
    (problem,) = caught.value.problems
    assert (problem.line, problem.message) == (6, "unknown event 'task.exploded'")
    path.write_text("".join([*lines[:2], "[1, 2]\n", *lines[3:]]))
    with pytest.raises(DocumentError, match="expected one JSON object per line"):
        read_run(shop_dir)


def test_a_torn_last_line_is_dropped_like_the_engine_does(shop_dir: Path) -> None:
    path = shop_dir / "journal.jsonl"
    path.write_bytes(path.read_bytes() + b'{"event":"run.fin')
    run = read_run(shop_dir)
    assert run.torn_tail and run.chain.intact and run.chain.lines == 49


def test_a_broken_chain_is_reported_not_fatal(shop_dir: Path) -> None:
    path = shop_dir / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:7] + lines[8:]))
    run = read_run(shop_dir)
    assert run.chain.broken is not None and run.chain.broken.line == 8


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        read_run(tmp_path / "missing")
    with pytest.raises(UsageError, match=r"no result\.json"):
        read_run(tmp_path)


def test_cli_report_on_bad_input_exits_2_without_traceback(shop_dir: Path, tmp_path: Path) -> None:
    (shop_dir / "result.json").write_text("{")
    outcome = CliRunner().invoke(main, ["report", str(shop_dir), "--store", str(tmp_path / "h.sqlite")])
    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert f"{shop_dir / 'result.json'}:1:2: not valid JSON" in outcome.output
    bad_format = CliRunner().invoke(main, ["report", str(shop_dir), "--format", "pdf"])
    assert bad_format.exit_code == 2 and "md, html" in bad_format.output


def test_cli_report_renders_records_and_seals(shop_dir: Path, tmp_path: Path) -> None:
    store = shop_dir.parent.parent / "history.sqlite"  # by default, the store of the run's output directory
    outcome = CliRunner().invoke(main, ["report", str(shop_dir), "--format", "html"])
    assert outcome.exit_code == 0, outcome.output
    assert {Path(line.split()[1]).name for line in outcome.output.splitlines()} == {"report.html", "manifest.json"}
    assert CliRunner().invoke(main, ["evidence", "verify", str(shop_dir)]).exit_code == 0
    listed = CliRunner().invoke(main, ["history", "--store", str(store), "--format", "json"])
    assert [run["run_id"] for run in json.loads(listed.output)] == ["20261120-140000-s42"]


def test_failures_and_resources_keep_journal_order_across_kinds(tmp_path: Path) -> None:
    """Reading groups the events by class in one pass; where two kinds interleave (retried and failed
    attempts, resources created and deleted) the journal's order still decides."""
    result, events = shop_run()
    vm = "Microsoft.Compute/virtualMachines"
    extra = [
        ResourceDeleted(at=at(1), id="early", resource_kind=vm, name="early", region="r"),  # deleted before it was created: ignored
        ResourceCreated(at=at(2), id="early", resource_kind=vm, name="early", region="r", task=None, cost_per_day=1.0),
        ResourceCreated(at=at(3), id="early", resource_kind=vm, name="again", region="r", task=None, cost_per_day=2.0),  # the first counts
        ResourceDeleted(at=at(4), id="early", resource_kind=vm, name="early", region="r"),
        ResourceDeleted(at=at(5), id="early", resource_kind=vm, name="early", region="r"),  # the last deletion counts
        TaskFailed(
            at=at(6),
            task="x/vm",
            step="x",
            action=Action.CHECK_BOOT,
            vm="vm",
            attempts=2,
            error="boom",
            error_type="E",
            category=FailureCategory.EXECUTION,
            allowed=False,
        ),
        TaskRetrying(at=at(7), task="y/vm", step="y", action=Action.CHECK_BOOT, vm="vm", attempt=1, error="again", retry_in_s=1.0),
    ]
    run = read_run(write_run(tmp_path / "run", result, events[:-1] + extra + events[-1:]))
    early = next(r for r in run.resources if r.id == "early")
    assert (early.name, early.created_at, early.deleted_at, early.cost_per_day) == ("early", at(2), at(5), 1.0)
    assert [r.id for r in run.resources] == list(dict.fromkeys(e.id for e in run.events if isinstance(e, ResourceCreated)))
    assert [(f.step, f.final) for f in run.failures] == [("db", False), ("x", True), ("y", False)]
    assert run.by_class.of_any(TaskFailed, TaskRetrying) == [e for e in run.events if isinstance(e, TaskFailed | TaskRetrying)]
    assert run.by_class.last(RunFinished) is run.finished is not None
