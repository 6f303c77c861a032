"""Run directories exactly as the engine writes them (its event classes, its journal line encoder),
for report tests that must not wait for a whole drill.

`shop_run()` is a two-application drill: shop fails over with Site Recovery (a throttled first
attempt on the database), crm restores from a day-old vault backup and misses its RPO objective.
`python tests/report/report_fixtures.py` rewrites tests/report/fixtures/shop-asr/ from it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drsim.engine.journal import GENESIS, encode, line_hash
from drsim.measure.events import (
    AppMeasured,
    CheckKind,
    CheckResult,
    CleanupFinished,
    CleanupStarted,
    Event,
    FailureCategory,
    LeftoverResource,
    PlanMade,
    PlannedTask,
    RecoveryPointRef,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
    VolumeCheck,
    iso,
)
from drsim.measure.result import AppResult, CleanupResult, DrillResult, Leftover, RunStatus, TaskResult, TaskStatus

FIXTURES = Path(__file__).parent / "fixtures"
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/drsim-drill"


def copy_out(pristine: Path, copy: Path) -> Path:
    """A copy of an --out folder (`pristine`) at `copy` whose history store records the copied run
    directories, so that commands on the copy find its runs and not the pristine ones."""
    import shutil
    import sqlite3

    shutil.copytree(pristine, copy)
    with sqlite3.connect(copy / "history.sqlite") as db:
        db.execute("UPDATE runs SET run_dir = replace(run_dir, ?, ?)", (str(pristine.resolve()), str(copy.resolve())))
    return copy


def at(minutes: float) -> datetime:
    return INCIDENT + timedelta(minutes=minutes)


def journal_bytes(events: Sequence[Event]) -> bytes:
    """journal.jsonl as drsim.engine.journal writes it: canonical lines, each with the hash of the line before."""
    out = []
    prev = GENESIS
    for event in events:
        line = encode(event, prev)
        out.append(line + b"\n")
        prev = line_hash(line)
    return b"".join(out)


def write_run(directory: Path, result: DrillResult, events: Sequence[Event]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "result.json").write_text(result.to_json(), encoding="utf-8")
    (directory / "journal.jsonl").write_bytes(journal_bytes(events))
    return directory


@dataclass
class RunBuilder:
    """Builds the journal and result.json's tasks together, so the two always agree."""

    run_id: str
    events: list[Event] = field(default_factory=list)
    tasks: list[TaskResult] = field(default_factory=list)
    planned: list[PlannedTask] = field(default_factory=list)

    def task(
        self,
        step: str,
        action: str,
        vm: str | None,
        start: float,
        end: float,
        *,
        point: RecoveryPointRef | None = None,
        retried: Sequence[tuple[float, str]] = (),
    ) -> str:
        task_id = f"{step}/{vm}" if vm else step
        self.planned.append(PlannedTask(task_id, step, action, vm, (action,), (end - start) * 60))
        attempt = 1
        for when, error in retried:
            self.events.append(TaskStarted(at=at(start), task=task_id, step=step, action=action, vm=vm, attempt=attempt))
            self.events.append(
                TaskRetrying(at=at(when), task=task_id, step=step, action=action, vm=vm, attempt=attempt, error=error, retry_in_s=12.0)
            )
            attempt += 1
        begin = at(retried[-1][0] + 0.2) if retried else at(start)
        self.events.append(TaskStarted(at=begin, task=task_id, step=step, action=action, vm=vm, attempt=attempt))
        self.events.append(TaskFinished(at=at(end), task=task_id, step=step, action=action, vm=vm, attempts=attempt, recovery_point=point))
        self.tasks.append(
            TaskResult(
                step=step,
                action=action,
                vm=vm,
                status=TaskStatus.SUCCEEDED,
                started_at=iso(at(start)),
                ended_at=iso(at(end)),
                attempts=attempt,
                recovery_point_at=iso(point.time) if point else None,
            )
        )
        return task_id


def _app(
    name: str,
    *,
    rto: float,
    rpo: float,
    claimed: float,
    rto_obj: float,
    rpo_obj: float,
    trigger: float,
    ready: float,
    healthy: float,
    human: float,
) -> tuple[AppResult, AppMeasured]:
    result = AppResult(
        app=name,
        rto_s=rto,
        rpo_s=rpo,
        rpo_claimed_s=claimed,
        rto_objective_s=rto_obj,
        rpo_objective_s=rpo_obj,
        rto_met=rto <= rto_obj,
        rpo_met=rpo <= rpo_obj,
        consistent=True,
        trigger_at=iso(at(trigger)),
        infra_ready_at=iso(at(ready)),
        healthy_at=iso(at(healthy)),
    )
    validation = (healthy - ready) * 60
    measured = AppMeasured(
        at=at(66),
        app=name,
        incident_at=INCIDENT,
        trigger_at=at(trigger),
        infra_ready_at=at(ready),
        healthy_at=at(healthy),
        rto_s=rto,
        human_wait_s=human,
        infrastructure_s=rto - human - validation,
        validation_s=validation,
        rpo_s=rpo,
        rpo_claimed_s=claimed,
        consistent=True,
        rto_objective_s=rto_obj,
        rpo_objective_s=rpo_obj,
        rto_met=result.rto_met,
        rpo_met=result.rpo_met,
    )
    return result, measured


def shop_run(
    *, vm_prefix: str = "", run_id: str = "20261120-140000-s42", drill: str = "2026-q4-shop-asr", rpo_sql_s: float = 290.0
) -> tuple[DrillResult, list[Event]]:
    """The shop + crm drill. `vm_prefix` goes before every VM name (the XSS test puts markup there)."""
    sql, web1, web2, crm = (f"{vm_prefix}{name}" for name in ("sql-01", "web-01", "web-02", "crm-01"))
    b = RunBuilder(run_id)
    b.task("declare", "manual.declare", None, 0, 10)
    b.task("bubble", "network.isolate", None, 0, 2 + 10 / 60)
    asr = RecoveryPointRef(
        id=f"{SUB}/replicationProtectedItems/{sql}/recoveryPoints/rp-1356",
        time=at(-4),
        type="CrashConsistent",
        tier=None,
        region="centralus",
    )
    db = b.task(
        "db",
        "asr.test_failover",
        sql,
        10,
        31 + 40 / 60,
        point=asr,
        retried=[(10 + 5 / 60, "ThrottledError: ARM throttled the request; retry after 12s")],
    )
    group = replace(asr, id=f"{SUB}/replicationProtectedItems/shop-group/recoveryPoints/rp-1356")
    b.task("web", "asr.test_failover", web1, 31 + 40 / 60, 40 + 12 / 60, point=group)
    web = b.task("web", "asr.test_failover", web2, 31 + 40 / 60, 41 + 2 / 60, point=group)
    vault = RecoveryPointRef(
        id=f"{SUB}/backupVaults/vault-grs/recoveryPoints/{crm}-20261119",
        time=datetime(2026, 11, 19, 18, 4, tzinfo=UTC),
        type="AppConsistent",
        tier="vault",
        region="centralus",
    )
    b.task("restore", "backup.restore", crm, 10, 52.5, point=vault)
    checks = [b.task("verify", "check.canary", vm, 41 + 2 / 60, 44) for vm in (sql, web1, web2)]
    b.task("verify-crm", "check.canary", crm, 52.5, 55)

    created: list[ResourceCreated] = []
    for name, kind, when, price in (  # prices per day as the simulated world's catalog gives them
        (f"bubble-{run_id}", "Microsoft.Network/virtualNetworks", 2.0, 0.0),
        (f"bubble-nsg-{run_id}", "Microsoft.Network/networkSecurityGroups", 2.0, 0.0),
        (f"{sql}-test", "Microsoft.Compute/virtualMachines", 31.5, 12.096),
        (f"{sql}-test-os", "Microsoft.Compute/disks", 31.5, 0.5681),
        (f"{web1}-test", "Microsoft.Compute/virtualMachines", 40.0, 2.304),
        (f"{web2}-test", "Microsoft.Compute/virtualMachines", 41.0, 2.304),
        (f"{crm}-restored", "Microsoft.Compute/virtualMachines", 52.0, 4.608),
        (f"{crm}-restored-os", "Microsoft.Compute/disks", 52.0, 0.2841),
    ):
        created.append(
            ResourceCreated(
                at=at(when),
                id=f"{SUB}/providers/{kind}/{name}",
                resource_kind=kind,
                name=name,
                region="centralus",
                task=None,
                cost_per_day=price,
            )
        )
    b.events.extend(created)
    b.events.append(
        CheckResult(
            at=at(44),
            task=checks[0],
            check=CheckKind.CANARY,
            vm=sql,
            app="shop",
            passed=True,
            reachable=True,
            healthy_at=at(45.2),
            reads=3,
            last_marker_at=at(-rpo_sql_s / 60),
            measured_rpo_s=rpo_sql_s,
            claimed_rpo_s=240.0,
            consistent=True,
            corrupted=False,
            volumes=(VolumeCheck("sqldata", True, (at(-4), at(-4))),),
        )
    )
    for task_id, vm in zip(checks[1:], (web1, web2), strict=True):
        b.events.append(
            CheckResult(
                at=at(44),
                task=task_id,
                check=CheckKind.CANARY,
                vm=vm,
                app="shop",
                passed=True,
                reachable=True,
                healthy_at=at(44.5),
                reads=3,
                last_marker_at=at(-4 - 20 / 60),
                measured_rpo_s=260.0,
                claimed_rpo_s=240.0,
                consistent=True,
                corrupted=False,
                volumes=(),
            )
        )
    b.events.append(
        CheckResult(
            at=at(55),
            task=f"verify-crm/{crm}",
            check=CheckKind.CANARY,
            vm=crm,
            app="crm",
            passed=True,
            reachable=True,
            healthy_at=at(55.5),
            reads=3,
            last_marker_at=datetime(2026, 11, 19, 18, 3, 30, tzinfo=UTC),
            measured_rpo_s=71790.0,
            claimed_rpo_s=71760.0,
            consistent=True,
            corrupted=False,
            volumes=(VolumeCheck("crmdata", True, (vault.time,)),),
        )
    )
    b.events.append(CleanupStarted(at=at(56), policy="always", resources=len(created)))
    for i, resource in enumerate(reversed(created)):
        b.events.append(
            ResourceDeleted(
                at=at(60 + i / 2), id=resource.id, resource_kind=resource.resource_kind, name=resource.name, region=resource.region
            )
        )
    b.events.append(CleanupFinished(at=at(66), status="done", leftovers=()))
    crm_result, crm_measured = _app(
        "crm", rto=3330.0, rpo=71790.0, claimed=71760.0, rto_obj=14400.0, rpo_obj=3600.0, trigger=10, ready=52.5, healthy=55.5, human=600.0
    )
    shop_result, shop_measured = _app(
        "shop",
        rto=2712.0,
        rpo=rpo_sql_s,
        claimed=240.0,
        rto_obj=7200.0,
        rpo_obj=900.0,
        trigger=10,
        ready=41 + 2 / 60,
        healthy=45.2,
        human=600.0,
    )
    b.events += [crm_measured, shop_measured]
    status = RunStatus.PASSED if crm_result.rpo_met and shop_result.rpo_met else RunStatus.FAILED
    b.events.append(RunFinished(at=at(66), status=status))
    head = [
        RunStarted(
            at=INCIDENT,
            run_id=run_id,
            drill=drill,
            runbook="shop-asr-region-failover",
            estate="estates/contoso.yaml",
            plan="plans/asr-and-daily-backup.yaml",
            provider="sim",
            seed=42,
            incident_at=INCIDENT,
            detected_at=INCIDENT,
            drsim_version="0.1.0",
            catalog_version="2026.11-1",
            concurrency=50,
            cleanup="always",
            controls=("iso27001-2022:A.5.30", "soc2:A1.3", "nist-800-53:CP-4", "nist-800-53:CP-10"),
        ),
        PlanMade(
            at=INCIDENT,
            tasks=tuple(b.planned),
            step_edges=(
                ("declare", "db"),
                ("bubble", "db"),
                ("db", "web"),
                ("web", "verify"),
                ("bubble", "restore"),
                ("declare", "restore"),
                ("restore", "verify-crm"),
            ),
            critical_path=("declare", db, web, f"verify/{web2}"),
            critical_path_s=2680.0,
            lower_bound_s=2580.0,
        ),
    ]
    events = head + sorted(b.events, key=lambda e: e.at)  # the engine journals as things happen
    result = DrillResult(
        drill=drill,
        runbook="shop-asr-region-failover",
        provider="sim",
        seed=42,
        incident_at=iso(INCIDENT),
        status=status,
        apps=[crm_result, shop_result],
        tasks=b.tasks,
        cleanup=CleanupResult(status="done", leftovers=[]),
    )
    return result, events


def with_leftover(result: DrillResult, events: list[Event], name: str, cost_per_day: float = 12.1) -> tuple[DrillResult, list[Event]]:
    """The same run where one resource could not be deleted: cleanup incomplete, status error, a leftover with its cost."""
    created = next(e for e in events if isinstance(e, ResourceCreated) and e.name == name)
    leftover = LeftoverResource(created.id, created.resource_kind, name, created.region, cost_per_day)
    kept: list[Event] = []
    for event in events:
        if isinstance(event, ResourceDeleted) and event.name == name:
            continue
        if isinstance(event, CleanupFinished):
            event = CleanupFinished(at=event.at, status="incomplete", leftovers=(leftover,))
        if isinstance(event, RunFinished):
            event = RunFinished(at=event.at, status=RunStatus.ERROR, error="cleanup left 1 resource behind")
        kept.append(event)
    cleanup = CleanupResult(
        status="incomplete",
        leftovers=[Leftover(id=leftover.id, kind=leftover.kind, name=name, region=leftover.region, cost_per_day=cost_per_day)],
    )
    return result.model_copy(update={"status": RunStatus.ERROR, "cleanup": cleanup}), kept


def synthetic_run(vms: int, *, disks: int = 3, inconsistent_every: int = 997, failed_every: int = 1499) -> tuple[DrillResult, list[Event]]:
    """A snapshot-clone drill of `vms` VMs (clone, boot check, canary check each), shaped like the engine's
    10,000-VM benchmark: every `inconsistent_every`-th VM's striped volume comes back inconsistent, every
    `failed_every`-th clone fails for good (its checks are skipped)."""
    run_id = f"synthetic-{vms}"
    b = RunBuilder(run_id)
    b.task("declare", "manual.declare", None, 0, 5)
    b.task("bubble", "network.isolate", None, 0, 2)
    network = f"{SUB}/providers/Microsoft.Network/virtualNetworks/bubble"
    created = [
        ResourceCreated(
            at=at(2), id=network, resource_kind="Microsoft.Network/virtualNetworks", name="bubble", region="centralus", task="bubble"
        )
    ]
    later: list[Event] = []
    checks: list[CheckResult] = []
    failed = 0
    for i in range(vms):
        vm = f"vm-{i:05d}"
        wave = (i % 50) * 0.8  # the concurrency limit staggers the clones
        start, end = 5 + wave, 5 + wave + 18 + (i % 7)
        if failed_every and i % failed_every == failed_every - 1:
            failed += 1
            task_id = f"clone/{vm}"
            b.planned.append(PlannedTask(task_id, "clone", "snapshot.clone", vm, ("snapshot", "disk", "vm"), 1200.0))
            b.events.append(TaskStarted(at=at(start), task=task_id, step="clone", action="snapshot.clone", vm=vm, attempt=1))
            later.append(
                TaskFailed(
                    at=at(end),
                    task=task_id,
                    step="clone",
                    action="snapshot.clone",
                    vm=vm,
                    attempts=3,
                    error="QuotaError: snapshot limit reached",
                    error_type="QuotaError",
                    category=FailureCategory.RECOVERY,
                    allowed=False,
                )
            )
            b.tasks.append(
                TaskResult(
                    step="clone",
                    action="snapshot.clone",
                    vm=vm,
                    status=TaskStatus.FAILED,
                    started_at=iso(at(start)),
                    ended_at=iso(at(end)),
                    attempts=3,
                    recovery_point_at=None,
                )
            )
            for step, action in (("boot", "check.boot"), ("verify", "check.canary")):
                b.planned.append(PlannedTask(f"{step}/{vm}", step, action, vm, (action,), 60.0))
                later.append(TaskSkipped(at=at(end), task=f"{step}/{vm}", step=step, action=action, vm=vm, reason=f"clone/{vm} failed"))
                b.tasks.append(
                    TaskResult(
                        step=step,
                        action=action,
                        vm=vm,
                        status=TaskStatus.SKIPPED,
                        started_at=None,
                        ended_at=iso(at(end)),
                        attempts=0,
                        recovery_point_at=None,
                    )
                )
            continue
        point = RecoveryPointRef(
            id=f"{SUB}/providers/Microsoft.Compute/snapshots/{vm}-os",
            time=at(-30 - i % 300),
            type="CrashConsistent",
            tier="snapshot",
            region="centralus",
        )
        b.task("clone", "snapshot.clone", vm, start, end, point=point)
        b.task("boot", "check.boot", vm, end, end + 2)
        b.task("verify", "check.canary", vm, end + 2, end + 3)
        names = [(f"{vm}-drill", "Microsoft.Compute/virtualMachines")] + [
            (f"{vm}-drill-disk{d}", "Microsoft.Compute/disks") for d in range(disks)
        ]
        created += [
            ResourceCreated(
                at=at(end - 1), id=f"{SUB}/providers/{kind}/{name}", resource_kind=kind, name=name, region="centralus", task=f"clone/{vm}"
            )
            for name, kind in names
        ]
        consistent = not (inconsistent_every and i % inconsistent_every == inconsistent_every - 1)
        rpo = (30 + i % 300) * 60 + 20.0
        skew = timedelta(seconds=0 if consistent else 41)
        checks.append(
            CheckResult(
                at=at(end + 3),
                task=f"verify/{vm}",
                check=CheckKind.CANARY,
                vm=vm,
                app="fleet",
                passed=consistent,
                reachable=True,
                healthy_at=at(end + 3) if consistent else None,
                reads=3,
                last_marker_at=point.time - timedelta(seconds=20),
                measured_rpo_s=rpo,
                claimed_rpo_s=rpo - 20,
                consistent=consistent,
                corrupted=False,
                volumes=(VolumeCheck("data", consistent, (point.time, point.time + skew)),),
                reason=None if consistent else "volume data: its disks were captured at different instants",
            )
        )
    last = max(e.at for e in b.events)
    b.events += created + later + checks
    b.events.append(CleanupStarted(at=last + timedelta(minutes=1), policy="always", resources=len(created)))
    b.events += [
        ResourceDeleted(
            at=last + timedelta(minutes=2, seconds=n // 100), id=r.id, resource_kind=r.resource_kind, name=r.name, region=r.region
        )
        for n, r in enumerate(created)
    ]
    done = last + timedelta(minutes=2, seconds=len(created) // 100 + 1)
    b.events.append(CleanupFinished(at=done, status="done", leftovers=()))
    rto = (last - INCIDENT).total_seconds()
    consistent_all = all(c.consistent for c in checks)
    recovered = consistent_all and not failed  # the fleet is healthy only when every VM is
    worst = max(c.measured_rpo_s or 0.0 for c in checks)
    rto_met, rpo_met = recovered and rto <= 14400.0, consistent_all and worst <= 86400.0
    app = AppResult(
        app="fleet",
        rto_s=rto if recovered else None,
        rpo_s=worst,
        rpo_claimed_s=worst - 20,
        rto_objective_s=14400.0,
        rpo_objective_s=86400.0,
        rto_met=rto_met,
        rpo_met=rpo_met,
        consistent=consistent_all,
        trigger_at=iso(at(5)),
        infra_ready_at=None if failed else iso(last),
        healthy_at=iso(last) if recovered else None,
    )
    b.events.append(
        AppMeasured(
            at=done,
            app="fleet",
            incident_at=INCIDENT,
            trigger_at=at(5),
            infra_ready_at=None if failed else last,
            healthy_at=last if recovered else None,
            rto_s=app.rto_s,
            human_wait_s=300.0 if recovered else None,
            infrastructure_s=rto - 480.0 if recovered else None,
            validation_s=180.0 if recovered else None,
            rpo_s=worst,
            rpo_claimed_s=worst - 20,
            consistent=consistent_all,
            rto_objective_s=14400.0,
            rpo_objective_s=86400.0,
            rto_met=rto_met,
            rpo_met=rpo_met,
        )
    )
    status = RunStatus.PASSED if rto_met and rpo_met else RunStatus.FAILED
    b.events.append(RunFinished(at=done, status=status))
    final = f"vm-{vms - 1:05d}"
    head = [
        RunStarted(
            at=INCIDENT,
            run_id=run_id,
            drill=f"fleet-{vms}",
            runbook="fleet-snapshot-clone",
            estate="estates/fleet.yaml",
            plan="plans/snapshots.yaml",
            provider="sim",
            seed=7,
            incident_at=INCIDENT,
            detected_at=INCIDENT,
            drsim_version="0.1.0",
            catalog_version="2026.11-1",
            concurrency=50,
            cleanup="always",
        ),
        PlanMade(
            at=INCIDENT,
            tasks=tuple(b.planned),
            step_edges=(("declare", "clone"), ("bubble", "clone"), ("clone", "boot"), ("boot", "verify")),
            critical_path=("declare", f"clone/{final}", f"boot/{final}", f"verify/{final}"),
            critical_path_s=rto,
            lower_bound_s=rto * 0.98,
        ),
    ]
    result = DrillResult(
        drill=f"fleet-{vms}",
        runbook="fleet-snapshot-clone",
        provider="sim",
        seed=7,
        incident_at=iso(INCIDENT),
        status=status,
        apps=[app],
        tasks=b.tasks,
        cleanup=CleanupResult(status="done", leftovers=[]),
    )
    return result, head + sorted(b.events, key=lambda e: e.at)


def write_shop_fixture(target: Path = FIXTURES / "shop-asr") -> Path:
    result, events = shop_run()
    return write_run(target, result, events)


if __name__ == "__main__":
    print(write_shop_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES / "shop-asr"))
