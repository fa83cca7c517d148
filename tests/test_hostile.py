"""Hostile input (SPEC 7): every case ends, within a time and memory bound, in a clean diagnostic
with a code and file:line:col, never a traceback.

Each case runs ``compile`` in a subprocess under a 1 GiB address-space limit and a timeout; the
assertion is that the process ends normally with the expected exit code and diagnostic.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

TIMEOUT_SECONDS = 20
MEMORY_BYTES = 1 << 30

MANIFEST = """\
kind: AIchorManifest
apiVersion: 0.2.2
builder:
  image: img
spec:
  operator: jobset
  image: img
  command: "python train.py"
  types:
    worker:
      count: 2
      resources:
        cpus: 1
        ramRatio: 2
"""
# line numbers in MANIFEST, for expected diagnostic positions
COUNT_LINE, CPUS_LINE, RAMRATIO_LINE = 11, 13, 14


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_compile(cwd, *args) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "compiler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIMEOUT_SECONDS,
        preexec_fn=_limit_memory,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return name


def check_rejects(
    tmp_path, name: str, content, code: str, line: int, column: int | None = None
) -> str:
    """``compile check`` exits 1 and reports ``code`` at ``name:line[:column]``; returns the report."""
    write(tmp_path, name, content)
    result = run_compile(tmp_path, "check", name)
    assert result.returncode == 1, result.stdout + result.stderr
    where = f"{name}:{line}:{column}" if column is not None else f"{name}:{line}:"
    lines = [text for text in result.stdout.splitlines() if f"error[{code}]" in text]
    assert any(text.startswith(where) for text in lines), result.stdout[-3000:]
    return result.stdout


def compile_json(tmp_path, name: str, content: str) -> list[dict]:
    write(tmp_path, name, content)
    result = run_compile(tmp_path, "emit", "-o", "json", name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["items"]


def container_of(objects: list[dict]) -> dict:
    (jobset,) = objects
    return jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"][
        "containers"
    ][0]


def env_of(objects: list[dict]) -> dict:
    return {item["name"]: item.get("value") for item in container_of(objects)["env"]}


def manifest_with(old: str, new: str) -> str:
    assert old in MANIFEST
    return MANIFEST.replace(old, new, 1)


# ---------------------------------------------------------------------------------------------
# size, depth, expansion


def test_alias_bomb(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    # on the first alias whose expansion takes the document past 100,000 nodes: *a4 on line 6
    report = check_rejects(tmp_path, "bomb.yaml", "\n".join(lines) + "\n", "E003", 6, 10)
    assert "alias" in report


# The 65th nested collection is the first past the limit of 64: the diagnostic stands on it, however
# deep the input goes on (libyaml >= 0.2.5 of PyYAML 6.0.3+ stops at 1000 on its own; see
# tests/test_parse_limits.py for the same result with and without libyaml).
def test_deep_flow_nesting(tmp_path):
    check_rejects(tmp_path, "deep.yaml", "[" * 100_000, "E003", 1, 65)


def test_deep_flow_nesting_closed(tmp_path):
    check_rejects(tmp_path, "deep.yaml", "[" * 100_000 + "]" * 100_000 + "\n", "E003", 1, 65)


def test_deep_block_nesting(tmp_path):
    text = "".join(" " * depth + f"k{depth}:\n" for depth in range(3000)) + " " * 3000 + "leaf\n"
    check_rejects(tmp_path, "deep.yaml", text, "E003", 65, 65)


def test_fifty_megabyte_file(tmp_path):
    line = b"# " + b"x" * 97 + b"\n"
    content = MANIFEST.encode() + line * (50 * 1024 * 1024 // len(line))
    report = check_rejects(tmp_path, "big.yaml", content, "E003", 1, 1)
    assert "bytes" in report


def test_huge_single_line(tmp_path):
    text = manifest_with(
        "  image: img\nspec:", "  image: img\n  extra: " + "a" * 5_000_000 + "\nspec:"
    )
    report = check_rejects(tmp_path, "line.yaml", text, "E101", 5, 3)
    assert len(report) < 10_000  # the value is not echoed back in full


def test_a_hundred_thousand_types(tmp_path):
    types = "".join(f"    t{i}:\n      resources: {{ramRatio: 1}}\n" for i in range(100_000))
    text = MANIFEST.split("    worker:")[0] + types
    # on the node that takes the document past 100,000 nodes
    check_rejects(tmp_path, "types.yaml", text, "E003", 66673, 29)


def test_twenty_thousand_documents(tmp_path):
    text = "\n---\n".join(["not: a manifest"] * 20_000) + "\n"
    report = check_rejects(tmp_path, "docs.yaml", text, "E010", 1, 1)
    assert report.count("error[E010]") == 20_000


# ---------------------------------------------------------------------------------------------
# encodings and bytes


def test_non_utf8_bytes(tmp_path):
    content = MANIFEST.replace('"python train.py"', '"python tr\udce9in.py"').encode(
        "utf-8", "surrogateescape"
    )
    check_rejects(tmp_path, "latin1.yaml", content, "E004", 8, 22)


def test_binary_file(tmp_path):
    check_rejects(
        tmp_path, "binary.yaml", bytes(range(256)) * 64, "E004", 2, 118
    )  # 0x80, after the 0x0a


def test_nul_byte(tmp_path):
    check_rejects(
        tmp_path,
        "nul.yaml",
        MANIFEST.replace("image: img\nspec", "image: i\x00mg\nspec"),
        "E001",
        4,
        11,
    )


def test_utf16_file(tmp_path):
    check_rejects(tmp_path, "utf16.yaml", MANIFEST.encode("utf-16"), "E004", 1, 1)


def test_empty_file(tmp_path):
    check_rejects(tmp_path, "empty.yaml", b"", "E011", 1, 1)


def test_only_comments(tmp_path):
    check_rejects(tmp_path, "comments.yaml", "# nothing here\n# at all\n", "E011", 1, 1)


def test_missing_file_is_an_environment_error(tmp_path):
    result = run_compile(tmp_path, "check", "absent.yaml")
    assert result.returncode == 3
    assert result.stdout.startswith("absent.yaml:1:1: error[E006]")


# ---------------------------------------------------------------------------------------------
# YAML constructs


def test_duplicate_keys(tmp_path):
    text = manifest_with("  operator: jobset\n", "  operator: jobset\n  operator: pytorch\n")
    report = check_rejects(tmp_path, "dup.yaml", text, "E002", 7, 3)
    assert "dup.yaml:6:3" in report  # the first definition


def test_tabs_for_indentation(tmp_path):
    check_rejects(
        tmp_path,
        "tabs.yaml",
        manifest_with("  operator: jobset", "\toperator: jobset"),
        "E001",
        6,
        1,
    )


def test_unclosed_quote(tmp_path):
    report = check_rejects(
        tmp_path,
        "quote.yaml",
        manifest_with('"python train.py"', '"python train.py'),
        "E001",
        8,
        12,  # where the quote opened, which is where to fix it
    )
    assert 'the quote " opened here is never closed' in report


def test_undefined_alias(tmp_path):
    check_rejects(
        tmp_path,
        "alias.yaml",
        manifest_with("image: img\nspec", "image: *nowhere\nspec"),
        "E001",
        4,
        10,
    )


def test_python_object_tag(tmp_path):
    text = manifest_with(
        "  image: img\nspec:", "  image: !!python/object/apply:os.system [echo hi]\nspec:"
    )
    check_rejects(tmp_path, "tag.yaml", text, "E005", 4, 10)


def test_custom_local_tag(tmp_path):
    check_rejects(
        tmp_path, "tag.yaml", manifest_with("count: 2", "count: !Ref two"), "E005", COUNT_LINE, 14
    )


def test_merge_key(tmp_path):
    text = "defaults: &d {cpus: 1, ramRatio: 2}\n" + manifest_with(
        "      resources:\n        cpus: 1\n        ramRatio: 2\n",
        "      resources:\n        <<: *d\n",
    )
    check_rejects(tmp_path, "merge.yaml", text, "E005", 14, 9)


def test_mapping_as_key(tmp_path):
    check_rejects(tmp_path, "key.yaml", MANIFEST + "? {a: 1}\n: value\n", "E005", 15, 3)


def test_sequence_as_key(tmp_path):
    check_rejects(tmp_path, "key.yaml", MANIFEST + "[a, b]: value\n", "E005", 15, 1)


def test_alias_as_key(tmp_path):
    text = manifest_with("kind: AIchorManifest", "kind: &k AIchorManifest") + "*k : value\n"
    check_rejects(tmp_path, "key.yaml", text, "E005", 15, 1)


def test_document_that_is_a_list(tmp_path):
    report = check_rejects(
        tmp_path, "list.yaml", "- kind: AIchorManifest\n- spec: {}\n", "E010", 1, 1
    )
    assert "list" in report


def test_document_that_is_a_scalar(tmp_path):
    check_rejects(tmp_path, "scalar.yaml", "just some text\n", "E010", 1, 1)


# ---------------------------------------------------------------------------------------------
# YAML 1.1 forms and numbers where strings belong: accepted, as written


def test_yaml_1_1_booleans_stay_strings(tmp_path):
    text = (
        MANIFEST
        + "  env:\n    DEBUG: on\n    VERBOSE: yes\n    QUIET: no\n    COLOR: off\n    Y: y\n    REAL: true\n"
    )
    env = env_of(compile_json(tmp_path, "bools.yaml", text))
    assert {name: env[name] for name in ("DEBUG", "VERBOSE", "QUIET", "COLOR", "Y", "REAL")} == {
        "DEBUG": "on",
        "VERBOSE": "yes",
        "QUIET": "no",
        "COLOR": "off",
        "Y": "y",
        "REAL": "true",
    }


def test_numbers_where_strings_belong_keep_their_spelling(tmp_path):
    text = (
        MANIFEST.replace("image: img", "image: 1.10")
        + "  env:\n    VERSION: 1.10\n    ZIP: 007\n    HEX: 0x1F\n    BIG: 1e3\n"
    )
    objects = compile_json(tmp_path, "numbers.yaml", text)
    assert container_of(objects)["image"] == "1.10"
    env = env_of(objects)
    assert (env["VERSION"], env["ZIP"], env["HEX"], env["BIG"]) == ("1.10", "007", "0x1F", "1e3")


def test_ray_version_keeps_its_spelling(tmp_path):
    text = """\
kind: AIchorManifest
builder: {image: ray-img}
spec:
  operator: kuberay
  image: ray-img
  command: python main.py
  rayVersion: 2.10
  types:
    Head:
      resources: {cpus: 1, ramRatio: 2}
    Workers:
      - name: cpu-workers
        count: 1
        resources: {cpus: 1, ramRatio: 2}
"""
    (rayjob,) = compile_json(tmp_path, "ray.yaml", text)
    assert rayjob["spec"]["rayClusterSpec"]["rayVersion"] == "2.10"


# ---------------------------------------------------------------------------------------------
# wrong shapes and values


def test_null_spec(tmp_path):
    report = check_rejects(tmp_path, "null.yaml", "kind: AIchorManifest\nspec:\n", "E102", 2, 6)
    assert "null" in report


def test_spec_as_a_string(tmp_path):
    check_rejects(tmp_path, "str.yaml", "kind: AIchorManifest\nspec: train please\n", "E102", 2, 7)


def test_types_as_a_list(tmp_path):
    text = manifest_with("    worker:\n      count: 2\n", "    - worker:\n      count: 2\n")
    check_rejects(tmp_path, "list.yaml", text, "E102", 10, 5)


def test_count_as_a_quoted_string_is_an_error(tmp_path):
    # Decision: a quoted "8" is not silently turned into a number; the user is told to unquote it.
    report = check_rejects(
        tmp_path, "count.yaml", manifest_with("count: 2", 'count: "8"'), "E102", COUNT_LINE, 14
    )
    assert "remove the quotes" in report


def test_count_as_a_boolean_is_an_error(tmp_path):
    check_rejects(
        tmp_path, "count.yaml", manifest_with("count: 2", "count: true"), "E102", COUNT_LINE, 14
    )


def test_count_as_a_fraction_is_an_error(tmp_path):
    check_rejects(
        tmp_path, "count.yaml", manifest_with("count: 2", "count: 2.5"), "E102", COUNT_LINE, 14
    )


def test_negative_count(tmp_path):
    check_rejects(
        tmp_path, "count.yaml", manifest_with("count: 2", "count: -3"), "E104", COUNT_LINE, 14
    )


def test_count_beyond_int32(tmp_path):
    check_rejects(
        tmp_path,
        "count.yaml",
        manifest_with("count: 2", "count: 99999999999999999999"),
        "E104",
        COUNT_LINE,
        14,
    )


def test_cpus_below_a_millicore(tmp_path):
    check_rejects(
        tmp_path, "cpus.yaml", manifest_with("cpus: 1", "cpus: 0.0001"), "E304", CPUS_LINE, 15
    )


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_cpus_not_finite(tmp_path, value):
    check_rejects(
        tmp_path, "cpus.yaml", manifest_with("cpus: 1", f"cpus: {value}"), "E104", CPUS_LINE, 15
    )


def test_cpus_beyond_any_quantity(tmp_path):
    check_rejects(
        tmp_path, "cpus.yaml", manifest_with("cpus: 1", "cpus: 1e300"), "E104", CPUS_LINE, 15
    )


def test_memory_beyond_any_quantity(tmp_path):
    check_rejects(
        tmp_path,
        "ram.yaml",
        manifest_with("ramRatio: 2", "ramRatio: 1e300"),
        "E104",
        RAMRATIO_LINE,
        19,
    )


def test_cpus_as_a_quoted_string(tmp_path):
    check_rejects(
        tmp_path, "cpus.yaml", manifest_with("cpus: 1", 'cpus: "2"'), "E102", CPUS_LINE, 15
    )


def test_timeout_beyond_int64(tmp_path):
    text = MANIFEST + "  timeout: " + "9" * 400 + "d\n"
    check_rejects(tmp_path, "timeout.yaml", text, "E104", 15, 12)


def test_operator_as_a_number(tmp_path):
    check_rejects(
        tmp_path, "op.yaml", manifest_with("operator: jobset", "operator: 5"), "E110", 6, 13
    )


def test_operator_as_a_list(tmp_path):
    check_rejects(
        tmp_path, "op.yaml", manifest_with("operator: jobset", "operator: [jobset]"), "E102", 6, 13
    )


def test_env_value_as_a_list(tmp_path):
    check_rejects(tmp_path, "env.yaml", MANIFEST + "  env:\n    A: [1, 2]\n", "E102", 16, 8)


def test_misspelt_field_suggests_the_right_one(tmp_path):
    report = check_rejects(
        tmp_path, "typo.yaml", manifest_with("ramRatio: 2", "ramratio: 2"), "E101", RAMRATIO_LINE, 9
    )
    assert "did you mean 'ramRatio'" in report


def test_integer_with_thousands_of_digits(tmp_path):
    # Python refuses int() on more than ~4300 digits; the loader must not pass that on as a traceback
    check_rejects(
        tmp_path,
        "digits.yaml",
        manifest_with("count: 2", "count: " + "9" * 5000),
        "E003",
        COUNT_LINE,
        14,
    )


def test_self_referencing_alias(tmp_path):
    check_rejects(tmp_path, "alias.yaml", MANIFEST + "loop: &loop [1, *loop]\n", "E001", 15, 17)


def test_binary_tag(tmp_path):
    check_rejects(
        tmp_path,
        "tag.yaml",
        manifest_with("image: img\nspec", "image: !!binary aW1n\nspec"),
        "E005",
        4,
        10,
    )


def test_windows_line_endings_keep_positions(tmp_path):
    text = manifest_with("ramRatio: 2", "ramratio: 2").replace("\n", "\r\n")
    check_rejects(tmp_path, "crlf.yaml", text.encode(), "E101", RAMRATIO_LINE, 9)


def test_three_gigabyte_file_is_not_loaded(tmp_path):
    path = tmp_path / "sparse.yaml"
    with open(path, "wb") as stream:
        stream.truncate(
            3 << 30
        )  # sparse: no disk used, but reading it whole would exceed the memory limit
    result = run_compile(tmp_path, "check", "sparse.yaml")
    assert result.returncode == 1
    assert result.stdout.startswith("sparse.yaml:1:1: error[E003]")


def test_endless_stream_is_not_loaded(tmp_path):
    result = run_compile(tmp_path, "check", "/dev/zero")
    assert result.returncode == 1
    assert result.stdout.startswith("/dev/zero:1:1: error[E003]")
