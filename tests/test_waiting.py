"""'Why is my job waiting?' told from recorded objects: Kueue Workloads (conditions and messages as
Kueue v0.19.2 writes them: pkg/scheduler/flavorassigner/flavorassigner.go, apis/kueue/v1beta2/
workload_types.go), the visibility API's PendingWorkloadsSummary, and pods the scheduler could
not place (kube-scheduler's PodScheduled=False/Unschedulable message)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from compiler.cluster.jobs import Explained
from compiler.cluster.kinds import JOBSET
from compiler.cluster.state import PENDING, PREPARING, RUNNING, SUCCEEDED, State, state_of
from compiler.cluster.waiting import (
    Position,
    estimated_position,
    explain,
    ordinal,
    position_from_visibility,
)
from compiler.cluster.watch import Follower

INSUFFICIENT = (
    "couldn't assign flavors to pod set worker: insufficient unused quota for nvidia.com/gpu "
    "in flavor default, 4 more needed"
)
UNSCHEDULABLE = (
    "0/4 nodes are available: 4 Insufficient cpu. preemption: 0/4 nodes are available: "
    "4 No preemption victims found for incoming pod."
)


def workload(name, created, reserved=None, priority=0, queue="team-a", **conditions):
    """A Workload as Kueue v1beta2 stores it; ``reserved`` is the QuotaReserved condition."""
    listed = []
    if reserved is not None:
        listed.append({"type": "QuotaReserved", "lastTransitionTime": created, **reserved})
    for kind, condition in conditions.items():
        listed.append({"type": kind, "lastTransitionTime": created, **condition})
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {
            "name": f"jobset-{name}-5f2c1",
            "namespace": "team-a",
            "creationTimestamp": created,
            "labels": {"kueue.x-k8s.io/job-uid": f"uid-{name}"},
        },
        "spec": {
            "queueName": queue,
            "priority": priority,
            "podSets": [{"name": "worker", "count": 1}],
        },
        "status": {"conditions": listed},
    }


WAITING = {"status": "False", "reason": "WaitingForQuota", "message": INSUFFICIENT}
EVALUATING = {
    "status": "False",
    "reason": "PendingEvaluation",
    "message": "Workload is pending evaluation in the scheduling queue",
}
ADMITTED = {
    "status": "True",
    "reason": "QuotaReserved",
    "message": "Quota reserved in ClusterQueue team-a",
}


def jobset(name="train-3", suspend=True, replicated=None, conditions=()):
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": f"uid-{name}",
            "creationTimestamp": "2026-12-01T10:02:00Z",
            "labels": {"kueue.x-k8s.io/queue-name": "team-a"},
            "resourceVersion": "10",
        },
        "spec": {"suspend": suspend, "replicatedJobs": [{"name": "worker", "replicas": 1}]},
        "status": {
            "replicatedJobsStatus": replicated or [],
            "conditions": list(conditions),
        },
    }


def pod(name, phase="Pending", scheduled=None):
    conditions = [] if scheduled is None else [{"type": "PodScheduled", **scheduled}]
    return {"metadata": {"name": name}, "status": {"phase": phase, "conditions": conditions}}


def unschedulable_pod(name="train-3-worker-0-0-abcde"):
    return pod(
        name, scheduled={"status": "False", "reason": "Unschedulable", "message": UNSCHEDULABLE}
    )


# ---------------------------------------------------------------------------------------------
# waiting for quota


def test_a_job_waiting_for_quota_says_kueues_message_and_its_place():
    first = workload("train-1", "2026-12-01T10:00:00Z", ADMITTED, Admitted=ADMITTED)
    second = workload("train-2", "2026-12-01T10:01:00Z", EVALUATING)
    third = workload("train-3", "2026-12-01T10:02:00Z", WAITING)
    position = estimated_position(third, [third, first, second])
    assert position == Position(1, 2, estimated=True)  # train-1 holds quota: not in line
    state = explain(state_of(jobset(), third), third, position)
    assert state.phase == PENDING
    assert state.reason == (
        "waiting in queue team-a, 2nd in line, 1 job ahead: insufficient unused quota for "
        "nvidia.com/gpu in flavor default, 4 more needed"
    )


def test_kueues_message_is_told_under_the_legacy_reason_too():
    """Without the granular reasons Kueue writes reason Pending with the same message."""
    legacy = workload("train-3", "2026-12-01T10:02:00Z", {**WAITING, "reason": "Pending"})
    state = explain(State(PENDING, "queued"), legacy, Position(0, 1))
    assert state.reason == (
        "waiting in queue team-a, 1st in line: insufficient unused quota for nvidia.com/gpu in "
        "flavor default, 4 more needed"
    )


def test_the_head_of_the_queue_is_first_in_line():
    head = workload("train-2", "2026-12-01T10:01:00Z", WAITING)
    state = explain(State(PENDING, "queued"), head, estimated_position(head, [head]))
    assert state.reason.startswith("waiting in queue team-a, 1st in line: insufficient unused")


def test_behind_the_head_under_strict_fifo_jobs_ahead_go_first():
    head = workload("train-2", "2026-12-01T10:01:00Z", WAITING)
    behind = workload("train-3", "2026-12-01T10:02:00Z", EVALUATING)
    state = explain(State(PENDING, "queued"), behind, estimated_position(behind, [behind, head]))
    assert (
        state.reason
        == "waiting in queue team-a, 2nd in line, 1 job ahead: jobs ahead of it go first"
    )


def test_higher_priority_goes_ahead_of_older_jobs():
    old = workload("old", "2026-12-01T09:00:00Z", WAITING)
    urgent = workload("urgent", "2026-12-01T11:00:00Z", EVALUATING, priority=1000)
    assert estimated_position(old, [old, urgent]).index == 1
    assert estimated_position(urgent, [old, urgent]).index == 0


def test_other_queues_do_not_count():
    mine = workload("mine", "2026-12-01T11:00:00Z", WAITING)
    other = workload("other", "2026-12-01T09:00:00Z", WAITING, queue="team-b")
    assert estimated_position(mine, [other, mine]) == Position(0, 1, estimated=True)


def test_position_from_the_visibility_api():
    mine = workload("train-3", "2026-12-01T10:02:00Z", WAITING)
    summary = {
        "kind": "PendingWorkloadsSummary",
        "apiVersion": "visibility.kueue.x-k8s.io/v1beta2",
        "items": [
            {
                "metadata": {"name": "jobset-train-2-5f2c1", "namespace": "team-a"},
                "priority": 0,
                "localQueueName": "team-a",
                "positionInClusterQueue": 0,
                "positionInLocalQueue": 0,
            },
            {
                "metadata": {"name": "jobset-train-3-5f2c1", "namespace": "team-a"},
                "priority": 0,
                "localQueueName": "team-a",
                "positionInClusterQueue": 1,
                "positionInLocalQueue": 1,
            },
        ],
    }
    assert position_from_visibility(mine, summary) == Position(1, 2)


def test_a_job_that_can_never_fit_says_so():
    never = workload(
        "huge",
        "2026-12-01T10:00:00Z",
        {
            "status": "False",
            "reason": "ExceedsMaxQuota",
            "message": "couldn't assign flavors to pod set worker: insufficient quota for "
            "nvidia.com/gpu in flavor default, previously considered podsets requests (0) + "
            "current podset request (32) > maximum capacity (24)",
        },
    )
    state = explain(State(PENDING, "queued"), never, Position(0, 1))
    assert state.reason == (
        "never admitted by queue team-a: it asks more than the quota can ever give "
        "(insufficient quota for nvidia.com/gpu in flavor default, previously considered podsets "
        "requests (0) + current podset request (32) > maximum capacity (24))"
    )


def test_kueue_0_19s_pending_reason_over_maximum_capacity_is_never_admitted():
    """Kueue v0.19.2 reports a request beyond what the queue can ever hold with reason
    `Pending` (not ExceedsMaxQuota): its message says `> maximum capacity`."""
    never = workload(
        "huge",
        "2026-12-01T10:00:00Z",
        {
            "status": "False",
            "reason": "Pending",
            "message": "couldn't assign flavors to pod set worker: insufficient quota for "
            "nvidia.com/gpu in flavor default, previously considered podsets requests (0) + "
            "current podset request (32) > maximum capacity (24)",
        },
    )
    state = explain(State(PENDING, "queued"), never, Position(0, 1))
    assert state.reason.startswith(
        "never admitted by queue team-a: it asks more than the quota can ever give (insufficient"
    )


def test_an_evicted_job_says_why_and_where_it_waits_again():
    evicted = workload(
        "borrower",
        "2026-12-01T10:00:00Z",
        WAITING,
        Evicted={
            "status": "True",
            "reason": "Preempted",
            "message": "Preempted to accommodate a workload (UID: 1234) due to reclamation within the cohort",
        },
    )
    state = explain(state_of(jobset(), evicted), evicted, Position(0, 1))
    assert state.reason.startswith(
        "evicted by Kueue (Preempted to accommodate a workload (UID: 1234) due to reclamation "
        "within the cohort); waiting in queue team-a, 1st in line: insufficient unused quota"
    )


def test_a_missing_local_queue_is_named():
    lost = workload(
        "lost",
        "2026-12-01T10:00:00Z",
        {"status": "False", "reason": "Inadmissible", "message": "LocalQueue team-x doesn't exist"},
        queue="team-x",
    )
    state = explain(State(PENDING, "queued"), lost, None)
    assert state.reason == "waiting in queue team-x: LocalQueue team-x doesn't exist"


# ---------------------------------------------------------------------------------------------
# admitted, but the scheduler cannot place the pods


def test_an_admitted_job_whose_pods_do_not_fit_gives_the_schedulers_verdict():
    admitted = workload("train-3", "2026-12-01T10:02:00Z", ADMITTED, Admitted=ADMITTED)
    state = state_of(jobset(suspend=False), admitted)
    assert state.phase == PREPARING
    explained = explain(state, admitted, pods=[unschedulable_pod(), unschedulable_pod("b")])
    assert explained.reason == f"admitted by Kueue, but 2 pods cannot be scheduled: {UNSCHEDULABLE}"


def test_a_running_job_with_a_pod_that_fits_no_node():
    """The issue's case: a 60-CPU pod that fits no node, beside 7 pods that succeeded."""
    running = jobset(
        suspend=False,
        replicated=[{"name": "worker", "ready": 0, "succeeded": 7, "failed": 0, "active": 1}],
    )
    state = state_of(running)
    pods = [pod(f"w-{i}", "Succeeded") for i in range(7)] + [unschedulable_pod("heavy")]
    explained = explain(state, None, pods=pods)
    assert explained.phase == RUNNING
    assert (
        explained.reason == f"0 jobs ready, 7 succeeded; 1 pod cannot be scheduled: {UNSCHEDULABLE}"
    )


def test_pods_that_are_scheduled_or_running_say_nothing():
    state = State(PREPARING, "1 job starting")
    pods = [pod("a", "Running"), pod("b", scheduled={"status": "True"})]
    assert explain(state, None, pods=pods) == state


def test_a_finished_job_is_told_as_it_is():
    done = State(SUCCEEDED, "AllJobsCompleted")
    assert explain(done, workload("x", "2026-12-01T10:00:00Z", WAITING), Position(3)) == done


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "111th",
    ]


def test_the_list_column():
    assert Explained(State(PENDING), "team-a", Position(1, 3)).queue_column == "team-a 2/3"
    assert Explained(State(RUNNING), "team-a").queue_column == "team-a"
    assert Explained(State(RUNNING)).queue_column == "-"


# ---------------------------------------------------------------------------------------------
# compile watch: a waiting job's explanation is looked at again, and a change is reported


class RecordedCluster:
    """Answers the follower's requests from recorded objects; the Workload moves up the queue."""

    def __init__(self):
        self.job = jobset()
        self.ahead = workload("train-2", "2026-12-01T10:01:00Z", WAITING)
        self.mine = workload("train-3", "2026-12-01T10:02:00Z", EVALUATING)
        self.rounds = 0

    def get(self, path, **query):
        if path.startswith("/apis/visibility"):
            from compiler.cluster.client import ApiError

            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if "workloads" in path:
            if query.get("labelSelector") == "kueue.x-k8s.io/job-uid=uid-train-3":
                return {"items": [copy.deepcopy(self.mine)]}
            return {"items": [copy.deepcopy(self.ahead), copy.deepcopy(self.mine)]}
        if path.endswith("/pods"):
            return {"items": []}
        return {"metadata": {"resourceVersion": "10"}, "items": [copy.deepcopy(self.job)]}

    def pages(self, path, **query):
        yield from self.get(path, **query)["items"]

    def events(self, path, query, silence=None):
        self.rounds += 1
        assert query["timeoutSeconds"] == "15"  # a waiting job is looked at again soon
        if self.rounds == 1:  # train-2 was admitted: train-3 heads the queue, still no room
            self.ahead = workload("train-2", "2026-12-01T10:01:00Z", ADMITTED, Admitted=ADMITTED)
            self.mine = workload("train-3", "2026-12-01T10:02:00Z", WAITING)
            return iter([])
        done = jobset(suspend=False, conditions=[{"type": "Completed", "status": "True"}])
        done["metadata"]["resourceVersion"] = "11"
        return iter([("MODIFIED", done)])


def test_watch_reports_where_a_waiting_job_stands_as_it_changes():
    from compiler.cluster.jobs import Found, explain_observed

    cluster = RecordedCluster()
    reported = []
    follower = Follower(
        cluster,
        JOBSET,
        "team-a",
        "train-3",
        reported.append,
        explain=lambda obj, state, wl: (
            explain_observed(cluster, Found(JOBSET, obj), state, wl).state
        ),
    )
    follower.run(sleep=lambda seconds: None)
    assert reported[1].since is None  # a new explanation is told as of when it was seen
    assert [(s.phase, s.reason) for s in reported] == [
        (PENDING, "waiting in queue team-a, 2nd in line, 1 job ahead: jobs ahead of it go first"),
        (
            PENDING,
            "waiting in queue team-a, 1st in line: insufficient unused quota for nvidia.com/gpu "
            "in flavor default, 4 more needed",
        ),
        (SUCCEEDED, "Completed"),
    ]


# ---------------------------------------------------------------------------------------------
# compile list: Kueue's view of the namespace is read once, not for every job


class QueuedNamespace:
    """``count`` JobSets queued in team-a, none admitted; records every request."""

    def __init__(self, count: int, visibility: bool):
        self.count, self.visibility, self.requests = count, visibility, []
        self.jobs = []
        self.workloads = []
        for n in range(count):
            job = jobset()
            job["metadata"].update(
                name=f"train-{n}", uid=f"uid-{n}", creationTimestamp=f"2026-12-01T10:{n:02d}:00Z"
            )
            self.jobs.append(job)
            load = workload(f"train-{n}", f"2026-12-01T10:{n:02d}:00Z", WAITING)
            load["metadata"]["labels"] = {"kueue.x-k8s.io/job-uid": f"uid-{n}"}
            self.workloads.append(load)

    def get(self, path, **query):
        from compiler.cluster.client import ApiError

        self.requests.append(path)
        if path.startswith("/apis/visibility") and self.visibility:
            items = [
                {"metadata": {"name": w["metadata"]["name"]}, "positionInLocalQueue": i}
                for i, w in enumerate(self.workloads)
            ]
            return {"items": items}
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def pages(self, path, **query):
        self.requests.append(path)
        if path.endswith("/jobsets"):
            yield from copy.deepcopy(self.jobs)
        elif path.endswith("/workloads"):
            yield from copy.deepcopy(self.workloads)


@pytest.mark.parametrize("visibility", [True, False])
def test_list_reads_kueue_once_for_the_namespace(visibility):
    from compiler.cluster.jobs import job_rows

    cluster = QueuedNamespace(12, visibility)
    rows = job_rows(cluster, "team-a")
    assert [row.queue for row in rows] == [f"team-a {n + 1}/12" for n in range(12)]
    assert rows[2].reason.startswith("waiting in queue team-a, 3rd in line, 2 jobs ahead")
    # pods, jobsets, rayjobs, jobs, workloads, and the queue's order: the same for 12 or 12,000
    assert len(cluster.requests) == 6, cluster.requests


# ---------------------------------------------------------------------------------------------
# waiting for room in the topology (Kueue's topology-aware scheduling)

RACK = "cloud.google.com/gce-topology-subblock"
RECORDED = Path(__file__).parent / "data" / "kueue"


def placed_workload(name, message, topology_request, count=4):
    """A Workload of the testbed's topology plane, as Kueue v0.19.2 recorded it for a JobSet whose
    pod template asks for a rack (tests/cluster/test_placement.py)."""
    recorded = workload(
        name, "2026-12-07T18:14:21Z", {**WAITING, "reason": "Pending", "message": message}
    )
    recorded["spec"]["podSets"] = [
        {
            "name": "worker",
            "count": count,
            "topologyRequest": {
                "podIndexLabel": "batch.kubernetes.io/job-completion-index",
                "subGroupCount": count,
                "subGroupIndexLabel": "jobset.sigs.k8s.io/job-index",
                **topology_request,
            },
        }
    ]
    return recorded


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def test_a_job_no_rack_can_hold_waits_for_the_topology_not_for_quota():
    """The Workload Kueue v0.19.2 wrote for a 4-pod pytorch JobSet with `placement: {within:
    rack}` of 3-CPU pods on the testbed's topology plane (racks of two 4-CPU hosts), recorded."""
    waiting = recorded("workload-waiting-for-a-rack.json")
    state = explain(State(PENDING, "queued"), waiting, Position(0, 1))
    assert state.reason == (
        "waiting in queue team-a, 1st in line, for room in the topology, not for quota: pod set "
        f'worker wants its 4 pods in one {RACK}; topology "default" allows to fit only 2 out '
        "of 4 pod(s)"
    )


def test_kueues_excluded_nodes_are_told_too():
    waiting = placed_workload(
        "big",
        'couldn\'t assign flavors to pod set worker: topology "default" allows to fit only 2 out '
        'of 4 pod(s). Total nodes: 8; excluded: resource "cpu": 2',
        {"required": RACK},
    )
    state = explain(state_of(jobset(), waiting), waiting, Position(0, 1))
    assert state.phase == PENDING
    assert state.reason.endswith(
        'allows to fit only 2 out of 4 pod(s). Total nodes: 8; excluded: resource "cpu": 2'
    )


def test_a_job_whose_jobs_each_want_a_rack_says_so_with_kueues_slice_count():
    waiting = placed_workload(
        "sliced",
        "couldn't assign flavors to pod set worker: topology \"default\" doesn't allow to fit "
        "any of 2 slice(s)",
        {"podSetSliceRequiredTopology": RACK, "podSetSliceSize": 4},
        count=8,
    )
    state = explain(State(PENDING, "queued"), waiting, None)
    assert state.reason == (
        "waiting in queue team-a, for room in the topology, not for quota: pod set worker wants "
        f'its 8 pods in groups of 4, each group in one {RACK}; topology "default" doesn\'t '
        "allow to fit any of 2 slice(s)"
    )


def test_a_quota_wait_of_a_placed_job_stays_a_quota_wait():
    waiting = placed_workload("over", INSUFFICIENT, {"required": RACK})
    state = explain(State(PENDING, "queued"), waiting, Position(0, 1))
    assert state.reason == (
        "waiting in queue team-a, 1st in line: insufficient unused quota for nvidia.com/gpu in "
        "flavor default, 4 more needed"
    )
