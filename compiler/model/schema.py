"""JSON Schemas generated from the models (``compile schema``; checked in under ``schemas/``)."""

from __future__ import annotations

from pydantic import TypeAdapter

from .manifest import TYPES_MODEL, Manifest
from .policy import Policy

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def manifest_schema() -> dict:
    schema = Manifest.model_json_schema()
    defs = schema.setdefault("$defs", {})
    branches = []
    seen: dict[int, str] = {}
    for operator, types_model in TYPES_MODEL.items():
        sub = TypeAdapter(types_model).json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        key = f"Types_{operator}"
        defs[key] = sub
        branches.append({
            "if": {"properties": {"operator": {"const": operator}}, "required": ["operator"]},
            "then": {"properties": {"types": {"$ref": f"#/$defs/{key}"}}},
        })
    spec = defs["Spec"]
    spec["allOf"] = branches
    spec["properties"]["operator"]["enum"] = list(TYPES_MODEL)
    return {"$schema": SCHEMA_DIALECT, "$id": "manifest.schema.json", **schema}


def policy_schema() -> dict:
    return {"$schema": SCHEMA_DIALECT, "$id": "policy.schema.json", **Policy.model_json_schema()}
