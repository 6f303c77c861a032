"""Contract tests: each Site Recovery operation the emulator serves, against the spec example it follows.

The examples are those of Azure/azure-rest-api-specs, api-version 2025-08-01 (the one
azure-mgmt-recoveryservicessiterecovery 2.0 sends), under
specification/recoveryservicessiterecovery/RecoveryServicesSiteRecovery.Management/examples/2025-08-01/:

    ReplicationProtectedItems_Get.json
    ReplicationProtectedItems_TestFailover.json
    ReplicationProtectedItems_TestFailoverCleanup.json
    ReplicationJobs_Get.json
    ReplicationJobs_List.json
    RecoveryPoints_ListByReplicationProtectedItems.json

Their shapes (keys and types, path and commit) are in data/contracts/siterecovery/. The replicationOperationStatus
answer has no example there; it is ARM's Azure-AsyncOperation status (Microsoft Learn,
azure-resource-manager/management/async-operations: id, name, status, startTime, endTime, error).
"""

from __future__ import annotations

from typing import Any

import pytest
from arm_session import Answer, ArmSession, emulated
from contracts import SPECS, load
from multidict import CIMultiDict, CIMultiDictProxy
from test_emulator_compute import make_network

EXAMPLES = "specification/recoveryservicessiterecovery/RecoveryServicesSiteRecovery.Management/examples/2025-08-01/"
API = {"api-version": "2025-08-01"}
CASES = [
    ("ReplicationProtectedItems_Get", 200, "item"),
    ("RecoveryPoints_ListByReplicationProtectedItems", 200, "points"),
    ("ReplicationProtectedItems_TestFailover", 202, "failover accepted"),
    ("ReplicationProtectedItems_TestFailover", 200, "failover result"),
    ("ReplicationJobs_Get", 200, "job"),
    ("ReplicationJobs_List", 200, "jobs"),
    ("ReplicationProtectedItems_TestFailoverCleanup", 202, "cleanup accepted"),
    ("ReplicationProtectedItems_TestFailoverCleanup", 200, "cleanup result"),
]


async def _cycle(arm: ArmSession) -> dict[str, Answer]:
    """One test failover and its cleanup through raw requests, keeping every answer a contract checks."""
    seen: dict[str, Answer] = {}
    vaults = await arm.call("GET", f"{arm.sub}/providers/Microsoft.RecoveryServices/vaults", params=API)
    vault = next(v for v in vaults.body["value"] if v["name"] == "rsv-asr-centralus")
    items = await arm.call("GET", f"{vault['id']}/replicationProtectedItems", params=API)
    web = next(i for i in items.body["value"] if i["properties"]["friendlyName"] == "web-01")
    seen["item"] = await arm.call("GET", web["id"], params=API)
    seen["points"] = await arm.call("GET", f"{web['id']}/recoveryPoints", params=API)
    network = await make_network(arm, "contract-bubble", region="centralus")
    point = seen["points"].body["value"][0]["id"]
    body = {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "networkType": "VmNetworkAsInput",
            "networkId": network,
            "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointId": point},
        }
    }
    seen["failover accepted"] = accepted = await arm.call("POST", f"{web['id']}/testFailover", body, params=API)
    job_id = (await arm.call("GET", web["id"], params=API)).body["properties"]["currentScenario"]["jobId"]
    assert (await arm.wait(accepted))[-1] == "Succeeded"
    seen["failover status"] = await arm.call("GET", accepted.headers["Azure-AsyncOperation"])
    seen["failover result"] = await arm.result(accepted)
    seen["job"] = await arm.call("GET", job_id, params=API)
    seen["jobs"] = await arm.call("GET", f"{vault['id']}/replicationJobs", params=API)
    seen["cleanup accepted"] = cleanup = await arm.call(
        "POST", f"{web['id']}/testFailoverCleanup", {"properties": {"comments": "Test Failover Cleanup"}}, params=API
    )
    assert (await arm.wait(cleanup))[-1] == "Succeeded"
    seen["cleanup result"] = await arm.result(cleanup)
    seen["read status"] = await arm.call("GET", seen["job"].headers["Azure-AsyncOperation"])
    return seen


@pytest.fixture(scope="module")
def answers() -> dict[str, Answer]:
    return emulated(_cycle)


@pytest.mark.parametrize(("operation", "status", "answer"), CASES, ids=[f"{o}-{s}" for o, s, _ in CASES])
def test_the_emulator_answers_as_the_spec_example(operation: str, status: int, answer: str, answers: dict[str, Answer]) -> None:
    contract = load("siterecovery", operation)
    assert contract.source == f"{EXAMPLES}{operation}.json"  # the example this test follows, in SPECS
    got = answers[answer]
    assert got.status == status, got.body
    assert contract.check(got.status, got.headers, got.body) == [], f"{SPECS} {contract.source} @ {contract.commit}"


def test_poll_urls_name_an_operation_under_the_vault_never_a_job(answers: dict[str, Answer]) -> None:
    """ReplicationProtectedItems_TestFailover.json: Azure-AsyncOperation is .../vaults/{vault}/replicationOperationStatus/{id}."""
    for name in ("failover accepted", "cleanup accepted"):
        headers = answers[name].headers
        assert "/replicationOperationStatus/" in headers["Azure-AsyncOperation"]
        assert "/replicationOperationResults/" in headers["Location"]  # the TypeSpec's Location header, final result the item
        assert "replicationjobs" not in (headers["Azure-AsyncOperation"] + headers["Location"]).lower()


def test_the_operation_status_is_arms_async_operation_status(answers: dict[str, Answer]) -> None:
    """No spec example: ARM's Azure-AsyncOperation status body (azure-resource-manager/management/async-operations)."""
    for name in ("failover status", "read status"):
        body = answers[name].body
        assert answers[name].status == 200
        assert {"id", "name", "status", "startTime", "endTime"} <= set(body)
        assert body["status"] == "Succeeded"
        assert "/replicationOperationStatus/" in body["id"]


def test_the_jobs_tasks_and_target_are_shaped_as_the_example(answers: dict[str, Answer]) -> None:
    """ReplicationJobs_Get.json: targetObjectId is the target's name; tasks carry their own state and times."""
    props = answers["job"].body["properties"]
    assert props["targetObjectId"] == answers["item"].body["name"]
    assert [t["state"] for t in props["tasks"]] == ["Succeeded"] * len(props["tasks"]) and props["tasks"]


# ------------------------------------------------------------------------------ the checker itself


def _headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def test_the_checker_finds_a_missing_key_a_wrong_type_a_wrong_value_and_a_job_url() -> None:
    contract = load("siterecovery", "ReplicationProtectedItems_TestFailover")
    jobs_url = (
        "http://h/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/j?api-version=2025-08-01"
    )
    problems = contract.check(202, _headers(Azure_AsyncOperation=jobs_url, Retry_After="x"), None)
    assert problems == [
        f"header Azure-AsyncOperation: {jobs_url!r} is not a replicationOperationStatus URL",
        "header Retry-After: 'x' is not an integer",
    ]
    assert contract.check(201, _headers(), None) == ["status 201: the example answers [200, 202]"]
    body: dict[str, Any] = {
        "name": "n",
        "type": "t",
        "id": 5,
        "properties": {"currentScenario": {"jobId": "j", "scenarioName": "TestFailover", "startTime": "soon"}},
    }
    problems = contract.check(200, _headers(), body)
    assert "header Azure-AsyncOperation: missing" in problems
    assert "id: 5 is not a string" in problems
    assert "properties.currentScenario.startTime: 'soon' is not an ISO 8601 time" in problems
    assert "properties.friendlyName: missing" in problems
    assert "properties.testFailoverState: None, the example shows 'WaitingForCompletion'" in problems
    assert not any("recoveryServicesProviderId" in p for p in problems)  # exempt for A2A, with its reason
