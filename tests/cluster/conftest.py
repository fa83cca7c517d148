"""Fixtures for the tests that run against a real control plane (testbed/).

`control_plane` (session scope) builds the testbed binaries if they are not
cached yet (`bash testbed/build.sh`, ~12 min the first time on 2 cores), starts
etcd + kube-apiserver + kube-controller-manager + kube-scheduler + JobSet
controller + kwok on 127.0.0.1, and stops all of them at the end. It yields a
`testbed.controlplane.ControlPlane`:

    control_plane.kubeconfig      # Path of an admin kubeconfig
    control_plane.kubectl_path    # Path of the kubectl binary built with the cluster
    control_plane.kubectl(*args, input=None, check=True)  # -> CompletedProcess (text)
    control_plane.kubectl_json(*args)                     # -> parsed `-o json`
    control_plane.restart_apiserver()

e.g. a server-side dry run of a golden file:

    control_plane.kubectl("apply", "--server-side", "--dry-run=server",
                          "--validate=strict", "-f", str(path))

`multikueue_planes` (session scope) is a MultiKueue manager and two workers, three more control
planes, started only by tests/cluster/test_multikueue.py.

`operator_plane` (session scope) is a second control plane that also runs the
KubeRay operator and Kueue (`ControlPlane(components=("kuberay", "kueue"))`), with
KubeRay's own (v1.6.0) ray.io CRDs; it starts only when a test asks for it, so
`control_plane` keeps validating against ../shared/crds' v1.7.0 CRDs.

`topology_plane` (session scope) runs Kueue on 8 small kwok nodes labelled with their block,
rack and host (2 x 2 x 2, `testbed.controlplane.Topology`), for the placement tests.

The tests are skipped only when the binaries are not cached and `go` is not on
PATH (nothing to build them with).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed import controlplane as cpmod  # noqa: E402
from testbed.controlplane.controller_manager import wait_default_service_account  # noqa: E402


def _started_plane(components=(), **options):
    needed = cpmod.ControlPlane(components=components).required_binaries()
    missing = cpmod.missing_binaries(names=needed)
    if missing and shutil.which("go") is None:
        pytest.skip(
            "cluster tests need the testbed binaries (kube-apiserver, etcd, ...), which are "
            "built from source with Go: `go` is not on PATH and "
            f"{', '.join(missing)} not cached in {cpmod.cache_dir()}"
        )
    cpmod.build(names=needed)
    # MC_TESTBED_KEEP=1 keeps the temp dir (logs of every component) afterwards
    keep = os.environ.get("MC_TESTBED_KEEP", "") not in ("", "0")
    cp = cpmod.ControlPlane(keep_workdir=keep, components=components, **options)
    cp.start()
    return cp, keep


def _stop(cp, keep):
    cp.stop()
    if keep:
        print(f"\ntestbed logs kept in {cp.workdir / 'logs'}", file=sys.stderr)


@pytest.fixture(scope="session")
def control_plane():
    cp, keep = _started_plane()
    try:
        yield cp
    finally:
        _stop(cp, keep)


@pytest.fixture(scope="session")
def operator_plane():
    """A control plane that also runs the KubeRay operator and Kueue."""
    cp, keep = _started_plane(components=("kuberay", "kueue"))
    try:
        yield cp
    finally:
        _stop(cp, keep)


@pytest.fixture(scope="session")
def topology_plane():
    """A control plane with Kueue whose only nodes are 2 blocks x 2 racks x 2 hosts of 4 CPUs
    (testbed.controlplane.Topology), for topology-aware scheduling. A plane of its own: a
    flavor with a topologyName changes how Kueue places every job of its queues."""
    cp, keep = _started_plane(components=("kueue",), nodes=0, topology=cpmod.Topology())
    try:
        yield cp
    finally:
        _stop(cp, keep)


@pytest.fixture
def topology_namespace(topology_plane):
    """A fresh namespace in `topology_plane` (deleted afterwards, without waiting)."""
    name = _new_namespace(topology_plane)
    yield name
    # the jobs and their pods go first, waited for: pods left running would hold nodes the next
    # test places on (waiting for the whole namespace takes longer)
    topology_plane.kubectl(
        "delete", "jobsets,jobs,pods", "--all", "-n", name, "--cascade=foreground",
        "--timeout=120s", check=False, timeout=150,
    )  # fmt: skip
    topology_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def multikueue_planes():
    """A MultiKueue manager and two workers (`testbed.controlplane.multikueue.MultiKueuePlanes`):
    `.manager`, `.workers["worker-a"]`, `.workers["worker-b"]`, each a ControlPlane with Kueue; the
    manager holds the Secrets `worker-a` and `worker-b` (kubeconfigs) in kueue-system."""
    from testbed.controlplane.multikueue import MultiKueuePlanes

    planes = MultiKueuePlanes(keep_workdir=os.environ.get("MC_TESTBED_KEEP", "") not in ("", "0"))
    needed = planes.required_binaries()
    missing = cpmod.missing_binaries(names=needed)
    if missing and shutil.which("go") is None:
        pytest.skip(f"the MultiKueue tests need the testbed binaries {', '.join(missing)}")
    cpmod.build(names=needed)
    planes.start()
    print(f"\nMultiKueue planes up: {planes.timings}", file=sys.stderr)
    try:
        yield planes
    finally:
        planes.stop()


def _new_namespace(plane):
    name = f"t-{uuid.uuid4().hex[:8]}"
    plane.kubectl("create", "namespace", name)
    # ServiceAccount admission rejects pods until `default` exists
    wait_default_service_account(plane, name, 120)
    return name


@pytest.fixture
def namespace(control_plane):
    """A fresh namespace (deleted afterwards, without waiting)."""
    name = _new_namespace(control_plane)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def operator_namespace(operator_plane):
    """A fresh namespace in `operator_plane` (deleted afterwards, without waiting)."""
    name = _new_namespace(operator_plane)
    yield name
    operator_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
