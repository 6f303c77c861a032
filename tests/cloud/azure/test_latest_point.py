"""`latest` Site Recovery points: the test failover request carries no `recoveryPointId` at all.

A2ATestFailoverInput.recoveryPointId (specification/recoveryservicessiterecovery, 2025-08-01): "The
recovery point id to be passed to test failover to a particular recovery point. In case of latest
recovery point, null should be passed." The field is left out of the body, never sent as JSON null,
and a chosen point is sent by its id.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import drsim.cloud.emulator.server as server
from drsim.cloud.api import RUN_TAG
from drsim.cloud.azure.provider import AzureProvider
from drsim.cloud.emulator.world import EmulatorOptions
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.model.documents import AzureOptions
from drsim.model.types import ReplicationPointChoice

DRILLS = Path(__file__).resolve().parents[3] / "drills"


def test_latest_sends_no_recovery_point_and_a_chosen_one_sends_its_id() -> None:
    options = EmulatorOptions(estate=DRILLS / "estates/contoso.yaml", plan=DRILLS / "plans/asr-and-daily-backup.yaml", speed=600.0)
    bodies: list[dict] = []

    def capture(request) -> None:  # azure-core's raw_request_hook: every request as sent
        if request.http_request.url.split("?")[0].endswith("/testFailover"):
            bodies.append(json.loads(request.http_request.body))

    with server.EmulatorThread(options) as handle:

        async def main() -> None:
            azure = AzureOptions(subscription_id=handle.subscription_id, resource_group=DRILL_GROUP, endpoint=handle.url)
            async with AzureProvider(azure, polling_interval=0.05, raw_request_hook=capture) as provider:
                inventory = await provider.inventory()
                net = await provider.create_isolated_network(
                    name="bubble-latest", region="centralus", cidr="10.252.0.0/16", tags={RUN_TAG: "l"}
                )
                for vm, choice in (("web-01", ReplicationPointChoice.LATEST), ("web-02", ReplicationPointChoice.LATEST_PROCESSED)):
                    job = await provider.test_failover(inventory[vm], choice=choice, network_id=net.id, tags={RUN_TAG: "l"})
                    while not job.status.ended:
                        await asyncio.sleep(0.05)
                        job = await provider.get_job(job.id)
                    cleanup = await provider.test_failover_cleanup(inventory[vm])
                    while not cleanup.status.ended:
                        await asyncio.sleep(0.05)
                        cleanup = await provider.get_job(cleanup.id)

        asyncio.run(main())
    latest, processed = (b["properties"]["providerSpecificDetails"] for b in bodies)
    assert latest == {"instanceType": "A2A"}  # no recoveryPointId key, not even null
    assert processed["recoveryPointId"].rsplit("/recoveryPoints/", 1)[1]
