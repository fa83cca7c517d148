"""Every object every example emits validates against its upstream schema (SPEC 5).

- JobSet and RayJob: the CRDs' openAPIV3Schema from ../shared/crds, made strict the way kubeconform's
  converter does (`additionalProperties: false` wherever `properties` are listed and unknown fields
  are not preserved), so a misspelt field fails. CEL rules (x-kubernetes-validations) are not run.
- Core kinds (batch/v1 Job, v1 Service, v1 PersistentVolumeClaim), and the pod templates embedded in
  the CRD objects: kubernetes_validate's strict Kubernetes OpenAPI schema.
- Rules neither schema states: resources on every container, restartPolicy inside Jobs, unique
  names, canonical quantities, label syntax, mounts that name a volume.
"""

from __future__ import annotations

import copy
import functools
import re

import jsonschema
import kubernetes_validate
import pytest
import yaml
from example_support import SHARED

K8S_VERSION = "1.34"
CRD_FILES = {
    ("jobset.x-k8s.io", "JobSet"): "jobset.x-k8s.io_jobsets.yaml",
    ("ray.io", "RayJob"): "ray.io_rayjobs.yaml",
}
CORE_KINDS = {("batch/v1", "Job"), ("v1", "Service"), ("v1", "PersistentVolumeClaim")}

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
)


# ---------------------------------------------------------------------------------------------
# CRD schema -> strict JSON Schema


def strict_schema(schema: dict) -> dict:
    """An OpenAPI v3 structural schema as a JSON Schema that rejects unknown fields.

    Walks only schema positions (never `default`, `enum` or `example` values, which may hold a
    key named "properties"). `nullable: true` admits null, as the API server does.
    """
    out = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strict_schema(sub) for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = strict_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    preserves_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and not preserves_unknown and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _crd(file_name: str) -> dict:
    text = (SHARED / "crds" / file_name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    group, version = api_version.split("/")
    crd = _crd(CRD_FILES[(group, kind)])
    assert crd["spec"]["names"]["kind"] == kind
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = strict_schema(served["schema"]["openAPIV3Schema"])
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def crd_errors(obj: dict) -> list[str]:
    validator = crd_validator(obj["apiVersion"], obj["kind"])
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def core_errors(obj: dict) -> list[str]:
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [str(exc)]
    return []


def is_crd_object(obj: dict) -> bool:
    return (obj["apiVersion"].split("/")[0], obj["kind"]) in CRD_FILES


# ---------------------------------------------------------------------------------------------
# walking the emitted objects


def pod_templates(obj: dict) -> list[tuple[str, dict, bool]]:
    """(where, pod template, runs inside a batch Job) for every pod template in `obj`."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Job":
        return [("spec.template", spec["template"], True)]
    if kind == "JobSet":
        return [
            (f"replicatedJobs[{rjob['name']}]", rjob["template"]["spec"]["template"], True)
            for rjob in spec["replicatedJobs"]
        ]
    if kind == "RayJob":
        cluster = spec["rayClusterSpec"]
        found = [("headGroupSpec", cluster["headGroupSpec"]["template"], False)]
        found += [
            (f"workerGroupSpecs[{g['groupName']}]", g["template"], False)
            for g in cluster.get("workerGroupSpecs", [])
        ]
        if "submitterPodTemplate" in spec:
            found.append(("submitterPodTemplate", spec["submitterPodTemplate"], True))
        return found
    return []


def embedded_core_objects(obj: dict) -> list[tuple[str, dict]]:
    """The Kubernetes core objects a CRD object embeds, as objects kubernetes_validate can check."""
    if obj["kind"] == "JobSet":
        return [
            (
                f"replicatedJobs[{rjob['name']}]",
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": rjob["name"], **rjob["template"].get("metadata", {})},
                    "spec": rjob["template"]["spec"],
                },
            )
            for rjob in obj["spec"]["replicatedJobs"]
        ]
    if obj["kind"] == "RayJob":
        return [
            (
                where,
                {
                    "apiVersion": "v1",
                    "kind": "PodTemplate",
                    "metadata": {"name": "pod"},
                    "template": template,
                },
            )
            for where, template, _ in pod_templates(obj)
        ]
    return []


# ---------------------------------------------------------------------------------------------
# schema validation of every example


def test_the_kubernetes_schema_version_is_available():
    assert f"{K8S_VERSION}.0" in kubernetes_validate.utils.all_versions()


def test_every_object_validates_against_its_upstream_schema(workload_example, compiled):
    objects = compiled(workload_example)
    assert objects, f"{workload_example.name} emitted nothing"
    for obj in objects:
        name = f"{obj['kind']} {obj['metadata']['name']}"
        if is_crd_object(obj):
            assert crd_errors(obj) == [], f"{workload_example.name}: {name} does not match its CRD"
            for where, embedded in embedded_core_objects(obj):
                assert core_errors(embedded) == [], (
                    f"{workload_example.name}: {name} {where} is not a valid {embedded['kind']}"
                )
            metadata_only = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
            assert core_errors(metadata_only) == [], (
                f"{workload_example.name}: {name} metadata is not valid ObjectMeta"
            )
        else:
            assert (obj["apiVersion"], obj["kind"]) in CORE_KINDS, (
                f"{workload_example.name}: unexpected kind {name}"
            )
            assert core_errors(obj) == [], f"{workload_example.name}: {name} is not valid"


# ---------------------------------------------------------------------------------------------
# the validators catch mistakes (so that a pass above means something)


def _first_jobset(compiled, example_path) -> dict:
    [jobset] = [
        o for o in compiled(example_path("jobset-heavy-and-workers")) if o["kind"] == "JobSet"
    ]
    return jobset


def test_a_misspelt_jobset_field_fails_the_crd_schema(compiled, example_path):
    jobset = _first_jobset(compiled, example_path)
    assert crd_errors(jobset) == []
    rjob = jobset["spec"]["replicatedJobs"][0]
    rjob["replica"] = rjob.pop("replicas")
    errors = crd_errors(jobset)
    assert any("replica" in e and "Additional properties" in e for e in errors), errors


def test_a_misspelt_field_deep_in_a_jobset_pod_fails_the_crd_schema(compiled, example_path):
    jobset = _first_jobset(compiled, example_path)
    container = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["resource"] = container.pop("resources")
    assert any("resource" in e for e in crd_errors(jobset))


def test_a_wrong_type_in_a_rayjob_fails_the_crd_schema(compiled, example_path):
    [rayjob] = [o for o in compiled(example_path("kuberay-cpu-gpu")) if o["kind"] == "RayJob"]
    assert crd_errors(rayjob) == []
    rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "four"
    assert any("replicas" in e for e in crd_errors(rayjob))


def test_preserve_unknown_fields_stays_open():
    schema = strict_schema(
        {
            "type": "object",
            "properties": {
                "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
                "open": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"a": {"type": "string"}},
                },
                "properties": {"type": "object", "default": {"properties": {"x": 1}}},
            },
        }
    )
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"open": {"a": "x", "b": 1}})
    assert not validator.is_valid({"closed": {"a": "x", "b": 1}})
    assert schema["properties"]["properties"]["default"] == {"properties": {"x": 1}}


def test_a_misspelt_job_field_fails_the_kubernetes_schema(compiled, example_path):
    [job] = [o for o in compiled(example_path("batchjob-indexed")) if o["kind"] == "Job"]
    assert core_errors(job) == []
    job["spec"]["completion"] = job["spec"].pop("completions")
    assert core_errors(job) != []


def test_a_misspelt_field_in_an_embedded_pod_fails_the_kubernetes_schema(compiled, example_path):
    jobset = _first_jobset(compiled, example_path)
    jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["nodeSelectr"] = {
        "a": "b"
    }
    [(_, job), *_] = embedded_core_objects(jobset)
    assert core_errors(job) != []


# ---------------------------------------------------------------------------------------------
# rules the schemas do not state

CPU_QUANTITY = re.compile(r"^(0|[1-9][0-9]*)$|^[1-9][0-9]*m$")
MEMORY_QUANTITY = re.compile(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi|Ei)?$")
COUNT_QUANTITY = re.compile(r"^[1-9][0-9]*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")


def _containers(template: dict) -> list[dict]:
    spec = template["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_every_container_has_canonical_resources(workload_example, compiled):
    for obj in compiled(workload_example):
        for where, template, _ in pod_templates(obj):
            for container in _containers(template):
                at = f"{workload_example.name}: {obj['kind']} {where} container {container['name']}"
                resources = container.get("resources")
                assert resources and set(resources) == {"requests", "limits"}, (
                    f"{at}: needs requests and limits"
                )
                for side in ("requests", "limits"):
                    assert CPU_QUANTITY.match(resources[side]["cpu"]), (
                        f"{at}: cpu {resources[side]['cpu']!r}"
                    )
                    assert MEMORY_QUANTITY.match(resources[side]["memory"]), (
                        f"{at}: memory {resources[side]['memory']!r}"
                    )
                    for extended in set(resources[side]) - {"cpu", "memory"}:
                        assert COUNT_QUANTITY.match(resources[side][extended]), f"{at}: {extended}"
                assert resources["requests"]["memory"] == resources["limits"]["memory"], (
                    f"{at}: memory request != limit"
                )


def test_pods_inside_jobs_never_restart_in_place(workload_example, compiled):
    for obj in compiled(workload_example):
        for where, template, in_job in pod_templates(obj):
            if in_job:
                assert template["spec"].get("restartPolicy") in ("Never", "OnFailure"), (
                    f"{workload_example.name}: {where}"
                )


def test_jobset_replicated_job_names_are_unique_dns_labels(workload_example, compiled):
    for obj in compiled(workload_example):
        if obj["kind"] != "JobSet":
            continue
        names = [rjob["name"] for rjob in obj["spec"]["replicatedJobs"]]
        assert len(names) == len(set(names)), (
            f"{workload_example.name}: duplicate replicated jobs {names}"
        )
        for rjob in obj["spec"]["replicatedJobs"]:
            job = rjob["template"]["spec"]
            longest_pod = f"{obj['metadata']['name']}-{rjob['name']}-{rjob['replicas'] - 1}-{job['completions'] - 1}-xxxxx"
            assert DNS1035.match(rjob["name"]) and len(longest_pod) <= 63, longest_pod


def test_names_within_a_pod_are_unique_and_mounts_name_a_volume(workload_example, compiled):
    for obj in compiled(workload_example):
        claim_templates = {
            t["metadata"]["name"]
            for p in obj.get("spec", {}).get("volumeClaimPolicies", [])
            for t in p["templates"]
        }
        for where, template, _ in pod_templates(obj):
            spec = template["spec"]
            volumes = [v["name"] for v in spec.get("volumes", [])]
            containers = [c["name"] for c in _containers(template)]
            assert len(volumes) == len(set(volumes)), (
                f"{workload_example.name}: {where} volumes {volumes}"
            )
            assert not set(volumes) & claim_templates, (
                f"{workload_example.name}: {where} shadows a JobSet claim template"
            )
            assert len(containers) == len(set(containers)), (
                f"{workload_example.name}: {where} containers {containers}"
            )
            for name in volumes + containers:
                assert DNS1123_LABEL.match(name) and len(name) <= 63, (
                    f"{workload_example.name}: {where} name {name!r}"
                )
            for container in _containers(template):
                mounts = [m["name"] for m in container.get("volumeMounts", [])]
                paths = [m["mountPath"] for m in container.get("volumeMounts", [])]
                assert len(paths) == len(set(paths)), (
                    f"{workload_example.name}: {where} mounts one path twice"
                )
                assert set(mounts) <= set(volumes) | claim_templates, (
                    f"{workload_example.name}: {where} mounts {mounts}"
                )
                for port in container.get("ports", []):
                    assert IANA_SVC_NAME.match(port["name"]), (
                        f"{workload_example.name}: port {port['name']!r}"
                    )
                env = [e["name"] for e in container.get("env", [])]
                assert len(env) == len(set(env)), (
                    f"{workload_example.name}: {where} sets an env var twice"
                )


def _valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(LABEL_NAME.match(name)) and (
        not prefix or (len(prefix) <= 253 and bool(LABEL_PREFIX.match(prefix)))
    )


def test_labels_and_annotations_are_well_formed(workload_example, compiled):
    for obj in compiled(workload_example):
        metadatas = [("metadata", obj["metadata"])]
        metadatas += [
            (where, template.get("metadata", {})) for where, template, _ in pod_templates(obj)
        ]
        for where, metadata in metadatas:
            for key, value in metadata.get("labels", {}).items():
                assert _valid_label_key(key), f"{workload_example.name}: {where} label key {key!r}"
                assert value == "" or LABEL_NAME.match(value), (
                    f"{workload_example.name}: {where} label {key}={value!r}"
                )
            for key in metadata.get("annotations", {}):
                assert _valid_label_key(key), (
                    f"{workload_example.name}: {where} annotation key {key!r}"
                )


def test_object_names_fit_their_kind(workload_example, compiled):
    for obj in compiled(workload_example):
        name = obj["metadata"]["name"]
        assert DNS1035.match(name) and len(name) <= 63, name
        if obj["kind"] == "RayJob":
            assert len(name) <= 47, (
                f"{name}: KubeRay appends a suffix to RayJob names longer than 47"
            )


@pytest.mark.parametrize("bad", ["", "-a", "a-", "a" * 64])
def test_the_name_rules_reject_bad_names(bad):
    assert not LABEL_NAME.match(bad)
    assert not _valid_label_key(bad)
    assert not IANA_SVC_NAME.match(bad)
    assert not DNS1123_LABEL.match(bad) or len(bad) > 63
