"""Contract checks: an emulator answer against the shape of the spec example it follows.

A contract (tests/cloud/emulator/data/contracts/<provider>/<operationId>.yaml) holds the keys and JSON
types of an example's answers in Azure/azure-rest-api-specs, with the example's path and commit. Every
key the example shows must be in the emulator's answer with a value of that type (the emulator may add
keys: the examples are not exhaustive), except the keys a contract lists under `not_in_a2a`, each with
its reason; `values` are values the example shows that the answer must have too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from multidict import CIMultiDictProxy

from drsim.times import parse_utc

CONTRACTS = Path(__file__).parent / "data" / "contracts"
SPECS = "Azure/azure-rest-api-specs"
OPERATION_STATUS_URL = re.compile(
    r"^https?://[^/]+/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.RecoveryServices/vaults/[^/]+"
    r"/replicationOperationStatus/[^/?]+\?api-version=\d{4}-\d{2}-\d{2}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Contract:
    name: str
    source: str
    commit: str
    responses: Mapping[int, Mapping[str, Any]]
    values: Mapping[int, Mapping[str, Any]]
    exempt: Mapping[str, str]

    def statuses(self) -> set[int]:
        return set(self.responses)

    def check(self, status: int, headers: CIMultiDictProxy[str], body: Any) -> list[str]:
        """What in an answer differs from the example's answer of that status (empty: it matches)."""
        if status not in self.responses:
            return [f"status {status}: the example answers {sorted(self.responses)}"]
        expected = self.responses[status]
        problems = [f"header {name}: {p}" for name, kind in expected.get("headers", {}).items() for p in _header(name, kind, headers)]
        if "body" in expected:
            problems += _shape(expected["body"], body, "", self.exempt)
        for path, want in self.values.get(status, {}).items():
            got = _at(body, path)
            if got != want:
                problems.append(f"{path}: {got!r}, the example shows {want!r}")
        return problems


def load(provider: str, operation: str) -> Contract:
    path = CONTRACTS / provider / f"{operation}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["operationId"] == operation, path
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"]), path
    return Contract(
        name=operation,
        source=data["source"],
        commit=data["commit"],
        responses={int(k): v for k, v in data["responses"].items()},
        values={int(k): v for k, v in (data.get("values") or {}).items()},
        exempt=data.get("not_in_a2a") or {},
    )


def _header(name: str, kind: str, headers: CIMultiDictProxy[str]) -> list[str]:
    value = headers.get(name)
    if name.lower() == "retry-after" and value is None and headers.get("retry-after-ms", "").isdigit():
        # The emulator's one documented deviation (docs/emulator.md): a wait under a real second is sent in
        # milliseconds only, which azure-core reads when no Retry-After is sent.
        return []
    if value is None:
        return ["missing"]
    if kind == "integer":
        return [] if value.isdigit() else [f"{value!r} is not an integer"]
    if kind == "operation-status-url":
        return [] if OPERATION_STATUS_URL.match(value) else [f"{value!r} is not a replicationOperationStatus URL"]
    return [] if isinstance(value, str) else [f"{value!r} is not a string"]


def _shape(shape: Any, value: Any, path: str, exempt: Mapping[str, str]) -> list[str]:
    where = path or "body"
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, the example has an object"]
        problems = []
        for key, inner in shape.items():
            child = f"{path}.{key}" if path else key
            if child in exempt:
                continue
            if key not in value:
                problems.append(f"{child}: missing")
            else:
                problems += _shape(inner, value[key], child, exempt)
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, the example has an array"]
        (element,) = shape
        return [p for i, item in enumerate(value) for p in _shape(element, item, f"{path}[{i}]", exempt)]
    if shape == "string":
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string"]
    if shape == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: {value!r} is not an integer"]
    if shape == "time":
        try:
            parse_utc(value, naive_is_utc=True)
        except (TypeError, ValueError, AttributeError):
            return [f"{where}: {value!r} is not an ISO 8601 time"]
        return []
    raise AssertionError(f"unknown type {shape!r} in a contract")


def _at(body: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(body, dict) or part not in body:
            return None
        body = body[part]
    return body
