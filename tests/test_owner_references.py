"""Issue 13 item 12: the ports Service and the shared claim do not outlive their job. `submit`
applies them first (a pod must find its claim), then the job, then gives them the job as owner, so
that Kubernetes' garbage collector deletes them with it (a cancel, a TTL): ownerReferences need
the owner's UID, which only the API server knows."""

from __future__ import annotations

import json
from pathlib import Path

from example_support import run_cli

from compiler.cluster.client import ApiError
from compiler.cluster.session import Output, apply_objects


class RecordingKube:
    """Answers like an API server with nothing in it: GET is 404, an apply returns the object
    with a UID."""

    namespace = "team-a"

    def __init__(self):
        self.applied: list[dict] = []

    def request(self, method, path, query=None, body=None, content_type=None, timeout=None):
        if method == "GET":
            raise ApiError(404, "NotFound", f"{path} not found")
        assert method == "PATCH", method
        obj = json.loads(body)
        self.applied.append(obj)
        obj["metadata"]["uid"] = f"uid-of-{obj['kind']}-{obj['metadata']['name']}"
        return obj

    def get(self, path, **query):
        return self.request("GET", path, query)


def _objects(tmp_path: Path) -> list[dict]:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "name: served\nspec:\n  operator: kuberay\n  image: img\n  command: run\n"
        "  ports: {web: {container: 8222, external: 8222}}\n"
        "  storage: {sharedVolume: {mountPoint: /shared, sizeGB: 1}}\n"
        "  types:\n    Head: {resources: {cpus: 1, ramRatio: 1}}\n",
        encoding="utf-8",
    )
    result = run_cli("-o", "json", str(manifest))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["items"]


def test_companions_are_owned_by_the_job(tmp_path):
    kube = RecordingKube()
    found = apply_objects(
        kube, _objects(tmp_path), False, False, Output(lambda _: None, lambda _: None)
    )
    assert found.obj["kind"] == "RayJob"
    last = {o["kind"]: o for o in kube.applied}  # the last apply of each object
    for kind in ("Service", "PersistentVolumeClaim"):
        assert last[kind]["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayJob",
                "name": "served",
                "uid": "uid-of-RayJob-served",
            }
        ]
    kinds = [o["kind"] for o in kube.applied]
    assert kinds.index("RayJob") < len(kinds) - 1, "companions are re-applied after the job"
    assert kinds[0] != "RayJob", "companions exist before the job's pods look for them"


def test_a_dry_run_sets_no_owner(tmp_path):
    kube = RecordingKube()
    apply_objects(kube, _objects(tmp_path), False, True, Output(lambda _: None, lambda _: None))
    assert all("ownerReferences" not in o["metadata"] for o in kube.applied)
