"""Deterministic output: a multi-document YAML stream, or JSON."""

from __future__ import annotations

import json
import re

import yaml

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _OutputDumper(_Dumper):  # libyaml's dumper when present
    pass


# What kubectl's reader (sigs.k8s.io/yaml on go-yaml v2, YAML 1.1) takes for a bool or a number
# but PyYAML's own resolver does not: y/n, exponents without a dot (1e-3), 0o octal, and any of
# these after go-yaml drops every underscore (resolve.go: strings.Replace(in, "_", "", -1),
# then strconv.ParseInt(plain, 0, 64) / ParseUint / ParseFloat).
_GO_BOOL = frozenset(("y", "Y", "n", "N"))
_GO_INT = re.compile(r"[-+]?(0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def go_reads_as_non_string(value: str) -> bool:
    if value in _GO_BOOL:
        return True
    plain = value.replace("_", "")
    return bool(_GO_INT.fullmatch(plain) or _GO_FLOAT.fullmatch(plain))


def _str(dumper, value: str):
    if "\n" in value:
        style = "|"
    elif go_reads_as_non_string(value):
        style = "'"
    else:
        style = None  # PyYAML quotes what its YAML 1.1 resolver reads as non-string
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_OutputDumper.add_representer(str, _str)


def to_yaml(objects: list[dict]) -> str:
    if not objects:
        return ""
    return yaml.dump_all(
        objects,
        Dumper=_OutputDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=True,
        width=4096,
    )


def yaml_text(value) -> str:
    """One YAML document (no ``---``) quoted as the output is, for YAML held inside a field
    (RayJob ``runtimeEnvYAML``, which KubeRay itself reads with sigs.k8s.io/yaml)."""
    return yaml.dump(
        value,
        Dumper=_OutputDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )


def to_json(objects: list[dict]) -> str:
    """A ``kind: List`` as ``kubectl get -o json`` prints several objects: what ``kubectl apply -f -``
    reads (a bare JSON array is not an object it can apply)."""
    listed = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects}
    return json.dumps(listed, indent=2, ensure_ascii=False) + "\n"


def _number_representers() -> None:
    from .parse import YamlFloat, YamlInt

    _OutputDumper.add_representer(YamlInt, lambda d, v: d.represent_int(int(v)))
    _OutputDumper.add_representer(YamlFloat, lambda d, v: d.represent_float(float(v)))


_number_representers()
