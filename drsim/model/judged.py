"""What each candidate of a comparison is judged against: the incident it faces and its objectives.

A Comparison may state `scenario:` and `objectives:` once; every candidate's runbook then runs under
that scenario and is judged against those objectives (per app: the comparison's objective replaces
the runbook's for each app it names). Without them, candidates whose runbooks differ in incident or
objectives are not compared like for like: `load_comparison` refuses them unless `mixed: true`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drsim.errors import Problem
from drsim.model.documents import Comparison, Estate, Objective, Runbook, Scenario
from drsim.model.loader import Loaded
from drsim.model.types import describe_selector
from drsim.times import duration


def describe_scenario(scenario: Scenario) -> str:
    """The incident as people read it: `region-outage of eastus2`, `vm-loss of VMs {app: shop, tier: web}, detected after 6h 00m`."""
    where = scenario.region if scenario.region is not None else f"VMs {describe_selector(scenario.vms or {})}"
    text = f"{scenario.incident.value} of {where}"
    if scenario.detected_after:
        text += f", detected after {duration(scenario.detected_after.total_seconds(), 'exact')}"
    return text


def describe_objectives(objectives: Sequence[Objective]) -> str:
    """Objectives per app, in app order, as every output shows durations (drsim.times.duration, exact: an
    objective is never rounded): `shop RTO 4h 00m RPO 1d 02h; payroll RTO 8h 00m`; `none` without any."""
    parts = []
    for objective in sorted(objectives, key=lambda o: o.app):
        pairs = (("RTO", objective.rto), ("RPO", objective.rpo))
        measures = [f"{name} {duration(value.total_seconds(), 'exact')}" for name, value in pairs if value is not None]
        parts.append(f"{objective.app} {' '.join(measures)}")
    return "; ".join(parts) if parts else "none"


def judged_objectives(runbook: Runbook, comparison: Comparison) -> tuple[Objective, ...]:
    """The runbook's objectives with the comparison's replacing those of every app it names."""
    if comparison.objectives is None:
        return runbook.objectives
    named = {o.app for o in comparison.objectives}
    return tuple(o for o in runbook.objectives if o.app not in named) + comparison.objectives


def judged_runbook(runbook: Runbook, comparison: Comparison) -> Runbook:
    """The runbook as the comparison runs it: under its scenario, against its objectives."""
    update: dict[str, Any] = {}
    if comparison.scenario is not None:
        update["scenario"] = comparison.scenario
    if comparison.objectives is not None:
        update["objectives"] = judged_objectives(runbook, comparison)
    return runbook.model_copy(update=update) if update else runbook


def judged_runbook_data(runbook: Any, comparison: Any) -> Any:
    """The same on plain YAML data (what comparison workers receive): the comparison's `scenario`
    replaces the runbook's; its `objectives` replace the runbook's for every app they name."""
    if not isinstance(runbook, dict) or not isinstance(comparison, dict):
        return runbook
    judged = dict(runbook)
    if comparison.get("scenario") is not None:
        judged["scenario"] = comparison["scenario"]
    stated = comparison.get("objectives")
    if stated is not None:
        named = {o.get("app") for o in stated if isinstance(o, dict)}
        kept = [o for o in runbook.get("objectives") or () if not (isinstance(o, dict) and o.get("app") in named)]
        judged["objectives"] = kept + list(stated)
    return judged


@dataclass(frozen=True)
class Faced:
    """What one candidate faces in a comparison: the incident and the objectives it is judged against."""

    incident: str
    objectives: str

    @classmethod
    def of(cls, runbook: Runbook) -> Faced:
        return cls(describe_scenario(runbook.scenario), describe_objectives(runbook.objectives))


def like_for_like_problems(comparison: Loaded[Comparison], judged: Sequence[tuple[str, Runbook]]) -> list[Problem]:
    """A problem (at `candidates`) naming what each candidate faces, when they differ and `mixed` is not set."""
    faced = [(name, Faced.of(runbook)) for name, runbook in judged]
    if comparison.doc.mixed or len({f for _, f in faced}) <= 1:
        return []
    scenarios = {f.incident for _, f in faced}
    objectives = {f.objectives for _, f in faced}
    differ = " and ".join(what for what, values in (("incidents", scenarios), ("objectives", objectives)) if len(values) > 1)
    lines = [f"the candidates face different {differ}, so ranking them would not compare like for like:"]
    lines += [f"  {name}: incident {f.incident}; objectives {f.objectives}" for name, f in faced]
    fix = []
    if len(scenarios) > 1:
        fix.append("scenario:")
    if len(objectives) > 1:
        fix.append("objectives:")
    lines.append(
        f"  state {' and '.join(fix)} in the Comparison to judge every candidate against the same, "
        "or set mixed: true to rank them as they are (every table and chart then says what each faced)"
    )
    return [comparison.source.problem(("candidates",), "\n".join(lines), key=True)]


def stated_problems(comparison: Loaded[Comparison], estate: Loaded[Estate] | None) -> list[Problem]:
    """The comparison's own scenario and objectives, checked as a runbook's are (located in the comparison)."""
    doc, src = comparison.doc, comparison.source
    problems: list[Problem] = []
    if estate is None:
        return problems
    est = estate.doc
    app_names = {a.name for a in est.apps}
    region_names = {est.regions.primary, est.regions.recovery} | {vm.region for vm in est.vms}
    scenario = doc.scenario
    if scenario is not None and scenario.vms is not None and not est.select(scenario.vms):
        problems.append(src.problem(("scenario", "vms"), f"selector {describe_selector(scenario.vms)} matches no VM in estate {est.name}"))
    if scenario is not None and scenario.region is not None and scenario.region not in region_names:
        problems.append(src.problem(("scenario", "region"), f"region {scenario.region} has no VM in estate {est.name}"))
    for i, objective in enumerate(doc.objectives or ()):
        if objective.app not in app_names:
            problems.append(src.problem(("objectives", i, "app"), f"unknown app '{objective.app}'; the estate has {sorted(app_names)}"))
    return problems
