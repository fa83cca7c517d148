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


@click.group(
    cls=DefaultGroup,
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


# Each module defines its subcommands on `cli` when imported. One module per area of the product.
COMMAND_MODULES = ("commands", "explain", "review", "cluster", "build", "queues", "admission")


def _register() -> None:
    import importlib
    import importlib.util

    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            importlib.import_module(f"{__name__}.{name}")


_register()


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="compile", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
