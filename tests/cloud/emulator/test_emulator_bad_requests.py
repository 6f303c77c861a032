"""A bad request gets an ARM-shaped 4xx, never a 500, and a slow sender is not held (issue 13, item 13).

The codes are ARM's: 400 InvalidRequestContent (MicrosoftDocs/azure-docs,
articles/azure-resource-manager/troubleshooting/common-deployment-errors.md) and 413
RequestContentTooLarge, "The request content size exceeds the maximum size of 4 MB." (ARM's answer
quoted in Azure/Azure-Landing-Zones#2644 and Azure/azure-api-management-devops-resource-kit#594;
the 4 MB limit: Azure/azure-resource-manager-rpc#138).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
from arm_session import AUTH, DRILLS, ArmSession, tiny_options

from drsim.cloud.emulator import serve_emulator
from drsim.cloud.emulator.arm import MAX_BODY_BYTES, MAX_JSON_DEPTH


def run(test: Callable[[ArmSession], Awaitable[None]], *, header_timeout: float = 20.0, body_timeout: float = 10.0) -> None:
    async def main() -> None:
        async with (
            serve_emulator(tiny_options(), header_timeout=header_timeout, body_timeout=body_timeout) as handle,
            aiohttp.ClientSession() as session,
        ):
            await test(ArmSession(handle, session))

    asyncio.run(main())


def nic_path(arm: ArmSession) -> str:
    return f"{arm.group(DRILLS)}/providers/Microsoft.Network/networkInterfaces/nic-x?api-version=2024-07-01"


async def put_raw(arm: ArmSession, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    async with arm.session.put(
        arm.handle.url + nic_path(arm), data=body, headers={**AUTH, "Content-Type": "application/json", **(headers or {})}
    ) as response:
        return response.status, await response.json(content_type=None)


def assert_arm_error(status: int, body: dict[str, object], expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == code and isinstance(error["message"], str) and error["message"]


def test_a_body_nested_100000_deep_is_400_invalid_request_content() -> None:
    async def check(arm: ArmSession) -> None:
        for opening, closing in ((b"[", b"]"), (b'{"a":', b"}")):
            deep = b'{"properties":' + opening * 100_000 + b"1" + closing * 100_000 + b"}"
            status, body = await put_raw(arm, deep)
            assert_arm_error(status, body, 400, "InvalidRequestContent")
            assert f"deeper than {MAX_JSON_DEPTH} levels" in str(body)
        just_too_deep = b'{"properties":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
        assert_arm_error(*(await put_raw(arm, just_too_deep)), 400, "InvalidRequestContent")
        # the server still answers normally afterwards
        listed = await arm.call("GET", f"{arm.sub}/resourcegroups")
        assert listed.status == 200

    run(check)


def test_malformed_bodies_are_400_never_500() -> None:
    bodies = [b"{", b"[1,2", b'{"a": nul}', b"\xff\xfe{}", b'"just a string"', b"null", b"[]", b"1e999999", b'{"a":"\\ud800"}']

    async def check(arm: ArmSession) -> None:
        for raw in bodies:
            status, body = await put_raw(arm, raw)
            assert status == 400, (raw, body)
            assert_arm_error(status, body, 400, "InvalidRequestContent")

    run(check)


def test_a_body_over_4_mib_is_413_request_content_too_large() -> None:
    async def check(arm: ArmSession) -> None:
        big = b'{"location": "' + b"x" * MAX_BODY_BYTES + b'"}'
        status, body = await put_raw(arm, big)
        assert_arm_error(status, body, 413, "RequestContentTooLarge")
        assert body["error"]["message"] == "The request content size exceeds the maximum size of 4 MB."  # type: ignore[index]

        async def chunks() -> object:  # no Content-Length: the size is found while reading
            for _ in range(5):
                yield b" " * (1024 * 1024)

        status, body = await put_raw(arm, chunks())  # type: ignore[arg-type]
        assert_arm_error(status, body, 413, "RequestContentTooLarge")
        listed = await arm.call("GET", f"{arm.sub}/resourcegroups")
        assert listed.status == 200

    run(check)


async def raw_exchange(arm: ArmSession, request: bytes, *, read_for: float) -> tuple[bytes, float]:
    """Send `request` over a raw socket and read until the emulator closes it; what came back and when."""
    reader, writer = await asyncio.open_connection(arm.handle.host, arm.handle.port)
    started = time.monotonic()
    writer.write(request)
    await writer.drain()
    received = b""
    try:
        async with asyncio.timeout(read_for):
            while chunk := await reader.read(65536):
                received += chunk
    finally:
        writer.close()
    return received, time.monotonic() - started


def test_a_slow_body_is_answered_408_and_disconnected() -> None:
    async def check(arm: ArmSession) -> None:
        head = (
            f"PUT {nic_path(arm)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"loc'
        ).encode()
        received, took = await raw_exchange(arm, head, read_for=10)
        assert received.startswith(b"HTTP/1.1 408 "), received[:200]
        body = json.loads(received.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "RequestTimeout"
        assert took < 4

    run(check, body_timeout=0.5)


def test_hundreds_of_unfinished_requests_are_all_dropped_quickly() -> None:
    async def check(arm: ArmSession) -> None:
        partial = b"GET /subscriptions HTTP/1.1\r\nHost: x\r\nAuthoriz"
        results = await asyncio.gather(*(raw_exchange(arm, partial, read_for=15) for _ in range(300)))
        assert all(received == b"" for received, _ in results)  # closed without an answer: no request arrived
        assert max(took for _, took in results) < 6
        listed = await arm.call("GET", f"{arm.sub}/resourcegroups")
        assert listed.status == 200

    run(check, header_timeout=1.0)
