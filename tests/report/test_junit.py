"""JUnit XML: one test case per objective and per check, plus cleanup and the run itself."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from report_fixtures import shop_run, with_leftover, write_run

from drsim.measure.result import RunStatus
from drsim.report.junit import junit_xml, write_junit, write_junit_for_run

XSS = "<script>alert(1)</script>"


def cases(xml: str) -> dict[str, ET.Element]:
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    return {f"{c.get('classname')}::{c.get('name')}": c for c in suite.iter("testcase")}


def test_a_case_per_objective_and_check(shop_dir: Path, tmp_path: Path) -> None:
    path = write_junit_for_run(shop_dir, tmp_path / "out" / "junit.xml")
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("10", "1", "0", "0")
    found = cases(path.read_text())
    prefix = "drsim.2026-q4-shop-asr"
    objectives = [name for name in found if name.startswith(f"{prefix}.objectives::")]
    checks = [name for name in found if name.startswith(f"{prefix}.checks::")]
    assert len(objectives) == 4 and len(checks) == 4
    failure = found[f"{prefix}.objectives::crm RPO <= 1h 00m"].find("failure")
    assert failure is not None and failure.get("message") == "crm RPO measured 19h 57m, objective 1h 00m"  # 19h 56m 30s, rounded up
    assert found[f"{prefix}.checks::canary check of sql-01 (shop)"].findtext("system-out") == "measured RPO 4m 50s, claimed RPO 4m 00s"


def test_leftovers_fail_the_cleanup_case_and_names_are_escaped(tmp_path: Path) -> None:
    result, events = with_leftover(*shop_run(vm_prefix=XSS), f"{XSS}web-01-test")
    xml = junit_xml(result, events)
    assert "<script>" not in xml
    found = cases(xml)
    cleanup = found["drsim.2026-q4-shop-asr.cleanup::cleanup leaves nothing behind"].find("failure")
    assert cleanup is not None and f"{XSS}web-01-test" in (cleanup.get("message") or "")
    assert f"drsim.2026-q4-shop-asr.checks::canary check of {XSS}sql-01 (shop)" in found


def test_journal_objects_as_written_give_the_same_xml(shop_dir: Path, tmp_path: Path) -> None:
    result, events = shop_run()
    raw = [json.loads(line) for line in (shop_dir / "journal.jsonl").read_text().splitlines()]
    assert junit_xml(result, raw) == junit_xml(result, events)
    assert write_junit(result, events, tmp_path / "j.xml").read_text() == junit_xml(result, events)


def test_a_run_that_could_not_finish_is_an_error_case(tmp_path: Path) -> None:
    result, events = shop_run()
    errored = result.model_copy(update={"status": RunStatus.ERROR})
    run = write_run(tmp_path / "run", errored, events)
    xml = write_junit_for_run(run, tmp_path / "j.xml").read_text()
    assert cases(xml)["drsim.2026-q4-shop-asr::drill ran to the end"].find("error") is not None
