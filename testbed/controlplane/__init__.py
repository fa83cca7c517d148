"""A real Kubernetes control plane on 127.0.0.1 for the cluster tests.

Runs the binaries that ``testbed/build.sh`` builds from source, one module per
component (the table in testbed/README.md):

    pki                  CA + certificates (openssl CLI), admin kubeconfig
    etcd                 etcd
    apiserver            kube-apiserver
    controller_manager   kube-controller-manager
    scheduler            kube-scheduler
    crds                 the CRDs of ../shared/crds (and helpers to install more)
    webhooks             webhook configurations pointing at 127.0.0.1
    jobset               JobSet controller + its webhooks
    kwok                 fake nodes playing the pod lifecycle, pod logs
    kuberay, kueue       the optional operators (kuberay_crds: KubeRay's CRDs alone)
    multikueue           MultiKueuePlanes: a MultiKueue manager and two workers
    plane                Plane: what the components above use of the control plane
    cluster              ControlPlane: starts them in order, stops them all
    cli                  python3 -m testbed.controlplane start|stop|status|env
    common, process      versions, binary cache, waiting; process groups

    cp = ControlPlane()
    cp.start()            # 20-50 s once the binaries are built
    cp.kubectl("get", "nodes")
    cp.restart_apiserver()
    cp.stop()             # kills every process it started, removes its temp dir

Everything listens on 127.0.0.1 only; the fake nodes' and pods' IPs are in
127.0.0.0/8 too, so nothing can ever be sent off this machine. Pure standard library.
"""

from .cli import main
from .cluster import ControlPlane
from .common import (
    POD_CIDR,
    SERVICE_CIDR,
    VERSIONS_FILE,
    ControlPlaneError,
    binary_paths,
    build,
    cache_dir,
    default_crd_dir,
    free_port,
    missing_binaries,
    read_versions,
)
from .kwok import (
    EXIT_CODE_ANNOTATION,
    KWOK_NODE_ANNOTATION,
    KWOK_STAGES,
    OUTCOME_ANNOTATION,
    POD_LOG_LINES,
    RUN_FOR_ANNOTATION,
    Topology,
)
from .pki import PKI
from .process import Proc

__all__ = [
    "EXIT_CODE_ANNOTATION",
    "KWOK_NODE_ANNOTATION",
    "KWOK_STAGES",
    "OUTCOME_ANNOTATION",
    "PKI",
    "POD_CIDR",
    "POD_LOG_LINES",
    "RUN_FOR_ANNOTATION",
    "SERVICE_CIDR",
    "VERSIONS_FILE",
    "ControlPlane",
    "ControlPlaneError",
    "Proc",
    "Topology",
    "binary_paths",
    "build",
    "cache_dir",
    "default_crd_dir",
    "free_port",
    "main",
    "missing_binaries",
    "read_versions",
]
