"""A simulated world built from a loaded drill: its incident, seed, options and calibration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from drsim.clock import Clock
from drsim.cloud.sim.catalog import Catalog, load_catalog
from drsim.cloud.sim.incidents import IncidentSpec, incident_from_scenario
from drsim.cloud.sim.world import SimProvider, build_world
from drsim.model.checks import DrillBundle


def calibration_path(bundle: DrillBundle) -> Path | None:
    """The drill's calibration file (`sim.calibration`), resolved relative to the drill file."""
    relative = bundle.drill.doc.sim.calibration
    if relative is None:
        return None
    path = Path(relative)
    return path if path.is_absolute() else bundle.drill.path.parent / path


def drill_catalog(bundle: DrillBundle) -> Catalog:
    """The catalog a drill runs with: the packaged one, with the drill's calibration applied."""
    return load_catalog(calibration_path(bundle))


def drill_incident(bundle: DrillBundle, incident_at: datetime) -> IncidentSpec:
    """The incident of the drill's runbook scenario, at `incident_at` (drsim.drills.incident_time decides it)."""
    return incident_from_scenario(bundle.runbook.doc.scenario, bundle.estate.doc, incident_at)


def world_from_drill(bundle: DrillBundle, *, clock: Clock, incident_at: datetime, catalog: Catalog | None = None) -> SimProvider:
    """The simulated world of a drill: its estate and plan, its scenario's incident, its seed and sim options."""
    drill = bundle.drill.doc
    return build_world(
        bundle.estate.doc,
        bundle.plan.doc,
        incident=drill_incident(bundle, incident_at),
        seed=drill.seed,
        clock=clock,
        options=drill.sim,
        catalog=catalog if catalog is not None else drill_catalog(bundle),
    )
