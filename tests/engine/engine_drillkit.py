"""Helpers for end-to-end engine tests: write a runbook and a drill next to the repository's estate and plans."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drsim.model import DrillBundle, load_drill
from drsim.model.documents import IsolateStep
from drsim.model.loader import Loaded

REPO = Path(__file__).resolve().parents[2]
DRILLS = REPO / "drills"
ESTATE = DRILLS / "estates" / "contoso.yaml"

DrillFactory = Callable[..., DrillBundle]


def steps_isolated(region: str) -> list[dict[str, Any]]:
    return [
        {"id": "declare", "action": "manual.declare", "with": {"duration": "10m"}},
        {"id": "bubble", "action": "network.isolate", "with": {"region": region, "cidr": "10.250.0.0/16"}},
    ]


@pytest.fixture
def make_drill(tmp_path: Path) -> DrillFactory:
    """make_drill(runbook_body, plan="snapshots-6h" or a plan body, **drill_keys) -> a loaded DrillBundle."""
    counter = iter(range(1000))

    def make(runbook: dict[str, Any], plan: str | dict[str, Any] = "daily-backup", **drill: Any) -> DrillBundle:
        n = next(counter)
        rb_path = tmp_path / f"runbook-{n}.yaml"
        rb = {"apiVersion": "drsim/v1", "kind": "Runbook", "metadata": {"name": f"test-runbook-{n}"}, **runbook}
        rb_path.write_text(yaml.safe_dump(rb, sort_keys=False))
        if isinstance(plan, str):
            plan_path = DRILLS / "plans" / f"{plan}.yaml"
        else:
            plan_path = tmp_path / f"plan-{n}.yaml"
            body = {"apiVersion": "drsim/v1", "kind": "ProtectionPlan", "metadata": {"name": f"test-plan-{n}"}, **plan}
            plan_path.write_text(yaml.safe_dump(body, sort_keys=False))
        drill_path = tmp_path / f"drill-{n}.yaml"
        body = {
            "apiVersion": "drsim/v1",
            "kind": "Drill",
            "metadata": {"name": f"test-drill-{n}"},
            "runbook": str(rb_path),
            "estate": str(ESTATE),
            "plan": str(plan_path),
            "incident_at": "2026-11-20T14:00:00Z",
            "seed": 42,
            **drill,
        }
        drill_path.write_text(yaml.safe_dump(body, sort_keys=False))
        return load_drill(drill_path)

    return make


def peered_past_validation(bundle: DrillBundle, step_id: str = "bubble", peer: str = "prod-vnet") -> DrillBundle:
    """The bundle with its network.isolate step peered with production, which validation refuses: for
    tests of the engine's own run-time guard (model_copy does not validate)."""
    runbook = bundle.runbook.doc

    def peered(step: Any) -> Any:
        if not (isinstance(step, IsolateStep) and step.id == step_id):
            return step
        return step.model_copy(update={"with_": step.with_.model_copy(update={"peer_with": (peer,)})})

    steps = tuple(peered(s) for s in runbook.steps)
    return dataclasses.replace(bundle, runbook=Loaded(runbook.model_copy(update={"steps": steps}), bundle.runbook.source))
