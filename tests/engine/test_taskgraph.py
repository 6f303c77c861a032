"""Planning: selectors to per-VM tasks, explicit per-mechanism operations, critical path and lower bound."""

from __future__ import annotations

from typing import Any

import pytest
from engine_drillkit import DRILLS, ESTATE

from drsim.engine.taskgraph import Op, OpKind, Task, build_task_graph, critical_path, estimate_op, task_chain
from drsim.model import load
from drsim.model.documents import Estate, ProtectionPlan, Runbook
from drsim.model.types import Action

ESTATE_DOC = load(ESTATE, Estate).doc


def plan(name: str) -> ProtectionPlan:
    return load(DRILLS / "plans" / f"{name}.yaml", ProtectionPlan).doc


def runbook(steps: list[dict[str, Any]], scenario: dict[str, Any] | None = None) -> Runbook:
    return Runbook.model_validate(
        {
            "apiVersion": "drsim/v1",
            "kind": "Runbook",
            "metadata": {"name": "rb"},
            "scenario": scenario or {"incident": "vm-loss", "vms": {"app": "shop"}},
            "steps": steps,
        }
    )


BUBBLE = {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}}


def ops(task: Task) -> list[tuple[str, tuple[str, ...]]]:
    return [(op.id, op.needs) for op in task.ops]


def test_selectors_expand_to_one_task_per_vm_in_estate_order() -> None:
    rb = runbook(
        [BUBBLE, {"id": "db", "action": "backup.restore", "needs": ["bubble"], "with": {"vms": {"app": "shop"}, "network": "bubble"}}]
    )
    graph = build_task_graph(rb, ESTATE_DOC, plan("daily-backup"))
    assert [t.id for t in graph.step_tasks["db"]] == ["db/web-01", "db/web-02", "db/web-03", "db/app-01", "db/app-02", "db/sql-01"]
    assert graph.step_edges() == [("bubble", "db")]
    assert ops(graph.task("db/sql-01")) == [("find-point", ()), ("restore", ("find-point",))]


def test_fresh_snapshots_are_taken_disk_by_disk_then_disks_then_the_vm() -> None:
    rb = runbook(
        [
            BUBBLE,
            {
                "id": "db",
                "action": "snapshot.clone",
                "needs": ["bubble"],
                "with": {"vms": {"tier": "db", "app": "shop"}, "network": "bubble", "source": "fresh"},
            },
        ]
    )
    task = build_task_graph(rb, ESTATE_DOC, plan("snapshots-6h")).task("db/sql-01")
    assert ops(task) == [
        ("snapshot:os", ()),
        ("create-disk:os", ("snapshot:os",)),
        ("snapshot:data1", ("snapshot:os",)),
        ("create-disk:data1", ("snapshot:data1",)),
        ("snapshot:data2", ("snapshot:data1",)),
        ("create-disk:data2", ("snapshot:data2",)),
        ("snapshot:log", ("snapshot:data2",)),
        ("create-disk:log", ("snapshot:log",)),
        ("create-vm", ("create-disk:os", "create-disk:data1", "create-disk:data2", "create-disk:log")),
    ]


def test_a_clone_into_another_region_copies_fresh_snapshots_there_first() -> None:
    bubble = {**BUBBLE, "with": {"region": "centralus", "cidr": "10.250.0.0/16"}}
    rb = runbook(
        [
            bubble,
            {
                "id": "web",
                "action": "snapshot.clone",
                "needs": ["bubble"],
                "with": {"vms": {"name": "web-01"}, "network": "bubble", "source": "fresh"},
            },
        ],
        scenario={"incident": "region-outage", "region": "eastus2"},
    )
    task = build_task_graph(rb, ESTATE_DOC, plan("snapshots-6h")).task("web/web-01")
    assert [op.kind for op in task.ops] == [OpKind.SNAPSHOT, OpKind.COPY_SNAPSHOT, OpKind.CREATE_DISK, OpKind.CREATE_VM]
    # Scheduled snapshots that the plan already copies to centralus need no copy.
    rb = runbook(
        [
            bubble,
            {
                "id": "web",
                "action": "snapshot.clone",
                "needs": ["bubble"],
                "with": {"vms": {"name": "web-01"}, "network": "bubble", "source": "scheduled"},
            },
        ],
        scenario={"incident": "region-outage", "region": "eastus2"},
    )
    task = build_task_graph(rb, ESTATE_DOC, plan("snapshots-6h")).task("web/web-01")
    assert [op.kind for op in task.ops] == [OpKind.FIND_SNAPSHOT, OpKind.CREATE_DISK, OpKind.CREATE_VM]


def test_site_recovery_latest_has_no_point_to_find() -> None:
    bubble = {**BUBBLE, "with": {"region": "centralus", "cidr": "10.250.0.0/16"}}
    step = {
        "id": "db",
        "action": "asr.test_failover",
        "needs": ["bubble"],
        "with": {"vms": {"name": "sql-01"}, "network": "bubble", "recovery_point": "latest"},
    }
    task = build_task_graph(runbook([bubble, step]), ESTATE_DOC, plan("asr-and-daily-backup")).task("db/sql-01")
    assert ops(task) == [("test-failover", ())]


def test_an_app_canary_check_covers_the_app_vms_in_scope() -> None:
    rb = runbook(
        [
            BUBBLE,
            {"id": "db", "action": "backup.restore", "needs": ["bubble"], "with": {"vms": {"name": "pay-db-01"}, "network": "bubble"}},
            {"id": "verify", "action": "check.canary", "needs": ["db"], "with": {"app": "payroll", "consecutive": 3}},
        ],
        scenario={"incident": "vm-loss", "vms": {"name": "pay-app-01"}},
    )
    graph = build_task_graph(rb, ESTATE_DOC, plan("daily-backup"))
    # pay-app-01 was hit, pay-db-01 is recovered anyway; pay-report-01 is neither.
    assert [t.vm for t in graph.step_tasks["verify"]] == ["pay-app-01", "pay-db-01"]
    assert graph.task("verify/pay-db-01").ops[0].seconds == 30 + 2 * 30  # three reads, 30 s apart


def test_critical_path_follows_the_barriers_and_the_longest_task() -> None:
    rb = runbook(
        [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "10m"}},
            BUBBLE,
            {"id": "db", "action": "backup.restore", "needs": ["declare", "bubble"], "with": {"vms": {"app": "shop"}, "network": "bubble"}},
            {"id": "wait", "action": "wait", "needs": ["db"], "with": {"duration": "5m"}},
        ]
    )
    graph = build_task_graph(rb, ESTATE_DOC, plan("daily-backup"))
    seconds = {"restore": 1000.0, "find-point": 1.0, "create-network": 30.0, "verify-isolation": 1.0}
    slow = {"db/app-02": 3000.0}

    def duration(task: Task, op: Op) -> float:
        if op.seconds is not None:
            return op.seconds
        return slow.get(task.id, seconds[op.id]) if op.id == "restore" else seconds[op.id]

    path = critical_path(graph, duration, concurrency=50)
    assert path.tasks == ("declare", "db/app-02", "wait")
    assert path.length_s == 600 + 1 + 3000 + 300
    assert path.slot_work_s == 30 + 5 * 1000 + 3000  # network and restores hold slots; reads and waits do not
    assert path.lower_bound_s == path.length_s
    tight = critical_path(graph, duration, concurrency=1)
    assert tight.lower_bound_s == tight.slot_work_s == 8030


def test_task_chain_runs_independent_operations_in_parallel() -> None:
    ops_ = (Op("a", OpKind.CREATE_DISK), Op("b", OpKind.CREATE_DISK), Op("vm", OpKind.CREATE_VM, ("a", "b")))
    task = Task("t", "s", Action.SNAPSHOT_CLONE, "vm", ops_, 0)
    seconds = {"a": 10.0, "b": 25.0, "vm": 100.0}
    assert task_chain(task, lambda op: seconds[op.id]) == 125.0


@pytest.mark.parametrize(("os_name", "expected"), [("sql-01", 255.0), ("web-01", 120.0)])
def test_default_estimates_know_windows_vms_take_longer(os_name: str, expected: float) -> None:
    estimate = estimate_op({vm.name: vm for vm in ESTATE_DOC.vms})
    task = Task("x", "s", Action.SNAPSHOT_CLONE, os_name, (Op("create-vm", OpKind.CREATE_VM),), 0)
    assert estimate(task, task.ops[0]) == expected
