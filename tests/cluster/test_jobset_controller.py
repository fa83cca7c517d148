"""Tier 2: the real JobSet controller (v0.12.0, with its webhooks) and the real
Job controller run workloads on kwok nodes to completion or failure."""

from __future__ import annotations

import textwrap

from cluster_support import poll

JOBSET = textwrap.dedent("""\
    apiVersion: jobset.x-k8s.io/v1alpha2
    kind: JobSet
    metadata:
      name: {name}
    spec:
      replicatedJobs:
      - name: worker-heavy
        replicas: 1
        template:
          spec:
            parallelism: 1
            completions: 1
            backoffLimit: 0
            template:
              metadata:
                annotations:
                  testbed.manifest-compiler/outcome: {heavy_outcome}
              spec:
                restartPolicy: Never
                containers:
                - name: main
                  image: busybox
                  command: ["echo", "heavy"]
      - name: worker
        replicas: 7
        template:
          spec:
            parallelism: 1
            completions: 1
            backoffLimit: 0
            template:
              spec:
                restartPolicy: Never
                containers:
                - name: main
                  image: busybox
                  command: ["echo", "worker"]
    """)

GLOBAL_INDEX = "jobset.sigs.k8s.io/job-global-index"
JOB_INDEX = "jobset.sigs.k8s.io/job-index"
RJOB = "jobset.sigs.k8s.io/replicatedjob-name"
JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"


def _poll(what, fn, timeout=60.0):
    return poll(what, fn, timeout)


def _conditions(obj):
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def _wait_jobset_condition(cp, ns, name, cond, timeout=120):
    def check():
        js = cp.kubectl_json("get", "jobset", name, "-n", ns)
        return _conditions(js).get(cond) == "True" and js

    return _poll(f"JobSet {name} condition {cond}", check, timeout)


def test_jobset_runs_to_completion(control_plane, namespace):
    cp = control_plane
    cp.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=JOBSET.format(name="train", heavy_outcome="succeed"),
    )

    # the mutating webhook defaulted the JobSet as it does for real users
    js = cp.kubectl_json("get", "jobset", "train", "-n", namespace)
    assert js["spec"]["successPolicy"]["operator"] == "All"
    assert js["spec"]["network"]["enableDNSHostnames"] is True

    jobs = _poll(
        "8 Jobs",
        lambda: (lambda items: items if len(items) == 8 else None)(
            cp.kubectl_json("get", "jobs", "-n", namespace, "-l", f"{JOBSET_NAME}=train")["items"]
        ),
    )
    assert sorted(j["metadata"]["labels"][RJOB] for j in jobs) == ["worker"] * 7 + ["worker-heavy"]

    def pods():
        items = cp.kubectl_json("get", "pods", "-n", namespace, "-l", f"{JOBSET_NAME}=train")[
            "items"
        ]
        return items if len(items) == 8 else None

    pod_list = _poll("8 pods", pods)
    seen = sorted(
        (
            int(p["metadata"]["labels"][GLOBAL_INDEX]),
            p["metadata"]["labels"][RJOB],
            int(p["metadata"]["labels"][JOB_INDEX]),
        )
        for p in pod_list
    )
    assert seen == [(0, "worker-heavy", 0)] + [(i + 1, "worker", i) for i in range(7)]

    _wait_jobset_condition(cp, namespace, "train", "Completed")
    phases = {
        p["metadata"]["name"]: p["status"]["phase"]
        for p in cp.kubectl_json("get", "pods", "-n", namespace, "-l", f"{JOBSET_NAME}=train")[
            "items"
        ]
    }
    assert set(phases.values()) == {"Succeeded"}, phases
    # the real kube-scheduler bound every pod to a kwok node
    nodes = {
        p["spec"]["nodeName"]
        for p in cp.kubectl_json("get", "pods", "-n", namespace, "-l", f"{JOBSET_NAME}=train")[
            "items"
        ]
    }
    assert nodes and all(n.startswith("kwok-node-") for n in nodes), nodes


def test_jobset_failure(control_plane, namespace):
    cp = control_plane
    cp.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=JOBSET.format(name="broken", heavy_outcome="fail"),
    )
    js = _wait_jobset_condition(cp, namespace, "broken", "Failed")
    assert _conditions(js).get("Completed") != "True"


def test_jobset_webhook_rejects_invalid(control_plane, namespace):
    """The validating webhook is live: a successPolicy naming an unknown
    replicatedJob is refused at admission."""
    bad = JOBSET.format(name="invalid", heavy_outcome="succeed").replace(
        "spec:\n  replicatedJobs:",
        "spec:\n  successPolicy:\n    operator: All\n    targetReplicatedJobs: [nope]\n  replicatedJobs:",
        1,
    )
    proc = control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    # this check exists only in JobSet's validating webhook (not in the CRD schema)
    assert "'nope' does not appear in .spec.ReplicatedJobs" in proc.stderr, proc.stderr


def test_batch_job_completes(control_plane, namespace):
    cp = control_plane
    cp.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: plain
        spec:
          completions: 3
          parallelism: 3
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: c
                image: busybox
                command: ["echo", "hi"]
        """),
    )
    cp.kubectl(
        "wait",
        "--for=condition=Complete",
        "job/plain",
        "-n",
        namespace,
        "--timeout=90s",
        timeout=120,
    )
    job = cp.kubectl_json("get", "job", "plain", "-n", namespace)
    assert job["status"]["succeeded"] == 3


def test_batch_job_fails_via_env(control_plane, namespace):
    cp = control_plane
    cp.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: doomed
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: c
                image: busybox
                command: ["false"]
                env:
                - name: KWOK_OUTCOME
                  value: fail
        """),
    )
    cp.kubectl(
        "wait",
        "--for=condition=Failed",
        "job/doomed",
        "-n",
        namespace,
        "--timeout=90s",
        timeout=120,
    )
