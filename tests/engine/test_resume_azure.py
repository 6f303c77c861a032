"""kill -9 of `drsim drill run` against Azure (the ARM emulator, through the real SDK), then `--resume`.

Four small drills, one per path of recovery (test failover, restore as VM, restore as disks, snapshot
clone), each run once uninterrupted, then killed with SIGKILL at 5 points chosen by how many journal
lines it had written (20 points, one of them killed again while resuming), then resumed through the CLI
as a user would. Each point must end with nothing of the run left in the emulator's world, the same
measures as the uninterrupted run against the same world (same seed; the world's clock held still from
the kill to the resumed process's first request, so that Azure behaves as if no time had passed), a
journal whose hash chain verifies, and nothing created twice.

The emulator runs its world SPEED times faster than real time, so that each point takes a couple of
seconds; at that speed a world second is half a real millisecond, and a run's RTO moves by a few world
minutes with the machine's load between any two runs, interrupted or not (RTO_SLACK_S).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from killkit import Launcher

import drsim.cloud.emulator.server as server
from drsim.clock import ScaledClock
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.engine.journal import read_journal
from drsim.measure.events import (
    OperationAccepted,
    OperationFinished,
    ResourceCreated,
    ResourceDeleted,
    RunResumed,
    TaskFailed,
    TaskFinished,
    TaskSkipped,
)
from drsim.measure.timeline import measure_apps
from drsim.model.checks import load_drill

REPO = Path(__file__).resolve().parents[2]
DRILLS = REPO / "drills"
SPEED = 2000.0
RTO_SLACK_S = 2.0 * SPEED
"""How far apart an uninterrupted run's RTO and a resumed one's may be, per kill: 2 real seconds of world
time. The SDK polls a long-running operation no more often than once a real second (Retry-After: 1,
docs/azure.md section 4), SPEED world seconds, so two uninterrupted runs' RTOs already differ by up to a
poll (1680 to 2620 s measured for the same restore), a resumed process polls an operation it takes over
(a PUT still running when it was killed) once more, and a loaded machine adds its jitter (3226 s seen
at a load of 3 on 2 cores). A weak bound, then: a kill after every task ended must change no measure
at all, and that is checked exactly."""
INCIDENT = "2026-11-20T14:00:00Z"

BUBBLE_EAST = {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}}
BUBBLE_CENTRAL = {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}}
BOOT = {"id": "boot", "action": "check.boot", "needs": ["recover"], "with": {"vms": {"name": "app-01"}}}
RUNBOOKS: dict[str, dict[str, Any]] = {
    "failover": {
        "scenario": {"incident": "region-outage", "region": "eastus2"},
        "steps": [
            BUBBLE_CENTRAL,
            {
                "id": "recover",
                "action": "asr.test_failover",
                "needs": ["bubble"],
                "with": {"vms": {"name": "app-01"}, "network": "bubble", "recovery_point": "latest-processed"},
            },
            BOOT,
        ],
    },
    "restore-vm": {
        "scenario": {"incident": "accidental-delete", "vms": {"name": "app-01"}},
        "steps": [
            BUBBLE_EAST,
            {
                "id": "recover",
                "action": "backup.restore",
                "needs": ["bubble"],
                "with": {"vms": {"name": "app-01"}, "network": "bubble", "point": "latest", "as": "vm"},
            },
            BOOT,
        ],
    },
    "restore-disks": {
        "scenario": {"incident": "accidental-delete", "vms": {"name": "app-01"}},
        "steps": [
            BUBBLE_EAST,
            {
                "id": "recover",
                "action": "backup.restore",
                "needs": ["bubble"],
                "with": {"vms": {"name": "app-01"}, "network": "bubble", "point": "latest", "as": "disks"},
            },
        ],
    },
    "snapshot": {
        "scenario": {"incident": "accidental-delete", "vms": {"name": "web-01"}},
        "steps": [
            BUBBLE_EAST,
            {
                "id": "recover",
                "action": "snapshot.clone",
                "needs": ["bubble"],
                "with": {"vms": {"name": "app-01"}, "network": "bubble", "source": "fresh"},
            },
            BOOT,
        ],
    },
}
POINTS = 5
"""Kill points per drill: 4 drills, 20 points."""


@dataclass
class Emulated:
    """One emulator serving a fresh world of the drill (same seed: the same Azure behaviour every time)."""

    thread: server.EmulatorThread
    world: Any
    drill_file: Path

    held: bool = False

    def pause(self) -> None:
        async def hold() -> None:
            self.world.clock.pause()

        self.thread.call(hold)
        self.held = True

    def go_on(self) -> None:
        async def go() -> None:
            self.world.clock.go_on()

        self.thread.call(go)
        self.held = False

    def left(self, run_id: str) -> list[Any]:
        async def tagged() -> list[Any]:
            return list(await self.world.list_tagged(run_id))

        return self.thread.call(tagged)


def drill_files(tmp_path: Path, kind: str) -> Path:
    """The simulated drill of one recovery path (its azure copy is made per emulator)."""
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": f"resume-{kind}"},
        **RUNBOOKS[kind],
        "objectives": [{"app": "shop", "rto": "4h", "rpo": "24h"}],
        "cleanup": "always",
    }
    (tmp_path / f"{kind}-runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": f"resume-{kind}"},
        "runbook": str(tmp_path / f"{kind}-runbook.yaml"),
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / "asr-and-daily-backup.yaml"),
        "provider": "sim",
        "incident_at": INCIDENT,
        "seed": 42,
    }
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


@contextmanager
def emulated(sim_drill: Path, tmp_path: Path) -> Iterator[Emulated]:
    bundle = load_drill(sim_drill)
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    incident = incident_from_scenario(runbook.scenario, estate, drill.incident_at)  # type: ignore[arg-type]
    world = build_world(
        estate,
        plan,
        incident=incident,
        seed=drill.seed,
        clock=ScaledClock(incident.detected_at, SPEED),
        options=drill.sim,
        catalog=default_catalog(),
    )
    thread = server.EmulatorThread(world, settings=ArmSettings(page_size=100))
    with thread as handle:
        data = yaml.safe_load(sim_drill.read_text())
        data["provider"] = "azure"
        data["azure"] = {
            "subscription_id": handle.subscription_id,
            "resource_group": DRILL_GROUP,
            "endpoint": handle.url,
            "staging_storage_account": staging_account(handle.subscription_id),
        }
        target = tmp_path / f"azure-{sim_drill.name}"
        target.write_text(yaml.safe_dump(data, sort_keys=False))
        yield Emulated(thread, world, target)


def drsim(
    launcher: Launcher, args: list[str], *, kill_at: int | None = None, journal_of: Path | None = None, emulator: Emulated | None = None
) -> int:
    """`drsim ARGS` in a process of its own, to its exit code (-9 when killed). With `kill_at`: SIGKILLed once
    the journal under `journal_of` has that many lines, the world's clock held still from just before until
    the next process starts (a resume: forked, it asks within milliseconds)."""
    pid = launcher.start(args)
    if emulator is not None and emulator.held:
        emulator.go_on()
    deadline = time.monotonic() + 120
    journal: Path | None = None
    while kill_at is not None and time.monotonic() < deadline and not launcher.ended():
        assert journal_of is not None and emulator is not None
        journal = journal or _journal(journal_of)  # looked for until found, not walked for every millisecond
        if journal is not None and journal.read_bytes().count(b"\n") >= kill_at:
            emulator.pause()
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    return launcher.exit_code()


def _journal(out: Path) -> Path | None:
    return next(out.rglob("journal.jsonl"), None)


def run_dir_in(out: Path) -> Path:
    (journal,) = out.rglob("journal.jsonl")
    return journal.parent


def measures(run_dir: Path) -> dict[str, Any]:
    """What must be the same with and without a kill: statuses, recovery points, RPO, consistency,
    objectives met, cleanup; RTO apart (compared within RTO_SLACK_S)."""
    result = json.loads((run_dir / "result.json").read_text())
    apps = [
        {
            k: v
            for k, v in app.items()
            if k not in ("rto_s", "healthy_at", "infra_ready_at", "infrastructure_s", "validation_s", "trigger_at")
        }
        for app in result["apps"]
    ]
    tasks = [(t["step"], t["vm"], t["status"], t.get("recovery_point"), t.get("attempts")) for t in result["tasks"]]
    return {"status": result["status"], "apps": apps, "tasks": tasks, "cleanup": result["cleanup"]}


def rtos(run_dir: Path) -> list[float | None]:
    return [app.get("rto_s") for app in json.loads((run_dir / "result.json").read_text())["apps"]]


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, launcher: Launcher
) -> dict[str, tuple[Path, dict[str, Any], list[float | None], int]]:
    """Each drill run through once: its run directory, measures, RTOs and journal length."""
    found = {}
    for kind in RUNBOOKS:
        tmp = tmp_path_factory.mktemp(f"whole-{kind}")
        with emulated(drill_files(tmp, kind), tmp) as emulator:
            code = drsim(
                launcher,
                ["drill", "run", str(emulator.drill_file), "--out", str(tmp / "out"), "--quiet", "--no-report", "--incident-at", INCIDENT],
            )
            run_dir = run_dir_in(tmp / "out")
            assert emulator.left(run_dir.name) == []
        lines = len(read_journal(run_dir / "journal.jsonl").lines)
        assert code in (0, 1)
        found[kind] = (run_dir, measures(run_dir), rtos(run_dir), lines)
    return found


def kill_points(lines: int) -> list[int]:
    """POINTS journal line counts spread from just after the run starts to just before it ends."""
    first, last = 3, lines - 2
    return [first + round(i * (last - first) / (POINTS - 1)) for i in range(POINTS)]


CASES = [(kind, i) for kind in RUNBOOKS for i in range(POINTS)]


@pytest.mark.parametrize(("kind", "point"), CASES, ids=[f"{k}-{i}" for k, i in CASES])
def test_kill_9_then_resume_ends_as_the_uninterrupted_run(
    uninterrupted: dict[str, tuple[Path, dict[str, Any], list[float | None], int]],
    launcher: Launcher,
    tmp_path: Path,
    kind: str,
    point: int,
) -> None:
    whole_dir, whole, whole_rtos, lines = uninterrupted[kind]
    at = kill_points(lines)[point]
    out = tmp_path / "out"
    with emulated(drill_files(tmp_path, kind), tmp_path) as emulator:
        run = ["drill", "run", str(emulator.drill_file), "--out", str(out), "--quiet", "--no-report", "--incident-at", INCIDENT]
        assert drsim(launcher, run, kill_at=at, journal_of=out, emulator=emulator) == -signal.SIGKILL
        run_dir = run_dir_in(out)
        assert not (run_dir / "result.json").exists()
        resume = ["drill", "run", str(emulator.drill_file), "--resume", str(run_dir), "--quiet", "--no-report"]
        kills = 1
        if point == POINTS // 2 and kind == "restore-vm":  # killed again while resuming
            again = at + max(2, (lines - at) // 2)
            assert drsim(launcher, resume, kill_at=again, journal_of=out, emulator=emulator) == -signal.SIGKILL
            kills = 2
        assert drsim(launcher, resume, journal_of=out, emulator=emulator) in (0, 1)
        left = emulator.left(run_dir.name)

    assert left == []  # nothing of the run in the emulator's world
    assert measures(run_dir) == whole
    for resumed_rto, whole_rto in zip(rtos(run_dir), whole_rtos, strict=True):
        assert (resumed_rto is None) == (whole_rto is None)
        if resumed_rto is not None and whole_rto is not None:
            assert abs(resumed_rto - whole_rto) <= RTO_SLACK_S * kills, (resumed_rto, whole_rto)
    contents = read_journal(run_dir / "journal.jsonl")  # the hash chain verifies from the first line to the last
    events = contents.events
    before = events[: next(i for i, e in enumerate(events) if isinstance(e, RunResumed))]
    if len({e.task for e in before if isinstance(e, TaskFinished | TaskFailed | TaskSkipped)}) == len(whole["tasks"]):
        # every task had ended before the kill: the resume measures exactly what the journal had decided
        bundle = load_drill(drill_files(tmp_path, kind))
        decided = measure_apps(before, bundle.runbook.doc, bundle.estate.doc)
        assert rtos(run_dir) == [app.rto_s for app in decided]
    assert len([e for e in events if isinstance(e, RunResumed)]) == kills
    created = [e.id for e in events if isinstance(e, ResourceCreated)]
    assert len(created) == len(set(created))  # nothing created (or journaled as created) twice
    assert set(created) == {e.id for e in events if isinstance(e, ResourceDeleted)}
    finished_ops = [(e.task, e.op) for e in events if isinstance(e, OperationFinished)]
    assert len(finished_ops) == len(set(finished_ops))  # an operation made again on resuming is not journaled again
    # no restore or test failover started twice: as many jobs as the uninterrupted run had
    jobs = {e.job for e in events if isinstance(e, OperationAccepted)}
    whole_jobs = {e.job for e in read_journal(whole_dir / "journal.jsonl").events if isinstance(e, OperationAccepted)}
    assert len(jobs) == len(whole_jobs)
