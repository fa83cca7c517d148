"""compile verify on the testbed: drift of live objects from what the manifests compile to now,
and objects compiled under other policies than today's."""

from __future__ import annotations

import json
import shutil

from cluster_support import REPO, get, poll
from cluster_support import compile_ as run

EXAMPLES = REPO / "examples"
EXAMPLE_FILES = sorted(str(path) for path in EXAMPLES.glob("*.yaml"))
RULES = ["-p", str(EXAMPLES / "policies"), "-t", str(EXAMPLES / "templates")]


def submit_examples(plane, namespace, tmp_path):
    submitted = run(
        plane,
        "submit",
        *EXAMPLE_FILES,
        *RULES,
        "--namespace",
        namespace,
        "--allow-dirty",
        cwd=tmp_path,
    )
    assert submitted.returncode == 0, submitted.stderr


def verify(plane, *args, cwd):
    return run(plane, "verify", *args, "-o", "json", cwd=cwd)


def test_submitted_examples_show_no_drift_then_an_edit_shows_with_both_values(
    control_plane, namespace, tmp_path
):
    submit_examples(control_plane, namespace, tmp_path)
    # the JobSet controller has reconciled (its Jobs exist, its status is written)
    poll(
        "the JobSet controller to create heavy-and-workers' Jobs",
        lambda: control_plane.kubectl_json(
            "get", "jobs", "-n", namespace, "-l", "jobset.sigs.k8s.io/jobset-name=heavy-and-workers"
        )["items"],
    )
    clean = verify(control_plane, *EXAMPLE_FILES, *RULES, "--namespace", namespace, cwd=tmp_path)
    report = json.loads(clean.stdout)
    drifted = [o for o in report["objects"] if o["drift"]]
    assert clean.returncode == 0, json.dumps(drifted, indent=1) + clean.stderr
    assert len(report["objects"]) > len(EXAMPLE_FILES)  # the Services and claims too

    # JobSet's replicated jobs are immutable (its webhook refuses a new image): a label of the
    # JobSet, and the image of the RayJob's head (no KubeRay webhook runs on this plane)
    control_plane.kubectl(
        "label", "jobset", "heavy-and-workers", "-n", namespace, "--overwrite",
        "manifest-compiler/workload=renamed",
    )  # fmt: skip
    head = "/spec/rayClusterSpec/headGroupSpec/template/spec/containers/0/image"
    control_plane.kubectl(
        "patch", "rayjob", "ray-tune-sweep", "-n", namespace, "--type=json", "-p",
        json.dumps([{"op": "replace", "path": head, "value": "registry.example.com/other:6.6"}]),
    )  # fmt: skip
    edited = verify(control_plane, *EXAMPLE_FILES, *RULES, "--namespace", namespace, cwd=tmp_path)
    assert edited.returncode == 1, edited.stderr
    report = json.loads(edited.stdout)
    drifted = {o["name"]: o["differences"] for o in report["objects"] if o["drift"]}
    assert sorted(drifted) == ["heavy-and-workers", "ray-tune-sweep"]
    label = 'metadata.labels["manifest-compiler/workload"]'
    assert drifted["heavy-and-workers"] == [
        {
            "path": label,
            "kind": "changed",
            "compiled": "heavy-and-workers",
            "live": "renamed",
            "managers": ["kubectl-label"],
        }
    ]
    [image] = drifted["ray-tune-sweep"]
    assert image["path"] == (
        "spec.rayClusterSpec.headGroupSpec.template.spec.containers[name=ray-head].image"
    )
    compiled_image = get(control_plane, "rayjob", "ray-tune-sweep", namespace)
    assert image["live"] == "registry.example.com/other:6.6"
    assert image["compiled"] not in ("registry.example.com/other:6.6", None)
    assert image["managers"] == ["kubectl-patch"]
    assert compiled_image["metadata"]["labels"]["manifest-compiler/workload"] == "ray-tune-sweep"
    text = run(
        control_plane, "verify", str(EXAMPLES / "kuberay-cpu-gpu.yaml"), *RULES,
        "--namespace", namespace, cwd=tmp_path,
    )  # fmt: skip
    assert text.returncode == 1
    expected = (
        f'{image["path"]}: compiled "{image["compiled"]}", live "registry.example.com/other:6.6" '
        "(owned by kubectl-patch)"
    )
    assert expected in text.stdout.splitlines()[1], text.stdout


def test_verify_namespace_lists_exactly_the_objects_compiled_under_the_old_policy(
    control_plane, namespace, tmp_path
):
    submit_examples(control_plane, namespace, tmp_path)
    policies = tmp_path / "policies"
    shutil.copytree(EXAMPLES / "policies", policies)
    team_a = policies / "team-a.yaml"
    reformatted = (
        "# reformatted: comments and spacing do not change the rules\n"
        + team_a.read_text().replace("{min: 1, max: 64}", "{max: 64,   min: 1}")
    )
    team_a.write_text(reformatted)
    rules = ["-p", str(policies), "-t", str(EXAMPLES / "templates"), "--namespace", namespace]
    same = verify(control_plane, *rules, cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["stale"] == 0

    team_a.write_text(reformatted.replace("{max: 64,   min: 1}", "{max: 32,   min: 1}"))
    changed = verify(control_plane, *rules, cwd=tmp_path)
    assert changed.returncode == 1, changed.stderr
    report = json.loads(changed.stdout)
    stale = [(o["kind"], o["name"]) for g in report["groups"] for o in g["objects"]]
    assert stale == [("JobSet", "my-ports")]
    assert [g["project"] for g in report["groups"]] == ["team-a"]
    assert report["checked"] == len(EXAMPLE_FILES)


def flavoured_queue(plane, namespace: str, local_queue: str) -> None:
    """A ClusterQueue of ample quota whose flavor has a node label, so that Kueue injects a node
    selector into every admitted pod template; a LocalQueue in ``namespace``."""
    flavor, cluster_queue = f"rf-{namespace}", f"cq-{namespace}"
    quota = {"cpu": "1000", "memory": "4Ti", "nvidia.com/gpu": "64"}
    docs = [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": flavor},
            "spec": {"nodeLabels": {"testbed.manifest-compiler/flavor": flavor}},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": cluster_queue},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": sorted(quota),
                        "flavors": [
                            {
                                "name": flavor,
                                "resources": [
                                    {"name": r, "nominalQuota": q} for r, q in sorted(quota.items())
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": local_queue, "namespace": namespace},
            "spec": {"clusterQueue": cluster_queue},
        },
    ]
    # the examples' priorities (examples/policies/global.yaml); other tests may have made them
    docs += [
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": name},
            "value": value,
        }
        for name, value in (("high", 1000), ("low", 10))
    ]
    for doc in docs:
        plane.kubectl("create", "-f", "-", input=json.dumps(doc), check=False)

    def active():
        queue = plane.kubectl_json("get", "clusterqueue", cluster_queue)
        conditions = (queue.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Active" and c["status"] == "True" for c in conditions)

    poll(f"ClusterQueue {cluster_queue} Active", active)


def admitted_workload(plane, kind: str, name: str, namespace: str) -> bool:
    uid = get(plane, kind, name, namespace)["metadata"]["uid"]
    found = plane.kubectl_json(
        "get", "workloads.kueue.x-k8s.io", "-n", namespace, "-l", f"kueue.x-k8s.io/job-uid={uid}"
    )["items"]
    conditions = ((found[0].get("status") or {}).get("conditions") or []) if found else []
    return any(c["type"] == "Admitted" and c["status"] == "True" for c in conditions)


def test_kueue_admitting_and_the_controllers_reconciling_are_not_drift(
    operator_plane, operator_namespace, tmp_path
):
    """A JobSet and a RayJob queued on team-b: Kueue suspends them, admits them (unsuspends,
    injects its flavor's node selector), JobSet and KubeRay reconcile; none of it is drift."""
    ns = operator_namespace
    flavoured_queue(operator_plane, ns, "team-b")
    files = [str(EXAMPLES / "jobset-ten-workers.yaml"), str(EXAMPLES / "kuberay-cpu-gpu.yaml")]
    submitted = run(
        operator_plane, "submit", *files, *RULES, "--namespace", ns, "--allow-dirty", cwd=tmp_path
    )
    assert submitted.returncode == 0, submitted.stderr
    poll(
        "Kueue to admit the JobSet",
        lambda: admitted_workload(operator_plane, "jobset", "ten-workers", ns),
    )
    poll(
        "Kueue to admit the RayJob",
        lambda: admitted_workload(operator_plane, "rayjob", "ray-tune-sweep", ns),
    )
    poll(
        "KubeRay to create the RayJob's RayCluster",
        lambda: (get(operator_plane, "rayjob", "ray-tune-sweep", ns).get("status") or {}).get(
            "rayClusterName"
        ),
    )
    poll(
        "the JobSet controller to create the admitted JobSet's Jobs",
        lambda: operator_plane.kubectl_json(
            "get", "jobs", "-n", ns, "-l", "jobset.sigs.k8s.io/jobset-name=ten-workers"
        )["items"],
    )
    jobset = get(operator_plane, "jobset", "ten-workers", ns)
    selector = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert selector.get("nodeSelector", {}).get("testbed.manifest-compiler/flavor") == f"rf-{ns}"
    checked = verify(operator_plane, *files, *RULES, "--namespace", ns, cwd=tmp_path)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0, json.dumps(report, indent=1) + checked.stderr
    assert {o["kind"] for o in report["objects"]} >= {"JobSet", "RayJob"}
