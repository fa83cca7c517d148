"""responses.py: what a Kubernetes API server sends, checked before anything reads it. Each
wrong shape is named in one line with the URL; after the check, the pure code that reads objects
(the state machine, the waiting explanation, pod identities) raises nothing, whatever the values."""

from __future__ import annotations

import copy

import pytest

from compiler.cluster.errors import ClusterUnavailable, NotKubernetes
from compiler.cluster.kinds import pod_counts, select_pods
from compiler.cluster.responses import FIELDS, checked, checked_event, decoded, error_status
from compiler.cluster.state import state_of
from compiler.cluster.waiting import estimated_position, explain, quota_wait

URL = "https://127.0.0.1:6443/apis/jobset.x-k8s.io/v1alpha2/namespaces/a/jobsets/t"


@pytest.mark.parametrize(
    "data, kind, listing, why",
    [
        ([1, 2], None, None, "the answer is a JSON list, not a JSON object"),
        ("ok", None, None, "the answer is a string, not a JSON object"),
        (5, None, None, "the answer is a number, not a JSON object"),
        (None, None, None, "the answer is null, not a JSON object"),
        ({"kind": 5, "metadata": {"name": "t"}}, "JobSet", False, "kind is a number, not a string"),
        (
            {"kind": "JobSet", "metadata": []},
            "JobSet",
            False,
            "metadata is a JSON list, not an object",
        ),
        ({"kind": "JobSet"}, "JobSet", False, "metadata.name is missing"),
        ({"metadata": {"name": 5}}, None, False, "metadata.name is a number, not a string"),
        (
            {"metadata": {"name": "t", "labels": {"a": 1}}},
            None,
            False,
            "metadata.labels['a'] is a number, not a string",
        ),
        (
            {
                "metadata": {"name": "t"},
                "status": {"conditions": [{"type": "Ready", "message": 3}]},
            },
            None,
            False,
            "status.conditions[0].message is a number, not a string",
        ),
        (
            {"metadata": {"name": "t"}, "status": {"replicatedJobsStatus": [{"ready": "1"}]}},
            None,
            False,
            "status.replicatedJobsStatus[0].ready is a string, not a number",
        ),
        (
            {"metadata": {"name": "t"}, "spec": {"suspend": "no"}},
            None,
            False,
            "spec.suspend is a string, not a boolean",
        ),
        (
            {"kind": "Deployment", "metadata": {"name": "t"}},
            "JobSet",
            False,
            "kind is 'Deployment', not JobSet",
        ),
        ({"kind": "JobSetList", "items": "x"}, "JobSet", True, "items is a string, not a list"),
        (
            {"kind": "JobSetList", "items": [{"metadata": {}}]},
            "JobSet",
            True,
            "items[0].metadata.name is missing",
        ),
        (
            {"kind": "JobSetList", "metadata": {"continue": 1}, "items": []},
            "JobSet",
            True,
            "metadata.continue is a number, not a string",
        ),
        ({"metadata": {"name": "t"}, "items": []}, "JobSet", True, "kind is None, not JobSetList"),
        ({"kind": "JobSetList"}, "JobSet", True, "a list without items"),
    ],
)
def test_a_wrong_shape_is_named_with_the_url(data, kind, listing, why):
    with pytest.raises(NotKubernetes) as caught:
        checked(data, URL, kind, listing)
    assert caught.value.line == f"not a Kubernetes API server: {URL}: {why}"


def test_html_and_other_text_are_not_json():
    with pytest.raises(NotKubernetes, match="the answer is HTML"):
        decoded(b"<html></html>", "text/html", URL)
    with pytest.raises(NotKubernetes, match="the answer is HTML"):
        decoded(b"  <!doctype html>", "application/json", URL)
    with pytest.raises(NotKubernetes, match=r"not JSON \(text/plain\): 'hello'"):
        decoded(b"hello", "text/plain", URL)


def test_an_error_needs_a_status_except_go_s_404():
    assert error_status(b"404 page not found\n", "text/plain", URL) is None
    status = b'{"kind": "Status", "code": 404, "message": "x", "details": {"name": "t"}}'
    assert error_status(status, "application/json", URL)["details"] == {"name": "t"}
    with pytest.raises(NotKubernetes, match="without a Kubernetes Status"):
        error_status(b'{"message": "x"}', "application/json", URL)
    with pytest.raises(NotKubernetes, match="HTML"):
        error_status(b"<html>404</html>", "text/html", URL)


def test_watch_events_are_checked():
    kind, obj = checked_event(b'{"type": "ADDED", "object": {"metadata": {"name": "t"}}}', URL)
    assert (kind, obj) == ("ADDED", {"metadata": {"name": "t"}})
    bookmark = (
        b'{"type": "BOOKMARK", "object": {"kind": "JobSet", "metadata": {"resourceVersion": "12"}}}'
    )
    assert (
        checked_event(bookmark, URL, "JobSet")[0] == "BOOKMARK"
    )  # no name: as the server sends it
    error = checked_event(b'{"type": "ERROR", "object": {"kind": "Status", "code": 410}}', URL)
    assert error == ("ERROR", {"kind": "Status", "code": 410})
    for line, why in [
        (b"[]", "a watch event is a JSON list"),
        (b'{"type": "CHANGED", "object": {}}', "a watch event has type 'CHANGED'"),
        (b'{"type": "ADDED", "object": 5}', "a watch event's object is a number"),
        (
            b'{"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "t"}}}',
            "kind is 'Pod'",
        ),
    ]:
        with pytest.raises(NotKubernetes, match=why):
            checked_event(line, URL, "JobSet")


# ---------------------------------------------------------------------------------------------
# after the check, the pure code raises nothing: real objects with fields of every wrong type


def _condition(type_, status="True", **more):
    return {"type": type_, "status": status, "lastTransitionTime": "2026-12-01T10:00:00Z", **more}


SAMPLES = {
    "JobSet": {
        "kind": "JobSet",
        "metadata": {
            "name": "t",
            "namespace": "a",
            "uid": "u",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"kueue.x-k8s.io/queue-name": "q"},
            "deletionTimestamp": None,
        },
        "spec": {"suspend": False},
        "status": {
            "terminalState": "Completed",
            "restarts": 1,
            "conditions": [_condition("Completed", reason="Done", message="ok")],
            "replicatedJobsStatus": [
                {"name": "w", "ready": 1, "succeeded": 0, "failed": 0, "active": 1}
            ],
        },
    },
    "Job": {
        "kind": "Job",
        "metadata": {
            "name": "t",
            "namespace": "a",
            "ownerReferences": [{"kind": "JobSet", "name": "x", "uid": "u"}],
        },
        "spec": {"suspend": True},
        "status": {
            "ready": 1,
            "active": 1,
            "startTime": "2026-12-01T10:00:00Z",
            "uncountedTerminatedPods": {"succeeded": ["a"], "failed": []},
            "conditions": [_condition("FailureTarget", reason="BackoffLimitExceeded")],
        },
    },
    "RayJob": {
        "kind": "RayJob",
        "metadata": {"name": "t", "namespace": "a"},
        "spec": {"suspend": False},
        "status": {
            "jobDeploymentStatus": "Complete",
            "jobStatus": "STOPPED",
            "reason": "r",
            "message": "m",
            "endTime": "2026-12-01T10:00:00Z",
            "failed": 2,
            "rayClusterName": "c",
        },
    },
}
WORKLOAD = {
    "kind": "Workload",
    "metadata": {"name": "w", "namespace": "a", "creationTimestamp": "2026-12-01T10:00:00Z"},
    "spec": {"queueName": "q", "priority": 3},
    "status": {
        "conditions": [
            _condition("QuotaReserved", "False", reason="Pending", message="no room"),
            _condition("Evicted", reason="Preempted", message="taken back"),
        ]
    },
}
POD = {
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "labels": {
            "jobset.sigs.k8s.io/replicatedjob-name": "w",
            "batch.kubernetes.io/job-completion-index": "0",
        },
    },
    "spec": {"containers": [{"name": "c"}]},
    "status": {
        "phase": "Pending",
        "conditions": [
            _condition("PodScheduled", "False", reason="Unschedulable", message="0/1 nodes")
        ],
    },
}
WRONG = [0, 1.5, True, "x", "", [], [1, "a", None], {}, {"a": 1}, None]


def _places(node, path=()):
    """Every (path, container) of a nested object."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), node
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index), node
            yield from _places(value, (*path, index))


def _read_everything(kind: str, obj: dict, workload: dict, pod: dict) -> None:
    state = state_of(obj, workload)
    explain(state, workload, None, [pod])
    quota_wait(workload, None)
    estimated_position(workload, [workload, WORKLOAD])
    select_pods(kind, [pod, POD], everything=True)
    pod_counts(kind, [pod])


@pytest.mark.parametrize("kind", SAMPLES)
def test_what_passes_the_check_is_read_without_an_exception(kind):
    """Every field of a real object, in turn, given every wrong value: either the check names it,
    or the state machine and the explanations read it without an exception."""
    passed = 0
    for target in ("obj", "workload", "pod"):
        base = {"obj": SAMPLES[kind], "workload": WORKLOAD, "pod": POD}[target]
        for path, _ in list(_places(base)):
            for wrong in WRONG:
                mutated = copy.deepcopy(base)
                node = mutated
                for step in path[:-1]:
                    node = node[step]
                node[path[-1]] = copy.deepcopy(wrong)
                expected = {"obj": kind, "workload": "Workload", "pod": "Pod"}[target]
                try:
                    checked(mutated, URL, expected, False)
                except NotKubernetes:
                    continue
                passed += 1
                objects = {"obj": SAMPLES[kind], "workload": WORKLOAD, "pod": POD, target: mutated}
                _read_everything(kind, objects["obj"], objects["workload"], objects["pod"])
    assert passed > 0  # the mutations that are still Kubernetes objects were read


def test_every_listed_field_is_reached_by_a_rule():
    assert ("metadata", "name") in FIELDS and ("status", "conditions", "*", "message") in FIELDS


# ---------------------------------------------------------------------------------------------
# a followed log that goes quiet is opened again from its last line's time, no line twice


class QuietLog:
    """A log stream that is silent after some lines, each time it is opened."""

    timeout = 1.0

    def __init__(self, streams):
        self.streams = streams
        self.queries = []

    def stream_lines(self, path, query, silence=None):
        from compiler.cluster.client import StreamSilent

        self.queries.append(dict(query))
        lines, then = self.streams[len(self.queries) - 1]
        yield from (line.encode() for line in lines)
        if then == "silent":
            raise StreamSilent("said nothing for 1s")
        if then == "refused":
            raise ClusterUnavailable("Connection refused")


def test_a_quiet_followed_log_is_opened_again_without_repeating_a_line():
    from compiler.cluster.logs import _follow_log

    kube = QuietLog(
        [
            (["2026-12-01T10:00:00.1Z a", "2026-12-01T10:00:00.1Z b"], "silent"),
            # opened again from 10:00:00: the server sends that second again
            (
                [
                    "2026-12-01T10:00:00.1Z a",
                    "2026-12-01T10:00:00.1Z b",
                    "2026-12-01T10:00:00.1Z c",
                    "2026-12-01T10:00:01.25Z d",
                ],
                "refused",
            ),
            (["2026-12-01T10:00:01.25Z d", "2026-12-01T10:00:02Z e"], "end"),
        ]
    )
    printed = []
    _follow_log(kube, "/api/v1/namespaces/a/pods/p/log", "c", printed.append, sleep=lambda s: None)
    assert printed == ["a", "b", "c", "d", "e"]
    assert [q.get("sinceTime") for q in kube.queries] == [
        None,
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:01Z",
    ]
    assert all(q["timestamps"] == "true" and q["follow"] == "true" for q in kube.queries)


def test_a_followed_log_of_a_pod_that_ended_is_read_once_more_and_left():
    """Some servers (kwok) keep a finished container's stream open: when it goes quiet and the
    pod has ended, the log is read once more without following, and the command ends."""
    from compiler.cluster.logs import _follow_log

    kube = QuietLog([(["a"], "silent"), (["a", "b"], "end")])
    printed = []
    _follow_log(kube, "/log", "c", printed.append, ended=lambda: True)
    assert printed == ["a", "b"]
    assert [q["follow"] for q in kube.queries] == ["true", None]


def test_a_followed_log_without_timestamps_is_opened_again_from_the_start():
    from compiler.cluster.logs import _follow_log

    kube = QuietLog(
        [(["a", "b"], "silent"), (["a", "b", "c"], "silent"), (["a", "b", "c", "d"], "end")]
    )
    printed = []
    _follow_log(kube, "/log", "c", printed.append, sleep=lambda s: None)
    assert printed == ["a", "b", "c", "d"]
    assert [q.get("sinceTime") for q in kube.queries] == [None, None, None]


def test_a_followed_log_whose_server_stays_away_is_given_up():
    from compiler.cluster.logs import _follow_log

    kube = QuietLog([([], "refused")] * 1000)
    clock = iter(range(1000))
    with pytest.raises(ClusterUnavailable, match="gave up after 1s"):
        _follow_log(kube, "/log", "c", print, sleep=lambda s: None, clock=lambda: next(clock))
    assert len(kube.queries) == 3  # failing at 0, 1, then 2 s: more than 1 s
