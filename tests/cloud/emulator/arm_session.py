"""An ARM client for the emulator tests: raw aiohttp requests, and polling of long-running operations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDictProxy

from drsim.cloud.emulator import EmulatorHandle, EmulatorOptions, serve_emulator
from drsim.cloud.emulator.arm import newest_api_version
from drsim.cloud.emulator.world import ArmSettings

DATA = Path(__file__).parent / "data"
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
AUTH = {"Authorization": "Bearer any-token"}
API = {"api-version": "2024-07-01"}  # accepted by Compute (virtual machines) and Network
DRILLS = "drsim-drills"
PROD = "tiny-prod"
T = TypeVar("T")


@dataclass
class Answer:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class ArmSession:
    """Requests to one running emulator, with its subscription filled in."""

    def __init__(self, handle: EmulatorHandle, session: aiohttp.ClientSession) -> None:
        self.handle = handle
        self.session = session
        self.sub = f"/subscriptions/{handle.subscription_id}"

    def group(self, name: str) -> str:
        return f"{self.sub}/resourceGroups/{name}"

    def rid(self, group: str, type_path: str, name: str) -> str:
        return f"{self.group(group)}/providers/{type_path}/{name}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = True,
    ) -> Answer:
        """One request (api-version: the newest the emulator accepts for the path, unless `params` say);
        a GET answered with a page of a list is followed through its nextLinks into one answer unless
        `follow` is False."""
        url = path if path.startswith("http") else self.handle.url + path
        # params=None: the api-version alone; {}: nothing at all (not even the api-version)
        query = {"api-version": newest_api_version(path), **(params or {})} if params is None or params else {}
        async with self.session.request(
            method, url, json=body, params=query if not path.startswith("http") else None, headers=AUTH if headers is None else headers
        ) as response:
            raw = await response.read()
            parsed = await response.json(content_type=None) if raw.strip() else None
            answer = Answer(response.status, parsed, response.headers)
        while follow and method == "GET" and answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("nextLink"):
            following = await self.call("GET", answer.body["nextLink"], headers=headers, follow=False)
            assert following.status == 200, following.body
            rest = {k: v for k, v in following.body.items() if k != "value"}
            answer = Answer(200, {**rest, "value": answer.body["value"] + following.body["value"]}, answer.headers)
        return answer

    async def wait(self, answer: Answer, *, timeout: float = 60.0) -> list[str]:
        """Poll Azure-AsyncOperation until the operation ends; the statuses seen, in order."""
        seen = []
        async with asyncio.timeout(timeout):
            while True:
                polled = await self.call("GET", answer.headers["Azure-AsyncOperation"])
                assert polled.status == 200, polled.body
                seen.append(polled.body["status"])
                if polled.body["status"] != "InProgress":
                    return seen
                await asyncio.sleep(0.02)

    async def result(self, answer: Answer, *, timeout: float = 60.0) -> Answer:
        """Poll Location until it stops answering 202."""
        async with asyncio.timeout(timeout):
            while True:
                polled = await self.call("GET", answer.headers["Location"])
                if polled.status != 202:
                    return polled
                await asyncio.sleep(0.02)


def tiny_options(speed: float = 600.0, seed: int = 7, arm: ArmSettings | None = None) -> EmulatorOptions:
    """The test estate and plan, at the incident instant, `speed` times faster than real time."""
    return EmulatorOptions(
        estate=DATA / "estate.yaml", plan=DATA / "plan.yaml", seed=seed, speed=speed, incident_at=INCIDENT, arm=arm or ArmSettings()
    )


PRODUCTION_WRITABLE = ArmSettings(writable_groups=(DRILLS, PROD))
"""An identity that may write production too: what the world itself refuses shows."""


def emulated(test: Callable[[ArmSession], Awaitable[T]], options: EmulatorOptions | None = None) -> T:
    """Run `test` against a fresh emulator of the test estate."""

    async def main() -> T:
        async with serve_emulator(options or tiny_options()) as handle, aiohttp.ClientSession() as session:
            return await test(ArmSession(handle, session))

    return asyncio.run(main())
