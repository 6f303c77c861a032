"""Helpers for tests of people in the loop: a small drill whose manual steps wait for people, and a
way to wait until a run's journal says a step waits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DRILLS = REPO / "drills"
PARTICIPANTS = [{"name": "Alice Example", "role": "incident commander"}, {"name": "Bob", "role": "CISO"}]


def people_drill(
    tmp_path: Path,
    *,
    timeout: str = "2h",
    approve_timeout: str | None = None,
    participants: list[dict[str, str]] | None = None,
    **drill: Any,
) -> Path:
    """web-01 lost; declare, approve, then clone it from its scheduled snapshot into an isolated network and boot it.
    A run takes about 20 world minutes of cloud work (12 real seconds at --speed 100)."""
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "people-in-the-loop"},
        "scenario": {"incident": "vm-loss", "vms": {"name": "web-01"}},
        "objectives": [{"app": "shop", "rto": "4h"}],
        "steps": [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "10m", "who": "incident commander"}, "timeout": timeout},
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            {
                "id": "approve",
                "action": "manual.approve",
                "needs": ["declare"],
                "with": {"duration": "5m"},
                "timeout": approve_timeout or timeout,
            },
            {
                "id": "web",
                "action": "snapshot.clone",
                "needs": ["approve", "bubble"],
                "with": {"vms": {"name": "web-01"}, "network": "bubble", "source": "scheduled"},
            },
            {"id": "boot", "action": "check.boot", "needs": ["web"], "with": {"vms": {"name": "web-01"}}},
        ],
        "cleanup": "always",
    }
    (tmp_path / "runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    body: dict[str, Any] = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": "people-drill"},
        "runbook": str(tmp_path / "runbook.yaml"),
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / "snapshots-6h.yaml"),
        "incident_at": "2026-11-20T14:00:00Z",
        "seed": 42,
        "participants": PARTICIPANTS if participants is None else participants,
        **drill,
    }
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def journal_events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]  # a line being written is left out


def wait_until_waiting(out_dir: Path, step: str, *, within: float = 60.0, count: int = 1) -> Path:
    """The run directory under out_dir, once its journal has `count` human.waiting events of `step`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for journal in out_dir.rglob("journal.jsonl"):
            events = journal_events(journal.parent)
            if sum(1 for e in events if e["event"] == "human.waiting" and e["step"] == step) >= count:
                return journal.parent
        time.sleep(0.05)
    raise AssertionError(f"no run under {out_dir} waited for step {step} within {within}s")
