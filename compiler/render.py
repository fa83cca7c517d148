"""Deterministic output: a multi-document YAML stream, or JSON."""

from __future__ import annotations

import json

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _OutputDumper(_Dumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
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


def to_json(objects: list[dict]) -> str:
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"


def _number_representers() -> None:
    from .parse import YamlFloat, YamlInt

    _OutputDumper.add_representer(YamlInt, lambda d, v: d.represent_int(int(v)))
    _OutputDumper.add_representer(YamlFloat, lambda d, v: d.represent_float(float(v)))


_number_representers()
