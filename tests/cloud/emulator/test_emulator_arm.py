"""The ARM layer on its own: ids, routes, request bodies, filters, error translation and poll hints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.cloud.emulator.arm import ArmError, Body, Router, from_provider_error, retry_after_seconds
from drsim.cloud.emulator.operations import poll_headers
from drsim.cloud.emulator.resources import parse_filter
from drsim.errors import CapacityError, ConflictError, NotFoundError, QuotaError, ThrottledError, TransientError

VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01"


async def _handler(request: object, params: dict[str, str]) -> object:
    return params


def test_routes_match_case_insensitively_and_report_405_and_404() -> None:
    router = Router()
    router.add("GET", "/subscriptions/{subscription}/resourceGroups/{resource_group}", _handler)
    router.add("PATCH", "/{scope*}/providers/Microsoft.Resources/tags/default", _handler)
    route, params = router.resolve("GET", "/SUBSCRIPTIONS/s1/resourcegroups/RG/")
    assert params == {"subscription": "s1", "resource_group": "RG"}
    assert route.request_class == "read"
    _, scoped = router.resolve("PATCH", f"{VM}/providers/Microsoft.Resources/tags/default")
    assert "/" + scoped["scope"] == VM
    with pytest.raises(ArmError) as method:
        router.resolve("DELETE", "/subscriptions/s1/resourceGroups/rg")
    assert method.value.status == 405
    with pytest.raises(ArmError) as missing:
        router.resolve("GET", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers")
    assert (missing.value.status, missing.value.code) == (404, "InvalidResourceType")


def test_body_fields_are_case_insensitive_and_errors_name_the_full_path() -> None:
    body = Body({"Properties": {"securityRules": [{"name": "r", "properties": {"priority": "high"}}]}})
    rule = body.objects("properties.securityRules")[0]
    assert rule.string("name") == "r"
    with pytest.raises(ArmError) as bad:
        rule.child("properties").integer("priority")
    assert bad.value.status == 400
    assert bad.value.body()["error"]["target"] == "properties.securityRules[0].properties.priority"
    with pytest.raises(ArmError) as missing:
        body.string("location")
    assert missing.value.body()["error"] == {
        "code": "InvalidRequestContent",
        "message": "The request content was invalid and could not be deserialized: "
        "'Required property 'location' not found in JSON.' Path 'location'.",
        "target": "location",
    }


def test_filters_take_eq_clauses_joined_by_and() -> None:
    assert parse_filter("tagName eq 'drsim-run' and tagValue eq 'it''s'", ("tagName", "tagValue")) == {
        "tagName": "drsim-run",
        "tagValue": "it's",
    }
    assert parse_filter("", ("tagName",)) == {}
    for bad in ("tagName ne 'x'", "colour eq 'red'", "tagName eq x"):
        with pytest.raises(ArmError) as refused:
            parse_filter(bad, ("tagName",))
        assert refused.value.body()["error"]["target"] == "$filter"


def test_world_errors_become_their_arm_answers() -> None:
    cases = {
        NotFoundError("x"): (404, "ResourceNotFound"),
        ConflictError("x"): (409, "Conflict"),
        QuotaError("x"): (409, "QuotaExceeded"),
        CapacityError("x"): (409, "AllocationFailed"),
        TransientError("x"): (503, "ServiceUnavailable"),
        ThrottledError("x", retry_after=0.4): (429, "TooManyRequests"),
    }
    for error, (status, code) in cases.items():
        answer = from_provider_error(error, speed=1.0)
        assert (answer.status, answer.code) == (status, code)
    assert from_provider_error(ThrottledError("x", retry_after=0.4), speed=1.0).retry_after == 1


@given(st.floats(min_value=0.0, max_value=1e6), st.floats(min_value=1e-3, max_value=1e5))
def test_retry_after_is_whole_real_seconds_never_less_than_the_world_wait(world_wait: float, speed: float) -> None:
    seconds = retry_after_seconds(world_wait, speed)
    assert isinstance(seconds, int) and seconds >= 1
    assert seconds >= world_wait / speed


def test_poll_hints_are_ten_world_seconds_in_real_time() -> None:
    assert poll_headers(1.0) == {"Retry-After": "10"}
    assert poll_headers(5.0) == {"Retry-After": "2"}
    assert poll_headers(60.0) == {"retry-after-ms": "167", "x-ms-retry-after-ms": "167"}
    assert poll_headers(1e9) == {"retry-after-ms": "1", "x-ms-retry-after-ms": "1"}
