"""Findings through the command line: derived when a run is recorded, shown in its report with the same
ids as the store, listed (`drsim findings`), assigned and closed (who and when recorded), and
re-verified by a later real drill of the same application that meets its objectives; never by a
simulated or emulated one. Bad ids and dates exit 2 with a clear message."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_fixtures import shop_run, write_run

from drsim.cli import main
from drsim.measure.events import InputFile, RunStarted
from drsim.measure.timeline import result_from_journal
from drsim.store import HistoryStore

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, list(args))
    assert "Traceback" not in outcome.output, outcome.output
    return outcome.exit_code, outcome.output


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated drills of shop, run and recorded by `drsim drill run`: the snapshot drill misses
    its RPO (a striped volume comes back inconsistent), the backup drill its RPO (a day-old point)."""
    out = tmp_path_factory.mktemp("findings") / "reports"
    for drill in ("2026-q4-shop-snapshot", "2026-q4-shop-backup"):
        code, output = cli("drill", "run", str(REPO / "drills" / f"{drill}.yaml"), "--out", str(out), "-q")
        assert code == 1, output
    return out


def listed(store: Path, *extra: str) -> list[dict[str, object]]:
    code, output = cli("findings", "--store", str(store), "--format", "json", *extra)
    assert code == 0, output
    found: list[dict[str, object]] = json.loads(output)
    return found


def test_a_run_records_its_findings_and_its_report_shows_the_same_ids(drilled: Path) -> None:
    store = drilled / "history.sqlite"
    found = listed(store)
    assert {f["drill"] for f in found} == {"2026-q4-shop-snapshot", "2026-q4-shop-backup"}
    assert all(f["simulated"] is True and f["run_kind"] == "simulated" and f["status"] == "open" for f in found)
    snapshot = [f for f in found if f["drill"] == "2026-q4-shop-snapshot"]
    assert {f["kind"] for f in snapshot} >= {"inconsistent-data", "rpo-missed"}
    inconsistent = next(f for f in snapshot if f["kind"] == "inconsistent-data")
    assert inconsistent["subject"] == "sql-01/sqldata" and "captured at different instants" in str(inconsistent["reason"])
    backup = next(f for f in found if f["drill"] == "2026-q4-shop-backup" and f["kind"] == "rpo-missed")
    assert re.search(
        r"was the Azure Backup point of 2026-11-20 02:00Z \(.*\), 12h 00m before the incident", str(backup["reason"])
    )  # 11h 59m 15s, rounded up

    (run_dir,) = (drilled / "2026-q4-shop-snapshot").iterdir()
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert all(str(f["id"]) in md and str(f["id"]) in html for f in snapshot)
    assert '<section id="findings">' in html and "## Findings" in md
    # rendered again and recorded again: the same findings, the same ids, nothing opened twice
    code, output = cli("report", str(run_dir))
    assert code == 0, output
    assert listed(store) == found


def test_listing_filters_and_fits_the_terminal(drilled: Path) -> None:
    store = drilled / "history.sqlite"
    assert listed(store, "--app", "crm") == []
    assert len(listed(store, "--app", "shop")) == len(listed(store)) == len(listed(store, "--open"))
    for width in (80, 100):
        outcome = CliRunner().invoke(main, ["findings", "--store", str(store)], env={"COLUMNS": str(width)})
        assert outcome.exit_code == 0
        lines = outcome.output.splitlines()
        assert all(len(line) <= width for line in lines[:-1]), "every table row fits the terminal"
        assert "…" not in outcome.output
        assert lines[-1].endswith("from simulated runs (design findings)")
        for finding in listed(store):
            assert str(finding["id"]) in outcome.output, "ids stay whole, to be copied"
    code, output = cli("findings", "--store", str(drilled / "absent.sqlite"))
    assert code == 2 and "no history store" in output


def test_assign_and_close_record_who_and_when(tmp_path: Path, drilled: Path) -> None:
    store = tmp_path / "history.sqlite"
    store.write_bytes((drilled / "history.sqlite").read_bytes())
    first = str(listed(store)[0]["id"])
    code, output = cli("findings", "assign", first, "--owner", "dba-team", "--due", "2027-01-31", "--by", "alice", "--store", str(store))
    assert code == 0 and output == f"{first}: assigned to dba-team, due 2027-01-31\n"
    code, output = cli("findings", "--store", str(store), "close", first, "--note", "stripe snapshots with a consistency group")
    assert code == 0 and f"{first}: closed at " in output
    (record,) = [f for f in listed(store) if f["id"] == first]
    assert record["owner"] == "dba-team" and record["due"] == "2027-01-31" and record["status"] == "closed"
    assigned, closed = record["actions"]  # type: ignore[misc]
    assert (assigned["action"], assigned["by"], assigned["owner"], assigned["due"]) == ("assigned", "alice", "dba-team", "2027-01-31")
    assert closed["action"] == "closed" and closed["by"] and closed["note"] == "stripe snapshots with a consistency group"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", closed["at"])
    assert first not in {f["id"] for f in listed(store, "--open")}
    # the run rendered and recorded again: what was done about its findings is kept
    (run_dir,) = (drilled / str(record["drill"])).iterdir()
    assert cli("report", str(run_dir), "--store", str(store))[0] == 0
    assert [f for f in listed(store) if f["id"] == first] == [record]

    code, output = cli("findings", "close", first, "--note", "again", "--store", str(store))
    assert code == 2 and "was closed already" in output
    for args, message in (
        (("assign", "F-nope", "--owner", "x", "--due", "2027-01-01"), "is not a finding id"),
        (("assign", "F-shop-rpo-missed-00000000", "--owner", "x", "--due", "2027-01-01"), "no finding F-shop-rpo-missed-00000000"),
        (("assign", first, "--owner", "x", "--due", "31/01/2027"), "not a date; give the due date as YYYY-MM-DD"),
        (("assign", first, "--owner", "x", "--due", "2027-02-30"), "not a date"),
        (("assign", first, "--owner", " ", "--due", "2027-02-01"), "--owner: give the name"),
        (("close", first + "x", "--note", "n"), "is not a finding id"),
        (("close", first, "--note", ""), "--note: say what was done"),
    ):
        code, output = cli("findings", *args, "--store", str(store))
        assert code == 2 and message in output, (args, output)


def azure_run(directory: Path, *, emulated: bool, run_id: str, drill: str = "2027-q1-shop-asr") -> Path:
    """The shop + crm run of report_fixtures as if made against Azure (shop meets its objectives, crm misses its RPO)."""
    _, events = shop_run(run_id=run_id, drill=drill)
    directory.mkdir(parents=True)
    (directory / "inputs").mkdir()
    (directory / "inputs" / "drill.yaml").write_text("kind: Drill\n", encoding="utf-8")
    digest = hashlib.sha256(b"kind: Drill\n").hexdigest()
    started = next(e for e in events if isinstance(e, RunStarted))
    azure = dataclasses.replace(started, provider="azure", emulated=emulated, inputs=(InputFile("drill", "inputs/drill.yaml", digest),))
    events = [azure if e is started else e for e in events]
    return write_run(directory, result_from_journal(events), events)


def test_a_later_real_drill_that_meets_the_objectives_re_verifies_the_app_s_findings(tmp_path: Path, drilled: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    store = out / "history.sqlite"
    store.write_bytes((drilled / "history.sqlite").read_bytes())
    before = listed(store, "--app", "shop")
    before_ids = {f["id"] for f in before}

    emulated = azure_run(out / "2027-q1-shop-asr" / "emulated", emulated=True, run_id="emulated")
    assert cli("report", str(emulated))[0] == 0
    assert all(f["status"] == "open" for f in listed(store, "--app", "shop") if f["id"] in before_ids), (
        "an emulated run re-verifies nothing"
    )

    real = azure_run(out / "2027-q1-shop-asr" / "real", emulated=False, run_id="real")
    code, output = cli("report", str(real))
    assert code == 0, output
    shop = listed(store, "--app", "shop")
    earlier = [f for f in shop if f["id"] in before_ids]
    assert earlier and all(f["status"] == "re-verified" and f["reverified_by"] == "real" for f in earlier)
    assert all(f["actions"][-1]["action"] == "re-verified" and f["actions"][-1]["run_id"] == "real" for f in earlier)  # type: ignore[index]
    assert not {f["id"] for f in listed(store, "--open", "--app", "shop")} & {f["id"] for f in earlier}
    crm = listed(store, "--app", "crm")
    assert crm and all(f["status"] == "open" and f["run_kind"] == "real" and f["simulated"] is False for f in crm if f["run_id"] == "real")

    code, output = cli("history", "--store", str(store), "--format", "json")
    kinds = {(r["drill"], r["run_id"]): r["kind"] for r in json.loads(output)}
    assert kinds[("2027-q1-shop-asr", "real")] == "real" and kinds[("2027-q1-shop-asr", "emulated")] == "emulated"
    assert kinds[("2026-q4-shop-backup", "20261120T140000Z-s42")] == "simulated"
    table = CliRunner().invoke(main, ["history", "--store", str(store)], env={"COLUMNS": "100"}).output
    assert table.splitlines()[-1] == (
        "4 recorded run(s): 1 real (0 passed), the only operating evidence; 2 simulated, 1 emulated, which are not"
    )
    with HistoryStore(store, read_only=True) as opened:
        assert {f.id for f in opened.findings(app="shop", open_only=True)}.isdisjoint(f["id"] for f in earlier)
        assert all(r.operating_evidence == (r.run_id == "real") for r in opened.runs())


def test_the_coverage_packet_lists_the_store_s_findings_with_their_state(tmp_path: Path, drilled: Path) -> None:
    from datetime import UTC, datetime

    store = tmp_path / "history.sqlite"
    store.write_bytes((drilled / "history.sqlite").read_bytes())
    first = str(listed(store)[0]["id"])
    assert cli("findings", "assign", first, "--owner", "dba-team", "--due", "2027-01-31", "--store", str(store))[0] == 0
    year = str(datetime.now(UTC).year)  # the drills were performed now (wall clock)
    code, output = cli("coverage", "--period", year, "--store", str(store), "--out", str(tmp_path / "packet"))
    assert code == 0, output
    packet = json.loads((tmp_path / "packet" / "coverage.json").read_text(encoding="utf-8"))
    found = {f["id"]: f for f in packet["findings"]}
    assert set(found) == {f["id"] for f in listed(store)}
    assert found[first]["owner"] == "dba-team" and found[first]["due"] == "2027-01-31"
    assert all(f["simulated"] is True and f["reason"] for f in found.values())


def test_a_simulated_drill_that_meets_the_objectives_re_verifies_nothing(tmp_path: Path, drilled: Path) -> None:
    store = tmp_path / "history.sqlite"
    store.write_bytes((drilled / "history.sqlite").read_bytes())
    before = listed(store)
    code, output = cli("drill", "run", str(REPO / "drills" / "2026-q4-shop-asr.yaml"), "--out", str(tmp_path), "--store", str(store), "-q")
    assert code == 0, output  # shop met every objective, in a simulation
    after = {f["id"]: f for f in listed(store)}
    assert all(after[f["id"]]["status"] == "open" and after[f["id"]]["reverified_at"] is None for f in before)
    (run_dir,) = (tmp_path / "2026-q4-shop-asr").iterdir()  # a run without findings says so, in both formats
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert (
        "## Findings\n\nNo findings: every objective was met, every task and check succeeded, nothing was left behind, in this simulation."
        in md
    )
    assert "No findings: every objective was met" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_vm_no_check_named_takes_its_application_from_the_run_s_estate(tmp_path: Path) -> None:
    """Nine in ten requests fail: the checks never run, so no check.result names an application; the
    findings of their VMs take it from the estate the run was made from (its fingerprinted copy in inputs/)."""
    for folder in ("drills", "runbooks"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    drill = tmp_path / "drills" / "2026-q4-shop-asr.yaml"
    drill.write_text(drill.read_text(encoding="utf-8").replace("seed: 42\n", "seed: 42\nsim: {failure_rate: 0.9}\n"), encoding="utf-8")
    code, output = cli("drill", "run", str(drill), "--out", str(tmp_path / "out"), "-q")
    assert code == 3, output
    found = listed(tmp_path / "out" / "history.sqlite")
    skipped = [f for f in found if f["kind"] == "skipped-check"]
    assert skipped and all(f["app"] == "shop" and str(f["id"]).startswith("F-shop-skipped-check-") for f in skipped)
    assert len({f["subject"] for f in skipped}) == len(skipped), "one finding per check step"
    assert "did not run on 6 VM(s)" in str(skipped[0]["reason"])
