"""compile verify's pure core: server-side apply's fieldsV1, drift and its ignore rules, the
policy digest and the objects compiled under other policies than today's."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli.app import cli
from compiler.emit.workload import RULES_DIGEST_ANNOTATION, VERSION_ANNOTATION
from compiler.inputs import compile_paths, load_inputs
from compiler.provenance import COMPILER_VERSION, rules_digest
from compiler.verify.drift import CHANGED, MISSING, NOT_COMPILED, compare
from compiler.verify.fields import BadFields, owned_leaves, owners, parse_step, render
from compiler.verify.rules import UNRECORDED, stale_groups

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
RECORD = ("manifest-compiler/submitted-by",)
IMAGE_PATH = (
    "spec.replicatedJobs[name=worker].template.spec.template.spec.containers[name=worker].image"
)


def compiled(example: str, *, policies=EXAMPLES / "policies") -> list[dict]:
    _, units, diagnostics = compile_paths(
        [str(EXAMPLES / example)],
        policies=(str(policies),),
        templates=(str(EXAMPLES / "templates"),),
    )
    assert not [d for d in diagnostics if d.is_error], diagnostics
    return [obj for unit in units for obj in unit.objects]


def jobset() -> dict:
    [obj] = [o for o in compiled("jobset-heavy-and-workers.yaml") if o["kind"] == "JobSet"]
    return obj


# ---------------------------------------------------------------------------------------------
# what server-side apply records: a fieldsV1 tree from the object itself, as the API server
# would write it for an apply of exactly that object (lists of named items keyed by name)


def fields_of(value) -> dict:
    if isinstance(value, dict) and value:
        return {f"f:{key}": fields_of(child) for key, child in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        return {
            f"k:{json.dumps({'name': item['name']})}": {
                ".": {},
                **{f"f:{k}": fields_of(v) for k, v in item.items()},
            }
            for item in value
        }
    return {}


def managed(manager: str, fields: dict, operation: str = "Apply") -> dict:
    return {
        "manager": manager,
        "operation": operation,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def live_of(obj: dict, *entries: dict) -> dict:
    live = copy.deepcopy(obj)
    owned = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    live["metadata"]["managedFields"] = [managed("manifest-compiler", fields_of(owned)), *entries]
    live["metadata"]["uid"] = "0b5c"
    live["metadata"]["resourceVersion"] = "42"
    live["status"] = {"replicatedJobsStatus": [{"name": "worker", "ready": 7}]}
    return live


def pod_spec(obj: dict, replicated_job: int = 1) -> dict:
    return obj["spec"]["replicatedJobs"][replicated_job]["template"]["spec"]["template"]["spec"]


# ---------------------------------------------------------------------------------------------
# fieldsV1


def test_every_fieldsv1_key_form_is_read():
    assert parse_step("f:spec") == ("f", "spec")
    assert parse_step('k:{"name":"worker","port":1}') == ("k", (("name", "worker"), ("port", 1)))
    assert parse_step('v:"finalizer.example"') == ("v", "finalizer.example")
    assert parse_step("i:3") == ("i", 3)
    tree = {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {
            "f:containers": {'k:{"name":"main"}': {".": {}, "f:image": {}}},
            "f:finalizers": {'v:"x"': {}},
            "f:args": {},
        },
    }
    leaves, keys = owned_leaves(tree)
    assert {render(path) for path in leaves} == {
        "metadata.labels.a",
        "spec.containers[name=main].image",
        'spec.finalizers["x"]',
        "spec.args",
    }
    assert keys == {(("f", "spec"), ("f", "containers")): ("name",)}
    assert render((("f", "metadata"), ("f", "annotations"), ("f", "a/b"))) == (
        'metadata.annotations["a/b"]'
    )


@pytest.mark.parametrize("key", ["x:spec", "spec", 'k:["a"]', "k:{not json", "i:one"])
def test_a_malformed_fieldsv1_key_is_refused(key):
    with pytest.raises(BadFields):
        owners({"metadata": {"managedFields": [managed("m", {key: {}})]}})


# ---------------------------------------------------------------------------------------------
# drift


def test_an_object_as_applied_has_no_drift_whatever_the_controllers_add():
    obj = jobset()
    live = live_of(obj)
    live["spec"]["suspend"] = False  # Kueue admitted it
    pod_spec(live)["nodeSelector"] = {"cloud.google.com/gke-nodepool": "flavor-a"}
    pod_spec(live)["containers"][0]["terminationMessagePath"] = "/dev/termination-log"  # default
    kueue = managed(
        "kueue",
        {"f:spec": {"f:suspend": {}, "f:replicatedJobs": {}}},
        operation="Update",
    )
    result = compare(obj, live, RECORD)
    assert result.found and result.differences == ()
    assert compare(obj, live_of(obj, kueue), RECORD).drifted is False


def test_a_changed_value_is_reported_with_its_path_both_values_and_who_changed_it():
    obj = jobset()
    live = live_of(obj)
    pod_spec(live)["containers"][0]["image"] = "registry.example.com/other:6.6"
    live["metadata"]["labels"]["manifest-compiler/workload"] = "renamed"
    result = compare(obj, live, RECORD)
    assert result.drifted
    found = {d.path: d for d in result.differences}
    assert found[IMAGE_PATH].kind == CHANGED
    assert found[IMAGE_PATH].compiled == pod_spec(obj)["containers"][0]["image"]
    assert found[IMAGE_PATH].live == "registry.example.com/other:6.6"
    assert found[IMAGE_PATH].managers == ("manifest-compiler",)
    label = found['metadata.labels["manifest-compiler/workload"]']
    assert (label.compiled, label.live) == ("heavy-and-workers", "renamed")


def test_a_field_removed_by_someone_else_is_missing():
    obj = jobset()
    live = live_of(obj)
    del live["metadata"]["labels"]["manifest-compiler/workload"]
    [difference] = compare(obj, live, RECORD).differences
    assert difference.kind == MISSING
    assert difference.path == 'metadata.labels["manifest-compiler/workload"]'
    assert difference.compiled == "heavy-and-workers"


def test_a_controller_path_changed_by_a_person_is_drift_by_a_controller_is_not():
    obj = jobset()
    pod_spec(obj)["nodeSelector"] = {"pool": "a"}
    live = live_of(obj)
    pod_spec(live)["nodeSelector"] = {"pool": "b"}
    path = "spec.replicatedJobs[name=worker].template.spec.template.spec.nodeSelector.pool"
    selector = {
        "f:spec": {
            "f:replicatedJobs": {
                'k:{"name":"worker"}': {
                    "f:template": {
                        "f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {"f:pool": {}}}}}
                    }
                }
            }
        }
    }
    by_kueue = copy.deepcopy(live)
    by_kueue["metadata"]["managedFields"].append(managed("kueue", selector, "Update"))
    assert compare(obj, by_kueue, RECORD).differences == ()
    by_person = copy.deepcopy(live)
    by_person["metadata"]["managedFields"].append(managed("kubectl-edit", selector, "Update"))
    [difference] = compare(obj, by_person, RECORD).differences
    assert (difference.path, difference.live) == (path, "b")
    assert "kubectl-edit" in difference.managers


def test_status_and_suspend_are_never_drift():
    obj = jobset()
    obj["spec"]["suspend"] = True
    live = live_of(obj)
    live["spec"]["suspend"] = False
    live["status"] = {"terminalState": "Failed"}
    assert compare(obj, live, RECORD).differences == ()


def test_what_we_applied_and_no_longer_compile_is_drift_but_not_the_submission_record():
    obj = jobset()
    applied = copy.deepcopy(obj)
    applied["metadata"]["annotations"]["manifest-compiler/submitted-by"] = "ada@laptop"
    pod_spec(applied)["containers"][0]["env"].append({"name": "OLD", "value": "1"})
    live = live_of(applied)
    [difference] = compare(obj, live, RECORD).differences
    assert difference.kind == NOT_COMPILED
    assert difference.path.endswith(".containers[name=worker].env[name=OLD]")
    assert difference.live == {"name": "OLD", "value": "1"}


def test_defaults_inside_a_field_owned_whole_are_not_drift_a_changed_value_is():
    obj = jobset()
    obj["spec"]["atomic"] = [{"replicas": 3}]
    live = live_of(obj)
    live["spec"]["atomic"] = [{"replicas": 3, "numOfHosts": 1}]
    assert compare(obj, live, RECORD).differences == ()
    live["spec"]["atomic"] = [{"replicas": 4, "numOfHosts": 1}]
    [difference] = compare(obj, live, RECORD).differences
    assert (difference.path, difference.compiled, difference.live) == (
        "spec.atomic",
        [{"replicas": 3}],
        [{"replicas": 4, "numOfHosts": 1}],
    )


def test_a_quantity_read_back_as_a_string_is_the_same():
    obj = jobset()
    obj["spec"]["quantity"] = 2
    live = live_of(obj)
    live["spec"]["quantity"] = "2"
    assert compare(obj, live, RECORD).differences == ()


def test_an_object_not_on_the_cluster_is_drift():
    result = compare(jobset(), None, RECORD)
    assert not result.found and result.drifted


# ---------------------------------------------------------------------------------------------
# the policy digest


def digest_under(policies: Path) -> str:
    [obj] = [
        o for o in compiled("team-a-my-ports.yaml", policies=policies) if o["kind"] == "JobSet"
    ]
    return obj["metadata"]["annotations"][RULES_DIGEST_ANNOTATION]


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(EXAMPLES / "policies", target)
    return target


def test_every_object_records_the_policy_digest_and_the_compiler_version():
    for obj in compiled("team-a-my-ports.yaml"):
        annotations = obj["metadata"]["annotations"]
        assert annotations[RULES_DIGEST_ANNOTATION].startswith("sha256:")
        assert annotations[VERSION_ANNOTATION] == COMPILER_VERSION


def test_reformatting_a_policy_keeps_its_digest(tmp_path):
    before = digest_under(EXAMPLES / "policies")
    policies = copy_policies(tmp_path)
    team_a = policies / "team-a.yaml"
    text = team_a.read_text()
    assert "{min: 1, max: 64}" in text and "max: 96," in text
    team_a.write_text(
        "# a comment, reformatted flow mappings, another key order and 96.0 for 96\n\n"
        + text.replace("{min: 1, max: 64}", "\n      max: 64\n      min: 1").replace(
            "max: 96,", "max: 96.0,"
        )
    )
    (policies / "team-a.yaml").rename(policies / "z-renamed.yaml")  # the file's name is no rule
    assert digest_under(policies) == before


def test_changing_a_value_changes_the_digest_and_another_projects_policy_does_not(tmp_path):
    before = digest_under(EXAMPLES / "policies")
    policies = copy_policies(tmp_path)
    quotas = policies / "quotas.yaml"
    assert "team-b" in quotas.read_text()
    team_a = policies / "team-a.yaml"
    team_a.write_text(team_a.read_text().replace("{min: 1, max: 64}", "{min: 1, max: 32}"))
    assert digest_under(policies) != before


def test_rules_digest_is_independent_of_policy_order_and_key_order():
    one, two = {"a": 1, "b": {"c": 2.0}}, {"x": [1, 2]}
    assert rules_digest([one, two], None) == rules_digest([two, {"b": {"c": 2}, "a": 1}], None)
    assert rules_digest([one], None) != rules_digest([one], {"spec": {}})
    assert rules_digest([one], None) != rules_digest([{"a": 2, "b": {"c": 2}}], None)


def test_stale_groups_list_exactly_the_objects_under_other_rules(tmp_path):
    catalog = load_inputs(
        [], policies=(str(EXAMPLES / "policies"),), templates=(str(EXAMPLES / "templates"),)
    ).catalog
    current = next(o for o in compiled("team-a-my-ports.yaml") if o["kind"] == "JobSet")
    other = next(o for o in compiled("jobset-ten-workers.yaml") if o["kind"] == "JobSet")
    old = copy.deepcopy(current)
    old["metadata"]["name"] = "older"
    old["metadata"]["annotations"][RULES_DIGEST_ANNOTATION] = "sha256:" + "0" * 64
    unrecorded = copy.deepcopy(other)
    unrecorded["metadata"]["name"] = "before-digests"
    del unrecorded["metadata"]["annotations"][RULES_DIGEST_ANNOTATION]
    groups, seen = stale_groups([current, other, old, unrecorded], catalog)
    assert seen == 4
    assert [(g.project, g.digest, [o.name for o in g.objects]) for g in groups] == [
        ("team-a", "sha256:" + "0" * 64, ["older"]),
        ("team-b", UNRECORDED, ["before-digests"]),
    ]
    assert current["metadata"]["annotations"][RULES_DIGEST_ANNOTATION] in groups[0].today


# ---------------------------------------------------------------------------------------------
# the command without a cluster


def test_verify_without_a_cluster_exits_3_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = CliRunner().invoke(
        cli, ["verify", str(EXAMPLES / "jobset-five-workers.yaml")], catch_exceptions=False
    )
    assert result.exit_code == 3
    assert result.output.count("\n") == 1 and result.output.startswith(
        "error: no reachable cluster"
    )


def test_verify_needs_files_or_a_namespace():
    result = CliRunner().invoke(cli, ["verify"], catch_exceptions=False)
    assert result.exit_code == 2


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from fake_apiserver import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("args", [["MANIFEST"], ["--namespace", "default"]])
@pytest.mark.parametrize("server", ["refused", "silent", "html", "json-list", "401", "503-html"])
def test_a_misbehaving_server_makes_verify_exit_3_in_one_line(server, args, pki, tmp_path):
    from test_misbehaving_servers import BAD, Serving, assert_one_line_error, run_command

    kind, behaviour, says = BAD[server]
    with Serving(behaviour, pki, kind) as serving:
        outcome = run_command(["verify", *args], serving, pki, tmp_path)
    assert_one_line_error(outcome, 3, says)
