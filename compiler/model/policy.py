"""The policy language (SPEC 2.4): defaults, per-field rules, and workload totals."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .manifest import Strict
from .text import Text


class Rule(Strict):
    required: bool | None = Field(None, description="The final value must be present.")
    min: Any = Field(None, description="Inclusive lower bound (number or duration).")
    max: Any = Field(None, description="Inclusive upper bound (number or duration).")
    step: float | None = Field(None, gt=0, description="Value must equal min + k x step.")
    options: list[Any] | None = Field(None, description="Value must be one of these.")
    pattern: Text | None = Field(None, description="Full regular-expression match.")
    canEdit: bool | None = Field(None, description="false: the value must equal the policy's default.")
    forbidden: bool | None = Field(None, description="true: the field may not be set at all.")
    canAdd: bool | None = Field(None, description="false: no labels beyond the policy's defaults.")
    canRemove: bool | None = Field(None, description="false: the item may not be deleted.")
    itemRules: dict[str, "Rule"] | None = Field(None, description="Rules applied to every item's members.")


class Limits(Strict):
    gpus: float | None = Field(None, ge=0)
    cpus: float | None = Field(None, ge=0)
    memoryGB: float | None = Field(None, ge=0)
    pods: int | None = Field(None, ge=0)


class PolicyMetadata(Strict):
    name: Text
    project: Text | None = Field(None, description="Absent: a global policy.")


class PolicySpec(Strict):
    defaults: dict[str, Any] | None = Field(None, description="A manifest fragment; '*' under spec.types means every type.")
    rules: dict[str, Rule] | None = Field(None, description="Field path -> rule; '*' matches one segment.")
    limits: Limits | None = None


class Policy(Strict):
    apiVersion: Literal["manifest-compiler/v1"]
    kind: Literal["Policy"]
    metadata: PolicyMetadata
    spec: PolicySpec
