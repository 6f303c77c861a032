"""`drsim drill run --dry-run` of a `provider: azure` drill: the read-only preflight, against the ARM emulator.

The emulator serves the example estate under its daily-backup plan with no incident (a subscription
before the drill). A ready subscription exits 0; one where the drill identity cannot write the drill
group, a VM has no point of the kind the runbook asks for and the region's vCPU quota is exhausted
exits 2 with all three problems listed in one run. The emulator counts the requests it served: a
preflight makes no write and no delete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from drsim.cli import main
from drsim.cloud.arm import RequestClass
from drsim.cloud.azure.preflight import Area
from drsim.cloud.emulator import EmulatorOptions, EmulatorThread
from drsim.cloud.emulator.world import ArmSettings, StorageAccountSpec
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.drills import azure_dry_run
from drsim.errors import DocumentError
from drsim.model.checks import load_drill

ROOT = Path(__file__).resolve().parents[3]
DRILLS = ROOT / "drills"
STAGING = StorageAccountSpec("stdrsimstaging", DRILL_GROUP, "eastus2", "Standard_LRS")


def options(arm: ArmSettings) -> EmulatorOptions:
    return EmulatorOptions(
        estate=DRILLS / "estates/contoso.yaml",
        plan=DRILLS / "plans/daily-backup.yaml",
        speed=600.0,
        incident_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
        arm=arm,
    )


def azure_drill(tmp_path: Path, handle, *, web_point: str = "latest", staging: str | None = "stdrsimstaging") -> Path:
    """The backup example as a `provider: azure` drill against the emulator (its web step's point choice given)."""
    runbook = yaml.safe_load((ROOT / "runbooks/shop-backup-restore.yaml").read_text())
    for step in runbook["steps"]:
        if step["id"] == "web":
            step["with"]["point"] = web_point
    (tmp_path / "runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = yaml.safe_load((DRILLS / "2026-q4-shop-backup.yaml").read_text())
    drill["runbook"] = str(tmp_path / "runbook.yaml")
    drill["estate"] = str(DRILLS / "estates/contoso.yaml")
    drill["plan"] = str(DRILLS / "plans/daily-backup.yaml")
    drill["provider"] = "azure"
    drill["azure"] = {"subscription_id": handle.subscription_id, "resource_group": DRILL_GROUP, "endpoint": handle.url}
    if staging:
        drill["azure"]["staging_storage_account"] = (
            f"/subscriptions/{handle.subscription_id}/resourceGroups/{DRILL_GROUP}/providers/Microsoft.Storage/storageAccounts/{staging}"
        )
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def dry_run(path: Path):
    return CliRunner().invoke(main, ["drill", "run", str(path), "--dry-run"], terminal_width=250)


def test_a_ready_subscription_passes_every_check_with_reads_only(tmp_path: Path) -> None:
    with EmulatorThread(options(ArmSettings(storage_accounts=(STAGING,)))) as handle:
        result = dry_run(azure_drill(tmp_path, handle))
        requests = dict(handle.emulator.requests)
    assert result.exit_code == 0, result.output
    assert "ready" in result.output and "PROBLEM" not in result.output
    for row in ("vm", "protection", "recovery point", "resource group", "permissions", "staging account", "quota", "twin"):
        assert row in result.output, row
    assert "predicted" in result.output and "$" in result.output  # the twin's duration and cost
    # Reads only: the emulator served no write and no delete.
    assert requests.get(RequestClass.WRITE, 0) == 0 and requests.get(RequestClass.DELETE, 0) == 0
    assert requests[RequestClass.READ] > 20
    assert not list(tmp_path.rglob("result.json"))  # and drsim wrote nothing


def test_a_missing_role_a_missing_point_and_an_exhausted_quota_are_reported_at_once(tmp_path: Path) -> None:
    arm = ArmSettings(writable_groups=("contoso-prod",), vcpu_quota=40, storage_accounts=(STAGING,))
    with EmulatorThread(options(arm)) as handle:
        drill = azure_drill(tmp_path, handle, web_point="latest-app-consistent")
        result = dry_run(drill)
        checked = azure_dry_run(load_drill(drill))
        requests = dict(handle.emulator.requests)
    assert result.exit_code == 2, result.output
    assert "not ready: 5 problem(s)" in result.output
    problems = {(c.area, c.subject.rsplit("/", 1)[-1]): c.detail for c in checked.readiness.problems}
    assert set(problems) == {
        (Area.PERMISSIONS, DRILL_GROUP),  # the drill group is not writable: Contributor there is missing
        (Area.RECOVERY_POINT, "web-01 (web)"),  # the web tier is Linux: file-system consistent points only
        (Area.RECOVERY_POINT, "web-02 (web)"),
        (Area.RECOVERY_POINT, "web-03 (web)"),
        (Area.QUOTA, "eastus2"),  # 40 vCPUs in eastus2, most taken by production
    }
    assert "Microsoft.Resources/subscriptions/resourceGroups/write" in problems[(Area.PERMISSIONS, DRILL_GROUP)]
    assert "Microsoft.Compute/virtualMachines/runCommand/action" in problems[(Area.PERMISSIONS, DRILL_GROUP)]
    assert problems[(Area.RECOVERY_POINT, "web-01 (web)")].startswith("no Azure Backup point matches point: latest-app-consistent")
    assert problems[(Area.QUOTA, "eastus2")] == "6 VM(s) need 22 vCPUs; 6 of 40 free: ask for more quota"
    # the rest still passes: the roles the docs give on vaults, source VMs and the staging account
    passed = {(c.area, c.subject.rsplit("/", 1)[-1]) for c in checked.readiness.checks if c.ok}
    assert {(Area.PERMISSIONS, "rsv-eastus2-lrs"), (Area.PERMISSIONS, "web-01"), (Area.PERMISSIONS, "stdrsimstaging")} <= passed
    assert requests.get(RequestClass.WRITE, 0) == 0 and requests.get(RequestClass.DELETE, 0) == 0


def test_a_staging_account_in_the_wrong_place_or_missing_is_a_problem(tmp_path: Path) -> None:
    zrs = StorageAccountSpec("stzrs", DRILL_GROUP, "centralus", "Standard_ZRS")

    def staging_problems(staging: str | None) -> list[str]:
        checked = azure_dry_run(load_drill(azure_drill(tmp_path, handle, staging=staging)))
        return [c.detail for c in checked.readiness.problems if c.area is Area.STAGING]

    with EmulatorThread(options(ArmSettings(storage_accounts=(zrs,)))) as handle:
        wrong = staging_problems("stzrs")
        missing = staging_problems("stnone")
        with pytest.raises(DocumentError, match=r"azure\.staging_storage_account is required"):  # refused before Azure is asked
            staging_problems(None)
        exit_code = dry_run(azure_drill(tmp_path, handle, staging="stnone")).exit_code
    assert wrong == [
        "in centralus, the vault in eastus2: it must be in the vault's region; Standard_ZRS (zone-redundant) cannot stage a restore"
    ]
    assert missing == ["no such storage account"]
    assert exit_code == 2


def test_a_dry_run_of_an_azure_drill_without_a_subscription_is_refused(tmp_path: Path, monkeypatch) -> None:
    for name in ("AZURE_SUBSCRIPTION_ID", "DRSIM_AZURE_RESOURCE_GROUP"):
        monkeypatch.delenv(name, raising=False)
    drill = yaml.safe_load((DRILLS / "2026-q4-shop-backup.yaml").read_text())
    for key in ("runbook", "estate", "plan"):
        drill[key] = str((DRILLS / drill[key]).resolve())
    drill["provider"] = "azure"
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill))
    result = dry_run(path)
    assert result.exit_code == 2
    assert "AZURE_SUBSCRIPTION_ID" in result.output and "Traceback" not in result.output


def test_a_drill_group_holding_production_is_a_problem(tmp_path: Path) -> None:
    with EmulatorThread(options(ArmSettings(writable_groups=("contoso-prod",), storage_accounts=(STAGING,)))) as handle:
        drill = azure_drill(tmp_path, handle)
        data = yaml.safe_load(drill.read_text())
        data["azure"]["resource_group"] = "contoso-prod"
        drill.write_text(yaml.safe_dump(data, sort_keys=False))
        checked = azure_dry_run(load_drill(drill))
    group = [c for c in checked.readiness.checks if c.area is Area.RESOURCE_GROUP]
    assert [c.ok for c in group] == [False]
    assert group[0].detail.startswith("holds production resources: ") and "sql-01" in group[0].detail
