"""Issue 25: what a cold start skips must not change what a command does. The commands that compile
run without the cycle collector and give it back; every other command runs with it; the named
tuples made without typing are the tuples typing would make; durations are summed exactly."""

from __future__ import annotations

import gc
from fractions import Fraction

import pytest

from compiler.cli import acyclic, core, main
from compiler.cli.app import cli
from compiler.diagnostics import Location
from compiler.model.scalars import duration_seconds
from compiler.tuples import NamedTuple


def test_a_compiling_command_runs_without_the_cycle_collector_and_gives_it_back(monkeypatch):
    seen = []

    def checked_nothing(files, jobs, options):
        seen.append(gc.isenabled())
        return [], [], [], None

    monkeypatch.setattr(core, "_check_files", checked_nothing)
    assert gc.isenabled()
    assert core.check(("x.yaml",)) == 0
    assert seen == [False]
    assert gc.isenabled()


def test_acyclic_gives_back_a_disabled_collector_disabled():
    gc.disable()
    try:
        assert acyclic(gc.isenabled)() is False
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_other_commands_run_with_the_cycle_collector(monkeypatch):
    seen = []

    @cli.command("probe-collector")
    def probe() -> None:
        seen.append(gc.isenabled())

    try:
        with pytest.raises(SystemExit) as exit_:
            main(["probe-collector"])
    finally:
        del cli.commands["probe-collector"]
    assert exit_.value.code == 0
    assert seen == [True]
    assert gc.isenabled()


def test_a_named_tuple_without_typing_is_the_one_typing_makes():
    import typing

    class Typed(typing.NamedTuple):
        """A place."""

        file: str
        line: int = 1

        def shown(self) -> str:
            return f"{self.file}:{self.line}"

    class Plain(NamedTuple):
        """A place."""

        file: str
        line: int = 1

        def shown(self) -> str:
            return f"{self.file}:{self.line}"

    for made in (Typed, Plain):
        assert made._fields == ("file", "line")
        assert made("a") == ("a", 1)
        assert made("a", 2).shown() == "a:2"
        assert made.__doc__ == "A place."
        assert repr(made("a")) == f"{made.__name__}(file='a', line=1)"
    assert Location("f", 2, 3) < Location("f", 10, 1)
    assert str(Location("f")) == "f:1:1"


def test_a_field_without_a_default_after_one_with_a_default_is_refused():
    with pytest.raises(TypeError):

        class Wrong(NamedTuple):
            first: int = 1
            second: int


@pytest.mark.parametrize(
    "text", ["90s", "1h30m", "1.5h", "0.5s", "1.5s", "2.5s", "0.25s", "1w2d3h4m5.5s", "3.3333m"]
)
def test_a_duration_is_its_exact_sum_rounded_half_to_even(text):
    import re

    exact = sum(
        Fraction(number) * {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)([wdhms])", text)
    )
    assert duration_seconds(text) == round(exact)
