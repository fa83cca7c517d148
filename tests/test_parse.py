"""The YAML 1.2 loader: core-schema resolution, positions, duplicate keys, documents, BOM."""

from __future__ import annotations

import math

import pytest

from compiler.diagnostics import Location
from compiler.parse import load_documents


def load_one(text: str):
    documents, diagnostics = load_documents(text.encode(), "t.yaml")
    assert diagnostics == []
    assert len(documents) == 1
    return documents[0]


def value_of(scalar: str):
    return load_one(f"v: {scalar}\n").data["v"]


# ---------------------------------------------------------------------------------------------
# YAML 1.2 core schema


@pytest.mark.parametrize("scalar", ["~", "null", "Null", "NULL", ""])
def test_null_forms(scalar):
    assert value_of(scalar) is None


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
    ],
)
def test_boolean_forms(scalar, expected):
    assert value_of(scalar) is expected


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("0", 0),
        ("42", 42),
        ("-17", -17),
        ("+3", 3),
        ("0777", 777),  # YAML 1.2: a leading zero is still decimal, not octal
        ("0o17", 15),
        ("0x1F", 31),
        ("0xff", 255),
    ],
)
def test_integer_forms(scalar, expected):
    value = value_of(scalar)
    assert type(value) is not bool and isinstance(value, int)
    assert value == expected


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ("1.5", 1.5),
        ("1.10", 1.1),
        (".5", 0.5),
        ("-2.25", -2.25),
        ("1e3", 1000.0),
        ("6.02E+23", 6.02e23),
        ("3.", 3.0),
    ],
)
def test_float_forms(scalar, expected):
    value = value_of(scalar)
    assert isinstance(value, float)
    assert value == expected


@pytest.mark.parametrize(
    "scalar, sign", [(".inf", 1), ("+.inf", 1), ("-.inf", -1), (".Inf", 1), (".INF", 1)]
)
def test_infinity_forms(scalar, sign):
    assert value_of(scalar) == sign * math.inf


@pytest.mark.parametrize("scalar", [".nan", ".NaN", ".NAN"])
def test_nan_forms(scalar):
    assert math.isnan(value_of(scalar))


@pytest.mark.parametrize(
    "scalar",
    [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Y",
        "N",
        "Yes",
        "NO",
        "On",
        "OFF",  # YAML 1.1 booleans
        "1_000",
        "12:30",
        "1:20:30",  # YAML 1.1 underscores and sexagesimals
        "0b101",  # YAML 1.1 binary
        "0o",
        "0x",
        "1.2.3",
        "v1.10",
        "1e",
        "nan",
        "inf",
        ".infinity",
    ],
)
def test_yaml_1_1_forms_stay_strings(scalar):
    assert value_of(scalar) == scalar


def test_numbers_remember_how_they_were_written():
    assert value_of("1.10").text == "1.10"
    assert value_of("2.10").text == "2.10"
    assert value_of("007").text == "007"
    assert value_of("0x1F").text == "0x1F"


@pytest.mark.parametrize(
    "scalar, expected",
    [
        ('"true"', "true"),
        ("'1.10'", "1.10"),
        ('"null"', "null"),
        ("'0x1F'", "0x1F"),
        ("!!str 1.10", "1.10"),
        ("!!str true", "true"),
    ],
)
def test_quoted_and_str_tagged_scalars_are_strings(scalar, expected):
    assert value_of(scalar) == expected


@pytest.mark.parametrize(
    "scalar, expected",
    [("!!int 42", 42), ("!!float 1", 1.0), ("!!bool true", True), ("!!null ~", None)],
)
def test_standard_tags(scalar, expected):
    value = value_of(scalar)
    assert value == expected
    assert isinstance(value, type(expected)) and isinstance(value, bool) == isinstance(
        expected, bool
    )


def test_a_standard_tag_that_does_not_fit_is_a_diagnostic():
    _, diagnostics = load_documents(b"v: !!int abc\n", "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E102", Location("t.yaml", 1, 4))]


def test_block_scalars_are_strings():
    data = load_one("a: |\n  1.10\nb: >-\n  true\n").data
    assert data == {"a": "1.10\n", "b": "true"}


# ---------------------------------------------------------------------------------------------
# positions


SAMPLE = """\
kind: AIchorManifest
spec:
  operator: jobset
  types:
    worker:
      count: 2
  list:
    - a
    -   b
"""


def test_value_positions_are_one_based():
    positions = load_one(SAMPLE).positions
    assert positions.value(("kind",)) == Location("t.yaml", 1, 7)
    assert positions.value(("spec", "operator")) == Location("t.yaml", 3, 13)
    assert positions.value(("spec", "types", "worker", "count")) == Location("t.yaml", 6, 14)
    assert positions.value(("spec", "list", 0)) == Location("t.yaml", 8, 7)
    assert positions.value(("spec", "list", 1)) == Location("t.yaml", 9, 9)


def test_key_positions_are_one_based():
    positions = load_one(SAMPLE).positions
    assert positions.key(("kind",)) == Location("t.yaml", 1, 1)
    assert positions.key(("spec",)) == Location("t.yaml", 2, 1)
    assert positions.key(("spec", "types", "worker")) == Location("t.yaml", 5, 5)
    assert positions.key(("spec", "types", "worker", "count")) == Location("t.yaml", 6, 7)


def test_nearest_falls_back_to_the_closest_written_ancestor():
    positions = load_one(SAMPLE).positions
    assert positions.nearest(
        ("spec", "types", "worker", "resources", "cpus"), prefer_key=True
    ) == Location("t.yaml", 5, 5)
    assert positions.nearest(("nothing",)) == Location("t.yaml", 1, 1)


def test_flow_collections_have_positions():
    positions = load_one("a: {b: [1, 22]}\n").positions
    assert positions.value(("a", "b", 1)) == Location("t.yaml", 1, 12)
    assert positions.key(("a", "b")) == Location("t.yaml", 1, 5)


# ---------------------------------------------------------------------------------------------
# duplicate keys, documents, encodings


def test_duplicate_key_reports_both_lines():
    documents, diagnostics = load_documents(b"a: 1\nb: 2\na: 3\n", "t.yaml")
    (duplicate,) = diagnostics
    assert duplicate.code == "E002"
    assert duplicate.location == Location("t.yaml", 3, 1)
    assert [r.location for r in duplicate.related] == [Location("t.yaml", 1, 1)]
    assert documents[0].data == {"a": 1, "b": 2}  # the first definition is kept


def test_nested_duplicate_keys_are_each_reported():
    _, diagnostics = load_documents(b"s:\n  x: 1\n  x: 2\n  x: 3\nt: {y: 1, y: 2}\n", "t.yaml")
    assert [(d.code, d.location.line, d.path) for d in diagnostics] == [
        ("E002", 3, "s.x"),
        ("E002", 4, "s.x"),
        ("E002", 5, "t.y"),
    ]


def test_the_same_key_in_sibling_mappings_is_not_a_duplicate():
    data = load_one("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n").data
    assert data["c"] == [{"x": 1}, {"x": 2}]


def test_multi_document_files_keep_order_and_index():
    documents, diagnostics = load_documents(
        b"a: 1\n---\nb: 2\n---\n# only a comment\n---\nc: 3\n", "t.yaml"
    )
    assert diagnostics == []
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}, None, {"c": 3}]
    assert [d.index for d in documents] == [0, 1, 2, 3]
    assert documents[3].positions.value(("c",)) == Location("t.yaml", 7, 4)


def test_anchors_and_aliases_are_resolved():
    data = load_one("base: &r {cpus: 2}\nuse: *r\nname: &n x\nagain: *n\n").data
    assert data["use"] == {"cpus": 2} and data["again"] == "x"


def test_utf8_byte_order_mark_is_ignored():
    documents, diagnostics = load_documents("\ufeffkind: AIchorManifest\n".encode(), "t.yaml")
    assert diagnostics == []
    assert documents[0].data == {"kind": "AIchorManifest"}
    assert documents[0].positions.key(("kind",)) == Location("t.yaml", 1, 1)


def test_utf16_is_not_utf8():
    _, diagnostics = load_documents("kind: x\n".encode("utf-16"), "t.yaml")
    assert [d.code for d in diagnostics] == ["E004"]


def test_non_ascii_text_is_kept():
    assert value_of("café ✓") == "café ✓"


def test_invalid_utf8_points_at_the_byte():
    _, diagnostics = load_documents(b"a: 1\nb: caf\xe9\n", "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E004", Location("t.yaml", 2, 7))]


def test_nul_byte_points_at_the_character():
    _, diagnostics = load_documents(b"a: 1\nb: x\x00y\n", "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E001", Location("t.yaml", 2, 5))]
    assert "\n" not in diagnostics[0].message


@pytest.mark.parametrize(
    "content", [b"", b"# only\n# comments\n", b"\n\n   \n", b"---\n", b"---\n...\n"]
)
def test_a_file_with_no_document_is_an_error(content):
    _documents, diagnostics = load_documents(content, "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E011", Location("t.yaml", 1, 1))]


def test_text_input_with_no_document_is_not_an_error():
    # --set values arrive as text; `--set spec.queue=null` is a value, not an empty file
    assert load_documents("null", "<--set>")[1] == []


def test_syntax_error_has_a_position():
    _, diagnostics = load_documents(b"a:\n  b: 1\n c: 2\n", "t.yaml")
    (problem,) = diagnostics
    assert problem.code == "E001"
    assert problem.location.line == 3


def test_an_integer_too_long_to_convert_is_a_diagnostic():
    _, diagnostics = load_documents(b"a: 1\nb: " + b"7" * 5000 + b"\n", "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E003", Location("t.yaml", 2, 4))]


def test_a_long_hexadecimal_integer_is_fine():
    assert value_of("0x" + "f" * 5000) == int("f" * 5000, 16)


def test_invalid_utf8_column_counts_characters_not_bytes():
    _, diagnostics = load_documents("a: 1\nb: ééé ".encode() + b"\xff\n", "t.yaml")
    assert [(d.code, d.location) for d in diagnostics] == [("E004", Location("t.yaml", 2, 8))]


def test_columns_count_characters_after_non_ascii_text():
    positions = load_one("x: {ééé: 1, k: 2}\n").positions
    assert positions.key(("x", "k")) == Location("t.yaml", 1, 13)
    assert positions.value(("x", "k")) == Location("t.yaml", 1, 16)


# ---------------------------------------------------------------------------------------------
# YAML syntax errors in our words, at the place to fix (issue 24)


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (b"spec:\n\toperator: jobset\n", 2, 1, "tabs are not allowed for indentation; use spaces"),
        (b"spec:\n  image: x\n\tcommand: y\n", 3, 1, "tabs are not allowed for indentation"),
        (
            b"spec:\n  command: python run.py --opt a: b\n",
            2,
            33,
            "quote a value that contains ': '",
        ),
        (
            b'spec:\n  command: "python train.py\n  image: x\n',
            2,
            12,
            'the quote " opened here is never closed',
        ),
        (b"spec:\n  command: 'python\n", 2, 12, "the quote ' opened here is never closed"),
        (b"spec:\n  args: [a, b\n  image: x\n", 2, 9, "the '[' opened here is not closed"),
        (b"spec:\n  env: {A: b\n  image: x\n", 2, 8, "the '{' opened here is not closed"),
        (b"spec:\n    operator: jobset\n  image: x\n", 3, 3, "does not line up with the keys"),
        (b"kind: x\n  spec: y\n", 2, 7, "indented deeper than the keys beside it"),
        (b"spec:\n  command python\n  image: x\n", 3, 8, "the line above has no ':'"),
        (b"spec:\n  env:\n    - A\n    B: c\n", 4, 5, "every item of a list starts with '- '"),
        (b"spec:\n  command: @run\n", 2, 12, "a value cannot start with '@'; quote the value"),
    ],
)
def test_a_syntax_error_says_what_to_do_where(text, line, column, words):
    _, diagnostics = load_documents(text, "t.yaml")
    (problem,) = diagnostics
    assert (problem.code, problem.location) == ("E001", Location("t.yaml", line, column))
    assert problem.message.startswith("YAML syntax error: ")
    assert words in problem.message
    assert "token" not in problem.message and "scanning" not in problem.message
