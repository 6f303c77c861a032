"""A simulated world built from a loaded drill: its incident, seed, options and calibration."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from drsim.clock import Clock
from drsim.cloud.sim.catalog import Catalog, load_catalog
from drsim.cloud.sim.incidents import IncidentSpec, incident_from_scenario
from drsim.cloud.sim.world import SimProvider, build_world
from drsim.errors import DocumentError, Problem
from drsim.model.checks import DrillBundle, load_drill, validate_path
from drsim.model.documents import Drill
from drsim.model.loader import read_yaml


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


def is_calibration(data: object) -> bool:
    """Whether a document read from YAML is a calibration file: `calibration: <name>` and catalog
    sections, no `apiVersion` or `kind` (it is not one of the five documents)."""
    return isinstance(data, dict) and "calibration" in data and "kind" not in data and "apiVersion" not in data


def validate_file(path: str | os.PathLike[str]) -> list[Problem]:
    """What `drsim validate` finds in one file: a document of any kind (drsim.model.checks.validate_path),
    or a calibration file (loaded onto the catalog, every problem located); a valid Drill also has its
    `sim.calibration` loaded."""
    try:
        data, _ = read_yaml(path)
    except DocumentError:
        data = None  # validate_path reports it
    try:
        if is_calibration(data):
            load_catalog(path)
            return []
        found = validate_path(path)
        if not found and isinstance(data, dict) and data.get("kind") == Drill.__name__:
            bundle = load_drill(path)
            if bundle.drill.doc.sim.calibration is not None:
                drill_catalog(bundle)
        return found
    except DocumentError as exc:
        return exc.problems
