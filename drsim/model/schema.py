"""JSON Schema export of the documents, for editors (yaml-language-server) and the reference docs."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from drsim.model.documents import KINDS, Comparison, Drill, Estate, ProtectionPlan, Runbook


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one kind, or of any drsim document when kind is None."""
    if kind is not None:
        schema = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"drsim {kind}"
        return schema
    any_doc = TypeAdapter(Estate | ProtectionPlan | Runbook | Drill | Comparison)
    schema = any_doc.json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "drsim document"
    return schema
