"""What a `provider: azure` drill that restores from Azure Backup needs before anything is created: a
staging storage account (named in the drill or the environment; existing, in the vault's region, not
zone-redundant, as Azure reads it) and no `tier: vault`, which Azure cannot choose (IaasVMRestoreRequest
has no tier: a restore uses the snapshot when the point has one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cli import main
from drsim.cloud.azure.provider import AzureProvider
from drsim.cloud.emulator.backup import STORAGE_TYPE, staging_account
from drsim.cloud.emulator.state import StorageAccount
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.errors import DocumentError
from drsim.model.checks import load_drill
from drsim.model.documents import AzureOptions

DRILLS = Path(__file__).resolve().parents[3] / "drills"
SUB = "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"


def azure_drill(tmp_path: Path, *, azure: dict | None, tier: str | None = None, example: str = "2026-q4-shop-backup.yaml") -> Path:
    source = DRILLS / example
    data = yaml.safe_load(source.read_text())
    for key in ("estate", "plan"):
        data[key] = str((source.parent / data[key]).resolve())
    runbook_path = (source.parent / data["runbook"]).resolve()
    if tier is not None:
        runbook = yaml.safe_load(runbook_path.read_text())
        runbook["steps"][2]["with"]["tier"] = tier
        runbook_path = tmp_path / "runbook.yaml"
        runbook_path.write_text(yaml.safe_dump(runbook, sort_keys=False))
    data["runbook"] = str(runbook_path)
    data["provider"] = "azure"
    if azure is not None:
        data["azure"] = azure
    target = tmp_path / "drill.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_an_azure_drill_that_restores_needs_a_staging_account(tmp_path: Path) -> None:
    path = azure_drill(tmp_path, azure={"subscription_id": SUB, "resource_group": "rg-drills"})
    with pytest.raises(DocumentError) as caught:
        load_drill(path)
    (problem,) = caught.value.problems
    assert problem.path == str(path) and "azure.staging_storage_account is required" in problem.message
    run = CliRunner().invoke(main, ["validate", str(path)])
    assert run.exit_code == 2 and "staging_storage_account" in run.output
    staged = azure_drill(
        tmp_path, azure={"subscription_id": SUB, "resource_group": "rg-drills", "staging_storage_account": staging_account(SUB)}
    )
    load_drill(staged)  # valid with it
    # an ASR drill restores nothing from Backup: no staging account needed
    asr = azure_drill(tmp_path, azure={"subscription_id": SUB, "resource_group": "rg-drills"}, example="2026-q4-shop-asr.yaml")
    load_drill(asr)


def test_tier_vault_is_refused_for_azure_and_kept_for_the_simulator(tmp_path: Path) -> None:
    azure = {"subscription_id": SUB, "resource_group": "rg-drills", "staging_storage_account": staging_account(SUB)}
    path = azure_drill(tmp_path, azure=azure, tier="vault")
    with pytest.raises(DocumentError) as caught:
        load_drill(path)
    (problem,) = caught.value.problems
    assert problem.path.endswith("runbook.yaml") and "cannot choose the vault tier" in problem.message
    data = yaml.safe_load(path.read_text())
    data["provider"] = "sim"
    del data["azure"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_drill(path)  # the simulator restores from the vault tier when asked


def test_without_an_azure_block_the_environment_must_name_the_staging_account(tmp_path: Path, monkeypatch) -> None:
    path = azure_drill(tmp_path, azure=None)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUB)
    monkeypatch.setenv("DRSIM_AZURE_RESOURCE_GROUP", "rg-drills")
    monkeypatch.delenv("DRSIM_AZURE_STAGING_STORAGE_ACCOUNT", raising=False)
    run = CliRunner().invoke(main, ["drill", "run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--no-report"])
    assert run.exit_code == 2, run.output
    assert "DRSIM_AZURE_STAGING_STORAGE_ACCOUNT" in run.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("journal.jsonl"))


@pytest.fixture(scope="module")
def emulator():
    options = world_module.EmulatorOptions(
        estate=DRILLS / "estates" / "contoso.yaml", plan=DRILLS / "plans" / "daily-backup.yaml", seed=3, speed=600.0
    )
    thread = server.EmulatorThread(options)
    with thread as handle:
        backup = handle.emulator.backup
        for name, region, sku in (("stzrs", "eastus2", "Standard_ZRS"), ("stwest", "westus", "Standard_LRS")):
            account = StorageAccount(staging_account(handle.subscription_id, name=name), name, "drsim-drills", region, sku)
            backup.storage_accounts[account.id.lower()] = account
        yield handle


def staging_problems(handle, staging: str | None) -> list[str]:
    async def main() -> list[str]:
        options = AzureOptions(
            subscription_id=handle.subscription_id, resource_group=DRILL_GROUP, endpoint=handle.url, staging_storage_account=staging
        )
        async with AzureProvider(options, polling_interval=0.05) as provider:
            return await provider.check_staging_account(["web-01", "sql-01"])

    return asyncio.run(main())


def test_the_staging_account_is_read_from_azure(emulator) -> None:
    sub = emulator.subscription_id
    assert staging_problems(emulator, staging_account(sub)) == []
    (zrs,) = staging_problems(emulator, staging_account(sub, name="stzrs"))
    assert "Standard_ZRS" in zrs and "zone-redundant" in zrs
    (far,) = staging_problems(emulator, staging_account(sub, name="stwest"))
    assert "westus" in far and "vault's region" in far
    (missing,) = staging_problems(emulator, staging_account(sub, name="stnone"))
    assert "does not exist" in missing
    (wrong,) = staging_problems(emulator, f"/subscriptions/{sub}/resourceGroups/{DRILL_GROUP}/providers/Microsoft.Compute/disks/d")
    assert f"not a storage account id (.../providers/{STORAGE_TYPE}/<name>)" in wrong
    assert staging_problems(emulator, None) == [
        "azure.staging_storage_account is not set: Azure Backup restores stage through a storage account"
    ]


def test_a_bad_staging_account_stops_the_drill_before_anything_is_created(tmp_path: Path, emulator) -> None:
    azure = {
        "subscription_id": emulator.subscription_id,
        "resource_group": DRILL_GROUP,
        "endpoint": emulator.url,
        "staging_storage_account": staging_account(emulator.subscription_id, name="stzrs"),
    }
    path = azure_drill(tmp_path, azure=azure)
    run = CliRunner().invoke(main, ["drill", "run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--no-report"])
    assert run.exit_code == 2, run.output
    assert "zone-redundant" in run.output and str(path) in run.output
    journals = list((tmp_path / "out").rglob("journal.jsonl"))
    assert all("resource.created" not in j.read_text() for j in journals)
