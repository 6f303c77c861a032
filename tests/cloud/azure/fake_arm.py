"""A recorded-shape ARM server for provider tests: fixed answers per (method, path), real HTTP on loopback.

Each answer is a list: successive requests to the same route get successive answers (the last one
repeats). Every request is recorded with its query and JSON body, so tests assert what the
provider sent through the unmodified SDK clients.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SUB = "00000000-0000-0000-0000-0000000000aa"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any


class FakeArm:
    """Routes are keyed by method and lower-cased path; `{base}` in header values becomes the server URL."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        self.base = ""

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method.upper(), path.lower())] = list(answers)

    def requests(self, method: str, path_part: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and path_part.lower() in s.path.lower()]

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw.strip() else None
        self.seen.append(Seen(request.method, request.path, dict(request.query), body))
        answers = self.routes.get((request.method, request.path.lower()))
        if not answers:
            error = {"error": {"code": "InvalidResourceType", "message": f"fake ARM has no {request.method} {request.path}"}}
            return web.json_response(error, status=404)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        headers = {k: v.replace("{base}", self.base) for k, v in answer.headers.items()}
        if answer.body is None:
            return web.Response(status=answer.status, headers=headers)
        return web.json_response(answer.body, status=answer.status, headers=headers)


@asynccontextmanager
async def serve(fake: FakeArm) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base = f"http://{host}:{port}"
    try:
        yield fake.base
    finally:
        await runner.cleanup()
