"""JUnit XML of a drill run, so CI systems show drill results natively: one test case per objective
(an application's RTO or RPO) and per check, plus one for cleanup and one for the run as a whole."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path

from drsim.measure.events import CheckResult, Event, event_from_dict
from drsim.measure.result import DrillResult, RunStatus
from drsim.report.evidence import JOURNAL
from drsim.report.recorded import RESULT, read_events, read_result
from drsim.report.view import run_kind
from drsim.times import duration


def _typed(item: Event | Mapping[str, object]) -> Event:
    """An engine event, or the JSON object of one (as journaled, with or without `prev`)."""
    if isinstance(item, Event):
        return item
    return event_from_dict({k: v for k, v in item.items() if k != "prev"})


def _case(suite: ET.Element, classname: str, name: str, seconds: float | None = None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    if seconds is not None:
        case.set("time", f"{max(seconds, 0.0):.3f}")
    return case


def _check_problems(check: CheckResult) -> list[str]:
    problems = []
    if not check.reachable:
        problems.append("the recovered VM could not be read")
    if check.corrupted:
        problems.append("the recovered data is corrupted")
    bad_volumes = [v.name for v in check.volumes if not v.consistent]
    if bad_volumes:
        problems.append(f"inconsistent volume(s): {', '.join(bad_volumes)}")
    elif check.consistent is False:
        problems.append("the recovered data is inconsistent")
    if check.reason:
        problems.append(check.reason)
    if not problems:
        problems.append("the check did not pass")
    return problems


def junit_xml(result: DrillResult, journal_events: Iterable[Event | Mapping[str, object]]) -> str:
    """The JUnit XML text of a run (ElementTree escapes every name and message)."""
    events = [_typed(e) for e in journal_events]
    checks = [e for e in events if isinstance(e, CheckResult)]
    prefix = f"drsim.{result.drill}"
    kind = run_kind(result.provider, bool(result.emulated))
    suite = ET.Element("testsuite", name=f"drill {result.drill}" + (f" ({kind.value})" if kind.banner else ""))
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("kind", kind.value),  # a simulation evidences the design, never an executed recovery (docs/compliance.md)
        ("runbook", result.runbook),
        ("provider", result.provider),
        ("seed", str(result.seed)),
        ("incident_at", result.incident_at),
        ("status", result.status.value),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    counts: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def outcome(case: ET.Element, tag: str | None, message: str = "") -> None:
        counts["tests"] += 1
        if tag is not None:
            ET.SubElement(case, tag, message=message).text = message
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1

    for app in result.apps:
        for measure, objective, measured, met in (
            ("RTO", app.rto_objective_s, app.rto_s, app.rto_met),
            ("RPO", app.rpo_objective_s, app.rpo_s, app.rpo_met),
        ):
            if objective is None and met is None:
                continue
            case = _case(suite, f"{prefix}.objectives", f"{app.app} {measure} <= {duration(objective, 'exact')}")
            if met is True:
                outcome(case, None)
            elif met is False:
                outcome(case, "failure", f"{app.app} {measure} measured {duration(measured)}, objective {duration(objective, 'exact')}")
            else:
                outcome(case, "skipped", f"{app.app} {measure} was not measured")
    for check in checks:
        case = _case(suite, f"{prefix}.checks", f"{check.check.value} check of {check.vm} ({check.app or 'no application'})")
        if check.measured_rpo_s is not None:
            ET.SubElement(
                case, "system-out"
            ).text = f"measured RPO {duration(check.measured_rpo_s)}, claimed RPO {duration(check.claimed_rpo_s)}"
        outcome(case, None if check.passed else "failure", "" if check.passed else "; ".join(_check_problems(check)))
    cleanup = _case(suite, f"{prefix}.cleanup", "cleanup leaves nothing behind")
    if result.cleanup.status == "skipped":
        outcome(cleanup, "skipped", "cleanup was skipped (cleanup: never, or on-success after a failure)")
    elif result.cleanup.leftovers or result.cleanup.status != "done":
        names = ", ".join(f"{x.name} ({x.kind})" for x in result.cleanup.leftovers)
        outcome(cleanup, "failure", f"cleanup {result.cleanup.status}; left behind: {names or 'unknown'}")
    else:
        outcome(cleanup, None)
    run = _case(suite, prefix, "drill ran to the end")
    if result.status is RunStatus.ERROR and not result.cleanup.leftovers:
        outcome(run, "error", "the drill could not run to the end (status error); see journal.jsonl")
    else:
        outcome(run, None)
    for key, count in counts.items():
        suite.set(key, str(count))
    times = [e.at for e in events]
    if times:
        suite.set("time", f"{(max(times) - min(times)).total_seconds():.3f}")
    suites = ET.Element("testsuites", name="drsim")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(result: DrillResult, journal_events: Iterable[Event | Mapping[str, object]], path: str | os.PathLike[str]) -> Path:
    """Write JUnit XML for a run: the result and its journal events (as read back, or as the engine wrote them)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(result, journal_events), encoding="utf-8")
    return target


def write_junit_for_run(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Write JUnit XML for a run directory, from its result.json and journal.jsonl."""
    directory = Path(run_dir)
    result, _ = read_result(directory / RESULT)
    events, _, _ = read_events(directory / JOURNAL)
    return write_junit(result, events, path)
