"""Diagnostics are plain values returned by every stage; the CLI renders them.

Every diagnostic carries a stable code (documented in ``CODES`` and the README), a severity,
a message, a source location and, where known, the field path it is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from .tuples import NamedTuple


class Severity(str, Enum):  # noqa: UP042 -- str-mixin keeps json.dumps(severity) working
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Location(NamedTuple):
    """A place in a source file; line and column are 1-based, as editors show them. A tuple (file,
    line, column), so it orders like one: the parser makes one for every key and value."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Related:
    """A second place a diagnostic refers to (the rule that was broken, the earlier duplicate)."""

    message: str
    location: Location | None = None


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in the input: its code, message and where it is."""

    code: str
    message: str
    location: Location
    path: str = ""
    severity: Severity = Severity.ERROR
    related: tuple[Related, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        return (
            self.location.file,
            self.location.line,
            self.location.column,
            self.code,
            self.path,
            self.message,
        )


def error(
    code: str, message: str, location: Location, path: str = "", related: Iterable[Related] = ()
) -> Diagnostic:
    return Diagnostic(code, message, location, path, Severity.ERROR, tuple(related))


def warning(
    code: str, message: str, location: Location, path: str = "", related: Iterable[Related] = ()
) -> Diagnostic:
    return Diagnostic(code, message, location, path, Severity.WARNING, tuple(related))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


# The stable catalogue. Codes are never reused; the README's table is generated from this dict
# (tests/test_docs.py keeps the two in step).
CODES: dict[str, str] = {
    # input and YAML
    "E001": "YAML syntax error",
    "E002": "duplicate key in a mapping",
    "E003": "input exceeds a safety limit (size, nesting depth, alias expansion)",
    "E004": "file is not valid UTF-8",
    "E005": "unsupported YAML construct (custom tag, complex key, YAML 1.1 merge key)",
    "E006": "file cannot be read",
    "E010": "document is not a manifest or policy (unknown kind)",
    "E011": "file holds no YAML document (empty or only comments)",
    # structure and types
    "E101": "unknown key",
    "E102": "value has the wrong type",
    "E103": "required field is missing",
    "E104": "value is out of range or malformed",
    "E110": "unsupported operator",
    "E111": "type names do not fit the operator",
    "E120": "memory is not determined: set exactly one of ramRatio and memory",
    "E121": "duration is malformed",
    "E130": "builder.image differs from spec.image",
    "E140": "environment variable name is reserved by the operator contract",
    # resolution
    "E201": "unknown baseWorkload",
    "E202": "a template may not set baseWorkload",
    "E203": "two templates of one scope share a name",
    "E204": "an itemized override leaves out a required member",
    "E205": "two policies of one scope disagree on a default",
    "E206": "the base workload breaks the current policy",
    "E207": "--set is malformed",
    "E208": "a Policy among the manifests or templates (policies come from -p, .compile.yaml)",
    "E209": "deleted: true outside an item of an itemized collection",
    "E210": "a second spelling of a value another field writes (Kueue labels, node labels, Multus networks)",
    "E211": "a label or annotation the compiler owns",
    "E212": "queue or priority is not a label value",
    "E213": "memory that would be emitted as 0 bytes",
    "E214": "project or namespace is not a DNS-1123 label",
    "E215": "two workloads with one output name",
    "E216": ".compile.yaml refused: owned by another user or writable by others",
    # target limits
    "E301": "name is not a valid DNS-1035 label",
    "E302": "a generated Kubernetes name would be too long",
    "E303": "too many pod sets for one Kueue workload",
    "E304": "quantity is below what Kubernetes can express",
    "E305": "two volumes are mounted at the same path",
    "E306": "a port collides with a port the framework itself uses",
    "E307": "a Ray worker group name is reserved by Kueue",
    "E308": "/dev/shm is larger than the pod's memory limit",
    "E309": "a required name or value is empty",
    "E310": "a label key or value is not valid in Kubernetes",
    "E311": "two volumes or ports get one name",
    "E312": "a mount path is not a valid absolute path for a volume",
    "E313": "the output would exceed what the API server or the output limit accepts",
    "E314": "a multi-host TPU count is not a whole number of slices",
    "E315": "spec.cluster in a project policy (cluster facts are global)",
    "E316": "two global policies give different cluster facts",
    "E317": "a Ray jobId is not a plain identifier (it is written unquoted into a shell line)",
    "E318": "serviceAccountName or an imagePullSecrets entry is not a Kubernetes object name",
    "E319": "a multi-host TPU slice the operator cannot run, or a jobset slice's pods not its hosts",
    "E320": "the workload names a queue no policy defines, where policies declare quotas",
    "E321": "the workload names a priority no policy declares, where policies declare quotas or priorities",
    "E322": "a workload requests a resource (or TPU type) its queue does not cover, where policies declare quotas",
    "E323": "RDMA networks one pod attaches give one variable different values",
    "E324": "engineName names no worker cluster of the policies",
    "E325": "engineName pins a workload that has no queue on that worker",
    "E330": "the restart scope is one the kind cannot express (restartPolicy.scope)",
    "E331": "failOnExitCodes on a kind that cannot see exit codes (RayJob)",
    "E332": "a Job too large for per-pod retries at that parallelism (restart scope pod)",
    "E339": "internal error while compiling this file (a bug; other files are still compiled)",
    "E340": "a workload of a project with a quota names no queue",
    "E342": "two items of an itemized list share a label (Workers name, toleration key, PVC name)",
    "E343": "a rayStartParams key or value the shell would read as syntax",
    "E370": "a placement, and no global policy states the cluster's topology (spec.cluster.topology)",
    "E371": "placement.within names no level of the cluster's topology",
    "E372": "a placement whose queue has no topology (no project quota, or a quota Kueue cannot place)",
    "E373": "the pods a placement keeps together cannot fit one domain of its level (the level's capacity)",
    "E374": "placement options Kueue rejects together (a preferred slice, pod sets it cannot group)",
    "E375": "a placement the kind cannot honour (each: job on a RayJob)",
    "E376": "a topology Kueue refuses (a level or node label twice, the host level not last)",
    # policy
    "E401": "value is above the policy maximum",
    "E402": "value is below the policy minimum",
    "E403": "value is not on the policy step",
    "E404": "value is not one of the policy options",
    "E405": "value does not match the policy pattern",
    "E406": "policy requires this field",
    "E407": "policy does not allow editing this field",
    "E408": "policy forbids this field",
    "E409": "policy does not allow adding items here",
    "E410": "policy does not allow removing this item",
    "E411": "workload totals exceed the policy limits",
    "E412": "policy rule is malformed",
    "E413": "a policy pattern RE2 (the API server's engine) cannot read",
    "E414": "a value rule on an env variable given by a Secret reference",
    "E415": "retries or a grace period let the run last beyond the policy's deadline maximum",
    # quotas and queues (spec.quota, spec.priorities, compile queues)
    "E501": "a quota in a global policy (a quota belongs to one project)",
    "E502": "borrowingLimit without a cohort to borrow from",
    "E503": "borrowingLimit.gpus is not given the way spec.quota.gpus is",
    "E504": "a project with a quota is not a DNS-1123 label",
    "E505": "a priority name is not a valid WorkloadPriorityClass name",
    "E506": "two policies give one project a quota",
    "E507": "two policies give one priority different values",
    "E508": "a cohort name is not a valid Kueue cohort name",
    "E509": "a quota amount is more than a Kubernetes quantity holds",
    # worker clusters (spec.clusters, compile queues; SPEC 2.9)
    "E510": "spec.clusters in a project policy (worker clusters are global)",
    "E511": "two worker clusters share a name",
    "E512": "a worker cluster's name or kubeconfigSecret is not a DNS-1123 label",
    "E513": "more worker clusters than a MultiKueueConfig lists (20)",
    "E514": "a worker holds no queue of a project the manager dispatches to it",
    "E515": "a project's quota on the manager is more than its workers hold together",
    "E516": "a worker's quota gives a share to a project without a quota",
    "E517": "a worker's share gives GPUs not the way the project's quota does",
    "E518": "a pinned queue name (PROJECT-WORKER) is too long or another queue's name",
    "E519": "--cluster names no worker cluster of the policies",
    # admission policies (compile admission)
    "E520": "two policies give one admission policy object name",
    # image builds (compile image, --image-digest)
    "E601": "--image-digest is not sha256: and 64 hex digits",
    "E602": "the git working tree has uncommitted changes",
    "E603": "the current commit is not on any remote branch",
    "E604": "not a git repository, or git cannot be run",
    "E605": "nothing to build: one workload with an image is needed",
    "E606": "the Dockerfile or the build context does not exist",
    "E607": "the image build failed",
    "E608": "the build tool cannot be run",
    # compile local (the pods a workload runs, planned on this machine)
    "E701": "a pod's environment or volumes need a Secret, ConfigMap or key the local folder lacks",
    "E702": "an object whose pods compile local cannot plan as its controller would make them",
    # warnings
    "W101": "field is accepted but has no effect in this product",
    "W102": "GPU product is ignored because the GPU count is 0",
    "W103": "both timeout and activeDeadlineSeconds are set; timeout wins",
    "W104": "more pod sets than one Kueue workload admits, if the job is ever queued",
    "W105": "a %YAML 1.1 directive; the file is read as YAML 1.2",
    "W110": "the ports Service is reachable only inside the cluster",
    "W111": "a RayJob's ttlSecondsAfterFinished is not the manifest's; the record stays",
    "W120": "the workload asks more than its queue's quota and borrowing can ever hold",
    "W121": "the workload asks for a GPU product its queue's quota does not list",
    "W122": "a cohort member's GPUs sit in flavors no other member has: no GPU is lent either way",
    "W123": "the workload goes to a namespace without its project's LocalQueue",
    "W130": "a rule's pattern uses syntax RE2 lacks; the admission policy leaves the rule out",
    "W140": "a workload without a project where project policies exist (only global ones apply)",
}


def close_matches(word: str, known: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The known words closest to a misspelt one, for "did you mean"."""
    import difflib  # imported only when something is misspelt

    return difflib.get_close_matches(word, list(known), n=n, cutoff=cutoff)
