"""Microsoft.Resources: the subscription, resource groups, resources by tag, the Tags API; and throttling."""

from __future__ import annotations

import asyncio

from arm_session import AUTH, DRILLS, PROD, PRODUCTION_WRITABLE, Answer, ArmSession, emulated, tiny_options
from test_emulator_compute import make_network, snapshot_body

TAG_FILTER = "tagName eq 'drsim-run' and tagValue eq 'r1'"


def test_subscription_and_resource_groups_are_listed() -> None:
    async def check(arm: ArmSession) -> None:
        subs = await arm.call("GET", "/subscriptions")
        assert [s["subscriptionId"] for s in subs.body["value"]] == [arm.handle.subscription_id]
        groups = await arm.call("GET", f"{arm.sub}/resourcegroups")
        assert [g["name"] for g in groups.body["value"]] == [DRILLS, PROD]
        assert arm.handle.resource_groups == (DRILLS, PROD)
        assert (await arm.call("HEAD", arm.group(PROD))).status == 204
        assert (await arm.call("HEAD", arm.group("elsewhere"))).status == 404
        missing = await arm.call("GET", arm.group("elsewhere"))
        assert missing.status == 404 and missing.body["error"]["code"] == "ResourceGroupNotFound"
        new = await arm.call("PUT", arm.group("elsewhere"), {"location": "eastus2"})
        # A drill identity may not create resource groups (docs/azure.md: drsim never does)
        assert new.status == 403 and new.body["error"]["code"] == "AuthorizationFailed"
        assert "'Microsoft.Resources/subscriptions/resourceGroups/write'" in new.body["error"]["message"]

    emulated(check)


def test_resources_by_tag_find_what_a_run_created_and_nothing_else() -> None:
    async def check(arm: ArmSession) -> None:
        snap = arm.rid(DRILLS, "Microsoft.Compute/snapshots", "tagged")
        await arm.wait(await arm.call("PUT", snap, snapshot_body(arm, "web-01-os")))
        vnet = await make_network(arm, "tagged-net")
        listed = await arm.call("GET", f"{arm.sub}/resources", params={"api-version": "2024-07-01", "$filter": TAG_FILTER})
        found = sorted((r["type"], r["name"]) for r in listed.body["value"])
        assert found == [
            ("Microsoft.Compute/snapshots", "tagged"),
            ("Microsoft.Network/networkSecurityGroups", "tagged-net-nsg"),
            ("Microsoft.Network/virtualNetworks", "tagged-net"),
        ]
        assert all(r["tags"]["drsim-run"] == "r1" for r in listed.body["value"])
        assert vnet in [r["id"] for r in listed.body["value"]]
        in_prod = await arm.call("GET", f"{arm.group(PROD)}/resources", params={"api-version": "2024-07-01", "$filter": TAG_FILTER})
        assert in_prod.body["value"] == []
        vaults = await arm.call(
            "GET",
            f"{arm.sub}/resources",
            params={"api-version": "2024-07-01", "$filter": "resourceType eq 'Microsoft.RecoveryServices/vaults'"},
        )
        assert len(vaults.body["value"]) == 2

    emulated(check)


def test_tags_api_merges_tags_onto_a_resource_the_world_made() -> None:
    async def check(arm: ArmSession) -> None:
        vm = arm.rid(PROD, "Microsoft.Compute/virtualMachines", "web-01")
        scope = f"{vm}/providers/Microsoft.Resources/tags/default"
        merged = await arm.call("PATCH", scope, {"operation": "Merge", "properties": {"tags": {"drsim-run": "r9"}}})
        assert merged.status == 200
        assert merged.body["properties"]["tags"] == {"app": "shop", "tier": "web", "drsim-run": "r9"}
        assert (await arm.call("GET", vm)).body["tags"]["drsim-run"] == "r9"
        listed = await arm.call(
            "GET", f"{arm.sub}/resources", params={"api-version": "2024-07-01", "$filter": "tagName eq 'drsim-run' and tagValue eq 'r9'"}
        )
        assert [r["id"] for r in listed.body["value"]] == [vm]
        gone = await arm.call(
            "PATCH",
            f"{arm.rid(PROD, 'Microsoft.Compute/virtualMachines', 'nope')}/providers/Microsoft.Resources/tags/default",
            {"operation": "Merge", "properties": {"tags": {}}},
        )
        assert gone.status == 404

    emulated(check, tiny_options(arm=PRODUCTION_WRITABLE))  # tagging production needs Tag Contributor there


def test_a_burst_beyond_the_read_bucket_gets_429_with_retry_after_then_succeeds() -> None:
    # At a tenth of real speed the read bucket (250, refilling 25/s of world time) refills 2.5 a
    # second: 320 reads at once must meet an empty bucket (request-limits-and-throttling).
    async def check(arm: ArmSession) -> None:
        path = f"{arm.sub}/resourcegroups"
        answers = await asyncio.gather(*(arm.call("GET", path) for _ in range(320)))
        throttled = [a for a in answers if a.status == 429]
        assert int(answers[0].headers["x-ms-ratelimit-remaining-subscription-reads"]) < 250
        assert throttled, "a burst beyond the bucket is throttled"
        assert {a.status for a in answers} == {200, 429}
        for answer in throttled:
            assert answer.body["error"]["code"] == "TooManyRequests"
            assert int(answer.headers["Retry-After"]) >= 1
        assert arm.handle.emulator.throttled == len(throttled)
        await asyncio.sleep(int(throttled[-1].headers["Retry-After"]))
        assert (await arm.call("GET", path)).status == 200

    emulated(check, tiny_options(speed=0.1))


def test_a_named_burst_is_given_turns_and_every_retry_at_its_turn_gets_through() -> None:
    # Real speed: the read bucket refills 25 a second. azure-core names each request
    # (x-ms-client-request-id) and sends the same name on its retries.
    async def check(arm: ArmSession) -> None:
        path = f"{arm.sub}/resourcegroups"

        async def get(n: int) -> Answer:
            return await arm.call("GET", path, headers={**AUTH, "x-ms-client-request-id": f"burst-{n}"})

        first = await asyncio.gather(*(get(n) for n in range(320)))
        throttled = [n for n, a in enumerate(first) if a.status == 429]
        assert throttled
        waits = sorted(int(first[n].headers["Retry-After"]) for n in throttled)
        assert waits[-1] > waits[0]  # turns spread over the refill, not one Retry-After for all

        async def retry(n: int) -> int:
            await asyncio.sleep(int(first[n].headers["Retry-After"]))
            return (await get(n)).status

        assert set(await asyncio.gather(*(retry(n) for n in throttled))) == {200}

    emulated(check, tiny_options(speed=1.0))
