"""Real manifests (SPEC 7): every file of ../shared/corpus/aichor compiles to schema-valid objects,
or is rejected for a problem of its own, or is out of scope or broken YAML with a clean diagnostic.

The expected counts are the compatibility bar measured on this corpus (see bench/corpus_report.py);
a change that compiles fewer real manifests, or rejects one for a new reason, fails here.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CRDS = SHARED / "crds"
sys.path.insert(0, str(REPO / "bench"))

import corpus_lib  # noqa: E402  (bench/corpus_lib.py: the corpus harness shared with the report)
from corpus_lib import BROKEN_YAML, COMPILED, OUT_OF_SCOPE, REJECTED, TRACEBACK  # noqa: E402

from compiler.parse import load_documents  # noqa: E402

# Measured on the 569 files (bench/corpus_report.py). A measured bar, not a target: raise it when
# a fix compiles more files; a regression must fail.
EXPECTED_COUNTS = {COMPILED: 270, REJECTED: 1, OUT_OF_SCOPE: 291, BROKEN_YAML: 7, TRACEBACK: 0}

# Codes that name a real problem of a manifest (not a gap of this compiler).
REAL_PROBLEM_CODES = {
    "E002",  # duplicate key
    "E101",  # unknown key
    "E102",
    "E103",
    "E104",  # wrong type, missing field, out of range
    "E111",  # type names that do not fit the operator
    "E120",  # memory undetermined (0.2.3: exactly one of ramRatio/memory)
    "E121",  # malformed duration
    "E130",  # builder.image differs from spec.image
    "E140",  # env var reserved by the operator contract
    "E301",
    "E302",
    "E303",
    "E304",  # target limits
}

KIND_OF_OPERATOR = {
    "jobset": "JobSet",
    "pytorch": "JobSet",
    "xgboost": "JobSet",
    "jax": "JobSet",
    "tf": "JobSet",
    "kuberay": "RayJob",
    "ray": "RayJob",
    "batchjob": "Job",
}

DIAGNOSTIC_LINE = re.compile(r"^.+:\d+:\d+: (error|warning|info)\[[EW]\d{3}\] ")


@pytest.fixture(scope="module")
def outcomes():
    return corpus_lib.compile_corpus()


def by_category(outcomes, category):
    return [o for o in outcomes if o.category == category]


# ---------------------------------------------------------------------------------------------
# schema validation of emitted objects


def _closed(schema):
    """The CRD schema with unknown fields forbidden, so a misspelt field fails as the API server's
    strict field validation would fail it (the server would otherwise prune it silently)."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            _closed(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed(value)
    return schema


@cache
def crd_validators() -> dict:
    validators = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _closed(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft202012Validator(
                schema
            )
    return validators


def schema_errors(obj: dict) -> list[str]:
    validator = crd_validators().get((obj.get("apiVersion"), obj.get("kind")))
    if validator is not None:
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [str(exc)]
    return []


def test_the_schema_check_can_fail():
    jobset = {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": "x"},
        "spec": {
            "replicatedJobs": [{"name": "w", "replicas": "two", "template": {}}],
            "sucessPolicy": {},
        },
    }
    assert len(schema_errors(jobset)) == 2
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {"completionz": 1, "template": {}},
    }
    assert schema_errors(job)


# ---------------------------------------------------------------------------------------------
# the corpus


def test_corpus_is_present():
    assert len(corpus_lib.corpus_files()) == 569


def test_no_file_raises(outcomes):
    assert [(o.path.name, o.error) for o in by_category(outcomes, TRACEBACK)] == []


def test_counts_per_category_meet_the_measured_bar(outcomes):
    assert (
        dict(corpus_lib.tally(outcomes)) | {TRACEBACK: len(by_category(outcomes, TRACEBACK))}
        == EXPECTED_COUNTS
    )


def test_every_compiled_object_validates_against_its_schema(outcomes):
    problems = {}
    for outcome in by_category(outcomes, COMPILED):
        for obj in outcome.objects:
            errors = schema_errors(obj)
            if errors:
                problems[f"{outcome.path.name} {obj['kind']}"] = errors[:3]
    assert problems == {}


def test_every_compiled_file_fits_the_editor_schema(outcomes):
    """schemas/manifest.schema.json (what editors check) accepts what the compiler accepts."""
    validator = jsonschema.Draft202012Validator(
        json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    )
    rejected = {}
    for outcome in by_category(outcomes, COMPILED):
        documents, _ = load_documents(outcome.path.read_bytes(), outcome.path.name)
        errors = [e.message for d in documents for e in validator.iter_errors(d.data)]
        if errors:
            rejected[outcome.path.name] = errors[:3]
    assert rejected == {}


def test_every_compiled_file_emits_its_operators_kind(outcomes):
    wrong = {}
    for outcome in by_category(outcomes, COMPILED):
        expected = {KIND_OF_OPERATOR[op] for op in outcome.operators if op in KIND_OF_OPERATOR}
        kinds = {obj["kind"] for obj in outcome.objects} - {"Service", "PersistentVolumeClaim"}
        if kinds != expected:
            wrong[outcome.path.name] = (outcome.operators, sorted(kinds))
    assert wrong == {}


def test_every_rejected_file_names_a_real_problem(outcomes):
    unexplained = {
        o.path.name: sorted(o.error_codes)
        for o in by_category(outcomes, REJECTED)
        if not o.error_codes & REAL_PROBLEM_CODES
    }
    assert unexplained == {}


def test_out_of_scope_files_say_which_operators_are_supported(outcomes):
    unclear = []
    for outcome in by_category(outcomes, OUT_OF_SCOPE):
        named = [
            d
            for d in outcome.diagnostics
            if d.is_error
            and d.path == "spec.operator"
            and d.code in ("E110", "E103")
            and "supported operators: jobset" in d.message
        ]
        if not named:
            unclear.append(outcome.path.name)
    assert unclear == []


def test_broken_files_point_at_the_syntax_error(outcomes):
    unclear = [
        o.path.name
        for o in by_category(outcomes, BROKEN_YAML)
        if not any(d.code == "E001" and d.location.line > 1 for d in o.diagnostics)
    ]
    assert unclear == []


def test_every_diagnostic_names_a_corpus_file(outcomes):
    elsewhere = {
        (o.path.name, d.code, str(d.location))
        for o in outcomes
        for d in o.diagnostics
        if Path(d.location.file).name != o.path.name
    }
    assert elsewhere == set()


# ---------------------------------------------------------------------------------------------
# the same through the command line


def run_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compiler", "check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_check_over_the_whole_corpus_prints_only_diagnostics():
    result = run_check(str(corpus_lib.CORPUS))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1  # the corpus holds out-of-scope and broken files
    lines = result.stdout.splitlines()
    assert lines and all(DIAGNOSTIC_LINE.match(line) for line in lines), [
        line for line in lines if not DIAGNOSTIC_LINE.match(line)
    ][:5]


def test_cli_check_json_summarises_every_file():
    result = run_check("--format", "json", str(corpus_lib.CORPUS))
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["files"] == 569
    codes = Counter(d["code"] for d in report["diagnostics"] if d["severity"] == "error")
    assert codes["E001"] == EXPECTED_COUNTS[BROKEN_YAML]


# ---------------------------------------------------------------------------------------------
# forms real manifests use, one by one (each was seen in the corpus or the AIchor docs)

BASE = """\
kind: AIchorManifest
apiVersion: 0.2.2
builder:
  image: img
  dockerfile: ./Dockerfile
  context: .
spec:
  operator: {operator}
  image: img
  command: "python3 -u main.py"
  types:
{types}
"""
CPU = "resources: {cpus: 1, ramRatio: 2, shmSizeGB: 0}"

REAL_FORMS = {
    "batchjob Worker": BASE.format(
        operator="batchjob", types=f"    Worker:\n      count: 1\n      {CPU}"
    ),
    "pytorch Master and Worker": BASE.format(
        operator="pytorch",
        types=f"    Master:\n      count: 1\n      {CPU}\n    Worker:\n      count: 2\n      {CPU}",
    ),
    "pytorch lower-case worker only": BASE.format(
        operator="pytorch", types=f"    worker:\n      count: 2\n      {CPU}"
    ),
    "xgboost lower-case": BASE.format(
        operator="xgboost",
        types=f"    master:\n      count: 1\n      {CPU}\n    worker:\n      count: 2\n      {CPU}",
    ),
    "jax worker": BASE.format(operator="jax", types=f"    worker:\n      count: 2\n      {CPU}"),
    "tf Worker": BASE.format(operator="tf", types=f"    Worker:\n      count: 1\n      {CPU}"),
    "kuberay Head without count": BASE.format(
        operator="kuberay",
        types=f"    Head:\n      {CPU}\n    Workers:\n      - name: cpu-workers\n        count: 1\n        {CPU}",
    ),
    "legacy ray with Job": BASE.format(
        operator="ray",
        types=f"    Head:\n      {CPU}\n    Job:\n      {CPU}\n    Workers:\n      - name: w\n        count: 1\n        {CPU}",
    ),
    "fractional cpus": BASE.format(
        operator="jobset",
        types="    worker:\n      count: 1\n      resources: {cpus: 0.5, ramRatio: 2}",
    ),
    "0.2.3 memory instead of ramRatio": BASE.replace("0.2.2", "0.2.3").format(
        operator="jobset",
        types="    worker:\n      count: 1\n      resources: {cpus: 2, memory: 8}",
    ),
    "gpu count 0 with a product": BASE.format(
        operator="tf",
        types=(
            "    Worker:\n      count: 1\n      resources:\n        cpus: 1\n        ramRatio: 2\n"
            "        accelerators:\n          gpu: {count: 0, type: gpu, product: nvidia-tesla-t4}"
        ),
    ),
    "quoted apiVersion with a trailing space": BASE.replace(
        "apiVersion: 0.2.2", 'apiVersion: "0.2.2 "'
    ).format(operator="jobset", types=f"    worker:\n      count: 1\n      {CPU}"),
    "trailing whitespace everywhere": "\n".join(
        line + "  "
        for line in BASE.format(
            operator="jobset", types=f"    master:\n      count: 1\n      {CPU}"
        ).splitlines()
    )
    + "\n",
    "schema comment, no kind": "# yaml-language-server: $schema=https://instadeep.aichor.ai/schema/latest/manifest.schema.json\n"
    + BASE.replace("kind: AIchorManifest\n", "").format(
        operator="jobset", types=f"    worker:\n      count: 1\n      {CPU}"
    ),
    "timeout, engineName, backoffLimit, tensorboard, debug": BASE.format(
        operator="jobset", types=f"    worker:\n      count: 1\n      {CPU}"
    )
    + '  timeout: "2m"\n  engineName: main-aks-dev\n  restartPolicy:\n    backoffLimit: 5\n'
    "  tensorboard:\n    enabled: true\n  debug:\n    jupyter: false\nengineName: main-gcp-dev\n",
    "shared volume and existing PVCs": BASE.format(
        operator="jobset", types=f"    worker:\n      count: 1\n      {CPU}"
    )
    + "  storage:\n    sharedVolume: {mountPoint: /mnt/shared, sizeGB: 10, storageClass: standard-rwo, accessMode: ReadWriteMany}\n"
    "    attachExistingPVCs:\n      - {name: data, mountPoint: /data}\n",
}


@pytest.mark.parametrize("text", REAL_FORMS.values(), ids=REAL_FORMS.keys())
def test_real_manifest_forms_compile_to_valid_objects(text):
    from compiler.catalog import build_catalog
    from compiler.pipeline import Options, compile_documents

    documents, problems = load_documents(text.encode(), "manifest.yaml")
    units = compile_documents(documents, build_catalog(documents), Options())
    errors = [
        f"{d.code} {d.path}: {d.message}"
        for d in problems + [d for u in units for d in u.diagnostics]
        if d.is_error
    ]
    assert errors == []
    objects = [obj for unit in units for obj in unit.objects]
    assert objects
    assert [f"{obj['kind']}: {e}" for obj in objects for e in schema_errors(obj)] == []
