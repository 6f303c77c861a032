"""Discovery through the unmodified SDK against the ARM emulator reproduces the estate it serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import drsim.cloud.emulator.server as emulator
import drsim.cloud.emulator.world as world_module
from drsim.cloud.azure.discovery import discover
from drsim.cloud.emulator.state import estate_vm_uuids
from drsim.cloud.sim.resources import production_group
from drsim.discover import write_documents
from drsim.model.checks import protection_of, validate_path
from drsim.model.documents import Estate, ProtectionPlan
from drsim.model.loader import load

DRILLS = Path(__file__).resolve().parents[3] / "drills"
ESTATE = DRILLS / "estates" / "contoso.yaml"
PLAN = DRILLS / "plans" / "asr-and-daily-backup.yaml"


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    options = world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, seed=1, speed=60.0)
    with emulator.EmulatorThread(options) as handle:
        found = asyncio.run(discover(handle.subscription_id, endpoint=handle.url))
        out = tmp_path_factory.mktemp("discovered")
        paths = write_documents(found, out, handle.subscription_id)
    return found, paths


def test_the_written_documents_validate(discovered):
    _, (estate_path, plan_path) = discovered
    assert validate_path(estate_path) == []
    assert validate_path(plan_path) == []


def test_discovery_finds_the_same_vms_sizes_regions_and_disks(discovered):
    _, (estate_path, _) = discovered
    served = load(ESTATE, Estate).doc
    found = load(estate_path, Estate).doc
    assert sorted(vm.name for vm in found.vms) == sorted(vm.name for vm in served.vms)
    for vm in served.vms:
        twin = found.vm(vm.name)
        assert (twin.os, twin.size, twin.region, twin.generalized, twin.power) == (vm.os, vm.size, vm.region, vm.generalized, vm.power)
        assert dict(twin.tags) == dict(vm.tags)
        # Disk SKUs are not compared: the provider Protocol's ManagedDisk carries none, so the emulator serves none.
        assert [(d.name, d.size_gib) for d in twin.disks] == [(d.name, d.size_gib) for d in vm.disks]
    assert (found.regions.primary, found.regions.recovery) == (served.regions.primary, served.regions.recovery)
    assert sorted(a.name for a in found.apps) == sorted(a.name for a in served.apps)
    served_nets = {n.name: (n.region, n.cidr, n.gateway, sorted(n.peerings)) for n in served.networks}
    found_nets = {n.name: (n.region, n.cidr, n.gateway, sorted(n.peerings)) for n in found.networks}
    assert found_nets == served_nets
    # Each VM's vmId (properties.vmId), which its canary markers carry: the ids the emulator serves.
    assert {vm.name: vm.vm_uuid for vm in found.vms} == {vm.name: vm.vm_uuid for vm in estate_vm_uuids(served).vms}


def test_discovery_writes_where_production_lives(discovered):
    _, (estate_path, _) = discovered
    found = load(estate_path, Estate).doc
    # The emulator's world keeps the whole estate in one group: written once, for the estate.
    assert found.resource_group == production_group(load(ESTATE, Estate).doc.name)
    assert all(vm.resource_group is None and all(d.resource_group is None for d in vm.disks) for vm in found.vms)
    assert all(net.resource_group is None for net in found.networks)
    assert set(found.production_groups()) == {found.resource_group.lower()}


def test_discovery_finds_the_same_protection(discovered):
    _, (_, plan_path) = discovered
    served_estate = load(ESTATE, Estate).doc
    served_plan = load(PLAN, ProtectionPlan).doc
    found_plan = load(plan_path, ProtectionPlan).doc
    for vm in served_estate.vms:
        want = protection_of(served_plan, vm.name, vm.tags)
        got = protection_of(found_plan, vm.name, vm.tags)
        if want.backup is None:
            assert got.backup is None, vm.name
        else:
            assert got.backup is not None and got.backup.backup is not None, vm.name
            w, g = want.backup.backup, got.backup.backup
            assert (g.policy, g.interval, g.start, g.snapshot_days, g.vault_redundancy, g.cross_region_restore) == (
                w.policy,
                w.interval,
                w.start,
                w.snapshot_days,
                w.vault_redundancy,
                w.cross_region_restore,
            ), vm.name
        if want.site_recovery is None:
            assert got.site_recovery is None, vm.name
        else:
            assert got.site_recovery is not None and got.site_recovery.site_recovery is not None, vm.name
            w_sr, g_sr = want.site_recovery.site_recovery, got.site_recovery.site_recovery
            assert (g_sr.target_region, g_sr.app_consistent_every, g_sr.retention, g_sr.consistency_group) == (
                w_sr.target_region,
                w_sr.app_consistent_every,
                w_sr.retention,
                w_sr.consistency_group,
            ), vm.name
