"""The read-only preflight of a drill that restores with cross-region restore (`backup.restore` with
`region:` the paired region), against the ARM emulator: ready when the vault has cross-region restore,
the secondary region holds points, the identity has the CRR permissions on the vault's subscription
(backup-rbac-rs-vault) and the CRR staging account is in the secondary region; each missing piece is a
problem of its own, and the preflight writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from drsim.cloud.arm import RequestClass
from drsim.cloud.azure.preflight import Area
from drsim.cloud.emulator import EmulatorOptions, EmulatorThread
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.emulator.state import crr_staging_name
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.drills import azure_dry_run
from drsim.model.checks import load_drill

ROOT = Path(__file__).resolve().parents[3]
DRILLS = ROOT / "drills"
CRR_DRILL = Path(__file__).resolve().parent / "data" / "crr-drill.yaml"


def options(plan: str) -> EmulatorOptions:
    return EmulatorOptions(
        estate=DRILLS / "estates/contoso.yaml",
        plan=DRILLS / "plans" / plan,
        speed=600.0,
        incident_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
    )


def crr_drill(tmp_path: Path, handle, *, crr_staging: str) -> Path:
    drill = yaml.safe_load(CRR_DRILL.read_text())
    for key in ("runbook", "estate", "plan"):
        drill[key] = str((CRR_DRILL.parent / drill[key]).resolve())
    drill["provider"] = "azure"
    drill["azure"] = {
        "subscription_id": handle.subscription_id,
        "resource_group": DRILL_GROUP,
        "endpoint": handle.url,
        "staging_storage_account": staging_account(handle.subscription_id),
        "crr_staging_storage_account": staging_account(handle.subscription_id, name=crr_staging),
    }
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def test_a_cross_region_restore_drill_is_ready_when_the_vault_restores_in_the_paired_region(tmp_path: Path) -> None:
    with EmulatorThread(options("asr-and-daily-backup.yaml")) as handle:
        checked = azure_dry_run(load_drill(crr_drill(tmp_path, handle, crr_staging=crr_staging_name("centralus"))))
        requests = dict(handle.emulator.requests)
    assert checked.readiness.ready, checked.readiness.problems
    rows = {(c.area, c.subject): c.detail for c in checked.readiness.checks}
    assert "has cross-region restore: points restorable in centralus" in rows[(Area.PROTECTION, "web-01 (web)")]
    assert rows[(Area.RECOVERY_POINT, "web-01 (web)")].startswith("point: latest, tier: auto: newest ")
    assert rows[(Area.STAGING, crr_staging_name("centralus"))] == "Standard_LRS in centralus"
    permissions = [c for c in checked.readiness.checks if c.area is Area.PERMISSIONS and c.subject.endswith("/contoso-prod")]
    assert permissions and all(c.ok for c in permissions)
    assert requests.get(RequestClass.WRITE, 0) == 0 and requests.get(RequestClass.DELETE, 0) == 0


def test_no_cross_region_restore_on_the_vault_and_a_primary_region_staging_account_are_problems(tmp_path: Path) -> None:
    with EmulatorThread(options("daily-backup.yaml")) as handle:  # an LRS vault: no cross-region restore
        checked = azure_dry_run(load_drill(crr_drill(tmp_path, handle, crr_staging="drsimstaging")))
    problems = {(c.area, c.subject.rsplit("/", 1)[-1]): c.detail for c in checked.readiness.problems}
    crr = problems[(Area.PROTECTION, "web-01 (web)")]
    assert "does not have" in crr and "enable Cross Region Restore on the vault" in crr
    assert (Area.RECOVERY_POINT, "web-01 (web)") not in problems  # no secondary points to look for
    assert problems[(Area.STAGING, "drsimstaging")].startswith("in eastus2, the secondary region centralus: it must be in")
    # the identity of an estate without CRR has no CRR permission on the subscription either
    missing = problems[(Area.PERMISSIONS, "contoso-prod")]
    assert "Microsoft.RecoveryServices/locations/backupCrossRegionRestore/action" in missing


def test_a_cross_region_restore_drill_needs_a_secondary_region_staging_account(tmp_path: Path) -> None:
    import pytest

    from drsim.errors import DocumentError

    class Handle:
        subscription_id = "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"
        url = "http://127.0.0.1:9"

    path = crr_drill(tmp_path, Handle, crr_staging="x")
    data = yaml.safe_load(path.read_text())
    del data["azure"]["crr_staging_storage_account"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(DocumentError) as caught:
        load_drill(path)
    (problem,) = caught.value.problems
    assert (
        problem.path == str(path) and "azure.crr_staging_storage_account is required: step 'web' restores in centralus" in problem.message
    )
