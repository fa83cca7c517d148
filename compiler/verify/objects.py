"""What every object a verify report names has: its kind, namespace and name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NamedObject:
    """An object of the cluster, by kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def identity(self) -> dict:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}
