"""The ``compile`` command group in click: every command, its options and its --help.

``compile FILE`` is ``compile emit FILE``. Each command's module is imported when the command line
needs it; cluster commands import the kubernetes client lazily, inside :mod:`compiler.cluster`.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import DefaultGroup
from .direct import may_name_a_command as _may_name_a_command

__all__ = ["cli", "run"]


# Each module defines its subcommands on `cli` when imported. One module per area of the product.
COMMAND_MODULES = ("commands", "explain", "review", "cluster", "build", "queues", "admission")
# Imported first: emit, check and schema are what pre-commit, CI and `compile FILE` run; the
# other modules are imported when their command is asked for, or for --help (start-up time).
FIRST_MODULES = ("commands",)


def _register(names=COMMAND_MODULES) -> None:
    import importlib
    import importlib.util

    for name in names:
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}")


class CommandsOnDemand(DefaultGroup):
    """Imports a command's module only when the command line needs it."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and _may_name_a_command(args[0]):
            _register()
        return super().parse_args(ctx, args)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            _register()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        _register()
        return super().list_commands(ctx)


@click.group(
    cls=CommandsOnDemand,
    default_command="emit",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="compile")
def cli() -> None:
    """Compile AIchor-style manifests into Kubernetes JobSet, RayJob and Job objects.

    \b
    compile manifest.yaml | kubectl apply -f -
    compile check manifests/*.yaml
    compile explain manifest.yaml
    """


_register(FIRST_MODULES)


def run(argv=None) -> None:
    """The whole command line, parsed by click (exits)."""
    cli.main(args=argv, prog_name="compile", standalone_mode=True)
