"""ARM behaviour of every request: bearer token, api-version, routing, ARM error bodies and codes."""

from __future__ import annotations

from arm_session import AUTH, DRILLS, PROD, PRODUCTION_WRITABLE, ArmSession, emulated, tiny_options


def test_a_request_without_a_bearer_token_is_401_with_an_arm_error() -> None:
    async def check(arm: ArmSession) -> None:
        answer = await arm.call("GET", f"{arm.sub}/resourcegroups", headers={})
        assert answer.status == 401
        assert answer.body["error"]["code"] == "AuthenticationFailed"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        basic = await arm.call("GET", f"{arm.sub}/resourcegroups", headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status == 401

    emulated(check)


def test_any_bearer_token_is_accepted() -> None:
    async def check(arm: ArmSession) -> None:
        answer = await arm.call("GET", f"{arm.sub}/resourcegroups", headers={"Authorization": "Bearer whatever"})
        assert answer.status == 200

    emulated(check)


def test_api_version_is_required() -> None:
    async def check(arm: ArmSession) -> None:
        answer = await arm.call("GET", f"{arm.sub}/resourcegroups", params={})
        assert answer.status == 400
        assert answer.body == {
            "error": {
                "code": "MissingApiVersionParameter",
                "message": "The api-version query parameter (?api-version=) is required for all requests.",
            }
        }

    emulated(check)


def test_missing_resources_get_the_arm_404_codes() -> None:
    async def check(arm: ArmSession) -> None:
        vm = await arm.call("GET", arm.rid(PROD, "Microsoft.Compute/virtualMachines", "nope"))
        assert vm.status == 404 and vm.body["error"]["code"] == "ResourceNotFound"
        assert "Microsoft.Compute/virtualMachines/nope" in vm.body["error"]["message"]
        group = await arm.call("GET", arm.rid("no-such-group", "Microsoft.Compute/disks", "d"))
        assert group.status == 404 and group.body["error"]["code"] == "ResourceGroupNotFound"
        sub = await arm.call("GET", "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups")
        assert sub.status == 404 and sub.body["error"]["code"] == "SubscriptionNotFound"
        kind = await arm.call("GET", f"{arm.group(PROD)}/providers/Microsoft.Sql/servers")
        assert kind.status == 404 and kind.body["error"]["code"] == "InvalidResourceType"
        method = await arm.call("POST", arm.rid(PROD, "Microsoft.Compute/disks", "web-01-os"), {})
        assert method.status == 405 and method.body["error"]["code"] == "MethodNotAllowed"

    emulated(check)


def test_routes_are_case_insensitive_as_in_arm() -> None:
    async def check(arm: ArmSession) -> None:
        path = f"/SUBSCRIPTIONS/{arm.handle.subscription_id}/RESOURCEGROUPS/{PROD}/providers/microsoft.compute/VIRTUALMACHINES/Web-01"
        answer = await arm.call("GET", path)
        assert answer.status == 200
        assert answer.body["name"] == "web-01"

    emulated(check)


def test_a_bad_body_is_invalid_request_content_naming_the_field() -> None:
    async def check(arm: ArmSession) -> None:
        snapshot = arm.rid(DRILLS, "Microsoft.Compute/snapshots", "s1")
        no_source = await arm.call("PUT", snapshot, {"location": "eastus2", "properties": {"creationData": {"createOption": "Copy"}}})
        assert no_source.status == 400
        assert no_source.body["error"]["code"] == "InvalidRequestContent"
        assert no_source.body["error"]["target"] == "properties.creationData.sourceResourceId"
        wrong_type = await arm.call("PUT", snapshot, {"location": 7})
        assert wrong_type.status == 400 and wrong_type.body["error"]["target"] == "location"
        async with arm.session.put(arm.handle.url + snapshot, data=b"{not json", params={"api-version": "2024-07-01"}, headers=AUTH) as raw:
            assert raw.status == 400
            assert (await raw.json())["error"]["code"] == "InvalidRequestContent"

    emulated(check)


def test_creating_outside_the_drill_group_is_refused_and_production_is_kept() -> None:
    async def check(arm: ArmSession) -> None:
        disk = arm.rid(PROD, "Microsoft.Compute/disks", "web-01-os")
        answer = await arm.call(
            "PUT",
            arm.rid(PROD, "Microsoft.Compute/snapshots", "s1"),
            {"location": "eastus2", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk}}},
        )
        assert answer.status == 400
        assert answer.body["error"] == {
            "code": "InvalidParameter",
            "message": answer.body["error"]["message"],
            "target": "resourceGroupName",
        }
        assert DRILLS in answer.body["error"]["message"]

    emulated(check, tiny_options(arm=PRODUCTION_WRITABLE))  # past RBAC: the world itself refuses


def test_a_second_operation_on_a_busy_resource_is_409() -> None:
    async def check(arm: ArmSession) -> None:
        disk = arm.rid(PROD, "Microsoft.Compute/disks", "web-01-os")
        body = {"location": "eastus2", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk}}}
        path = arm.rid(DRILLS, "Microsoft.Compute/snapshots", "busy")
        first = await arm.call("PUT", path, body)
        assert first.status == 202
        second = await arm.call("DELETE", path)
        assert second.status == 409
        assert second.body["error"]["code"] == "AnotherOperationInProgress"
        statuses = await arm.wait(first)
        assert statuses[-1] == "Succeeded" and set(statuses[:-1]) <= {"InProgress"}

    emulated(check)
