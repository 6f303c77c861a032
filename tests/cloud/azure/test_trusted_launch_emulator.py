"""AzureProvider carries a Trusted Launch VM's security onto what recovers it, against the ARM emulator:
a disk copied from a snapshot of its OS disk is Trusted Launch by inheritance (the provider asks for no
security type: a Copy disk may not, Azure/azure-cli#22561), and the VM attaching it gets securityType
TrustedLaunch with the production VM's own uefiSettings (VirtualMachine_Create_WithUefiSettings.json;
without it Azure refuses the VM: Azure/azure-sdk-for-python#30479). A Standard VM's copy stays Standard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cloud.api import RUN_TAG
from drsim.cloud.azure.provider import AzureProvider
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.model.documents import AzureOptions

DATA = Path(__file__).resolve().parents[1] / "emulator" / "data"


def test_a_clone_of_a_trusted_launch_vm_is_trusted_launch_with_the_vms_own_uefi_settings() -> None:
    options = world_module.EmulatorOptions(
        estate=DATA / "estate-tl.yaml", plan=DATA / "plan.yaml", seed=7, speed=600.0, incident_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    )
    tags = {RUN_TAG: "tl-test"}
    with server.EmulatorThread(options) as handle:

        async def main() -> None:
            azure = AzureOptions(
                subscription_id=handle.subscription_id,
                resource_group=DRILL_GROUP,
                endpoint=handle.url,
                staging_storage_account=staging_account(handle.subscription_id),
            )
            async with AzureProvider(azure, polling_interval=0.05) as provider:
                production = {vm.name: vm for vm in await provider.list_vms()}
                network = await provider.create_isolated_network(name="tl-bubble", region="eastus2", cidr="10.250.0.0/16", tags=tags)
                made = {}
                for name in ("web-01", "db-01"):
                    source = production[name]
                    disks = []
                    for index, disk_id in enumerate(source.disk_ids):
                        snap = await provider.create_snapshot(disk_id, name=f"{name}-{index}-snap", incremental=True, tags=tags)
                        disks.append((await provider.create_disk(snap.id, name=f"{name}-{index}-copy", region="eastus2", tags=tags)).id)
                    vm = await provider.create_vm(
                        name=f"{name}-clone",
                        region="eastus2",
                        size=source.size,
                        os=source.os,
                        disk_ids=disks,
                        network_id=network.id,
                        tags=tags,
                    )
                    made[name] = await provider._get_vm_model(vm.id)
                web = made["web-01"].security_profile
                assert web is not None and web.security_type == "TrustedLaunch"
                assert web.uefi_settings is not None
                assert (web.uefi_settings.secure_boot_enabled, web.uefi_settings.v_tpm_enabled) == (False, True)  # web-01's, not defaults
                assert made["db-01"].security_profile is None

        asyncio.run(main())


def test_discovery_writes_trusted_launch_as_the_vm_has_it(tmp_path: Path) -> None:
    from drsim.cloud.azure.discovery import discover
    from drsim.discover import write_documents
    from drsim.model.checks import validate_path
    from drsim.model.documents import Estate
    from drsim.model.loader import load

    options = world_module.EmulatorOptions(estate=DATA / "estate-tl.yaml", plan=DATA / "plan.yaml", seed=7, speed=60.0)
    with server.EmulatorThread(options) as handle:
        found = asyncio.run(discover(handle.subscription_id, endpoint=handle.url))
        estate_path, _ = write_documents(found, tmp_path, handle.subscription_id)
    assert validate_path(estate_path) == []
    vms = {vm.name: vm for vm in load(estate_path, Estate).doc.vms}
    assert vms["web-01"].trusted_launch is not None
    assert (vms["web-01"].trusted_launch.secure_boot, vms["web-01"].trusted_launch.vtpm) == (False, True)
    assert vms["db-01"].trusted_launch is None
