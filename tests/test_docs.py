"""The README documents every diagnostic code the compiler can produce, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.diagnostics import CODES

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_code_is_documented_in_the_readme():
    rows = dict(re.findall(r"^\| ([EW]\d{3}) \| (.+?) \|$", README.read_text(), re.M))
    assert rows == CODES


def test_every_code_used_in_the_source_is_catalogued():
    source = Path(__file__).resolve().parents[1] / "compiler"
    used = set()
    for path in source.rglob("*.py"):
        used |= set(re.findall(r'"([EW]\d{3})"', path.read_text()))
    assert used - set(CODES) == set()
