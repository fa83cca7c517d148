"""kubeconform v0.8.0 beside ``compile check`` on the same manifests (SPEC 7, issue 15).

kubeconform is built from the Go module proxy into a cache directory when ``go`` is on PATH;
without Go the comparison is skipped with a note. kubeconform reads JSON schemas, so:

- the CRDs of ``../shared/crds`` (JobSet, RayJob, ...) are converted here from their
  ``openAPIV3Schema``, closed the way kubeconform's ``-strict`` schemas are (an object with
  ``properties`` and no ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false``);
- core kinds (Job, PersistentVolumeClaim, Service, ...) come from the Kubernetes JSON schemas that
  the ``kubernetes-validate`` package (a test dependency) ships, made standalone here (its ``$ref``s
  point into one shared ``_definitions.json``; the reachable definitions are copied into ``$defs``).
  kubeconform's default location is on GitHub, out of reach offline; without kubernetes-validate the
  core kinds are skipped with ``-ignore-missing-schemas`` and the note says so.

Every schema is written to a fresh temporary directory per run, so nothing can be stale.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

VERSION = "v0.8.0"
MODULE = "github.com/yannh/kubeconform/cmd/kubeconform"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "manifest-compiler" / "bench"
)
REPO = Path(__file__).resolve().parents[1]
CRDS = REPO.parent / "shared" / "crds"
# kubeconform fills this per object: {{ .Group }} is the API group ("v1" for the core group).
SCHEMA_TEMPLATE = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
# a kind's schema refers into _definitions.json; the definitions refer to each other
DEFINITIONS_REFS = ("/api/_definitions.json#/$defs/", "#/$defs/")


def binary() -> tuple[Path | None, str]:
    """(the kubeconform binary, a note): built once into the cache; None when Go is missing."""
    target = CACHE / f"kubeconform-{VERSION}" / "kubeconform"
    if target.exists():
        return target, f"kubeconform {VERSION} from {target}"
    go = shutil.which("go")
    if go is None:
        return None, "kubeconform comparison skipped: no `go` on PATH to build it"
    env = dict(os.environ, GOBIN=str(target.parent), GOFLAGS="-mod=mod")
    target.parent.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [go, "install", f"{MODULE}@{VERSION}"], env=env, capture_output=True, text=True
    )
    if built.returncode != 0 or not target.exists():
        return None, f"kubeconform comparison skipped: `go install` failed: {built.stderr[-500:]}"
    return target, f"kubeconform {VERSION} built with `go install {MODULE}@{VERSION}`"


# ---------------------------------------------------------------------------------------------
# schemas


def schema_path(root: Path, api_version: str, kind: str) -> Path:
    """Where SCHEMA_TEMPLATE sends kubeconform for this apiVersion and kind."""
    group, _, version = api_version.rpartition("/")
    return root / (group or version) / f"{kind.lower()}_{version}.json"


def closed(schema):
    """The CRD schema as a strict JSON schema: unknown fields are errors, as with ``-strict``."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string") and not (
            "anyOf" in schema or "oneOf" in schema
        ):
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return schema
    if isinstance(schema, list):
        return [closed(value) for value in schema]
    return schema


def write_crd_schemas(root: Path) -> list[tuple[str, str]]:
    """One JSON schema per served version of every CRD; returns the (apiVersion, kind)s written."""
    written = []
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            api_version = f"{group}/{version['name']}"
            target = schema_path(root, api_version, kind)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(closed(version["schema"]["openAPIV3Schema"])))
            written.append((api_version, kind))
    return written


def kubernetes_schemas() -> tuple[Path | None, str]:
    """The strict Kubernetes JSON schemas of kubernetes-validate's newest version, if installed."""
    try:
        import kubernetes_validate
    except ImportError:
        return None, ""
    version = kubernetes_validate.latest_version()
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    directory = root / f"v{version}-local-strict"
    return (directory, version) if directory.is_dir() else (None, "")


def standalone(schema: dict, definitions: dict) -> dict:
    """``schema`` (draft 2020-12) with its ``$ref``s into the shared definitions pointed at its own
    ``$defs`` (only the definitions it reaches)."""
    reached: dict = {}

    def rewrite(node):
        if isinstance(node, dict):
            node = {key: rewrite(value) for key, value in node.items()}
            ref = node.get("$ref")
            prefix = next((p for p in DEFINITIONS_REFS if str(ref).startswith(p)), None)
            if isinstance(ref, str) and prefix is not None:
                name = ref[len(prefix) :]
                node["$ref"] = f"#/$defs/{name}"
                if name not in reached:
                    reached[name] = None  # placeholder first: definitions may be recursive
                    reached[name] = rewrite(definitions[name])
            return node
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    result = rewrite(copy.deepcopy(schema))
    result["$defs"] = {name: reached[name] for name in sorted(reached)}
    return result


def write_core_schemas(root: Path, kinds: set[tuple[str, str]]) -> tuple[list, str]:
    """Standalone schemas for the core (non-CRD) kinds among ``kinds``; (written, note)."""
    source, version = kubernetes_schemas()
    if source is None:
        return [], "no Kubernetes JSON schemas offline (kubernetes-validate missing)"
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    written = []
    for api_version, kind in sorted(kinds):
        group, _, short = api_version.rpartition("/")
        suffix = f"-{group.split('.')[0]}" if group else ""
        name = source / f"{kind.lower()}{suffix}-{short}.json"
        if not name.exists():
            continue
        target = schema_path(root, api_version, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(standalone(json.loads(name.read_text()), definitions)))
        written.append((api_version, kind))
    return written, f"core kinds from kubernetes-validate's Kubernetes {version} strict schemas"


@dataclass
class Schemas:
    root: Path
    missing: list  # (apiVersion, kind) the compiled objects have and no schema covers
    note: str

    def argv(self) -> list[str]:
        arguments = ["-schema-location", f"{self.root}/{SCHEMA_TEMPLATE}"]
        return arguments + (["-ignore-missing-schemas"] if self.missing else [])


def write_schemas(root: Path, kinds: set[tuple[str, str]]) -> Schemas:
    """CRD and core schemas for ``kinds`` under ``root``."""
    crds = set(write_crd_schemas(root))
    core, note = write_core_schemas(root, kinds - crds)
    missing = sorted(kinds - crds - set(core))
    if missing:
        note += "; no schema, skipped with -ignore-missing-schemas: " + ", ".join(
            f"{v}/{k}" for v, k in missing
        )
    return Schemas(root, missing, note)


def command(kubeconform: Path, schemas: Schemas, files: list[str]) -> list[str]:
    return [str(kubeconform), "-strict", "-n", "1", "-summary", *schemas.argv(), *files]
