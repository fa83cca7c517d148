"""The ``compile`` command: argument parsing and rendering around the pure core.

``compile FILE`` is ``compile emit FILE``. Cluster commands import the kubernetes client lazily,
inside :mod:`compiler.cluster`, so ``compile`` and ``compile check`` start fast.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from .common import DefaultGroup

__all__ = ["cli", "main"]


# Each module defines its subcommands on `cli` when imported. One module per area of the product.
COMMAND_MODULES = ("commands", "explain", "review", "cluster", "build", "queues", "admission")
# Imported first: emit, check and schema are what pre-commit, CI and `compile FILE` run; the
# other modules are imported when their command is asked for, or for --help (start-up time).
FIRST_MODULES = ("commands",)


def _register(names=COMMAND_MODULES) -> None:
    import importlib
    import importlib.util

    for name in names:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            importlib.import_module(f"{__name__}.{name}")


def _may_name_a_command(arg: str) -> bool:
    """Command names are plain words; a path (``x.yaml``, ``dir/``, ``-``) or an option is not."""
    return bool(arg) and not arg.startswith("-") and not any(c in arg for c in "./\\")


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


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="compile", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
