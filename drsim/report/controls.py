"""The compliance controls a drill can evidence: the mapping in controls.yaml, loaded and selected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict, Field


class EvidenceKind(StrEnum):
    """A fact of a run that evidences controls (computed by drsim.report.view)."""

    OBJECTIVES = "objectives"
    RECOVERY = "recovery"
    RECOVERY_POINTS = "recovery-points"
    DATA_INTEGRITY = "data-integrity"
    ISOLATION = "isolation"
    ALTERNATE_REGION = "alternate-region"
    CLEANUP = "cleanup"
    RECORD_INTEGRITY = "record-integrity"
    TREND = "trend"
    FINDINGS = "findings"


class Control(BaseModel):
    """One control of one framework and the kinds of run evidence that support it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+:[A-Za-z0-9.()-]+$")  # the same pattern as a Drill's evidence.controls
    framework: str
    ref: str
    title: str
    requirement: str
    evidenced_by: tuple[EvidenceKind, ...] = Field(min_length=1)


class _Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    controls: tuple[Control, ...]


@cache
def all_controls() -> tuple[Control, ...]:
    """Every control drsim maps, in the order of controls.yaml."""
    text = files("drsim.report").joinpath("controls.yaml").read_text(encoding="utf-8")
    return _Mapping.model_validate(yaml.safe_load(text)).controls


def control_ids() -> tuple[str, ...]:
    """The control ids a Drill's `evidence.controls` may name."""
    return tuple(control.id for control in all_controls())


@dataclass(frozen=True)
class ControlSelection:
    """The controls a drill asked to evidence; ids drsim does not map are kept to be shown, not dropped."""

    controls: tuple[Control, ...]
    unknown: tuple[str, ...]
    all_by_default: bool  # the drill named no controls, so every mapped control is shown


def select_controls(ids: Sequence[str] | None) -> ControlSelection:
    """The drill's evidence.controls resolved against the mapping (None or empty: every control)."""
    known = {control.id.lower(): control for control in all_controls()}  # ISO27001-2022:A.5.30 names the same control
    if not ids:
        return ControlSelection(all_controls(), (), True)
    chosen = {known[i.lower()].id: known[i.lower()] for i in ids if i.lower() in known}  # in the drill's order, once each
    unknown = tuple(dict.fromkeys(i for i in ids if i.lower() not in known))
    return ControlSelection(tuple(chosen.values()), unknown, False)
