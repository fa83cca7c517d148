"""The job state machine and pod identities, on literal objects as the API server returns them."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from compiler.cluster import kinds
from compiler.cluster.state import (
    CANCELLED,
    FAILED,
    PENDING,
    PREPARING,
    RUNNING,
    SUCCEEDED,
    State,
    deleted,
    job_state,
    jobset_state,
    queue_gate,
    rayjob_state,
    state_of,
    transition,
)
from compiler.cluster.submit import GitState, image_of, record, timestamp_suffix

T1, T2 = "2026-11-23T10:00:00Z", "2026-11-23T10:05:00Z"


def cond(type_, status="True", reason="", message="", when=T1):
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": when,
    }


def job(status=None, suspend=None, labels=None, deleting=False):
    metadata = {
        "name": "j",
        "namespace": "ns",
        "uid": "u-1",
        "creationTimestamp": T1,
        "labels": labels or {},
    }
    if deleting:
        metadata["deletionTimestamp"] = T2
    spec = {} if suspend is None else {"suspend": suspend}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": spec,
        "status": status or {},
    }


def jobset(status=None, suspend=None, deleting=False):
    obj = job(status, suspend, deleting=deleting)
    obj.update(apiVersion="jobset.x-k8s.io/v1alpha2", kind="JobSet")
    return obj


def rayjob(deployment="", ray="", reason="", message="", suspend=None, **extra):
    status = {
        "jobDeploymentStatus": deployment,
        "jobStatus": ray,
        "reason": reason,
        "message": message,
        **extra,
    }
    obj = job({k: v for k, v in status.items() if v != ""}, suspend)
    obj.update(apiVersion="ray.io/v1", kind="RayJob")
    return obj


def workload(*conditions, queue="team-a"):
    return {
        "kind": "Workload",
        "metadata": {"creationTimestamp": T1},
        "spec": {"queueName": queue},
        "status": {"conditions": list(conditions)},
    }


# ---------------------------------------------------------------------------------------------
# batch/v1 Job


def test_job_complete_is_succeeded_with_the_condition_time():
    state = job_state(
        job(
            {
                "conditions": [
                    cond("SuccessCriteriaMet", reason="CompletionsReached"),
                    cond("Complete", reason="CompletionsReached", when=T2),
                ]
            }
        )
    )
    assert state == State(SUCCEEDED, "CompletionsReached", T2)


def test_job_failed_carries_reason_and_message():
    state = job_state(
        job(
            {
                "conditions": [
                    cond("FailureTarget", reason="BackoffLimitExceeded"),
                    cond(
                        "Failed",
                        reason="BackoffLimitExceeded",
                        message="Job has reached the specified backoff limit",
                        when=T2,
                    ),
                ]
            }
        )
    )
    assert state.phase == FAILED
    assert state.reason == "BackoffLimitExceeded: Job has reached the specified backoff limit"
    assert state.since == T2


def test_job_failure_target_is_finishing_not_final():
    state = job_state(
        job(
            {
                "ready": 0,
                "failed": 1,
                "conditions": [cond("FailureTarget", reason="BackoffLimitExceeded")],
            }
        )
    )
    assert state.phase == RUNNING
    assert not state.finished
    assert state.reason.startswith("finishing, failed: BackoffLimitExceeded")


def test_job_success_criteria_met_is_finishing_not_final():
    state = job_state(
        job({"succeeded": 2, "conditions": [cond("SuccessCriteriaMet", reason="SuccessPolicy")]})
    )
    assert (state.phase, state.finished) == (RUNNING, False)
    assert "finishing, succeeded: SuccessPolicy" in state.reason


def test_a_false_condition_does_not_count():
    assert job_state(job({"conditions": [cond("Complete", status="False")]})).phase == PREPARING


def test_suspended_job_is_pending():
    assert job_state(job(suspend=True)) == State(PENDING, "suspended", T1)
    assert (
        job_state(job({"conditions": [cond("Suspended", reason="JobSuspended")]})).phase == PENDING
    )


def test_job_with_pods_starting_is_preparing_and_with_a_ready_pod_running():
    assert job_state(job({"active": 2, "startTime": T1})) == State(PREPARING, "2 pods starting", T1)
    assert job_state(job({})).phase == PREPARING
    running = job_state(job({"active": 2, "ready": 1}))
    assert (running.phase, running.reason) == (RUNNING, "1 pod ready")


def test_job_whose_pods_already_ended_counts_as_running():
    # a pod that finished ran: Running, not Preparing, until the terminal condition arrives
    assert job_state(job({"succeeded": 1})).phase == RUNNING
    assert job_state(job({"failed": 1})).phase == RUNNING


def test_pods_ended_but_not_yet_counted_still_count_as_running():
    # as the Job controller writes it between a pod's end and its count (seen on the testbed)
    status = {
        "ready": 0,
        "active": 0,
        "uncountedTerminatedPods": {"failed": ["uid-1", "uid-2"]},
        "conditions": [cond("FailureTarget", reason="BackoffLimitExceeded")],
    }
    state = job_state(job(status))
    assert (state.phase, state.finished) == (RUNNING, False)


def test_pod_counters_never_make_a_job_final():
    assert not job_state(job({"succeeded": 8, "failed": 3})).finished


def test_job_being_deleted_is_cancelled_unless_already_finished():
    assert job_state(job({"ready": 1}, deleting=True)) == State(CANCELLED, "being deleted", T2)
    assert job_state(job({"conditions": [cond("Complete")]}, deleting=True)).phase == SUCCEEDED


# ---------------------------------------------------------------------------------------------
# JobSet


def rjobs(**totals):
    return [
        {
            "name": "worker",
            "ready": 0,
            "succeeded": 0,
            "failed": 0,
            "active": 0,
            "suspended": 0,
            **totals,
        }
    ]


def test_jobset_completed_condition_or_terminal_state_is_succeeded():
    assert jobset_state(
        jobset({"conditions": [cond("Completed", reason="AllJobsCompleted", when=T2)]})
    ) == State(SUCCEEDED, "AllJobsCompleted", T2)
    assert jobset_state(jobset({"terminalState": "Completed"})).phase == SUCCEEDED


def test_jobset_failed():
    state = jobset_state(
        jobset(
            {
                "terminalState": "Failed",
                "conditions": [
                    cond(
                        "Failed",
                        reason="FailedJobs",
                        message="jobset failed due to one or more job failures",
                    )
                ],
            }
        )
    )
    assert state.phase == FAILED
    assert state.reason == "FailedJobs: jobset failed due to one or more job failures"


def test_jobset_suspended_is_pending():
    assert jobset_state(jobset(suspend=True)).phase == PENDING
    assert (
        jobset_state(jobset({"conditions": [cond("Suspended", reason="SuspendedJobs")]})).phase
        == PENDING
    )


def test_jobset_preparing_then_running_by_replicated_job_counts():
    assert jobset_state(jobset({})).phase == PREPARING
    assert jobset_state(jobset({"replicatedJobsStatus": rjobs(active=5)})) == State(
        PREPARING, "5 jobs starting", None
    )
    state = jobset_state(jobset({"replicatedJobsStatus": rjobs(active=5, ready=3, succeeded=1)}))
    assert (state.phase, state.reason) == (RUNNING, "3 jobs ready, 1 succeeded")


def test_jobset_restarting_is_preparing():
    state = jobset_state(
        jobset(
            {
                "restarts": 1,
                "replicatedJobsStatus": rjobs(ready=1),
                "conditions": [cond("RestartingJobSet", reason="DefaultFailurePolicy")],
            }
        )
    )
    assert state.phase == PREPARING
    assert state.reason.startswith("restarting (restart 1)")


def test_jobset_being_deleted_is_cancelled():
    assert (
        jobset_state(jobset({"replicatedJobsStatus": rjobs(ready=2)}, deleting=True)).phase
        == CANCELLED
    )


# ---------------------------------------------------------------------------------------------
# RayJob


@pytest.mark.parametrize(
    "deployment, ray, phase",
    [
        ("", "", PREPARING),
        ("Initializing", "", PREPARING),
        ("Waiting", "", PREPARING),
        ("Running", "PENDING", RUNNING),
        ("Running", "RUNNING", RUNNING),
        ("Complete", "SUCCEEDED", SUCCEEDED),
        ("Complete", "STOPPED", CANCELLED),
        ("Complete", "FAILED", FAILED),
        ("Failed", "FAILED", FAILED),
        ("Failed", "", FAILED),
        ("ValidationFailed", "", FAILED),
        ("Retrying", "FAILED", PREPARING),
        ("Suspending", "", PENDING),
        ("Suspended", "", PENDING),
    ],
)
def test_rayjob_phases(deployment, ray, phase):
    assert rayjob_state(rayjob(deployment, ray)).phase == phase


def test_rayjob_stopped_is_cancelled_even_though_kuberay_says_complete():
    state = rayjob_state(rayjob("Complete", "STOPPED", endTime=T2))
    assert state == State(CANCELLED, "Ray job STOPPED", T2)
    assert state.phase != SUCCEEDED


def test_rayjob_failure_reasons():
    assert (
        rayjob_state(rayjob("Failed", "FAILED", reason="AppFailed", message="exit 1")).reason
        == "AppFailed: exit 1"
    )
    assert (
        rayjob_state(rayjob("Failed", "", reason="DeadlineExceeded")).reason == "DeadlineExceeded"
    )
    invalid = rayjob_state(
        rayjob("ValidationFailed", reason="ValidationFailed", message="entrypoint is required")
    )
    assert (invalid.phase, invalid.reason) == (FAILED, "ValidationFailed: entrypoint is required")


def test_rayjob_created_suspended_is_pending():
    assert rayjob_state(rayjob(suspend=True)).phase == PENDING
    assert rayjob_state(rayjob("Suspended", suspend=True)).phase == PENDING


def test_rayjob_retrying_counts_failures():
    assert (
        rayjob_state(rayjob("Retrying", "FAILED", failed=2)).reason == "retrying after 2 failures"
    )


# ---------------------------------------------------------------------------------------------
# Kueue


QUEUED = {"kueue.x-k8s.io/queue-name": "team-a"}


def test_queued_job_is_pending_with_kueue_message():
    waiting = workload(
        cond(
            "QuotaReserved",
            status="False",
            reason="Pending",
            message="couldn't assign flavors to pod set main: insufficient quota for cpu",
        )
    )
    state = job_state(job(suspend=True, labels=QUEUED), waiting)
    assert state.phase == PENDING
    assert (
        state.reason
        == "queued in LocalQueue team-a: couldn't assign flavors to pod set main: insufficient quota for cpu"
    )


def test_quota_reserved_but_not_admitted_is_pending():
    state = jobset_state(jobset(suspend=True), workload(cond("QuotaReserved")))
    assert (state.phase, state.reason) == (PENDING, "quota reserved, waiting for admission checks")


def test_admitted_is_preparing_even_before_kueue_unsuspends_the_job():
    admitted = workload(cond("QuotaReserved"), cond("Admitted", when=T2))
    assert job_state(job(suspend=True), admitted) == State(PREPARING, "admitted by Kueue", T2)
    assert rayjob_state(rayjob(suspend=True), admitted).phase == PREPARING
    assert jobset_state(jobset({"replicatedJobsStatus": rjobs(ready=1)}), admitted).phase == RUNNING


def test_evicted_workload_is_pending_again():
    evicted = workload(
        cond("QuotaReserved"),
        cond("Admitted"),
        cond("Evicted", reason="Preempted", message="preempted by a higher priority workload"),
    )
    state = job_state(job({"ready": 1}), evicted)
    assert state.phase == PENDING
    assert "Preempted" in state.reason


def test_finished_workload_leaves_the_outcome_to_the_job():
    done = workload(cond("Admitted"), cond("Finished", reason="Succeeded"))
    assert queue_gate(done) is None
    assert job_state(job({"conditions": [cond("Complete")]}), done).phase == SUCCEEDED


def test_terminal_job_ignores_a_stale_workload():
    waiting = workload(cond("QuotaReserved", status="False"))
    assert (
        job_state(job({"conditions": [cond("Failed", reason="DeadlineExceeded")]}), waiting).phase
        == FAILED
    )


# ---------------------------------------------------------------------------------------------
# transitions


def test_state_of_dispatches_on_kind_and_rejects_others():
    assert state_of(jobset({"terminalState": "Completed"})).phase == SUCCEEDED
    with pytest.raises(ValueError):
        state_of({"kind": "Deployment"})


def test_transition_reports_phase_changes_once_and_never_after_a_final_one():
    running = State(RUNNING, "1 pod ready")
    assert transition(None, running) is running
    assert (
        transition(running, State(RUNNING, "2 pods ready")) is None
    )  # same phase: not a transition
    done = State(SUCCEEDED, "CompletionsReached")
    assert transition(running, done) is done
    assert transition(done, State(CANCELLED, "deleted before it finished")) is None
    assert transition(done, done) is None


def test_running_goes_back_to_preparing_only_when_the_job_starts_over():
    running = State(RUNNING, "2 jobs ready")
    # the pod ended, the Job controller has not counted it yet: counters are all zero for a moment
    assert transition(running, jobset_state(jobset({"replicatedJobsStatus": rjobs()}))) is None
    restarting = jobset_state(
        jobset(
            {"restarts": 1, "conditions": [cond("RestartingJobSet", reason="DefaultFailurePolicy")]}
        )
    )
    assert transition(running, restarting) is restarting
    retrying = rayjob_state(rayjob("Retrying", "FAILED", failed=1))
    assert transition(State(RUNNING), retrying) is retrying
    evicted = job_state(job({"ready": 1}), workload(cond("Evicted", reason="Preempted")))
    assert transition(running, evicted) is evicted


def test_deletion_cancels_an_unfinished_job_but_keeps_an_outcome():
    assert deleted(State(RUNNING)).phase == CANCELLED
    assert deleted(None).phase == CANCELLED
    assert deleted(State(FAILED, "x")).phase == FAILED


# ---------------------------------------------------------------------------------------------
# pod identities


def pod(name, labels=None, annotations=None, container="worker", phase="Running", created=T1):
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": labels or {},
            "annotations": annotations or {},
            "creationTimestamp": created,
        },
        "spec": {"containers": [{"name": container}]},
        "status": {"phase": phase},
    }


def jobset_pod(rjob, job_index, global_index, completion, **kw):
    labels = {
        "jobset.sigs.k8s.io/replicatedjob-name": rjob,
        "jobset.sigs.k8s.io/job-index": str(job_index),
        "jobset.sigs.k8s.io/job-global-index": str(global_index),
        "batch.kubernetes.io/job-completion-index": str(completion),
    }
    return pod(f"js-{rjob}-{job_index}-{completion}-x", labels, **kw)


def test_jobset_pods_are_named_type_job_pod_and_rank0_is_global_index_0():
    pods = [
        jobset_pod("worker", 2, 3, 0),
        jobset_pod("worker", 0, 1, 0),
        jobset_pod("heavy", 0, 0, 0),
        jobset_pod("worker", 0, 1, 1),
    ]
    identified = kinds.identify("JobSet", pods)
    assert [key.prefix for key, _ in identified] == [
        "heavy-0-0",
        "worker-0-0",
        "worker-0-1",
        "worker-2-0",
    ]
    assert [key.prefix for key, _ in kinds.select_pods("JobSet", pods)] == ["heavy-0-0"]
    assert [
        key.prefix for key, _ in kinds.select_pods("JobSet", pods, type_="worker", index=0)
    ] == ["worker-0-0", "worker-0-1"]


def test_a_retried_pod_shows_only_the_newest():
    old = jobset_pod("worker", 0, 0, 0, phase="Failed", created=T1)
    new = jobset_pod("worker", 0, 0, 0, phase="Running", created=T2)
    new["metadata"]["name"] = "js-worker-0-0-y"
    [(_key, chosen)] = kinds.identify("JobSet", [new, old])
    assert chosen is new


def test_job_pods_by_completion_index():
    pods = [
        pod(f"j-{i}-x", annotations={"batch.kubernetes.io/job-completion-index": str(i)})
        for i in (2, 0, 1)
    ]
    assert [key.prefix for key, _ in kinds.identify("Job", pods)] == [
        "worker-0",
        "worker-1",
        "worker-2",
    ]


def test_rayjob_rank0_is_the_submitter_then_the_head():
    head = pod(
        "c-head-x", {"ray.io/node-type": "head", "ray.io/group": "headgroup"}, container="ray-head"
    )
    workers = [
        pod(f"c-gpu-{n}", {"ray.io/node-type": "worker", "ray.io/group": "gpu"}) for n in "ab"
    ]
    submitter = pod("rj-x", {"batch.kubernetes.io/job-name": "rj"}, container="ray-job-submitter")
    assert [k.prefix for k, _ in kinds.select_pods("RayJob", [*workers, head])] == ["head"]
    assert [k.prefix for k, _ in kinds.select_pods("RayJob", [*workers, head, submitter])] == [
        "submitter"
    ]
    assert [
        k.prefix for k, _ in kinds.select_pods("RayJob", [*workers, head], everything=True)
    ] == ["head", "gpu-0", "gpu-1"]


def test_pod_counts_per_type_and_phase():
    pods = [
        jobset_pod("worker", 0, 0, 0, phase="Running"),
        jobset_pod("worker", 1, 1, 0, phase="Pending"),
        jobset_pod("heavy", 0, 2, 0, phase="Succeeded"),
    ]
    assert kinds.pod_counts("JobSet", pods) == {
        "worker": {"Running": 1, "Pending": 1},
        "heavy": {"Succeeded": 1},
    }


def test_references_and_paths():
    assert kinds.parse_reference("five-workers") == (None, "five-workers")
    assert kinds.parse_reference("jobset/five-workers") == (kinds.JOBSET, "five-workers")
    assert kinds.parse_reference("rayjob.ray.io/x") == (kinds.RAYJOB, "x")
    assert kinds.parse_reference("jobs/x") == (kinds.JOB, "x")
    with pytest.raises(ValueError, match="unknown kind 'deployment'"):
        kinds.parse_reference("deployment/x")
    assert kinds.JOBSET.path("ns", "a") == "/apis/jobset.x-k8s.io/v1alpha2/namespaces/ns/jobsets/a"
    assert kinds.POD.path("ns", "p", "log") == "/api/v1/namespaces/ns/pods/p/log"
    assert kinds.JOB.short == "job.batch"


def test_age_reads_like_kubectl():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert kinds.age("2026-11-23T11:59:15Z", now) == "45s"
    assert kinds.age("2026-11-23T11:00:00Z", now) == "60m"
    assert kinds.age("2026-11-23T07:30:00Z", now) == "4h30m"
    assert kinds.age("2026-11-20T10:00:00Z", now) == "3d2h"
    assert kinds.age(None, now) == "-"


# ---------------------------------------------------------------------------------------------
# the submission record


def test_timestamp_suffix_is_runai_style():
    assert (
        timestamp_suffix(datetime(2026, 11, 23, 10, 50, 57, tzinfo=UTC)) == "-2026-11-23t10-50-57"
    )


def test_record_has_who_commit_dirty_and_image():
    assert record(GitState("abc", ("x.yaml",)), "img:1", "ann@host") == (
        ("manifest-compiler/submitted-by", "ann@host"),
        ("manifest-compiler/git-commit", "abc"),
        ("manifest-compiler/git-dirty", "true"),
        ("manifest-compiler/image", "img:1"),
    )
    assert record(GitState(None, problem="not a repo"), None, "ann@host") == (
        ("manifest-compiler/submitted-by", "ann@host"),
    )


def test_image_of_finds_the_first_container():
    obj = {
        "spec": {
            "replicatedJobs": [
                {
                    "template": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "initContainers": [],
                                    "containers": [{"name": "w", "image": "reg/img:2"}],
                                }
                            }
                        }
                    }
                }
            ]
        }
    }
    assert image_of(obj) == "reg/img:2"


# ---------------------------------------------------------------------------------------------
# the design rule: only compiler/cluster imports kubernetes, and never at module level


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_kubernetes_at_top_level():
    package = Path(__file__).resolve().parents[1] / "compiler"
    offenders = [str(p) for p in package.rglob("*.py") if "kubernetes" in _top_level_imports(p)]
    assert offenders == []


def test_only_the_cluster_package_mentions_the_kubernetes_client():
    package = Path(__file__).resolve().parents[1] / "compiler"
    users = {
        p.relative_to(package).parts[0]
        for p in package.rglob("*.py")
        if "from kubernetes" in p.read_text() or "import kubernetes" in p.read_text()
    }
    assert users <= {"cluster"}


@pytest.mark.parametrize(
    "args", [["--help"], ["examples/jobset-five-workers.yaml"], ["watch", "--help"]]
)
def test_the_kubernetes_client_is_not_loaded_without_a_cluster_to_talk_to(args):
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "compiler", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if "|" in line
    }
    assert "kubernetes" not in loaded
    assert "urllib3" not in loaded


def test_a_failed_jobset_says_which_pod_and_exit_code_failed_its_job():
    """Issue 22: JobSet's Failed message names only the first failed Job; `compile status` adds
    that Job's own reason, which names the pod and the exit code."""
    from compiler.cluster.jobs import Found, with_failed_job
    from compiler.cluster.kinds import JOBSET

    message = (
        "Container worker for pod ns/t-worker-0-0-abcde failed with exit code 42 matching "
        "FailJob rule at index 1"
    )
    jobs = [
        {"metadata": {"name": "t-master-0"}, "status": {"conditions": []}},
        {
            "metadata": {"name": "t-worker-0"},
            "status": {"conditions": [cond("Failed", reason="PodFailurePolicy", message=message)]},
        },
    ]

    class OneCall:
        def get(self, path, **query):
            assert path == "/apis/batch/v1/namespaces/ns/jobs"
            assert query == {"labelSelector": "jobset.sigs.k8s.io/jobset-name=t"}
            return {"items": jobs}

        def pages(self, path, **query):
            return iter(())  # its pods are gone

    jobset = {"metadata": {"name": "t", "namespace": "ns"}}
    state = State(FAILED, "FailJobSetFailurePolicyAction: … (first failed job: t-worker-0)")
    shown = with_failed_job(OneCall(), Found(JOBSET, jobset), state)
    assert shown.reason.endswith(f"; job t-worker-0: PodFailurePolicy: {message}")
    assert "t-worker-0-0-abcde" in shown.reason and "exit code 42" in shown.reason
    succeeded = State(SUCCEEDED, "Completed")
    assert with_failed_job(OneCall(), Found(JOBSET, jobset), succeeded) == succeeded


# ---------------------------------------------------------------------------------------------
# issue 24: why a job failed, when it started, times that never go backwards


def failed_pod(name, container, code, reason, finished="2026-11-23T10:00:00Z", **status):
    terminated = {"exitCode": code, "reason": reason, "finishedAt": finished}
    return {
        "metadata": {"name": name},
        "status": {
            "phase": "Failed",
            "containerStatuses": [{"name": container, "state": {"terminated": terminated}}],
            **status,
        },
    }


@pytest.mark.parametrize(
    "pod, says",
    [
        (
            failed_pod("t-worker-0-0-x", "worker", 137, "OOMKilled"),
            "pod t-worker-0-0-x container worker exited with code 137 (OOMKilled)",
        ),
        (
            failed_pod("t-worker-0-0-x", "worker", 42, "Error"),
            "pod t-worker-0-0-x container worker exited with code 42 (Error)",
        ),
        (
            {
                "metadata": {"name": "p"},
                "status": {
                    "phase": "Failed",
                    "reason": "Evicted",
                    "message": "The node was low on resource: memory.",
                },
            },
            "pod p Evicted: The node was low on resource: memory.",
        ),
        (
            {
                "metadata": {"name": "p"},
                "status": {"phase": "Failed", "reason": "DeadlineExceeded"},
            },
            "pod p DeadlineExceeded",
        ),
    ],
)
def test_a_failed_pod_says_its_container_exit_code_and_reason(pod, says):
    from compiler.cluster.state import pod_failure

    assert pod_failure([pod]) == says


def test_the_first_pod_to_fail_is_the_one_named():
    from compiler.cluster.state import pod_failure

    later = failed_pod("b", "worker", 143, "Error", finished="2026-11-23T10:05:00Z")
    first = failed_pod("a", "worker", 137, "OOMKilled", finished="2026-11-23T10:01:00+00:00")
    ok = {
        "metadata": {"name": "c"},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "w", "state": {"terminated": {"exitCode": 0}}}],
        },
    }
    assert pod_failure([ok, later, first]).startswith("pod a container worker")
    assert pod_failure([ok]) == ""
    stopped = failed_pod("z", "worker", 143, "Error", finished="2026-11-23T09:00:00Z")
    stopped["metadata"]["deletionTimestamp"] = "2026-11-23T10:06:00Z"  # by its controller
    assert pod_failure([stopped, later]).startswith("pod b container worker")


def test_a_restarted_container_that_was_oom_killed_is_named():
    from compiler.cluster.state import pod_failure

    pod = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "main",
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                }
            ],
        },
    }
    assert pod_failure([pod]) == "pod p container main exited with code 137 (OOMKilled)"


def test_a_failed_job_names_its_failing_pod():
    from compiler.cluster.jobs import Found, with_failed_job
    from compiler.cluster.kinds import JOB

    class Pods:
        def pages(self, path, **query):
            assert path == "/api/v1/namespaces/ns/pods"
            return iter([failed_pod("prep-0-abc", "prep", 3, "Error")])

    job = {"metadata": {"name": "prep", "namespace": "ns"}}
    state = State(FAILED, "BackoffLimitExceeded: Job has reached the specified backoff limit")
    shown = with_failed_job(Pods(), Found(JOB, job), state)
    assert shown.reason == (
        "BackoffLimitExceeded: Job has reached the specified backoff limit; "
        "pod prep-0-abc container prep exited with code 3 (Error)"
    )


def test_running_since_is_the_first_pod_start_and_none_before():
    from compiler.cluster.state import running_since

    pending = {"status": {"phase": "Pending"}}
    assert running_since([pending]) is None
    pods = [
        {"status": {"phase": "Running", "startTime": "2026-11-23T10:00:05Z"}},
        {"status": {"phase": "Succeeded", "startTime": "2026-11-23T10:00:02Z"}},
        pending,
    ]
    assert running_since(pods) == "2026-11-23T10:00:02Z"


def test_watch_lines_never_go_back_in_time():
    """Issue 24: `06:24:19Z Pending` then `06:24:18Z Preparing` (a Workload made a second after
    the Job started): each line's time is at least the one before."""
    from compiler.cluster.session import StateLines
    from compiler.cluster.state import PENDING, PREPARING, RUNNING

    lines: list[str] = []
    report = StateLines(lines.append, now=lambda: "2026-11-23T06:30:00Z")
    report(State(PENDING, "queued", "2026-11-23T06:24:19Z"))
    report(State(PREPARING, "admitted", "2026-11-23T06:24:18.5+00:00"))
    report(State(RUNNING, "1 pod ready", None))
    assert [line.split()[0] for line in lines] == [
        "2026-11-23T06:24:19Z",
        "2026-11-23T06:24:19Z",
        "2026-11-23T06:30:00Z",
    ]


@pytest.mark.parametrize(
    "text, seconds",
    [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1.5m", 90)],
)
def test_durations_read_as_kubectl_reads_them(text, seconds):
    from compiler.cli.common import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "5d", "m"])
def test_what_is_not_a_duration(text):
    from compiler.cli.common import parse_duration

    assert parse_duration(text) is None
