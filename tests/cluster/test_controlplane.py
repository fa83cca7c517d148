"""The testbed control plane itself: API server, CRDs, kwok nodes, dry-run path."""

from __future__ import annotations

import json
import textwrap

from testbed import controlplane as cpmod


def test_server_reachable(control_plane):
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    want = cpmod.read_versions()["KUBERNETES_VERSION"]
    assert version["serverVersion"]["gitVersion"] == want
    assert version["clientVersion"]["gitVersion"] == want
    assert control_plane.server.startswith("https://127.0.0.1:")


def test_crds_installed_and_established(control_plane):
    files = sorted(control_plane.crd_dir.glob("*.yaml"))
    assert files, control_plane.crd_dir
    crds = {c["metadata"]["name"]: c for c in control_plane.kubectl_json("get", "crd")["items"]}
    for f in files:
        # upstream file names are <group>_<plural>.yaml; the CRD is <plural>.<group>
        group, plural = f.stem.split("_", 1)
        name = f"{plural}.{group}"
        assert name in crds, f"{name} (from {f.name}) not installed"
        conds = {c["type"]: c["status"] for c in crds[name]["status"]["conditions"]}
        assert conds.get("Established") == "True", (name, conds)
    assert "jobsets.jobset.x-k8s.io" in crds


def test_kwok_nodes_ready(control_plane):
    nodes = control_plane.kubectl_json("get", "nodes")["items"]
    names = sorted(n["metadata"]["name"] for n in nodes)
    assert names == sorted(control_plane.node_names())
    for n in nodes:
        conds = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert conds["Ready"] == "True", (n["metadata"]["name"], conds)
        assert n["status"]["allocatable"]["nvidia.com/gpu"] == "8"
        assert n["metadata"]["annotations"][cpmod.KWOK_NODE_ANNOTATION] == "fake"
        assert not n["spec"].get("taints"), n["spec"]


def test_server_side_dry_run_strict(control_plane, tmp_path):
    """The path Tier 1 tests use: kubectl apply --server-side --dry-run=server --validate=strict."""
    good = tmp_path / "good.yaml"
    good.write_text(textwrap.dedent("""\
        apiVersion: jobset.x-k8s.io/v1alpha2
        kind: JobSet
        metadata:
          name: dry
          namespace: default
        spec:
          replicatedJobs:
          - name: w
            replicas: 2
            template:
              spec:
                template:
                  spec:
                    restartPolicy: Never
                    containers:
                    - name: c
                      image: busybox
                      command: ["echo"]
        """))
    proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                                 "-f", str(good))
    assert "serverside-applied (server dry run)" in proc.stdout
    # nothing was stored
    assert control_plane.kubectl("get", "jobset", "dry", "-n", "default", check=False).returncode != 0

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("replicas: 2", "replicas: 2\n    replicaz: 3"))
    proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "--validate=strict",
                                 "-f", str(bad), check=False)
    assert proc.returncode != 0
    assert "replicaz" in proc.stderr, proc.stderr


def test_restart_apiserver(control_plane, namespace):
    control_plane.kubectl("create", "configmap", "before", "-n", namespace, "--from-literal=a=1")
    control_plane.restart_apiserver()
    assert control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    cm = control_plane.kubectl_json("get", "configmap", "before", "-n", namespace)
    assert cm["data"] == {"a": "1"}
    # controllers reconnect: a Job still runs to completion after the restart
    control_plane.kubectl("create", "job", "after", "-n", namespace, "--image=busybox", "--", "echo")
    control_plane.kubectl("wait", "--for=condition=Complete", "job/after", "-n", namespace,
                          "--timeout=90s", timeout=120)
