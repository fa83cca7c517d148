"""The pods a cluster would run for compiled objects, as plain data (``compile local``'s plan).

What each controller would create from the emitted kinds (JobSet → child Jobs → pods, a batch
Job's Indexed pods, a RayJob's head, worker groups and submitter), with the names, labels and
annotations those controllers set, and each container's environment exactly as the kubelet
would build it (``compiler.local.env``). Pure: the shell reads Secrets and ConfigMaps from a
local folder and hands them in; the runner turns the plan into processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Readiness:
    """A container's readinessProbe, reduced to what a runner can check on loopback."""

    tcp_port: int | None = None
    http_port: int | None = None
    http_path: str = "/"
    exec_argv: tuple[str, ...] = ()
    period_seconds: int = 10


@dataclass(frozen=True)
class LocalContainer:
    """One container: ``argv`` is command + args after ``$(VAR)`` expansion; ``env`` is the
    kubelet's environment in its order (no PATH/HOME: the runner adds what an image gives)."""

    name: str
    argv: tuple[str, ...]
    env: Pairs
    workdir: str | None = None
    readiness: Readiness | None = None


@dataclass(frozen=True)
class LocalVolume:
    """A volume mount as a local folder. ``local_dir`` is relative to the run's directory:
    ``pods/<pod>/<volume>`` for a pod's own volume (emptyDir, secret, configMap, downward API),
    ``claims/<claim>`` for a PersistentVolumeClaim (shared by every pod that mounts it).
    ``files`` (relative path → text) is what the kubelet would write there (secret, configMap)."""

    mount_path: str
    local_dir: str
    container: str
    read_only: bool = False
    sub_path: str = ""
    files: Pairs = ()


@dataclass(frozen=True)
class LocalPod:
    name: str
    namespace: str
    hostname: str
    subdomain: str | None
    ip: str
    #: every name cluster DNS would resolve to this pod, Services selecting it included
    dns_names: tuple[str, ...]
    labels: Pairs
    annotations: Pairs
    init_containers: tuple[LocalContainer, ...]
    containers: tuple[LocalContainer, ...]
    volumes: tuple[LocalVolume, ...]
    #: the controller-made Job (or Ray group) this pod belongs to: a LocalGroup's name
    group: str
    #: pods that must be Ready before this one starts (xgboost's master, Ray's head)
    start_after: tuple[str, ...] = ()
    #: the pod's restartPolicy: Never, OnFailure or Always
    restart_policy: str = "Never"


@dataclass(frozen=True)
class LocalGroup:
    """A Job (a JobSet's child Job, a batch Job, a RayJob's submitter) or a Ray node group:
    its pods, and the failure facts a runner needs to compute the outcome.

    - ``parallelism``: at most this many of its pods run at once (Indexed Job; None: all).
    - ``service``: its pods run until the workload ends (Ray head and workers); their exit
      does not decide the outcome.
    - ``backoff_limit``: the Job's own retries of a failed pod where the workload's policy
      does not decide (KubeRay's submitter Job: 2); None: the workload's FailurePolicy.
    """

    name: str
    workload: str
    pods: tuple[str, ...]
    parallelism: int | None = None
    service: bool = False
    backoff_limit: int | None = None


@dataclass(frozen=True)
class FailurePolicy:
    """How a workload's failures end it (SPEC 2.8, as compiled for its controller).

    - ``scope`` "workload": any failed pod restarts every pod (JobSet failurePolicy with
      ``maxRestarts``, RayJob ``backoffLimit``); "pod": only the failed pod is retried
      (``backoffLimitPerIndex`` / ``backoffLimit``).
    - ``backoff_limit``: retries the program's own failures earn.
    - ``fail_on_exit_codes``: an exit code that fails the workload at once, no retry.
    """

    scope: str = "pod"
    backoff_limit: int = 0
    fail_on_exit_codes: tuple[int, ...] = ()
    active_deadline_seconds: int | None = None


@dataclass(frozen=True)
class LocalWorkload:
    """A top-level compiled object (JobSet, Job, RayJob) and what ends it."""

    kind: str
    name: str
    namespace: str
    groups: tuple[str, ...]
    failure: FailurePolicy = field(default_factory=FailurePolicy)


@dataclass(frozen=True)
class Plan:
    workloads: tuple[LocalWorkload, ...] = ()
    groups: tuple[LocalGroup, ...] = ()
    pods: tuple[LocalPod, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def pod(self, name: str) -> LocalPod:
        return next(p for p in self.pods if p.name == name)

    def group(self, name: str) -> LocalGroup:
        return next(g for g in self.groups if g.name == name)
