"""kill -9 of `drsim drill run` against Azure (the ARM emulator, through the real SDK) at instants a
journal line count cannot choose, then `--resume`: the emulator's world kills drsim itself, from inside the
request it is answering (its clock held still from the kill until the resumed process starts):

- a consistency group part failed over: killed as the second VM of the group asks for its test failover
  (nothing of it accepted), after the first VM's failover ended and new multi-VM points came since;
- a restore or test failover Azure accepted whose job id never reached the journal: killed as the world
  accepts the job, before drsim has Azure's answer;
- an image deployment Azure accepted (its VM PUT) before drsim journaled the VM: killed as the world
  starts creating the VM.

The processes are forked from one that has imported drsim and the SDK (killkit.Launcher, shared by the kill tests).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from killkit import Launcher
from test_resume_azure import (
    DRILLS,
    INCIDENT,
    RTO_SLACK_S,
    Emulated,
    drill_files,
    emulated,
    measures,
    rtos,
    run_dir_in,
)

from drsim.cloud.api import JobKind, ResourceKind
from drsim.engine.journal import read_journal
from drsim.measure.events import GroupInstantChosen, OperationAccepted, ResourceCreated, RunResumed, TaskFinished


class KillInside:
    """Replaces one method of the emulator's world so that, the first time it is called for `vm_id`, drsim is
    SIGKILLed from inside the request (the world's clock held until the next process starts): `accepted`
    False kills before the world takes the request (nothing accepted), True once it has (drsim never gets
    the answer)."""

    def __init__(self, emulator: Emulated, method: str, vm_id: Callable[[tuple[Any, ...]], bool], *, accepted: bool) -> None:
        self.emulator, self.pid, self.fired, self.calls = emulator, 0, False, 0
        world = emulator.world
        original: Callable[..., Awaitable[Any]] = getattr(world, method)

        async def hooked(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.fired or not vm_id(args):
                return await original(*args, **kwargs)
            self.fired = True
            if not accepted:
                self._kill()
                raise ConnectionAbortedError("drsim was killed before this request was taken")
            answer = original(*args, **kwargs)
            if method == "create_vm_from_image":  # the PUT is accepted: the world creates the VM once time goes on
                self._kill()
                return await answer
            job = await answer
            self._kill()
            return job

        setattr(world, method, hooked)

    def _kill(self) -> None:
        self.emulator.world.clock.pause()  # in the emulator's loop: no world time passes until the resume starts
        self.emulator.held = True
        os.kill(self.pid, signal.SIGKILL)

    def run(self, launcher: Launcher, args: list[str]) -> int:
        self.pid = launcher.start(args)
        code = launcher.exit_code()
        assert self.fired, "the world was never asked what the kill waits for"
        return code


def run_args(emulator: Emulated, out: Path) -> list[str]:
    return ["drill", "run", str(emulator.drill_file), "--out", str(out), "--quiet", "--no-report", "--incident-at", INCIDENT]


def resume(launcher: Launcher, emulator: Emulated, run_dir: Path) -> int:
    pid = launcher.start(["drill", "run", str(emulator.drill_file), "--resume", str(run_dir), "--quiet", "--no-report"])
    assert pid > 0
    if emulator.held:
        emulator.go_on()
    return launcher.exit_code()


def named(vm_id: str, name: str) -> bool:
    return vm_id.rstrip("/").rsplit("/", 1)[-1].lower() == name


def world_jobs(emulator: Emulated, kind: JobKind, vm: str) -> int:
    """How many jobs of `kind` the world ran on production VM `vm` (its own record, which the journal may miss)."""

    async def count() -> int:
        return sum(1 for job in emulator.world._jobs.values() if job.kind is kind and named(job.vm_id, vm))

    return emulator.thread.call(count)


# ------------------------------------------------------------------ a consistency group part failed over

MULTI_VM = {
    "scenario": {"incident": "vm-loss", "vms": {"app": "payroll"}},  # the shop's replication goes on: new points keep coming
    "steps": [
        {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}},
        *(
            {
                "id": step,
                "action": "asr.test_failover",
                "needs": [needs],
                "with": {"vms": {"name": vm}, "network": "bubble", "recovery_point": "latest-multi-vm-processed"},
            }
            for step, needs, vm in (("db", "bubble", "sql-01"), ("app", "db", "app-01"))
        ),
    ],
}


def a_drill(tmp_path: Path, name: str, body: dict[str, Any], plan: str) -> Path:
    """A simulated drill of the example estate (its azure copy is made per emulator)."""
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": name},
        **body,
        "objectives": [{"app": "shop", "rto": "4h", "rpo": "24h"}],
        "cleanup": "always",
    }
    (tmp_path / f"{name}-runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": name},
        "runbook": str(tmp_path / f"{name}-runbook.yaml"),
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / f"{plan}.yaml"),
        "provider": "sim",
        "incident_at": INCIDENT,
        "seed": 42,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def test_a_group_part_failed_over_fails_its_other_vms_over_to_the_journaled_instant(launcher: Launcher, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with emulated(a_drill(tmp_path, "multi-vm", MULTI_VM, "asr-and-daily-backup"), tmp_path) as emulator:
        # killed as app-01 asks for its test failover: sql-01's ended, app-01's is not accepted
        kill = KillInside(emulator, "test_failover", lambda args: named(args[0], "app-01"), accepted=False)
        assert kill.run(launcher, run_args(emulator, out)) == -signal.SIGKILL
        run_dir = run_dir_in(out)
        before = read_journal(run_dir / "journal.jsonl").events
        (chosen,) = [e for e in before if isinstance(e, GroupInstantChosen)]
        (db,) = [e for e in before if isinstance(e, TaskFinished) and e.vm == "sql-01"]
        assert db.recovery_point is not None and chosen.instant == db.recovery_point.time and chosen.vm == "sql-01"
        assert not [e for e in before if isinstance(e, OperationAccepted) and e.vm == "app-01"]
        emulator.go_on()  # drsim stays stopped while 1000 world seconds pass: the group gets newer multi-VM points
        time.sleep(0.5)

        async def newest_group_point() -> Any:
            app = next(vm.id for vm in await emulator.world.list_vms() if vm.name == "app-01")
            return max(p.time for p in await emulator.world.list_replication_points(app) if p.group == chosen.group and p.processed)

        assert emulator.thread.call(newest_group_point) > chosen.instant
        assert resume(launcher, emulator, run_dir) in (0, 1)
        left = emulator.left(run_dir.name)

    events = read_journal(run_dir / "journal.jsonl").events
    points = {e.vm: e.recovery_point.time for e in events if isinstance(e, TaskFinished) and e.recovery_point is not None}
    assert points == {"sql-01": chosen.instant, "app-01": chosen.instant}  # the group comes back at one instant
    assert [e.instant for e in events if isinstance(e, GroupInstantChosen)] == [chosen.instant]  # chosen once
    assert left == []


# ------------------------------------------------------------------ accepted, job id not journaled

ACCEPTED = {"failover": ("test_failover", JobKind.TEST_FAILOVER), "restore-vm": ("restore_backup", JobKind.RESTORE)}


@pytest.fixture(scope="module")
def whole_runs(tmp_path_factory: pytest.TempPathFactory, launcher: Launcher) -> dict[str, tuple[dict[str, Any], list[float | None]]]:
    """Each drill run through once against a fresh emulator: its measures and RTOs."""
    found = {}
    for kind in ACCEPTED:
        tmp = tmp_path_factory.mktemp(f"whole-{kind}")
        with emulated(drill_files(tmp, kind), tmp) as emulator:
            launcher.start(run_args(emulator, tmp / "out"))
            assert launcher.exit_code() in (0, 1)
            run_dir = run_dir_in(tmp / "out")
        found[kind] = (measures(run_dir), rtos(run_dir))
    return found


@pytest.mark.parametrize("kind", list(ACCEPTED))
def test_a_job_azure_accepted_before_its_id_was_journaled_is_adopted_not_started_again(
    whole_runs: dict[str, tuple[dict[str, Any], list[float | None]]], launcher: Launcher, tmp_path: Path, kind: str
) -> None:
    method, job_kind = ACCEPTED[kind]
    out = tmp_path / "out"
    with emulated(drill_files(tmp_path, kind), tmp_path) as emulator:
        kill = KillInside(emulator, method, lambda args: named(args[0], "app-01"), accepted=True)
        assert kill.run(launcher, run_args(emulator, out)) == -signal.SIGKILL
        run_dir = run_dir_in(out)
        before = read_journal(run_dir / "journal.jsonl").events
        assert not [e for e in before if isinstance(e, OperationAccepted)]  # Azure has the job; the journal does not
        assert world_jobs(emulator, job_kind, "app-01") == 1
        assert resume(launcher, emulator, run_dir) in (0, 1)
        jobs = world_jobs(emulator, job_kind, "app-01")
        left = emulator.left(run_dir.name)

    assert jobs == 1  # the resumed run followed the job Azure had accepted: it started no second one
    events = read_journal(run_dir / "journal.jsonl").events
    (accepted,) = [e for e in events if isinstance(e, OperationAccepted) and e.operation == job_kind.value]
    assert accepted.vm == "app-01"
    assert len([e for e in events if isinstance(e, RunResumed)]) == 1
    created = [e.id for e in events if isinstance(e, ResourceCreated)]
    assert len(created) == len(set(created))
    assert left == []
    whole, whole_rtos = whole_runs[kind]
    assert measures(run_dir) == whole  # statuses, recovery points, RPO, consistency, cleanup: as uninterrupted
    for resumed_rto, whole_rto in zip(rtos(run_dir), whole_rtos, strict=True):
        assert (resumed_rto is None) == (whole_rto is None)
        if resumed_rto is not None and whole_rto is not None:
            assert abs(resumed_rto - whole_rto) <= RTO_SLACK_S, (resumed_rto, whole_rto)


# ------------------------------------------------------------------ an image deployment cut short

IMAGE = {
    "scenario": {"incident": "vm-loss", "vms": {"name": "web-01"}},
    "steps": [
        {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}},
        {
            "id": "rebuild",
            "action": "image.deploy",
            "needs": ["bubble"],
            "with": {"image_of": "web-golden", "vms": {"name": "web-01"}, "network": "bubble", "region": "centralus"},
        },
        {"id": "boot", "action": "check.boot", "needs": ["rebuild"], "with": {"vms": {"name": "web-01"}}},
    ],
}


def test_a_vm_from_an_image_azure_accepted_before_it_was_journaled_is_adopted_not_put_again(launcher: Launcher, tmp_path: Path) -> None:
    # Azure refuses a PUT of an existing VM with another osProfile.adminPassword (409 PropertyChangeNotAllowed,
    # "Changing property 'adminPassword' is not allowed.": hashicorp/terraform#6528; the password is sent with
    # the create, VirtualMachine_Create_WithPremiumStorage.json, and never answered), and drsim makes a new
    # password for every PUT from an image: the resumed run must find the VM by its name, not PUT it again.
    out = tmp_path / "out"
    with emulated(a_drill(tmp_path, "image-vm", IMAGE, "image-fleet"), tmp_path) as emulator:
        kill = KillInside(emulator, "create_vm_from_image", lambda args: True, accepted=True)
        assert kill.run(launcher, run_args(emulator, out)) == -signal.SIGKILL
        run_dir = run_dir_in(out)
        before = read_journal(run_dir / "journal.jsonl").events
        assert not [e for e in before if isinstance(e, ResourceCreated) and e.task == "rebuild/web-01"]
        assert resume(launcher, emulator, run_dir) in (0, 1)
        left = emulator.left(run_dir.name)

    assert kill.calls == 1  # the world was asked for the VM once: the resumed run adopted it
    events = read_journal(run_dir / "journal.jsonl").events
    finished = {e.task for e in events if isinstance(e, TaskFinished)}
    assert {"rebuild/web-01", "boot/web-01"} <= finished
    made = [e for e in events if isinstance(e, ResourceCreated) and e.task == "rebuild/web-01"]
    vms = [e for e in made if e.resource_kind is ResourceKind.VM]
    assert len(vms) == 1 and vms[0].name.endswith("-web-01-rebuild")
    assert len([e for e in made if e.resource_kind is ResourceKind.DISK]) >= 1  # its disks, recorded for cleanup
    created = [e.id for e in events if isinstance(e, ResourceCreated)]
    assert len(created) == len(set(created))
    assert left == []
