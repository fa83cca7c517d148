"""Admission webhook configurations that reach a controller's webhook server on 127.0.0.1
through `clientConfig.url`, trusted with the testbed CA (no in-cluster Service)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .common import b64
from .plane import Plane


@dataclass(frozen=True)
class Hook:
    name: str
    path: str
    group: str
    version: str
    resource: str
    operations: tuple[str, ...]
    mutating: bool
    object_selector: dict | None = None
    extra: dict = field(default_factory=dict)  # e.g. matchPolicy, namespaceSelector


def register(cp: Plane, config_prefix: str, port: int, hooks: list[Hook]) -> None:
    """Server-side apply `<prefix>-mutating-webhook-configuration` and
    `<prefix>-validating-webhook-configuration` holding `hooks`."""
    ca = b64(cp.pki.path("ca.crt"))
    base = f"https://127.0.0.1:{port}"
    docs = []
    for mutating, kind_key, kind in (
        (True, "mutating", "MutatingWebhookConfiguration"),
        (False, "validating", "ValidatingWebhookConfiguration"),
    ):
        entries = []
        for h in hooks:
            if h.mutating != mutating:
                continue
            entry = {
                "name": h.name,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": base + h.path, "caBundle": ca},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "rules": [
                    {
                        "apiGroups": [h.group],
                        "apiVersions": [h.version],
                        "operations": list(h.operations),
                        "resources": [h.resource],
                    }
                ],
                **h.extra,
            }
            if h.object_selector is not None:
                entry["objectSelector"] = h.object_selector
            entries.append(entry)
        if entries:
            docs.append(
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": kind,
                    "metadata": {"name": f"{config_prefix}-{kind_key}-webhook-configuration"},
                    "webhooks": entries,
                }
            )
    cp.kubectl(
        "apply",
        "--server-side",
        "--field-manager=testbed",
        # the testbed's own objects: no client-side schema check, whose download of the
        # OpenAPI document of every CRD times out (32 s) on a loaded machine
        "--validate=false",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )
