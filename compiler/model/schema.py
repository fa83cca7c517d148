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
    for operator, types_model in TYPES_MODEL.items():
        sub = TypeAdapter(types_model).json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        key = f"Types_{operator}"
        defs[key] = sub
        branches.append(
            {
                "if": {"properties": {"operator": {"const": operator}}, "required": ["operator"]},
                "then": {"properties": {"types": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    spec = defs["Spec"]
    spec["allOf"] = branches
    spec["properties"]["operator"]["enum"] = list(TYPES_MODEL)
    return {"$schema": SCHEMA_DIALECT, "$id": "manifest.schema.json", **_as_layer(schema)}


# ---------------------------------------------------------------------------------------------
# A file is one layer (SPEC 3.1): a workload with a baseWorkload, or a template, may leave out what a
# lower layer gives, and may delete an inherited item. Only a standalone workload must be complete
# at the top; nested completeness (E103, E204) is checked on the merged result by the compiler.

_DELETED = {
    "type": "object",
    "properties": {"deleted": {"const": True}},
    "required": ["deleted"],
    "additionalProperties": False,
}

# $defs model -> {property: label member of a list item, or None for a map keyed by label}
_ITEMIZED: dict[str, dict[str, str | None]] = {
    "Spec": {"env": None, "secrets": None, "ports": None, "labels": None, "annotations": None},
    "Resources": {"extraSelectors": None, "extraTolerations": "key"},
    "Storage": {"attachExistingPVCs": "name"},
    "Types_kuberay": {"Workers": "name"},
    "Types_ray": {"Workers": "name"},
}


def _as_layer(schema: dict) -> dict:
    defs = schema["$defs"]
    top_required = schema.pop("required", [])
    spec_required = defs["Spec"].pop("required", [])
    for definition in defs.values():
        definition.pop("required", None)
    for name, members in _ITEMIZED.items():
        for member, label in members.items():
            _allow_deletion(defs[name]["properties"][member], label)
    for name, definition in defs.items():
        if name.startswith("Types_") and isinstance(definition.get("additionalProperties"), dict):
            definition["additionalProperties"] = {
                "anyOf": [definition["additionalProperties"], _DELETED]
            }
    inherits = {
        "anyOf": [
            {"required": ["baseWorkload"]},
            {"required": ["usage"], "properties": {"usage": {"const": "Template"}}},
        ]
    }
    schema["if"] = {"not": inherits}
    schema["then"] = {"required": top_required, "properties": {"spec": {"required": spec_required}}}
    return schema


def _allow_deletion(prop: dict, label: str | None) -> None:
    """``LABEL: {deleted: true}`` in a map, ``{LABEL_MEMBER: x, deleted: true}`` in a list."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == "object" and "additionalProperties" in branch:
            branch["additionalProperties"] = {"anyOf": [branch["additionalProperties"], _DELETED]}
        elif branch.get("type") == "array":
            deleted = {
                **_DELETED,
                "properties": {label: {"type": ["string", "number"]}, "deleted": {"const": True}},
                "required": [label, "deleted"],
            }
            branch["items"] = {"anyOf": [branch["items"], deleted]}


def policy_schema() -> dict:
    return {"$schema": SCHEMA_DIALECT, "$id": "policy.schema.json", **Policy.model_json_schema()}
