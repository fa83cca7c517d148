"""Seeded policy × manifest cases for the admission parity test (issue 16), and `compile` run on
them in memory.

A *set* is a global and a project policy drawn from the rules the API server can hold, plus
manifests drawn to fall on both sides of those rules. Each case records what `compile` says:
the objects it emits (exit 0), or its errors and the objects the same manifest compiles to
without the policies' rules and limits (what a user would hand-write to get around them).

`visible(diagnostic, case)` says whether the object shows what an error is about, by the
documented scope of `compile admission` (README, "Enforce in the cluster"), written here
independently of compiler/admission.
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass, field

from compiler.catalog import build_catalog
from compiler.parse import load_documents
from compiler.pipeline import Options, compile_documents

IMAGES = (
    "registry.example.com/team-a/trainer:1.0",
    "registry.example.com/team-b/ray:2.9",
    "docker.io/library/python:3.11",
    "evil.example.net/registry.example.com/x:1",
)
PRODUCTS = ("NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "Tesla-T4")
COST_LABEL = "team.example.com/cost-center"
PROBE_LABELS = ("admission.test/probe-global", "admission.test/probe-project")

# (rule path, rule) the sets draw from: every one is a rule the cluster holds
RULES = (
    (
        "spec.image",
        lambda r: {"pattern": r.choice(["^registry\\.example\\.com/", "team-a", "(trainer|ray):"])},
    ),
    ("spec.image", lambda r: {"options": r.sample(IMAGES, 2)}),
    (
        "spec.operator",
        lambda r: {
            "options": r.choice(
                [["jobset", "pytorch"], ["kuberay"], ["jobset", "kuberay", "batchjob"]]
            )
        },
    ),
    ("spec.types.*.resources.cpus", lambda r: {"max": r.choice([2, 4, 8, 16])}),
    ("spec.types.*.resources.cpus", lambda r: {"min": r.choice([0.5, 1, 2])}),
    ("spec.types.*.resources.memory", lambda r: {"max": r.choice([8, 32, 64])}),
    ("spec.types.*.resources.accelerators.gpu.count", lambda r: {"max": r.choice([1, 2, 4])}),
    ("spec.types.*.resources.accelerators.gpu.count", lambda r: {"min": r.choice([2, 4])}),
    (
        "spec.types.*.resources.accelerators.gpu.product",
        lambda r: {"options": r.sample(PRODUCTS, r.choice([1, 2]))},
    ),
    ("spec.types.*.count", lambda r: {"max": r.choice([2, 4, 8])}),
    ("spec.types.*.count", lambda r: {"min": 2}),
    (f'spec.labels["{COST_LABEL}"]', lambda r: {"required": True}),
    (f'spec.labels["{COST_LABEL}"]', lambda r: {"options": ["ml", "research"]}),
    (f'spec.labels["{COST_LABEL}"]', lambda r: {"forbidden": True}),
    ("spec.queue", lambda r: {"required": True}),
    ("spec.queue", lambda r: {"options": ["team-a", "research"]}),
    ("spec.timeout", lambda r: {"max": r.choice(["1h", "1d", "7d"])}),
    ("spec.timeout", lambda r: {"required": True}),
)
LIMITS = (
    ("gpus", (8, 16, 64)),
    ("cpus", (32, 128)),
    ("memoryGB", (256, 1024)),
    ("pods", (6, 20)),
)


@dataclass
class Case:
    manifest: str
    emitted: list | None  # compile's objects with the policies (exit 0), else None
    errors: list = field(default_factory=list)  # compile's errors with the policies
    bypass: list | None = None  # the objects without the policies' rules and limits
    operator: str = ""

    @property
    def kind_objects(self) -> list:
        """The job objects (JobSet, RayJob, Job) a user would apply."""
        objects = self.emitted if self.emitted is not None else self.bypass or []
        return [o for o in objects if o.get("kind") in ("JobSet", "RayJob", "Job")]


@dataclass
class PolicySet:
    seed: int
    project: str
    policies: list[str]  # Policy documents (YAML)
    rule_paths: list  # (policy index, path, rule)
    cases: list[Case] = field(default_factory=list)


def policy_document(name: str, project: str | None, rules: list, limits: dict, probe: str) -> str:
    lines = [
        "apiVersion: manifest-compiler/v1",
        "kind: Policy",
        "metadata:",
        f"  name: {name}",
    ]
    if project:
        lines.append(f"  project: {project}")
    lines += ["spec:", "  rules:", f'    spec.labels["{probe}"]: {{forbidden: true}}']
    for path, rule in rules:
        lines.append(f"    {_flow(path)}: {_flow(rule)}")
    if limits:
        lines.append("  limits:")
        lines += [f"    {key}: {value}" for key, value in limits.items()]
    return "\n".join(lines) + "\n"


def _flow(value) -> str:
    import json

    return json.dumps(value)


def draw_policies(rng: random.Random, seed: int, project: str) -> tuple[list[str], list]:
    documents, drawn = [], []
    for index, (name, scope) in enumerate(
        ((f"g{seed}-global", None), (f"p{seed}-{project}", project))
    ):
        rules: dict = {}
        for path, make in rng.sample(RULES, rng.randint(1, 3)):
            rules.setdefault(path, {}).update(make(rng))
        for rule in rules.values():
            if rule.get("required") and rule.get("forbidden"):
                del rule["forbidden"]
        limits = {
            key: rng.choice(values) for key, values in rng.sample(LIMITS, rng.choice([0, 0, 1]))
        }
        documents.append(
            policy_document(name, scope, list(rules.items()), limits, PROBE_LABELS[index])
        )
        drawn += [(index, path, rule) for path, rule in rules.items()]
    return documents, drawn


def _resources(rng: random.Random) -> dict:
    resources: dict = {
        "cpus": rng.choice([0.5, 1, 1, 2, 2, 4, 12]),
        "memory": rng.choice([2, 4, 8, 16, 96]),
    }
    gpus = rng.choice([0, 0, 0, 1, 2, 4, 8])
    if gpus:
        gpu: dict = {"count": gpus}
        product = rng.choice((None,) + PRODUCTS)
        if product:
            gpu["product"] = product
        resources["accelerators"] = {"gpu": gpu}
    return resources


def draw_manifest(rng: random.Random, project: str, index: int) -> tuple[str, str]:
    operator = rng.choice(["jobset", "jobset", "pytorch", "kuberay", "batchjob"])
    spec: dict = {
        "operator": operator,
        "image": rng.choice(IMAGES[:1] * 3 + IMAGES),
        "command": "python train.py",
    }
    if operator == "jobset":
        spec["types"] = {
            name: {
                "count": rng.choice([1, 1, 2, 3, 6]),
                "completions": rng.choice([1, 1, 1, 2, 3]),
                "parallelisms": rng.choice([1, 2]),
                "resources": _resources(rng),
            }
            for name in rng.sample(["worker", "heavy", "eval"], rng.randint(1, 2))
        }
    elif operator == "pytorch":
        spec["types"] = {
            "Master": {"count": 1, "resources": _resources(rng)},
            "Worker": {"count": rng.choice([1, 2, 3, 5]), "resources": _resources(rng)},
        }
    elif operator == "kuberay":
        spec["types"] = {
            "Head": {"resources": _resources(rng)},
            "Workers": [
                {"name": name, "count": rng.choice([1, 2, 3, 5]), "resources": _resources(rng)}
                for name in rng.sample(["cpu", "gpu"], rng.randint(1, 2))
            ],
        }
    else:
        spec["types"] = {
            "worker": {
                "count": rng.choice([1, 2, 3]),
                "completions": rng.choice([1, 2]),
                "parallelisms": 1,
                "resources": _resources(rng),
            }
        }
    if rng.random() < 0.6:
        spec["labels"] = {COST_LABEL: rng.choice(["ml", "research", "ml", "marketing"])}
    if rng.random() < 0.6:
        spec["queue"] = rng.choice(["team-a", "research", "vip"])
    timeout = rng.choice([None, "30m", "30m", "12h", "2d", "10d"])
    if timeout:
        spec["timeout"] = timeout
    document = {
        "kind": "AIchorManifest",
        "apiVersion": "0.2.3",
        "name": f"case-{index}",
        "project": project,
        "spec": spec,
    }
    import json

    return json.dumps(document, indent=1), operator


def compile_case(manifest: str, policies: list[str]) -> tuple[list | None, list]:
    """(objects or None, error diagnostics) of `compile` on the manifest under ``policies``."""
    inputs = _documents(manifest, "workload.yaml")
    policy_documents = []
    for index, text in enumerate(policies):
        policy_documents += _documents(text, f"policy-{index}.yaml")
    catalog = build_catalog(inputs, policy_documents=policy_documents)
    units = compile_documents(inputs, catalog, Options())
    diagnostics = list(catalog.diagnostics) + [d for unit in units for d in unit.diagnostics]
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        return None, errors
    return [obj for unit in units for obj in unit.objects], []


def _documents(text: str, name: str) -> list:
    documents, problems = load_documents(textwrap.dedent(text), name)
    assert not problems, problems
    return documents


def draw_set(seed: int, project: str, manifests: int) -> PolicySet:
    rng = random.Random(seed)
    policies, drawn = draw_policies(rng, seed, project)
    policy_set = PolicySet(seed, project, policies, drawn)
    for index in range(manifests):
        manifest, operator = draw_manifest(rng, project, index)
        emitted, errors = compile_case(manifest, policies)
        case = Case(manifest, emitted, errors, operator=operator)
        if emitted is None:
            case.bypass, unexpected = compile_case(manifest, [])
            assert not unexpected, [str(e.message) for e in unexpected]
        policy_set.cases.append(case)
    return policy_set


# ---------------------------------------------------------------------------------------------
# what the cluster can see (README "Enforce in the cluster")

POLICY_CODES = {"E401", "E402", "E404", "E405", "E406", "E408", "E411"}
_TYPE_FIELD = re.compile(r"^spec\.types\.(?P<type>[^.]+)(\.\d+|\.[^.]+)?\.(?P<field>count)$")


def visible(diagnostic, case: Case) -> bool:
    """Does the object show what this error of `compile` is about?"""
    if diagnostic.code not in POLICY_CODES:
        return False
    path = diagnostic.path
    if path == "spec.operator":
        # held per kind: only when no allowed operator makes this kind
        allowed = set(re.findall(r"'([a-z]+)'", diagnostic.message.split("options:", 1)[-1]))
        kinds = {
            "jobset": "JobSet",
            "pytorch": "JobSet",
            "xgboost": "JobSet",
            "jax": "JobSet",
            "tf": "JobSet",
            "kuberay": "RayJob",
            "ray": "RayJob",
            "batchjob": "Job",
        }
        return kinds[case.operator] not in {kinds[a] for a in allowed if a in kinds}
    if path.endswith(".count") and "accelerators" not in path:
        # count shows as replicas on JobSets and RayJob worker groups; a Job folds it
        return case.operator != "batchjob"
    return True
